"""Day boundaries in a viewer's time zone: what "a day" means when browsing the timeline.

A local day runs from local midnight to the next local midnight, so it lasts 23 or 25 hours on
DST change days. Pure functions; no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DayBounds:
    """[start, end) of a local day, as UTC instants."""

    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def day_bounds(day: date, zone: ZoneInfo) -> DayBounds:
    """The UTC instants at which ``day`` starts and ends in ``zone``."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return DayBounds(start, end)
