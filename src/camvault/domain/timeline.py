"""Day boundaries in a viewer's time zone: what "a day" means when browsing the timeline.

A local day runs from local midnight to the next local midnight, so it lasts 23 or 25 hours on
DST change days. Also the one place that turns a zone name into a zone. Pure functions; no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class DayBounds:
    """[start, end) of a local day, as UTC instants."""

    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def parse_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; ValueError with an example otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin, America/New_York or UTC"
        ) from None


def day_bounds(day: date, zone: ZoneInfo) -> DayBounds:
    """The UTC instants at which ``day`` starts and ends in ``zone``; ValueError at the ends of
    the calendar (a day whose bounds fall outside the years 1-9999 in UTC)."""
    try:
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"the day {day.isoformat()} in {zone.key} is outside the supported years") from None
    return DayBounds(start, end)
