"""Capture time: when a clip was recorded, read from what the camera sent.

This module decides, in this order of precedence:

1. the ``capture-time`` metadata value (ISO 8601 with an offset), when present and valid;
2. a time stamp in the camera's upload path, when a known vendor pattern matches (Foscam,
   Hikvision, Dahua/Amcrest, Reolink, Yi, Axis-style/ISO-like stamps); the wall time is read
   in the camera's IANA time zone unless the name carries its own offset;
3. the arrival (upload-complete) instant.

Local wall times are resolved explicitly: in a fall-back hour (the wall time happens twice)
the earlier instant is chosen, and in a spring-forward gap (the wall time never happens) the
pre-transition offset is used, as a camera that does not know about DST would do; both cases
leave a note on the result. Invalid calendar values (month 13, 30 February, hour 24) are no
match, never an exception.

It never performs I/O and never reads a clock: the arrival instant is passed in. It does not
decide what skew tolerance is acceptable; :func:`is_clock_skewed` takes it as an argument.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

from camvault.domain.model import parse_instant

__all__ = [
    "CaptureSource",
    "CaptureTime",
    "LocalResolution",
    "capture_from_name",
    "is_clock_skewed",
    "local_to_utc",
    "pattern_names",
    "resolve_capture_time",
]

CaptureSource = Literal["filename", "path", "arrival", "metadata"]


@dataclass(frozen=True)
class CaptureTime:
    """A capture instant (aware, UTC), where it came from, and any caveat about it.

    ``pattern`` names the vendor pattern that matched (``None`` unless the source is a name
    or path). ``note`` explains a DST decision or an ignored metadata value.
    """

    instant: datetime
    source: CaptureSource
    pattern: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.instant.tzinfo is None or self.instant.utcoffset() is None:
            raise ValueError("capture instant must be timezone-aware")
        if self.instant.tzinfo is not UTC:
            object.__setattr__(self, "instant", self.instant.astimezone(UTC))


@dataclass(frozen=True)
class LocalResolution:
    """A local wall time resolved to one UTC instant; ``note`` is set for DST edge cases."""

    instant: datetime
    note: str | None = None


def _format_offset(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta()).total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}"


def local_to_utc(naive: datetime, zone: ZoneInfo) -> LocalResolution:
    """Resolve a naive wall time in ``zone`` to a UTC instant, DST edge cases made explicit.

    Ambiguous (the clock was set back, e.g. DST fall-back): the first occurrence, fold=0.
    Nonexistent (the clock jumped forward): read with the pre-transition offset, which lands
    the same distance past the jump. Both are detected by comparing the two folds and
    round-tripping, never from hard-coded dates.
    """
    if naive.tzinfo is not None:
        raise ValueError("local_to_utc expects a naive wall time")
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    instant = first.astimezone(UTC)
    if first.utcoffset() == second.utcoffset():
        return LocalResolution(instant)
    wall = f"{naive.isoformat(sep=' ')} in {zone.key}"
    offset = _format_offset(first.utcoffset())
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        note = f"ambiguous local time {wall} (DST fall-back): chose the first occurrence ({offset})"
    else:
        after = instant.astimezone(zone).replace(tzinfo=None).isoformat(sep=" ")
        note = (
            f"nonexistent local time {wall} (DST spring-forward gap): "
            f"read with the pre-transition offset {offset}, i.e. {after} local"
        )
    return LocalResolution(instant, note)


@dataclass(frozen=True)
class _Stamp:
    """A wall time read from a name: naive, plus the offset if the name carries one."""

    wall: datetime
    offset: timedelta | None = None


_OFFSET_RE = re.compile(r"(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})")


def _parse_offset(text: str | None) -> timedelta | None:
    if not text:
        return None
    if text in ("Z", "z"):
        return timedelta()
    match = _OFFSET_RE.fullmatch(text)
    if match is None:  # the regexes below only capture well-formed offsets
        return None
    size = timedelta(hours=int(match["hh"]), minutes=int(match["mm"]))
    return -size if match["sign"] == "-" else size


def _from_groups(match: re.Match[str]) -> _Stamp | None:
    """Build a stamp from named groups Y M D h m s [ms] [off]; ``None`` if not a real date."""
    groups = match.groupdict()
    fraction = (groups.get("ms") or "").ljust(6, "0")[:6]
    try:
        wall = datetime(
            int(groups["Y"]),
            int(groups["M"]),
            int(groups["D"]),
            int(groups["h"]),
            int(groups["m"]),
            int(groups["s"]),
            int(fraction),
        )
    except ValueError:
        return None
    return _Stamp(wall, _parse_offset(groups.get("off")))


@dataclass(frozen=True)
class _Pattern:
    """One vendor naming scheme: matched against the file name or the whole path."""

    name: str
    regex: re.Pattern[str]
    build: Callable[[re.Match[str]], _Stamp | None]
    scope: Literal["filename", "path"]


def _compile(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


_DATE_DASHED = r"(?P<Y>\d{4})-(?P<M>\d{2})-(?P<D>\d{2})"
_BRACKETS = r"(?:\[[^/\]]*\])*"  # Dahua's [M][0@0][1] flags
_OFFSET = r"(?P<off>Z|[+-](?:0\d|1[0-4]):?(?:00|15|30|45))?"
_COMPACT = r"(?P<Y>\d{4})(?P<M>\d{2})(?P<D>\d{2})"
_COMPACT_TIME = r"(?P<h>\d{2})(?P<m>\d{2})(?P<s>\d{2})"

# Most specific first: the first pattern whose match is a real date wins.
_PATTERNS: tuple[_Pattern, ...] = (
    _Pattern(
        "dahua-jpg",
        _compile(
            rf"(?:^|/){_DATE_DASHED}/\d+/jpg/(?P<h>\d{{2}})/(?P<m>\d{{2}})/"
            rf"(?P<s>\d{{2}}){_BRACKETS}\.jpe?g$"
        ),
        _from_groups,
        "path",
    ),
    _Pattern(
        "dahua-dav",
        _compile(
            rf"(?:^|/){_DATE_DASHED}/\d+/dav/\d{{2}}/"
            rf"(?P<h>\d{{2}})\.(?P<m>\d{{2}})\.(?P<s>\d{{2}})"
            rf"(?:-\d{{2}}\.\d{{2}}\.\d{{2}})?{_BRACKETS}\.(?:mp4|dav)$"
        ),
        _from_groups,
        "path",
    ),
    _Pattern(
        "yi",
        _compile(
            r"(?:^|/)(?P<Y>\d{4})Y(?P<M>\d{2})M(?P<D>\d{2})D(?P<h>\d{2})H/"
            r"(?P<m>\d{2})M(?P<s>\d{2})S\d*\.(?:mp4|jpe?g)$"
        ),
        _from_groups,
        "path",
    ),
    _Pattern(
        "foscam",
        _compile(rf"^H?(?:MDAlarm|IOAlarm|Schedule)_{_COMPACT}[_-]{_COMPACT_TIME}(?!\d)"),
        _from_groups,
        "filename",
    ),
    _Pattern(
        "hikvision",
        _compile(rf"^[^_/]+_\d+_{_COMPACT}{_COMPACT_TIME}(?P<ms>\d{{3}})?_[A-Z][^/]*$"),
        _from_groups,
        "filename",
    ),
    _Pattern(
        "reolink",
        _compile(rf"^.+_\d{{2}}_{_COMPACT}{_COMPACT_TIME}\.\w+$"),
        _from_groups,
        "filename",
    ),
    _Pattern(
        "iso-extended",
        _compile(
            rf"(?<!\d){_DATE_DASHED}[T_\x20-](?P<h>\d{{2}})[:.-](?P<m>\d{{2}})[:.-](?P<s>\d{{2}})"
            rf"(?:[.,](?P<ms>\d{{1,6}}))?{_OFFSET}(?!\d)"
        ),
        _from_groups,
        "filename",
    ),
    _Pattern(
        "iso-basic",
        _compile(rf"(?<!\d){_COMPACT}[T_]{_COMPACT_TIME}(?:[.,]?(?P<ms>\d{{3}}))?{_OFFSET}(?!\d)"),
        _from_groups,
        "filename",
    ),
)


def pattern_names() -> tuple[str, ...]:
    """Names of the recognised vendor patterns, in the order they are tried."""
    return tuple(pattern.name for pattern in _PATTERNS)


def _stamps(path: str) -> Iterator[tuple[_Pattern, _Stamp]]:
    """Every (pattern, stamp) the path yields, most specific pattern first."""
    filename = path.rsplit("/", 1)[-1]
    for pattern in _PATTERNS:
        target = filename if pattern.scope == "filename" else path
        for match in pattern.regex.finditer(target):
            stamp = pattern.build(match)
            if stamp is not None:
                yield pattern, stamp


def capture_from_name(path: str, zone: ZoneInfo) -> CaptureTime | None:
    """The capture time stamped in a camera's upload path, or ``None`` if no pattern matches.

    ``path`` is the camera's upload path (folders and file name, ``/``-separated, may be
    relative). The source is ``filename`` or ``path`` (when folders carry part of the time).
    """
    for pattern, stamp in _stamps(path):
        if stamp.offset is not None:
            instant = stamp.wall.replace(tzinfo=timezone(stamp.offset))
            return CaptureTime(instant, pattern.scope, pattern.name)
        resolved = local_to_utc(stamp.wall, zone)
        return CaptureTime(resolved.instant, pattern.scope, pattern.name, resolved.note)
    return None


def _from_metadata(value: str) -> CaptureTime | None:
    try:
        instant = parse_instant(value)
    except ValueError:
        return None
    return CaptureTime(instant, "metadata")


def resolve_capture_time(
    path: str,
    zone: ZoneInfo,
    arrival: datetime,
    metadata_value: str | None = None,
) -> CaptureTime:
    """The capture time of an upload: metadata, else a name/path pattern, else arrival.

    An invalid metadata value is ignored, and the result's note says so.
    """
    if arrival.tzinfo is None or arrival.utcoffset() is None:
        raise ValueError("arrival must be timezone-aware")
    ignored: str | None = None
    if metadata_value is not None:
        from_metadata = _from_metadata(metadata_value)
        if from_metadata is not None:
            return from_metadata
        ignored = f"ignored invalid capture-time metadata {metadata_value!r}"
    found = capture_from_name(path, zone) or CaptureTime(arrival, "arrival")
    if ignored is None:
        return found
    note = f"{ignored}; {found.note}" if found.note else ignored
    return CaptureTime(found.instant, found.source, found.pattern, note)


def is_clock_skewed(capture: datetime, arrival: datetime, tolerance: timedelta) -> bool:
    """True if ``capture`` is more than ``tolerance`` before or after ``arrival``.

    Cameras upload after they capture, so a delay within ``tolerance`` is normal.
    """
    if capture.tzinfo is None or arrival.tzinfo is None:
        raise ValueError("capture and arrival must be timezone-aware")
    if tolerance < timedelta():
        raise ValueError("tolerance must not be negative")
    return abs(arrival - capture) > tolerance
