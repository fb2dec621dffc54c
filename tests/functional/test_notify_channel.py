"""A notification channel never makes the processor wait: a full queue drops and counts."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from camvault.domain.model import CatalogEvent
from camvault.notify.channel import Channel, Notifier

pytestmark = pytest.mark.functional


class StuckSink:
    """A destination that hangs until released, like a receiver that stopped answering."""

    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[str] = []

    def send(self, event: CatalogEvent) -> None:
        self.release.wait(10)
        self.sent.append(event.id)

    def close(self) -> None:
        self.release.set()


def event(number: int) -> CatalogEvent:
    return CatalogEvent(
        id=f"event{number}",
        camera=f"camera{number}",  # one camera each: the rate limit holds nothing back
        kind="snap",
        capture_time=datetime(2025, 1, 1, 12, tzinfo=UTC),
        key=f"camera{number}/2025-01-01/Hour-12/snap/x.jpg",
        size=1,
        content_type="image/jpeg",
        media=None,
        playable=True,
    )


def test_a_stuck_destination_costs_dropped_events_never_a_wait() -> None:
    counts: dict[str, int] = {}
    sink = StuckSink()
    channel = Channel(
        sink, interval_s=30.0, queue_size=2, count=lambda n, a: counts.__setitem__(n, counts.get(n, 0) + a)
    )
    notifier = Notifier([channel], wanted=lambda camera: True)
    notifier.start()
    try:
        notifier.listener(event(0), True)
        time.sleep(0.3)  # the channel thread now hangs in send(event0)
        started = time.monotonic()
        for number in range(1, 6):
            notifier.listener(event(number), True)
        assert time.monotonic() - started < 0.5, "the listener must not wait for the destination"
        assert counts == {"stuck_dropped": 3}  # 2 queued behind the stuck one, 3 dropped
        notifier.listener(event(9), False)  # re-processing an event is not news
    finally:
        sink.release.set()  # the destination answers again
        notifier.close(drain_s=5.0)
    assert sink.sent == ["event0", "event1", "event2"]
    assert counts == {"stuck_dropped": 3, "stuck_sent": 3}
