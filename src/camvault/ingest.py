"""Put one camera file into the store exactly the way an FTP upload does.

The gateway and ``camvault ingest`` share this path: check the camera, read the capture time
from the file's name in the camera's zone (else the arrival instant), build the object key,
and store the file with its metadata (camera, capture-time, received-time, source-path,
sha256), then journal the key for processing. An object is never overwritten: the same file
(camera, name and bytes) is recognised (idempotent, even when the name carries no time stamp
and the arrival hour differs), different bytes under a taken name get an alternative name
(``…~2.mp4``), so two clips in the same second both survive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import quote
from zoneinfo import ZoneInfo

from camvault.accounts.registry import CameraRegistry
from camvault.clock import Clock
from camvault.domain.capture import CaptureTime, resolve_capture_time
from camvault.domain.keys import (
    alternative_filename,
    build_key,
    content_type_for,
    kind_for_filename,
    storable_filename,
    validate_filename,
)
from camvault.domain.model import format_instant
from camvault.processor.core import (
    META_CAMERA,
    META_RECEIVED,
    META_SHA256,
    META_SOURCE,
    capture_metadata,
)
from camvault.processor.journal import Journal
from camvault.store.base import ObjectExists, ObjectNotFound, ObjectStore

MAX_ALTERNATIVES = 100


class IngestError(Exception):
    """The file cannot be accepted; the message says why and what to do."""


@dataclass(frozen=True)
class Stored:
    """Where one file went."""

    key: str
    created: bool
    capture: CaptureTime
    size: int
    camera: str
    name: str
    sha256: str


class Ingestor:
    """Stores camera files under their object keys with their metadata."""

    def __init__(
        self,
        store: ObjectStore,
        cameras: CameraRegistry,
        journal: Journal,
        *,
        prefix: str,
        key_zone: ZoneInfo,
        clock: Clock,
    ) -> None:
        self._store = store
        self._cameras = cameras
        self._journal = journal
        self._prefix = prefix
        self._key_zone = key_zone
        self._clock = clock

    def ingest(
        self,
        path: Path,
        camera: str,
        source_path: str | None = None,
        *,
        received: datetime | None = None,
    ) -> Stored:
        """Store the file at ``path`` as uploaded by ``camera`` (``source_path``: the camera's own
        path for it, which may carry the capture time in its folders and then names the file;
        ``received``: when the upload completed, default now), and journal its key for
        processing. Returns once the object is durable in the store."""
        stored = self._store_file(path, camera, source_path, received or self._clock())
        self._journal.remember_upload(stored.camera, stored.name, stored.sha256, stored.key)
        self._journal.add([stored.key])
        return stored

    def capture_instant(self, camera: str, source_path: str, received: datetime) -> datetime:
        """The capture instant ``ingest`` will find for this file (the gateway queues by it)."""
        return resolve_capture_time(source_path, self._cameras.get(camera).zone, received).instant

    def _store_file(self, path: Path, camera: str, source_path: str | None, received: datetime) -> Stored:
        registered = self._cameras.get(camera)
        camera, zone = registered.name, registered.zone
        name = storable_filename(PurePosixPath(source_path).name if source_path else path.name)
        try:
            validate_filename(name)
        except ValueError as exc:
            raise IngestError(f"{source_path or path}: {exc}") from None
        kind = kind_for_filename(name)
        if kind is None:
            raise IngestError(
                f"{source_path or path}: not a clip or snapshot "
                "(expected a video such as .mp4 or an image such as .jpg)"
            )
        capture = resolve_capture_time(source_path or name, zone, received)
        size, digest = _size_and_sha256(path)
        known = self._journal.recall_upload(camera, name, digest)
        if known is not None and self._holds(known, digest):
            return Stored(known, False, capture, size, camera, name, digest)
        metadata = {
            META_CAMERA: camera,
            **capture_metadata(capture),
            META_RECEIVED: format_instant(received),
            META_SOURCE: quote(source_path or name, safe="/:@+ -_.~[]"),
            META_SHA256: digest,
        }
        base = build_key(self._prefix, camera, capture.instant, kind, name, self._key_zone)
        for number in range(1, MAX_ALTERNATIVES + 1):
            filename = name if number == 1 else alternative_filename(name, number)
            key = build_key(self._prefix, camera, capture.instant, kind, filename, self._key_zone).key
            with path.open("rb") as data:
                if self._put_new(key, data, name, metadata):
                    return Stored(key, True, capture, size, camera, name, digest)
            if self._holds(key, digest):
                return Stored(key, False, capture, size, camera, name, digest)
        raise IngestError(
            f"{source_path or path}: {MAX_ALTERNATIVES} different files already named like {base.key}"
        )

    def _holds(self, key: str, digest: str) -> bool:
        try:
            return self._store.head(key).metadata.get(META_SHA256) == digest
        except ObjectNotFound:
            return False

    def _put_new(self, key: str, data: BinaryIO, name: str, metadata: dict[str, str]) -> bool:
        try:
            self._store.put(key, data, content_type=content_type_for(name), metadata=metadata, if_absent=True)
        except ObjectExists:
            return False
        return True


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
