"""Storage URLs and the rules every object key and metadata map obeys, shared by all backends.

``parse_storage_url`` turns ``[storage] url`` (``file://PATH`` or ``s3://BUCKET/PREFIX``) into a
``StorageLocation``; ``check_key`` and ``check_metadata`` reject what no backend may store, so
that the ``file://`` and ``s3://`` stores accept exactly the same keys and metadata.

Key rules (one set for both backends, so data moves between them unchanged):
``/``-separated, 1 to 1024 UTF-8 bytes, no leading ``/``, no empty, ``.`` or ``..`` part, no
backslash, NUL or other control character, and no part starting with ``.camvault-`` (names the
``file://`` store reserves for its temporary files and metadata sidecars).

This module never touches a disk or a network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from camvault.store.base import StoreError

RESERVED_PART_PREFIX = ".camvault-"
"""Key parts starting with this are reserved for the ``file://`` store's own files."""

MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2048

_ACCEPTED_FORMS = (
    "file://PATH (relative to the config file's folder, or file:///ABSOLUTE/PATH) or s3://BUCKET/PREFIX"
)
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_METADATA_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_HEADER_VALUE_RE = re.compile(r"^[\x20-\x7e]*$")


class BadObjectKey(StoreError, ValueError):
    """The key breaks the key rules (escapes the store, reserved name, bad characters)."""


class BadObjectMetadata(StoreError, ValueError):
    """A metadata name or value, or the content type, cannot be stored as an HTTP header."""


@dataclass(frozen=True)
class StorageLocation:
    """Where objects live: a directory (``file``) or a bucket and key prefix (``s3``)."""

    scheme: Literal["file", "s3"]
    bucket: str
    prefix: str
    root: Path | None


def parse_storage_url(url: str, base_dir: Path) -> StorageLocation:
    """Parse ``[storage] url``; relative ``file://`` paths are taken relative to ``base_dir``."""
    if url.startswith("file://"):
        return _parse_file_url(url, base_dir)
    if url.startswith("s3://"):
        return _parse_s3_url(url)
    raise ValueError(f"unsupported storage url {url!r}: use {_ACCEPTED_FORMS}")


def _parse_file_url(url: str, base_dir: Path) -> StorageLocation:
    raw = url[len("file://") :]
    if raw.startswith("localhost/"):
        raw = raw[len("localhost") :]
    if not raw or "\x00" in raw or "?" in raw or "#" in raw:
        raise ValueError(f"storage url {url!r} names no usable directory: use {_ACCEPTED_FORMS}")
    path = Path(raw)
    root = path if path.is_absolute() else base_dir / path
    if not root.name or root.name in {".", ".."}:
        raise ValueError(
            f"storage url {url!r} must name a directory (its name is the bucket name): use {_ACCEPTED_FORMS}"
        )
    return StorageLocation(scheme="file", bucket=root.name, prefix="", root=root)


def _parse_s3_url(url: str) -> StorageLocation:
    bucket, _, path = url[len("s3://") :].partition("/")
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket or _IPV4_RE.fullmatch(bucket):
        raise ValueError(
            f"storage url {url!r}: {bucket!r} is not a valid S3 bucket name "
            "(3-63 characters: lower-case letters, digits, '.' and '-', starting and ending "
            f"with a letter or digit); use {_ACCEPTED_FORMS}"
        )
    prefix = path.strip("/")
    if prefix:
        try:
            check_key(prefix)
        except BadObjectKey as exc:
            raise ValueError(f"storage url {url!r}: bad prefix: {exc}; use {_ACCEPTED_FORMS}") from exc
    return StorageLocation(scheme="s3", bucket=bucket, prefix=prefix, root=None)


def check_key(key: str) -> str:
    """Return ``key`` unchanged when it obeys the key rules; raise BadObjectKey otherwise."""
    problem = _key_problem(key)
    if problem:
        raise BadObjectKey(f"bad object key {key!r}: {problem}")
    return key


def _key_problem(key: str) -> str | None:
    if not key:
        return "it is empty"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if key.startswith("/"):
        return "it starts with '/'"
    if "\\" in key:
        return "it contains a backslash"
    if _CONTROL_RE.search(key):
        return "it contains a NUL or control character"
    for part in key.split("/"):
        if part in {"", ".", ".."}:
            return "empty, '.' and '..' parts are not allowed"
        if part.startswith(RESERVED_PART_PREFIX):
            return f"parts starting with {RESERVED_PART_PREFIX!r} are reserved"
    return None


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Metadata as every backend stores it: lower-case names (as S3 returns them), ASCII values."""
    checked: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        lowered = name.lower()
        if not _METADATA_NAME_RE.fullmatch(lowered):
            raise BadObjectMetadata(f"bad metadata name {name!r}: use letters, digits, '-' and '_' only")
        if not isinstance(value, str) or not _HEADER_VALUE_RE.fullmatch(value):
            raise BadObjectMetadata(f"bad metadata value for {name!r}: {value!r} (printable ASCII text only)")
        if lowered in checked:
            raise BadObjectMetadata(f"metadata name {name!r} given twice (names ignore case)")
        checked[lowered] = value
    size = sum(len(name) + len(value) for name, value in checked.items())
    if size > MAX_METADATA_BYTES:
        raise BadObjectMetadata(f"metadata is {size} bytes; at most {MAX_METADATA_BYTES} fit")
    return checked


def check_content_type(content_type: str) -> str:
    """Return ``content_type`` when it can travel as an HTTP header; raise otherwise."""
    if not content_type or not _HEADER_VALUE_RE.fullmatch(content_type):
        raise BadObjectMetadata(f"bad content type {content_type!r} (non-empty printable ASCII)")
    return content_type
