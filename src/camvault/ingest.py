"""Put one camera file into the store exactly the way an FTP upload does.

The gateway and ``camvault ingest`` share this path: check the camera, read the capture time
from the file's name in the camera's zone (else the arrival instant), build the object key,
and store the file with its metadata (camera, capture-time, received-time, source-path,
sha256), then hand the key on for processing. An object is never overwritten: the same file
(camera, name and bytes) is recognised (idempotent, even when the name carries no time stamp
and the arrival hour differs), different bytes under a taken name get an alternative name
(``…~2.mp4``), so two clips in the same second both survive.

Whose object a taken name holds is decided by reading it (HEAD, the sha256 in its metadata),
or, for a caller whose credential may only put (the gateway with ``store_access =
"put-only"``), by ``PutIntents``: the caller's durable notes of which key it was about to
write with which sha256. A 412 on a key noted with this file's sha256 is an earlier attempt's
object (a crash between the put and its bookkeeping); on any other key it is another file's.
The journal remembers a file only after the caller verified it.

What "hand the key on for processing" means is given, not decided here: by default the key is
journaled for a processor on this machine; where the store itself notifies a processor
elsewhere (``[processor] local = false``: the AWS stack's bucket → queue → Lambda) the factory
passes ``processed_elsewhere`` and nothing waits locally.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Protocol
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
from camvault.store.base import ObjectExists, ObjectNotFound, ObjectStore, PutResult

MAX_ALTERNATIVES = 100

ToProcess = Callable[[Iterable[str]], None]
"""What becomes of stored keys so that they get processed (e.g. ``Journal.add``)."""


def processed_elsewhere(keys: Iterable[str]) -> None:
    """Nothing to do here: the store's own notifications reach the processor (``[processor]
    local = false``), so a key journaled on this machine would wait forever."""


class IngestError(Exception):
    """The file cannot be accepted; the message says why and what to do."""


@dataclass(frozen=True)
class Stored:
    """Where one file went; ``put`` is the store's answer when this call wrote the object."""

    key: str
    created: bool
    capture: CaptureTime
    size: int
    camera: str
    name: str
    sha256: str
    put: PutResult | None = None


class Claim(Enum):
    """What the notes say about a key before a put-only caller writes it."""

    NEW = "new"
    """Nobody noted it: noted now for this file."""
    OURS = "ours"
    """Noted before for a file with this sha256: an earlier attempt may have written it."""
    OTHER = "other"
    """Noted for another file, or known to hold one."""


class PutIntents(Protocol):
    """Durable notes a put-only caller keeps instead of reading the store."""

    def reserve(self, key: str, sha256: str) -> Claim:
        """Note, durably and before the put, that this file is about to be written at ``key``."""
        ...

    def taken(self, key: str) -> None:
        """``key`` holds another file (or one this file could not be proven to be)."""
        ...


@dataclass(frozen=True)
class _Placed:
    """A key that now holds the file; ``put`` is None when an earlier write put it there."""

    put: PutResult | None


@dataclass(frozen=True)
class _File:
    path: Path
    name: str
    sha256: str
    metadata: Mapping[str, str]


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
        to_process: ToProcess | None = None,
    ) -> None:
        """``journal`` remembers where each file went; ``to_process`` receives every stored key
        (default: ``journal.add``, for a processor on this machine)."""
        self._store = store
        self._cameras = cameras
        self._journal = journal
        self._to_process = to_process or journal.add
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
        intents: PutIntents | None = None,
        verify: Callable[[Stored], None] | None = None,
    ) -> Stored:
        """Store the file at ``path`` as uploaded by ``camera`` (``source_path``: the camera's own
        path for it, which may carry the capture time in its folders and then names the file;
        ``received``: when the upload completed, default now), and hand its key on for
        processing. Returns once the object is durable in the store. With ``intents`` the store
        is never read; ``verify`` runs before the file is remembered and its key handed on."""
        stored = self._store_file(path, camera, source_path, received or self._clock(), intents)
        if verify is not None:
            verify(stored)
        self._journal.remember_upload(stored.camera, stored.name, stored.sha256, stored.key)
        self._to_process([stored.key])
        return stored

    def capture_instant(self, camera: str, source_path: str, received: datetime) -> datetime:
        """The capture instant ``ingest`` will find for this file (the gateway queues by it)."""
        return resolve_capture_time(source_path, self._cameras.get(camera).zone, received).instant

    def _store_file(
        self,
        path: Path,
        camera: str,
        source_path: str | None,
        received: datetime,
        intents: PutIntents | None,
    ) -> Stored:
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
        metadata = {
            META_CAMERA: camera,
            **capture_metadata(capture),
            META_RECEIVED: format_instant(received),
            META_SOURCE: quote(source_path or name, safe="/:@+ -_.~[]"),
            META_SHA256: digest,
        }
        file = _File(path, name, digest, metadata)

        def stored(key: str, placed: _Placed) -> Stored:
            return Stored(key, placed.put is not None, capture, size, camera, name, digest, placed.put)

        known = self._journal.recall_upload(camera, name, digest)
        if known is not None:
            placed = self._place_known(known, file, intents)
            if placed is not None:
                return stored(known, placed)
        base = build_key(self._prefix, camera, capture.instant, kind, name, self._key_zone)
        for number in range(1, MAX_ALTERNATIVES + 1):
            filename = name if number == 1 else alternative_filename(name, number)
            key = build_key(self._prefix, camera, capture.instant, kind, filename, self._key_zone).key
            placed = self._place(key, file, intents)
            if placed is not None:
                return stored(key, placed)
        raise IngestError(
            f"{source_path or path}: {MAX_ALTERNATIVES} different files already named like {base.key}"
        )

    def _place_known(self, key: str, file: _File, intents: PutIntents | None) -> _Placed | None:
        """The key the journal remembers for this file (it remembers verified uploads only)."""
        if intents is None:
            return _Placed(None) if self._holds(key, file.sha256) else None
        put = self._put_new(key, file)  # put-only: a 412 is the remembered object
        return _Placed(put)

    def _place(self, key: str, file: _File, intents: PutIntents | None) -> _Placed | None:
        """Put the file at ``key`` unless another file holds it (then None)."""
        if intents is None:
            put = self._put_new(key, file)
            if put is not None or self._holds(key, file.sha256):
                return _Placed(put)
            return None
        claim = intents.reserve(key, file.sha256)
        if claim is Claim.OTHER:
            return None
        put = self._put_new(key, file)
        if put is not None or claim is Claim.OURS:
            return _Placed(put)
        intents.taken(key)
        return None

    def _holds(self, key: str, digest: str) -> bool:
        try:
            return self._store.head(key).metadata.get(META_SHA256) == digest
        except ObjectNotFound:
            return False

    def _put_new(self, key: str, file: _File) -> PutResult | None:
        """The store's answer, or None when an object is at ``key`` already."""
        try:
            with file.path.open("rb") as data:
                return self._store.put(
                    key,
                    data,
                    content_type=content_type_for(file.name),
                    metadata=file.metadata,
                    if_absent=True,
                )
        except ObjectExists:
            return None


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
