"""Group commit: threads that finish their uploads together share one durable write.

Each caller hands in its item and waits. Whoever gets the commit lock first takes every item
waiting at that moment and commits them with one call (one SQLite transaction, one fsync per
folder instead of one per file); the others find their item done when they get the lock and
return its outcome. A caller returns only after the batch holding its item is on disk, so a
``226`` sent afterwards keeps its promise; with one caller at a time this is the plain commit.

It never decides what committing means: the spool passes the function that does it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")

CommitBatch = Callable[[Sequence[T]], Sequence[Exception | None]]
"""Commit a batch; returns each item's error (None: durable). Raising fails the whole batch."""


class _Ticket(Generic[T]):
    __slots__ = ("done", "error", "item")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.error: Exception | None = None


class GroupCommit(Generic[T]):
    """Commits items in batches of whatever is waiting; thread-safe."""

    def __init__(self, commit_batch: CommitBatch[T]) -> None:
        self._commit_batch = commit_batch
        self._commit_lock = threading.Lock()
        self._waiting_lock = threading.Lock()
        self._waiting: list[_Ticket[T]] = []

    def submit(self, item: T) -> Exception | None:
        """Commit ``item`` with whatever else is waiting; returns its error, None once durable."""
        ticket = _Ticket(item)
        with self._waiting_lock:
            self._waiting.append(ticket)
        with self._commit_lock:
            if not ticket.done:
                with self._waiting_lock:
                    batch, self._waiting = self._waiting, []
                self._run(batch)
        return ticket.error

    def _run(self, batch: list[_Ticket[T]]) -> None:
        errors: Sequence[Exception | None]
        try:
            errors = self._commit_batch([ticket.item for ticket in batch])
        except Exception as exc:  # the whole batch failed: no item of it is durable
            errors = [exc] * len(batch)
        except BaseException:  # interrupted: nobody may take its item for durable
            errors = [RuntimeError("the commit was interrupted")] * len(batch)
            raise
        finally:
            for ticket, error in zip(batch, errors, strict=True):
                ticket.error = error
                ticket.done = True
