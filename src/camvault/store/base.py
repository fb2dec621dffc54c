"""The object store contract: a handful of primitives every backend implements.

A store holds bucket-relative keys (the ``{prefix}/{camera}/…`` keys of ``domain.keys``), each
with a content type and string metadata. Writes are atomic: a reader sees the whole object or
none of it. After a successful ``put`` a store calls its ``notify`` callback (when it has one)
with an S3 ObjectCreated notification, so the embedded processor hears about objects the same
way a Lambda does on AWS.

This module decides the contract and its errors; it never touches a disk or a network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

Notify = Callable[[dict[str, Any]], None]
"""Receives one S3 notification document (``{"Records": [...]}``) per created object."""


class StoreError(Exception):
    """A store operation failed; the message says what and what to do next."""


class ObjectNotFound(StoreError):
    """The key does not exist in the store."""


class ObjectExists(StoreError):
    """``put(..., if_absent=True)`` found an object already at the key."""


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows about one object, without its bytes."""

    key: str
    size: int
    content_type: str
    last_modified: datetime
    etag: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PutResult(ObjectInfo):
    """What a ``put`` learned from the store's own answer, enough to verify the upload without
    reading the object back (a put-only credential cannot).

    ``etag`` is the MD5 hex of the bytes when ``part_size`` is ``None`` (one part), else S3's
    multipart ETag: the MD5 of the concatenated part MD5s, ``-`` and the number of parts of
    ``part_size`` bytes (the last one shorter). ``etag_is_digest`` is False when the store's
    ETag says nothing about the bytes (S3 with SSE-KMS or customer keys)."""

    part_size: int | None = None
    etag_is_digest: bool = True


class ObjectStore(Protocol):
    """Primitives every backend implements. Keys are bucket-relative, ``/``-separated."""

    @property
    def bucket(self) -> str:
        """Bucket name (for ``file://``, the name of the root directory)."""
        ...

    def put(
        self,
        key: str,
        data: BinaryIO | bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        """Store ``data`` at ``key`` atomically; with ``if_absent``, raise ObjectExists instead of
        replacing an existing object. Returns what the store answered (size, ETag)."""
        ...

    def head(self, key: str) -> ObjectInfo:
        """Facts about ``key``; ObjectNotFound when absent."""
        ...

    def open(self, key: str, start: int = 0, length: int | None = None) -> BinaryIO:
        """A readable stream of ``length`` bytes from ``start`` (to the end when ``None``)."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (string prefix), in key order.

        Listed entries carry key, size and time; S3 lists no content type or metadata, so
        ``content_type`` may be empty and ``metadata`` empty: call ``head`` when you need them.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; deleting a missing key is not an error."""
        ...

    def set_tags(self, key: str, tags: Mapping[str, str]) -> None:
        """Replace the object's tags with ``tags`` (``{}`` removes them all); ObjectNotFound
        when absent. Tags are what S3 lifecycle rules select by (``camvault.keep``); a store
        without lifecycle rules (``file://``) checks the key and keeps no tags."""
        ...

    def presign(self, key: str, expires_s: int, *, content_disposition: str | None = None) -> str | None:
        """A short-lived URL that downloads ``key``, or ``None`` when the backend has none. With
        ``content_disposition``, the download's answer carries that ``Content-Disposition``."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A path on this machine holding the object's bytes, when there is one."""
        ...

    def close(self) -> None:
        """Release connections and handles."""
        ...


def read_all(store: ObjectStore, key: str) -> bytes:
    """The whole object's bytes (for small objects: thumbnails, tests)."""
    with store.open(key) as stream:
        return stream.read()
