"""How events travel to a sink without ever holding up processing.

``Notifier.listener`` is the processor listener: for each new event of a camera that wants
notifications it puts the event on every channel's bounded queue without waiting (a full queue
drops the event and counts it). Each ``Channel`` has one thread that rate-limits per camera and
calls its sink; a sink that fails (broker down, receiver down after its retries) costs a
counted failure and the next event is tried again.

Counters go to a ``count(name, amount)`` callback (the processor journal, so ``camvault
status`` shows them): ``{sink}_sent``, ``{sink}_failed``, ``{sink}_dropped`` (queue full) and
``{sink}_coalesced`` (replaced by a later event within the rate interval).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from camvault.domain.model import CatalogEvent
from camvault.notify.ratelimit import RateLimiter

log = logging.getLogger(__name__)

Count = Callable[[str, int], None]
Wanted = Callable[[str], bool]
"""Whether a camera's events are announced."""

QUEUE_SIZE = 100


class Sink(Protocol):
    """Where notifications go (MQTT, a webhook)."""

    name: str

    def send(self, event: CatalogEvent) -> None:
        """Deliver one event; raise when it could not be delivered."""
        ...

    def close(self) -> None:
        """Stop: abort waits and retries, release connections."""
        ...


class Channel:
    """One sink's bounded queue, rate limit and thread."""

    def __init__(
        self,
        sink: Sink,
        *,
        interval_s: float,
        count: Count,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self._count = count
        self._clock = clock
        self._limiter: RateLimiter[CatalogEvent] = RateLimiter(interval_s)
        self._queue: queue.Queue[CatalogEvent] = queue.Queue(queue_size)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"camvault-notify-{sink.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def offer(self, event: CatalogEvent) -> None:
        """Queue ``event`` without waiting; a full queue drops it (counted)."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._count(f"{self.sink.name}_dropped", 1)

    def close(self, drain_s: float = 5.0) -> None:
        """Send what is queued and held (within ``drain_s``), then stop the thread and the sink."""
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(drain_s)
        self.sink.close()  # aborts a retry still waiting
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while True:
            event = self._next(self._wait_s())
            now = self._clock()
            if event is not None:
                self._admit(event, now)
            for due in self._limiter.due(now):
                self._deliver(due)
            if self._closing.is_set() and self._queue.empty():
                for held in self._limiter.release():
                    self._deliver(held)
                return

    def _wait_s(self) -> float:
        due = self._limiter.next_due()
        wait = 0.2 if due is None else min(0.2, max(0.0, due - self._clock()))
        return 0.0 if self._closing.is_set() else wait

    def _next(self, wait_s: float) -> CatalogEvent | None:
        try:
            return self._queue.get(timeout=wait_s) if wait_s > 0 else self._queue.get_nowait()
        except queue.Empty:
            return None

    def _admit(self, event: CatalogEvent, now: float) -> None:
        replaces = self._limiter.holds(event.camera)
        ready = self._limiter.offer(event.camera, event, now)
        if ready is not None:
            self._deliver(ready)
        elif replaces:
            self._count(f"{self.sink.name}_coalesced", 1)

    def _deliver(self, event: CatalogEvent) -> None:
        try:
            self.sink.send(event)
        except Exception as exc:  # a sink that is down never stops the channel
            # str(exc): a log record must not keep the traceback (and the sink) alive
            log.warning("%s notification for event %s failed: %s", self.sink.name, event.id, str(exc))
            self._count(f"{self.sink.name}_failed", 1)
            return
        self._count(f"{self.sink.name}_sent", 1)


class Notifier:
    """The processor listener that hands new events to every channel."""

    def __init__(self, channels: Sequence[Channel], wanted: Wanted) -> None:
        self.channels = list(channels)
        self._wanted = wanted

    def listener(self, event: CatalogEvent, new: bool) -> None:
        """Announce a new event (not a re-delivered one) of a camera that wants it."""
        if not new or not self.channels or not self._wanted(event.camera):
            return
        for channel in self.channels:
            channel.offer(event)

    def start(self) -> None:
        for channel in self.channels:
            channel.start()

    def close(self, drain_s: float = 5.0) -> None:
        for channel in self.channels:
            channel.close(drain_s)
