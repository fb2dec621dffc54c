"""What both object store backends share: chunked reads, byte-limited streams, range checks,
and sending the ObjectCreated notification after a put.

No I/O of its own: it wraps streams it is given.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol

from camvault.domain.notifications import object_created_notification
from camvault.store.base import Notify, ObjectInfo

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20


class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class LimitedReader(io.RawIOBase):
    """Reads at most ``limit`` bytes (all when ``None``) from ``stream``; closing closes it."""

    def __init__(self, stream: _Readable, limit: int | None) -> None:
        super().__init__()
        self._stream = stream
        self._remaining = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = len(view) if self._remaining is None else min(len(view), self._remaining)
        if wanted == 0:
            return 0
        data = self._stream.read(wanted)
        view[: len(data)] = data
        if self._remaining is not None:
            self._remaining -= len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


def buffered(stream: _Readable, limit: int | None) -> BinaryIO:
    """``stream`` limited to ``limit`` bytes, as a buffered binary file object."""
    return io.BufferedReader(LimitedReader(stream, limit), buffer_size=CHUNK_SIZE)


def check_range(start: int, length: int | None) -> None:
    """Reject negative offsets and lengths (both backends share the range contract)."""
    if start < 0 or (length is not None and length < 0):
        raise ValueError(f"bad byte range: start={start}, length={length} (both must be >= 0)")


def send_created_notification(notify: Notify | None, *, bucket: str, info: ObjectInfo, region: str) -> None:
    """Tell ``notify`` about a stored object; a failure is logged and never undoes the put."""
    if notify is None:
        return
    try:
        notify(
            object_created_notification(
                bucket=bucket,
                key=info.key,
                size=info.size,
                etag=info.etag,
                event_time=info.last_modified,
                region=region,
            )
        )
    except Exception:
        logger.exception("stored %s/%s but its ObjectCreated notification failed", bucket, info.key)


def iter_chunks(data: BinaryIO | bytes, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """``data`` in chunks of at most ``size`` bytes, without reading a stream all at once."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data)
        for offset in range(0, len(view), size):
            yield bytes(view[offset : offset + size])
        return
    while chunk := data.read(size):
        yield chunk
