"""Object keys: how a clip's place in the object store is named, read back and derived from.

The scheme is ``{prefix}/{camera}/{YYYY-MM-DD}/Hour-{HH}/{snap|record}/{file}``. The prefix may
be empty (the key then starts with the camera) or hold slashes (``a/b``); a key is therefore
parsed from the right: the last five parts are camera, date, hour folder, kind and file name,
and whatever is left is the prefix. ``HH`` is zero-padded on write; ``Hour-9`` and ``Hour-09``
both parse, so data written by the original system stays readable.

This module decides:

- what a valid key, camera name and file name are (:class:`BadKey` names the broken rule);
- which kind (``record``/``snap``) and content type a file name implies;
- the names of derived objects, which live beside their original and are recognisable from
  the key alone (``NAME-small.mp4``, ``NAME.EXT.thumb.jpg``, and the keep marker
  ``NAME.EXT.keep.json``), so processing a derived object never triggers processing again;
- collision-free alternative file names (``NAME~2.EXT``);
- an event's identity (a hash of its key) and its catalog sort key.

It never performs I/O, never reads a clock and never decides time zones: callers pass the
capture instant and the key time zone in.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import PurePosixPath
from types import MappingProxyType

from camvault.domain.model import KINDS, Kind

__all__ = [
    "KEEP_SUFFIX",
    "SMALL_SUFFIX",
    "THUMBNAIL_SUFFIX",
    "BadKey",
    "ObjectKey",
    "alternative_filename",
    "build_key",
    "content_type_for",
    "event_id_for_key",
    "event_sort_key",
    "is_derived_filename",
    "is_derived_key",
    "keep_marker_key",
    "kind_for_filename",
    "original_key_of_derived",
    "parse_key",
    "small_key",
    "storable_filename",
    "thumbnail_key",
    "validate_camera_name",
    "validate_filename",
]

SMALL_SUFFIX = "-small.mp4"
"""A small transcode of ``NAME.EXT`` is ``NAME-small.mp4`` in the same folder."""

THUMBNAIL_SUFFIX = ".thumb.jpg"
"""The thumbnail of ``NAME.EXT`` is ``NAME.EXT.thumb.jpg`` in the same folder."""

KEEP_SUFFIX = ".keep.json"
"""The keep marker of ``NAME.EXT`` is ``NAME.EXT.keep.json``: while it exists, retention never
deletes the original (the store, not the catalog, records that an event is kept)."""

_DERIVED_SUFFIXES = (SMALL_SUFFIX, THUMBNAIL_SUFFIX, KEEP_SUFFIX)
_NAMED_ORIGINAL_SUFFIXES = (THUMBNAIL_SUFFIX, KEEP_SUFFIX)

MAX_FILENAME_LENGTH = 255
EVENT_ID_LENGTH = 20
SORT_KEY_DIGITS = 13

_CAMERA_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,63}")
_CAMERA_RULE = (
    "a camera name is 1-64 characters of letters, digits, '.', '_', '-' and space, starts "
    "with a letter or digit, does not end with a space or a dot and does not contain '..'"
)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOUR_RE = re.compile(r"Hour-(\d{1,2})")

_VIDEO_TYPES = MappingProxyType(
    {
        ".mp4": "video/mp4",
        ".m4v": "video/x-m4v",
        ".mkv": "video/x-matroska",
        ".avi": "video/x-msvideo",
        ".mov": "video/quicktime",
        ".ts": "video/mp2t",
        ".dav": "application/octet-stream",  # Dahua's own container: no registered type
        ".h264": "video/h264",
        ".264": "video/h264",
        ".h265": "video/h265",
        ".265": "video/h265",
    }
)
_IMAGE_TYPES = MappingProxyType(
    {
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".png": "image/png",
        ".bmp": "image/bmp",
    }
)
_DEFAULT_CONTENT_TYPE = "application/octet-stream"


class BadKey(ValueError):
    """An object key (or one of its parts) breaks the key scheme; the message says how."""


def _component_problem(part: str) -> str | None:
    """Why ``part`` cannot be one ``/``-separated component of a key, or ``None`` if it can."""
    if part == "":
        return "is empty"
    if part in (".", ".."):
        return f"is {part!r}"
    if "\\" in part:
        return "contains a backslash"
    if _CONTROL_RE.search(part):
        return "contains a NUL or control character"
    return None


def _check_component(what: str, part: str, key: str | None = None) -> None:
    problem = _component_problem(part)
    if problem is not None:
        where = f" in key {key!r}" if key is not None else ""
        raise BadKey(f"{what} {part!r}{where} {problem}")


@dataclass(frozen=True)
class ObjectKey:
    """One object key, split into its parts. ``str(k)`` and ``k.key`` give the key back."""

    prefix: str
    camera: str
    day: date
    hour: int
    kind: Kind
    filename: str

    def __post_init__(self) -> None:
        if self.prefix:
            for part in self.prefix.split("/"):
                _check_component("prefix component", part)
        _check_component("camera", self.camera)
        _check_component("file name", self.filename)
        if not 0 <= self.hour <= 23:
            raise BadKey(f"hour {self.hour} is outside 0-23")
        if self.kind not in KINDS:
            raise BadKey(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")

    @property
    def key(self) -> str:
        """The key as stored: hour zero-padded, empty prefix left out."""
        tail = f"{self.camera}/{self.day.isoformat()}/Hour-{self.hour:02d}/{self.kind}/{self.filename}"
        return f"{self.prefix}/{tail}" if self.prefix else tail

    @property
    def is_derived(self) -> bool:
        """True for a small transcode or a thumbnail (never processed again)."""
        return is_derived_filename(self.filename)

    def __str__(self) -> str:
        return self.key


def validate_camera_name(name: str) -> str:
    """Return ``name`` if it is a valid camera name, else raise ``ValueError`` with the rule.

    Camera names become folder names in the store and FTP login names, so the rule is strict.
    """
    if not _CAMERA_RE.fullmatch(name) or ".." in name or name.endswith((" ", ".")):
        raise ValueError(f"invalid camera name {name!r}: {_CAMERA_RULE}")
    return name


def validate_filename(name: str) -> str:
    """Return ``name`` if it can be the last component of a key, else raise ``ValueError``.

    A file name is 1-255 characters, not ``.`` or ``..``, without ``/``, ``\\``, NUL or
    control characters.
    """
    if "/" in name:
        raise ValueError(f"invalid file name {name!r}: contains '/'")
    if len(name) > MAX_FILENAME_LENGTH:
        raise ValueError(f"invalid file name {name[:40]!r}...: longer than {MAX_FILENAME_LENGTH}")
    problem = _component_problem(name)
    if problem is not None:
        raise ValueError(f"invalid file name {name!r}: {problem}")
    return name


def build_key(
    prefix: str,
    camera: str,
    capture_time: datetime,
    kind: Kind,
    filename: str,
    key_timezone: tzinfo = UTC,
) -> ObjectKey:
    """The key of a new object: date and hour are those of ``capture_time`` in ``key_timezone``.

    ``prefix`` loses leading and trailing slashes (a storage URL path ``/patrolcams`` gives
    ``patrolcams``). Raises ``ValueError`` for a naive ``capture_time``, a bad camera or file
    name, and :class:`BadKey` for a bad prefix or kind.
    """
    if capture_time.tzinfo is None or capture_time.utcoffset() is None:
        raise ValueError("capture_time must be timezone-aware")
    validate_camera_name(camera)
    validate_filename(filename)
    local = capture_time.astimezone(key_timezone)
    return ObjectKey(
        prefix=prefix.strip("/"),
        camera=camera,
        day=local.date(),
        hour=local.hour,
        kind=kind,
        filename=filename,
    )


def _parse_day(text: str, key: str) -> date:
    if _DATE_RE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise BadKey(f"date folder {text!r} in key {key!r} is not a valid YYYY-MM-DD date")


def _parse_hour(text: str, key: str) -> int:
    match = _HOUR_RE.fullmatch(text)
    if match is None:
        raise BadKey(f"hour folder {text!r} in key {key!r} is not 'Hour-H' or 'Hour-HH'")
    hour = int(match.group(1))
    if hour > 23:
        raise BadKey(f"hour folder {text!r} in key {key!r}: hour {hour} is outside 0-23")
    return hour


def _parse_kind(text: str, key: str) -> Kind:
    for kind in KINDS:
        if text == kind:
            return kind
    raise BadKey(f"kind folder {text!r} in key {key!r} is not one of {', '.join(KINDS)}")


def parse_key(key: str) -> ObjectKey:
    """Split a stored key into its parts, or raise :class:`BadKey` saying what is wrong."""
    if key.startswith("/"):
        raise BadKey(f"key {key!r} is absolute (starts with '/')")
    parts = key.split("/")
    if len(parts) < 5:
        raise BadKey(
            f"key {key!r} has too few parts: expected [prefix/]camera/YYYY-MM-DD/Hour-HH/snap|record/file"
        )
    for part in parts:
        _check_component("component", part, key)
    camera, day_text, hour_text, kind_text, filename = parts[-5:]
    return ObjectKey(
        prefix="/".join(parts[:-5]),
        camera=camera,
        day=_parse_day(day_text, key),
        hour=_parse_hour(hour_text, key),
        kind=_parse_kind(kind_text, key),
        filename=filename,
    )


def _extension(filename: str) -> str:
    return PurePosixPath(filename).suffix.lower()


def kind_for_filename(name: str) -> Kind | None:
    """``record`` for video file names, ``snap`` for image file names, else ``None``."""
    extension = _extension(name)
    if extension in _VIDEO_TYPES:
        return "record"
    if extension in _IMAGE_TYPES:
        return "snap"
    return None


def content_type_for(name: str) -> str:
    """The MIME type a file name implies (``application/octet-stream`` if unknown)."""
    extension = _extension(name)
    return _VIDEO_TYPES.get(extension) or _IMAGE_TYPES.get(extension) or _DEFAULT_CONTENT_TYPE


def is_derived_filename(name: str) -> bool:
    """True if ``name`` is a small transcode, thumbnail or keep marker name (case-insensitive)."""
    return name.lower().endswith(_DERIVED_SUFFIXES)


def is_derived_key(key: str) -> bool:
    """True if the key names a derived object: processing it must not produce more objects."""
    return is_derived_filename(key.rsplit("/", 1)[-1])


def _split_original(key: str) -> tuple[str, str]:
    """Folder (with trailing slash, maybe empty) and file name of an original object's key."""
    parse_key(key)
    if is_derived_key(key):
        raise BadKey(f"key {key!r} names a derived object, not an original")
    folder, _, filename = key.rpartition("/")
    return folder + "/", filename


def small_key(key: str) -> str:
    """Key of the small transcode of the original at ``key``: ``…/NAME-small.mp4`` for ``NAME.EXT``.

    ``NAME.mp4`` and ``NAME.mkv`` in the same folder share one small key; cameras do not
    write both.
    """
    folder, filename = _split_original(key)
    stem = filename[: -len(PurePosixPath(filename).suffix) or None]
    return f"{folder}{stem}{SMALL_SUFFIX}"


def thumbnail_key(key: str) -> str:
    """Key of the thumbnail of the original at ``key``: ``…/NAME.EXT.thumb.jpg``."""
    folder, filename = _split_original(key)
    return f"{folder}{filename}{THUMBNAIL_SUFFIX}"


def keep_marker_key(key: str) -> str:
    """Key of the keep marker of the original at ``key``: ``…/NAME.EXT.keep.json``."""
    folder, filename = _split_original(key)
    return f"{folder}{filename}{KEEP_SUFFIX}"


def original_key_of_derived(key: str) -> str | None:
    """The original's key for a thumbnail or keep marker key; ``None`` otherwise.

    A small transcode's name does not record the original extension, so its original cannot
    be named from the key alone: ``None`` as well.
    """
    lowered = key.lower()
    for suffix in _NAMED_ORIGINAL_SUFFIXES:
        if lowered.endswith(suffix):
            original = key[: -len(suffix)]
            if original.rsplit("/", 1)[-1] and not is_derived_key(original):
                return original
    return None


def storable_filename(name: str) -> str:
    """``name``, unless it would be mistaken for a derived object: then ``NAME_.EXT``.

    A camera upload called ``x-small.mp4`` would otherwise never be processed.
    """
    if not is_derived_filename(name):
        return name
    path = PurePosixPath(name)
    return f"{path.stem}_{path.suffix}"


def alternative_filename(filename: str, n: int) -> str:
    """The ``n``-th alternative of ``filename`` (n >= 2): ``MDalarm_x.mp4`` → ``MDalarm_x~2.mp4``.

    Used when a different clip arrives under a name that is already taken.
    """
    if n < 2:
        raise ValueError(f"alternative number must be >= 2 (1 is the name itself), not {n}")
    suffix = PurePosixPath(filename).suffix
    stem = filename[: -len(suffix)] if suffix else filename
    return f"{stem}~{n}{suffix}"


def event_id_for_key(key: str) -> str:
    """The event id of the object at ``key``.

    Defined as the first 20 hex characters of BLAKE2b (10-byte digest, no key, no salt) of
    the key's UTF-8 bytes. It depends on nothing but the key, so it is the same on every run
    and machine, and a re-delivered event updates the same catalog entry.
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=EVENT_ID_LENGTH // 2)
    return digest.hexdigest()


def event_sort_key(capture_ms: int, event_id: str) -> str:
    """Catalog sort key: 13-digit zero-padded UTC epoch milliseconds, ``#``, event id.

    Sorting these strings sorts by (capture instant, id), so two clips in the same
    millisecond never share a sort key.
    """
    if not 0 <= capture_ms < 10**SORT_KEY_DIGITS:
        raise ValueError(f"capture_ms {capture_ms} does not fit {SORT_KEY_DIGITS} digits")
    if not event_id or "#" in event_id:
        raise ValueError(f"event id {event_id!r} must be non-empty and free of '#'")
    return f"{capture_ms:0{SORT_KEY_DIGITS}d}#{event_id}"
