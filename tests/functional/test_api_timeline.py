"""The timeline over HTTP: a local day in the viewer's zone, DST days of 23 and 25 hours, "today"
from the viewer's zone, month boundaries, and 4xx (never 5xx) for malformed parameters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from camvault.api.app import create_app
from camvault.catalog.sqlite import SQLiteCatalog
from tests.support.api import ADMIN, LOCAL, authenticator, event

pytestmark = pytest.mark.functional

# 2024-11-04T03:30Z is still Sunday 2024-11-03, 22:30 EST, in New York.
NOW = datetime(2024, 11, 4, 3, 30, tzinfo=UTC)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SQLiteCatalog]:
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    yield catalog
    catalog.close()


@pytest.fixture
def client(catalog: SQLiteCatalog, tmp_path: Path) -> Iterator[TestClient]:
    auth = authenticator(tmp_path / "accounts.db")
    with TestClient(create_app(catalog, auth, clock=lambda: NOW), base_url=LOCAL, headers=ADMIN) as client:
        yield client
    auth.close()


def hourly(catalog: SQLiteCatalog, first: datetime, hours: int) -> None:
    for hour in range(hours):
        catalog.put(event("porch", first + timedelta(hours=hour, minutes=30)))


def day_times(client: TestClient, **params: str) -> list[str]:
    body = client.get("/api/v1/events", params={"limit": "500", **params}).json()
    assert body["next_cursor"] is None
    return [e["capture_time"] for e in body["events"]]


def test_fall_back_day_in_new_york_returns_its_25_hours(catalog: SQLiteCatalog, client: TestClient) -> None:
    # 2024-11-03 in America/New_York runs from 04:00Z to 05:00Z the next day: 25 hours.
    hourly(catalog, datetime(2024, 11, 3, 3, tzinfo=UTC), 27)  # one hour either side too
    times = day_times(client, date="2024-11-03", tz="America/New_York")
    assert len(times) == 25
    assert times[0] == "2024-11-04T04:30:00.000Z"  # newest first: 23:30 EST
    assert times[-1] == "2024-11-03T04:30:00.000Z"  # 00:30 EDT
    oldest = day_times(client, date="2024-11-03", tz="America/New_York", order="oldest")
    assert oldest == times[::-1]


def test_spring_forward_day_in_new_york_returns_its_23_hours(
    catalog: SQLiteCatalog, client: TestClient
) -> None:
    # 2024-03-10 in America/New_York runs from 05:00Z to 04:00Z the next day: 23 hours.
    hourly(catalog, datetime(2024, 3, 10, 4, tzinfo=UTC), 25)
    times = day_times(client, date="2024-03-10", tz="America/New_York")
    assert len(times) == 23
    assert (times[-1], times[0]) == ("2024-03-10T05:30:00.000Z", "2024-03-11T03:30:00.000Z")


def test_the_same_instant_belongs_to_the_viewers_day(catalog: SQLiteCatalog, client: TestClient) -> None:
    catalog.put(event("porch", datetime(2024, 6, 30, 23, 30, tzinfo=UTC)))
    assert len(day_times(client, date="2024-06-30", tz="UTC")) == 1
    assert len(day_times(client, date="2024-07-01", tz="Europe/Berlin")) == 1
    assert day_times(client, date="2024-06-30", tz="Europe/Berlin") == []


def test_today_is_the_viewers_day_not_the_servers(catalog: SQLiteCatalog, client: TestClient) -> None:
    evening = datetime(2024, 11, 4, 2, tzinfo=UTC)  # 21:00 EST on Sunday, Monday already in UTC
    catalog.put(event("porch", evening))
    catalog.put(event("porch", datetime(2024, 11, 3, 12, tzinfo=UTC)))
    in_new_york = day_times(client, date="today", tz="America/New_York")
    assert in_new_york == ["2024-11-04T02:00:00.000Z", "2024-11-03T12:00:00.000Z"]
    assert day_times(client, date="today", tz="UTC") == ["2024-11-04T02:00:00.000Z"]


def test_first_day_of_a_month_and_of_a_year(catalog: SQLiteCatalog, client: TestClient) -> None:
    hourly(catalog, datetime(2024, 2, 29, 22, tzinfo=UTC), 4)  # leap day into March
    assert len(day_times(client, date="2024-03-01", tz="UTC")) == 2
    assert len(day_times(client, date="2024-02-29", tz="UTC")) == 2
    hourly(catalog, datetime(2024, 12, 31, 23, tzinfo=UTC), 2)
    assert day_times(client, date="2025-01-01", tz="UTC") == ["2025-01-01T00:30:00.000Z"]
    # in Tokyo (UTC+9) 2025-01-01 started at 2024-12-31T15:00Z
    assert len(day_times(client, date="2025-01-01", tz="Asia/Tokyo")) == 2


def test_a_day_combined_with_instants_keeps_the_narrower_window(
    catalog: SQLiteCatalog, client: TestClient
) -> None:
    hourly(catalog, datetime(2024, 11, 3, 4, tzinfo=UTC), 25)
    times = day_times(client, date="2024-11-03", tz="America/New_York", start="2024-11-04T00:00:00Z")
    assert len(times) == 5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "yesterday"}, "start='yesterday' is not an ISO 8601 instant"),
        ({"end": "2025-01-01T00:00:00"}, "is not an ISO 8601 instant with an offset"),
        ({"date": "2025-02-30"}, "date='2025-02-30'"),
        ({"date": "2025-13-01"}, "date='2025-13-01'"),
        ({"date": "20250201"}, "use YYYY-MM-DD"),
        ({"date": "tomorrow"}, "use YYYY-MM-DD (e.g. 2024-11-03) or today"),
        ({"date": "2025-0２-01"}, "use YYYY-MM-DD"),
        ({"date": "9999-12-31"}, "outside the supported years"),
        ({"date": "0001-01-01", "tz": "Asia/Tokyo"}, "outside the supported years"),
        ({"start": "0001-01-01T00:00:00+01:00"}, "is not an ISO 8601 instant"),
        ({"start": "9999-12-31T23:59:59-10:00"}, "is not an ISO 8601 instant"),
        ({"cursor": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk6ZGVm"}, "invalid cursor"),
        ({"date": "2025-02-01", "tz": "Mars/Base"}, "tz: unknown time zone 'Mars/Base': use an IANA name"),
        ({"date": "today", "tz": "../../etc/passwd"}, "tz: unknown time zone"),
        ({"cursor": "!!!"}, "invalid cursor"),
        ({"limit": 0}, "limit:"),
        ({"limit": 100000}, "limit:"),
        ({"limit": "ten"}, "limit:"),
        ({"kind": "movie"}, "kind:"),
        ({"order": "sideways"}, "order:"),
    ],
)
def test_malformed_parameters_are_400_with_a_message(
    client: TestClient, params: dict[str, object], message: str
) -> None:
    response = client.get("/api/v1/events", params=params)
    assert response.status_code == 400
    assert message in response.json()["detail"]
