"""How instants appear in the API and in events: ISO 8601 in UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from camvault.domain.model import format_instant, parse_instant

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("instant", "text"),
    [
        (datetime(2016, 10, 18, 18, 37, 6, tzinfo=UTC), "2016-10-18T18:37:06.000Z"),
        (
            datetime(2016, 10, 18, 18, 37, 6, 999999, tzinfo=UTC),
            "2016-10-18T18:37:06.999Z",
        ),  # cut, not rounded
        (
            datetime(2016, 10, 18, 11, 37, 6, 120000, tzinfo=timezone(timedelta(hours=-7))),
            "2016-10-18T18:37:06.120Z",
        ),
        (
            datetime(2024, 3, 10, 12, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2024-03-10T07:00:00.000Z",
        ),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000Z"),
    ],
)
def test_instants_are_written_in_utc_with_milliseconds_and_z(instant: datetime, text: str) -> None:
    assert format_instant(instant) == text
    assert parse_instant(text) == instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_instant(datetime(2016, 10, 18, 18, 37, 6))
