"""Process one created object: parse its key, read its metadata, probe it, thumbnail it, catalog it.

This is the one function every delivery path calls: the embedded worker threads, ``camvault
ingest``, ``camvault reindex`` and the Lambda handler. It is idempotent: the event id comes from
the object key, so processing the same object twice rewrites the same catalog entry.

The original and its derived objects are tagged for the AWS lifecycle rule unless the event
is marked keep (``camvault.keep.settle_expiry``), before the entry is written.

Derived objects (thumbnails, small transcodes) are recognised from the key alone and skipped,
so writing one never triggers processing again. A small transcode already in the store is named
on the entry (``small_key``), so processing an original again keeps it.

Listeners (notifications, the transcode queue) hear about every cataloged event after the
catalog has it. They must return quickly (hand the event to a queue); an exception from one
is logged and never reaches processing. This module imports nothing from FTP, HTTP or the CLI.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from camvault.catalog.base import Catalog
from camvault.domain.capture import CaptureTime, is_clock_skewed, resolve_capture_time
from camvault.domain.keys import (
    BadKey,
    event_id_for_key,
    is_derived_key,
    parse_key,
    small_key,
    thumbnail_key,
)
from camvault.domain.model import CatalogEvent, MediaAnalysis, format_instant, parse_instant
from camvault.keep import settle_expiry
from camvault.media.probe import MediaLimits, analyse
from camvault.store.base import ObjectInfo, ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)

Status = Literal["cataloged", "transcoded", "skipped", "rejected", "failed"]

META_CAMERA = "camera"
META_CAPTURE = "capture-time"
META_RECEIVED = "received-time"
META_SOURCE = "source-path"
META_SHA256 = "sha256"
META_DERIVED_FROM = "derived-from"
META_CAPTURE_SOURCE = "capture-source"
META_CAPTURE_NOTE = "capture-note"
NAME_SOURCES = ("filename", "path")


def capture_metadata(capture: CaptureTime) -> dict[str, str]:
    """Object metadata recording a capture time and how it was found."""
    metadata = {META_CAPTURE: format_instant(capture.instant), META_CAPTURE_SOURCE: capture.source}
    if capture.note:
        metadata[META_CAPTURE_NOTE] = quote(capture.note, safe=" ()-_.,:;")
    return metadata


def capture_extra(capture: CaptureTime, metadata: Mapping[str, str]) -> dict[str, str]:
    """The event's ``capture_source`` and ``capture_note``: how the instant was found originally."""
    if capture.source == "metadata":
        source = metadata.get(META_CAPTURE_SOURCE, "metadata")
        note = unquote(metadata.get(META_CAPTURE_NOTE, "")) or None
    else:
        source, note = capture.source, capture.note
    return {"capture_source": source, **({"capture_note": note} if note else {})}


@dataclass(frozen=True)
class Outcome:
    """What processing one object did."""

    key: str
    status: Status
    event: CatalogEvent | None = None
    new: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class ProcessorSettings:
    """What the processor needs to know, passed in by the factory."""

    prefix: str
    default_zone: ZoneInfo
    skew_tolerance: timedelta
    limits: MediaLimits


ZoneLookup = Callable[[str], ZoneInfo | None]
"""The time zone of a camera by name, or None when the camera is not known here."""

Listener = Callable[[CatalogEvent, bool], None]
"""Called with each cataloged event and whether it was new to the catalog; must not block."""


class Processor:
    """Turns created objects into catalog entries."""

    def __init__(
        self,
        store: ObjectStore,
        catalog: Catalog,
        settings: ProcessorSettings,
        zone_of: ZoneLookup,
        listeners: Sequence[Listener] = (),
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._settings = settings
        self._zone_of = zone_of
        self._listeners = list(listeners)

    def add_listener(self, listener: Listener) -> None:
        """Also tell ``listener`` about every event cataloged from now on."""
        self._listeners.append(listener)

    def process(self, key: str) -> Outcome:
        """Catalog the object at ``key``; raises on transient failures so the caller retries."""
        if is_derived_key(key):
            return Outcome(key, "skipped", reason="derived object")
        try:
            parsed = parse_key(key)
        except BadKey as exc:
            return Outcome(key, "rejected", reason=str(exc))
        if parsed.prefix != self._settings.prefix:
            return Outcome(key, "skipped", reason=f"outside the prefix {self._settings.prefix!r}")
        try:
            info = self._store.head(key)
        except ObjectNotFound:
            return Outcome(key, "skipped", reason="object no longer exists")
        analysis = self._analyse(key)
        thumb = self._store_thumbnail(key, info, analysis)
        small = self._existing_small(key, parsed.kind)
        kept = settle_expiry(self._store, key, [derived for derived in (thumb, small) if derived])
        event = self._event(key, parsed.camera, parsed.kind, info, analysis, (thumb, small, kept))
        new = self._catalog.put(event)
        self._tell_listeners(event, new)
        return Outcome(key, "cataloged", event=event, new=new)

    def _tell_listeners(self, event: CatalogEvent, new: bool) -> None:
        for listener in self._listeners:
            try:
                listener(event, new)
            except Exception:  # a listener's failure never fails processing
                log.exception("listener %r failed for event %s", listener, event.id)

    def _event(
        self,
        key: str,
        camera: str,
        kind: Literal["record", "snap"],
        info: ObjectInfo,
        analysis: MediaAnalysis,
        derived: tuple[str | None, str | None, bool],
    ) -> CatalogEvent:
        """The entry; ``derived`` is (thumbnail key, small key, kept)."""
        thumb, small, kept = derived
        received = _received_time(info)
        capture = self._capture(camera, key, info, received)
        probe = analysis.probe
        return CatalogEvent(
            id=event_id_for_key(key),
            camera=camera,
            kind=kind,
            capture_time=capture.instant,
            key=key,
            size=info.size,
            content_type=info.content_type,
            media=probe.media,
            playable=probe.playable,
            thumbnail_key=thumb,
            small_key=small,
            clock_skew=is_clock_skewed(capture.instant, received, self._settings.skew_tolerance),
            received_time=received,
            problem=probe.reason,
            keep=kept,
            extra=capture_extra(capture, info.metadata),
        )

    def _capture(self, camera: str, key: str, info: ObjectInfo, received: datetime) -> CaptureTime:
        """The capture instant. A time read from the file name is read again in the camera's
        current zone, so correcting a camera's zone and running ``reindex`` corrects its clips;
        otherwise the ``capture-time`` the gateway recorded wins."""
        zone = self._zone_of(camera)
        recorded = info.metadata.get(META_CAPTURE)
        if zone is not None and info.metadata.get(META_CAPTURE_SOURCE) in NAME_SOURCES:
            recorded = None
        source = unquote(info.metadata.get(META_SOURCE, "")) or key.rsplit("/", 1)[-1]
        return resolve_capture_time(source, zone or self._settings.default_zone, received, recorded)

    def _existing_small(self, key: str, kind: Literal["record", "snap"]) -> str | None:
        """The small transcode's key when it is already in the store (it is made later)."""
        if kind != "record":
            return None
        target = small_key(key)
        try:
            self._store.head(target)
        except ObjectNotFound:
            return None
        return target

    def _analyse(self, key: str) -> MediaAnalysis:
        with local_copy(self._store, key) as path:
            return analyse(path, limits=self._settings.limits)

    def _store_thumbnail(self, key: str, info: ObjectInfo, analysis: MediaAnalysis) -> str | None:
        if analysis.thumbnail_jpeg is None:
            return None
        target = thumbnail_key(key)
        metadata = derived_metadata(key, info)
        self._store.put(target, analysis.thumbnail_jpeg, content_type="image/jpeg", metadata=metadata)
        return target


@contextmanager
def local_copy(store: ObjectStore, key: str) -> Iterator[Path]:
    """A local file holding the object: the store's own file, or a temporary copy."""
    local = store.local_path(key)
    if local is not None:
        yield local
        return
    suffix = Path(key).suffix
    with tempfile.TemporaryDirectory(prefix="camvault-") as tmp:
        path = Path(tmp) / f"object{suffix}"
        with store.open(key) as source, path.open("wb") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
        yield path


def derived_metadata(key: str, info: ObjectInfo) -> dict[str, str]:
    """Metadata of an object derived from ``key``: where it came from, camera and capture time."""
    metadata = {META_DERIVED_FROM: _ascii(key)}
    for name in (META_CAMERA, META_CAPTURE):
        if name in info.metadata:
            metadata[name] = info.metadata[name]
    return metadata


def _received_time(info: ObjectInfo) -> datetime:
    text = info.metadata.get(META_RECEIVED)
    if text:
        try:
            return parse_instant(text)
        except ValueError:
            pass
    return info.last_modified


def _ascii(text: str) -> str:
    """Object metadata travels in HTTP headers: keep it ASCII."""
    return quote(text, safe="/:@+ -_.~")
