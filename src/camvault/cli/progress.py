"""A small progress line for long operations (reindex, bulk ingest) on stderr."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """``label: 120/500 (24%)`` redrawn in place on a terminal, printed every 10% otherwise."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self._label = label
        self._total = total
        self._done = 0
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._lock = threading.Lock()
        self._last_step = -1
        self._started = time.monotonic()

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self._done += count
            percent = 100 * self._done // self._total if self._total else 100
            step = percent // 10
            if self._tty:
                self._stream.write(f"\r{self._label}: {self._done}/{self._total} ({percent}%)")
            elif step != self._last_step:
                self._stream.write(f"{self._label}: {self._done}/{self._total} ({percent}%)\n")
            self._last_step = step
            self._stream.flush()

    def finish(self) -> None:
        elapsed = time.monotonic() - self._started
        end = "\n" if self._tty else ""
        self._stream.write(f"{end}{self._label}: {self._done}/{self._total} done in {elapsed:.1f} s\n")
        self._stream.flush()
