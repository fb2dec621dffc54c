"""A real object store in front of another one, for tests that break one primitive.

``PassThroughStore`` passes every call of the store protocol on to the store it wraps; a test
subclasses it and overrides only what it breaks (a put that fails, dies after the write, or
answers differently). No call is mocked: every other primitive reaches the real store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from camvault.store.base import ObjectInfo, ObjectStore, PutResult


class PassThroughStore:
    """Every store primitive, handed to ``inner`` unchanged."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner

    @property
    def bucket(self) -> str:
        bucket: str = getattr(self.inner, "bucket")  # noqa: B009 - only S3 stores have one
        return bucket

    def put(
        self,
        key: str,
        data: BinaryIO | bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        return self.inner.put(key, data, content_type=content_type, metadata=metadata, if_absent=if_absent)

    def head(self, key: str) -> ObjectInfo:
        return self.inner.head(key)

    def open(self, key: str, start: int = 0, length: int | None = None) -> BinaryIO:
        return self.inner.open(key, start, length)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def presign(self, key: str, expires_s: int, *, content_disposition: str | None = None) -> str | None:
        return self.inner.presign(key, expires_s, content_disposition=content_disposition)

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(key)

    def set_tags(self, key: str, tags: Mapping[str, str]) -> None:
        self.inner.set_tags(key, tags)

    def close(self) -> None:
        self.inner.close()
