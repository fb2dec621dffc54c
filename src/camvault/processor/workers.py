"""The embedded processor: notifications into the journal, worker threads out of it.

The store's ``notify`` callback lands here: every ObjectCreated record of the notification is
written to the journal (durable) and a worker is woken. Workers claim due keys, call
``Processor.process`` and record the outcome; an exception is a failed attempt, retried with
backoff until ``max_attempts``, then kept as failed, never dropped. ``Unprocessable`` says that
retrying cannot help: the key is marked failed at once, with its reason.

The same pool drains other journals with another task (the small transcodes): anything with a
``process(key) -> Outcome`` method.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from camvault.domain.events import parse_event
from camvault.domain.keys import is_derived_key
from camvault.processor.core import Outcome
from camvault.processor.journal import Journal

log = logging.getLogger(__name__)


class Task(Protocol):
    def process(self, key: str) -> Outcome:
        """Handle ``key``; raise to have it retried."""
        ...


class Unprocessable(Exception):
    """Trying ``key`` again cannot succeed (bad content); the message is the reason."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 2.0


class Workers:
    """Feeds the journal from store notifications and drains it with worker threads."""

    def __init__(
        self,
        journal: Journal,
        processor: Task,
        *,
        threads: int = 2,
        name: str = "processor",
        retry: RetryPolicy | None = None,
        poll_s: float = 1.0,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self._journal = journal
        self._processor = processor
        self._threads = threads
        self._retry = retry or RetryPolicy()
        self._poll_s = poll_s
        self._on_outcome = on_outcome
        self._name = name
        self._wake = threading.Condition()
        self._stopping = False
        self._running: list[threading.Thread] = []

    def notify(self, document: dict[str, Any]) -> None:
        """The store's Notify: journal every created key of an S3 notification document."""
        keys = [
            record.key
            for delivery in parse_event(document)
            for record in delivery.records
            if not is_derived_key(record.key)
        ]
        self.add(keys)

    def add(self, keys: list[str]) -> None:
        """Journal ``keys`` (durable) and wake a worker for each."""
        if not keys:
            return
        self._journal.add(keys)
        with self._wake:
            self._wake.notify(len(keys))

    def run_one(self, key: str | None = None) -> Outcome | None:
        """Claim one due key (or ``key``) and process it; None when nothing was due."""
        entry = self._journal.claim(key=key)
        if entry is None:
            return None
        try:
            outcome = self._processor.process(entry.key)
        except Exception as exc:  # any failure is retried; the journal keeps the reason
            final = isinstance(exc, Unprocessable)
            reason = str(exc) if final else f"{type(exc).__name__}: {exc}"
            retry = self._journal.fail(
                entry.key,
                reason,
                max_attempts=1 if final else self._retry.max_attempts,
                base_delay_s=self._retry.base_delay_s,
            )
            log.warning(
                "%s %s failed (%s); %s",
                self._name,
                entry.key,
                reason,
                "will retry" if retry else "giving up: see `camvault status`",
            )
            return Outcome(entry.key, "failed", reason=reason)
        self._journal.done(entry.key, outcome.status)
        if outcome.status == "rejected":
            log.warning("rejected %s: %s", entry.key, outcome.reason)
        if self._on_outcome:
            self._on_outcome(outcome)
        return outcome

    def drain(self, keys: Iterable[str]) -> list[Outcome]:
        """Process these keys now, in this thread (``camvault ingest``). A key another process
        holds is left to it."""
        outcomes = []
        for key in keys:
            outcome = self.run_one(key)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def start(self) -> None:
        self._stopping = False
        for number in range(self._threads):
            thread = threading.Thread(target=self._loop, name=f"camvault-{self._name}-{number}", daemon=True)
            thread.start()
            self._running.append(thread)

    def stop(self, timeout_s: float = 30.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for thread in self._running:
            thread.join(timeout_s)
        self._running.clear()

    def _loop(self) -> None:
        while not self._stopping:
            try:
                outcome = self.run_one()
            except Exception:  # the journal itself failed (disk); keep the thread alive
                log.exception("%s journal error; retrying", self._name)
                outcome = None
            if outcome is None:
                with self._wake:
                    if not self._stopping:
                        self._wake.wait(self._poll_s)
