"""What the DynamoDB catalog does beyond the shared contract: TTL values, conditional writes on
redelivery, racing writers, key-range queries on the table and the ``timeline`` GSI (never a
scan), incidents computed on read (across midnight UTC, after the TTL removed neighbours), the
generic item mapping of ``keep`` and ``incident_id``, clear errors, and being built from
settings. Runs against moto's server.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from camvault.catalog.base import CatalogError, EventQuery, IncidentQuery
from camvault.catalog.dynamodb import DynamoDBCatalog, create_table
from camvault.config.loader import load_config
from camvault.domain.incidents import group
from camvault.factory import open_catalog
from tests.support.catalog_backends import make_event
from tests.support.moto import MotoServer, unique_name

pytestmark = pytest.mark.functional

T0 = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
DAY = 86_400


class Tracker:
    """Records every DynamoDB operation a client sends (botocore's own event hooks)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.dynamodb", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def queries(self) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == "Query"]


class Table:
    def __init__(self, server: MotoServer) -> None:
        self.server = server
        self.name = unique_name("catalog")
        self.admin = server.client("dynamodb")
        create_table(self.admin, self.name)
        self.opened: list[DynamoDBCatalog] = []

    def catalog(self, retention_days: int | None = 30) -> DynamoDBCatalog:
        catalog = DynamoDBCatalog(self.server.client("dynamodb"), self.name, retention_days=retention_days)
        self.opened.append(catalog)
        return catalog

    def raw(self, partition: str) -> list[dict[str, Any]]:
        found = self.admin.query(
            TableName=self.name,
            KeyConditionExpression="camera_name = :p",
            ExpressionAttributeValues={":p": {"S": partition}},
            ConsistentRead=True,
        )
        items: list[dict[str, Any]] = found["Items"]
        return items

    def close(self) -> None:
        for catalog in self.opened:
            catalog.close()
        self.admin.delete_table(TableName=self.name)
        self.admin.close()


@pytest.fixture
def table(moto_server: MotoServer) -> Iterator[Table]:
    opened = Table(moto_server)
    yield opened
    opened.close()


def seconds(instant: datetime) -> int:
    return int(instant.timestamp())


# -- TTL -----------------------------------------------------------------------------------


def test_every_item_expires_with_the_retention(table: Table) -> None:
    catalog = table.catalog(retention_days=30)
    catalog.put(make_event("ev-1", T0))

    [event_item] = table.raw("porch")
    [lookup] = table.raw("#id#ev-1")
    [counts] = table.raw("#counts")

    assert int(event_item["expires_at"]["N"]) == seconds(T0) + 30 * DAY
    assert int(lookup["expires_at"]["N"]) == seconds(T0) + 30 * DAY
    end_of_day = datetime(2024, 5, 2, tzinfo=UTC)
    assert int(counts["expires_at"]["N"]) == seconds(end_of_day) + 30 * DAY
    ttl = table.admin.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_without_a_retention_nothing_expires(table: Table) -> None:
    table.catalog(retention_days=None).put(make_event("ev-1", T0))

    for partition in ("porch", "#id#ev-1", "#counts"):
        [item] = table.raw(partition)
        assert "expires_at" not in item


def test_a_kept_event_never_expires_and_releasing_it_restores_its_ttl(table: Table) -> None:
    catalog = table.catalog(retention_days=30)
    catalog.put(make_event("ev-1", T0))
    catalog.put(make_event("ev-2", T0 + timedelta(minutes=5)))

    catalog.put(make_event("ev-1", T0, keep=True))

    kept, other = table.raw("porch")
    assert kept["id"]["S"] == "ev-1" and "expires_at" not in kept
    assert "expires_at" not in table.raw("#id#ev-1")[0]
    assert int(other["expires_at"]["N"]) == seconds(T0) + 5 * 60 + 30 * DAY
    # The day's counts find the kept event in the cross-camera timeline: TTL ignores a string.
    [counts] = table.raw("#counts")
    assert counts["expires_at"] == {"S": "kept"}
    assert int(counts["record_count"]["N"]) == 2
    catalog.put(make_event("ev-3", T0 + timedelta(minutes=9)))  # a later event of that day
    assert table.raw("#counts")[0]["expires_at"] == {"S": "kept"}
    page = catalog.query(EventQuery(start=T0 - timedelta(days=1), end=T0 + timedelta(days=1)))
    assert [event.id for event in page.events if event.keep] == ["ev-1"]

    catalog.put(make_event("ev-1", T0, keep=False))

    assert int(table.raw("porch")[0]["expires_at"]["N"]) == seconds(T0) + 30 * DAY
    assert int(table.raw("#id#ev-1")[0]["expires_at"]["N"]) == seconds(T0) + 30 * DAY


def test_the_event_item_holds_the_key_attributes_of_the_table_and_the_gsi(table: Table) -> None:
    table.catalog().put(make_event("ev-1", T0))

    [item] = table.raw("porch")

    assert item["event_key"] == {"S": f"{int(T0.timestamp() * 1000):013d}#ev-1"}
    assert item["capture_date"] == {"S": "2024-05-01"}
    assert item["capture_time"] == {"N": str(int(T0.timestamp() * 1000))}


# -- conditional writes ----------------------------------------------------------------------


def test_a_redelivered_event_replaces_its_item(table: Table) -> None:
    catalog = table.catalog()
    event = make_event("ev-1", T0)

    assert catalog.put(event) is True
    assert catalog.put(event) is False

    assert len(table.raw("porch")) == 1
    assert len(table.raw("#id#ev-1")) == 1


def test_an_event_whose_capture_time_changed_moves_without_leaving_a_copy(table: Table) -> None:
    catalog = table.catalog()
    catalog.put(make_event("ev-1", T0))

    assert catalog.put(make_event("ev-1", T0 + timedelta(days=1))) is False

    [item] = table.raw("porch")
    assert item["capture_date"] == {"S": "2024-05-02"}
    counts = {
        item["event_key"]["S"]: int(item.get("record_count", {"N": "0"})["N"])
        for item in table.raw("#counts")
    }
    assert counts == {"2024-05-01#porch": 0, "2024-05-02#porch": 1}
    assert [event.id for event in catalog.query(EventQuery(start=T0 - timedelta(hours=1))).events] == ["ev-1"]


def test_a_delivery_that_loses_a_race_retries_and_reports_the_event_as_known(table: Table) -> None:
    """The other delivery commits between this one's read of the lookup item and its write.

    The interleaving is made exact with botocore's own request hook (moto's server cannot be
    raced with threads: it rolls a cancelled transaction back by restoring a copy of the whole
    table, which would also undo the winner's write; DynamoDB itself is serializable).
    """
    slow, fast = table.catalog(), table.catalog()
    event = make_event("ev-1", T0)
    overtaken: list[bool] = []

    def overtake(**_: Any) -> None:
        if not overtaken:
            overtaken.append(fast.put(event))

    slow._client.meta.events.register("before-call.dynamodb.TransactWriteItems", overtake)

    assert slow.put(event) is False
    assert overtaken == [True]
    assert len(table.raw("porch")) == 1
    [summary] = slow.cameras()
    assert summary.event_count == 1


def test_a_delete_racing_a_move_deletes_the_moved_event(table: Table) -> None:
    catalog, mover = table.catalog(), table.catalog()
    catalog.put(make_event("ev-1", T0))
    moved: list[bool] = []

    def move(**_: Any) -> None:
        if not moved:
            moved.append(mover.put(make_event("ev-1", T0 + timedelta(days=1))))

    catalog._client.meta.events.register("before-call.dynamodb.TransactWriteItems", move)

    assert catalog.delete("ev-1") is True
    assert moved == [False]
    assert table.raw("porch") == []
    assert catalog.cameras() == []


# -- reads use keys, never scans -------------------------------------------------------------


def test_queries_read_key_ranges_of_the_table_or_the_timeline_index(table: Table) -> None:
    catalog = table.catalog()
    tracker = Tracker(catalog._client)
    for n, day in enumerate((1, 3, 3, 5)):
        catalog.put(make_event(f"ev-{n}", datetime(2024, 5, day, 12, tzinfo=UTC), camera=f"cam-{n % 2}"))
    tracker.calls.clear()

    catalog.query(EventQuery(start=datetime(2024, 5, 2, tzinfo=UTC), end=datetime(2024, 5, 6, tzinfo=UTC)))
    catalog.query(EventQuery(camera="cam-1", kind="record"))
    catalog.cameras()
    catalog.get("ev-2")

    assert "Scan" not in tracker.names()
    on_index = [query for query in tracker.queries() if query.get("IndexName") == "timeline"]
    assert [query["ExpressionAttributeValues"][":p"]["S"] for query in on_index] == [
        "2024-05-05",
        "2024-05-03",
    ]
    partitions = [query["ExpressionAttributeValues"][":p"]["S"] for query in tracker.queries()]
    assert "cam-1" in partitions
    assert all("KeyConditionExpression" in query for query in tracker.queries())


def test_a_full_page_stops_reading_further_days(table: Table) -> None:
    catalog = table.catalog()
    for day in range(1, 6):
        catalog.put(make_event(f"ev-{day}", datetime(2024, 5, day, tzinfo=UTC)))
    tracker = Tracker(catalog._client)

    page = catalog.query(EventQuery(limit=1))

    assert [event.id for event in page.events] == ["ev-5"]
    on_index = [query for query in tracker.queries() if query.get("IndexName") == "timeline"]
    assert [query["ExpressionAttributeValues"][":p"]["S"] for query in on_index] == [
        "2024-05-05",
        "2024-05-04",
    ]


# -- alarm incidents, computed on read ---------------------------------------------------------

S = timedelta(seconds=1)
MIDNIGHT = datetime(2024, 5, 2, tzinfo=UTC)


def test_an_incident_spanning_midnight_utc_is_one_incident(table: Table) -> None:
    catalog = table.catalog()
    for name, at in (("late", MIDNIGHT - 30 * S), ("early", MIDNIGHT + 20 * S), ("next", MIDNIGHT + 70 * S)):
        catalog.put(make_event(name, at, kind="snap"))

    day_two = EventQuery(start=MIDNIGHT, end=MIDNIGHT + timedelta(days=1))
    assert {e.id: e.incident_id for e in catalog.query(day_two).events} == {"early": "late", "next": "late"}
    [incident] = catalog.incidents(IncidentQuery(start=MIDNIGHT - timedelta(hours=1))).incidents
    assert (incident.id, incident.event_count, incident.end) == ("late", 3, MIDNIGHT + 70 * S)
    assert catalog.incidents(IncidentQuery(start=MIDNIGHT)).incidents == []  # it started the day before
    detail = catalog.incident("late")
    assert detail is not None and [e.id for e in detail.events] == ["late", "early", "next"]
    assert {e.incident_id for e in detail.events} == {"late"}


@pytest.mark.parametrize("newest_first", [True, False])
def test_an_incident_is_listed_whole_when_the_range_ends_inside_it(table: Table, newest_first: bool) -> None:
    catalog = table.catalog()
    for n in range(4):
        catalog.put(make_event(f"ev-{n}", T0 + n * 50 * S, kind="snap"))

    query = IncidentQuery(start=T0, end=T0 + 60 * S, newest_first=newest_first)
    [incident] = catalog.incidents(query).incidents

    assert (incident.id, incident.event_count, incident.end) == ("ev-0", 4, T0 + 150 * S)


def test_a_long_incident_is_read_in_growing_pages(table: Table) -> None:
    catalog = table.catalog()
    for n in range(40):
        catalog.put(make_event(f"ev-{n:02d}", T0 + n * 30 * S, kind="snap"))
    tracker = Tracker(catalog._client)

    found = catalog.get("ev-39")
    detail = catalog.incident("ev-00")

    assert found is not None and found.incident_id == "ev-00"
    assert detail is not None and len(detail.events) == 40 and detail.incident.event_count == 40
    # get: back from ev-39 in pages of 16 and 32; incident: its predecessor, then forward
    assert [query["Limit"] for query in tracker.queries()] == [16, 32, 1, 16, 32]


def test_incident_reads_are_key_ranges_of_camera_partitions(table: Table) -> None:
    catalog = table.catalog()
    for n, camera in enumerate(("porch", "garage", "porch")):
        catalog.put(make_event(f"ev-{n}", T0 + n * 10 * S, camera=camera))
    tracker = Tracker(catalog._client)

    listed = catalog.incidents(IncidentQuery(newest_first=False)).incidents
    catalog.incident("ev-0")
    catalog.get("ev-2")

    assert [(i.camera, i.id, i.event_count) for i in listed] == [("porch", "ev-0", 2), ("garage", "ev-1", 1)]
    assert "Scan" not in tracker.names()
    walks = [
        query for query in tracker.queries() if query["ExpressionAttributeValues"][":p"]["S"] != "#counts"
    ]
    assert walks and all(query.get("ConsistentRead") and "IndexName" not in query for query in walks)
    assert {query["ExpressionAttributeValues"][":p"]["S"] for query in walks} == {"porch", "garage"}


def test_pages_of_incidents_match_grouping_all_events_at_once(table: Table) -> None:
    catalog = table.catalog()
    rng = random.Random(7)
    events = [
        make_event(f"ev-{n:02d}", T0 + rng.randrange(0, 900) * S, camera=rng.choice(("a", "b", "c")))
        for n in range(30)
    ]
    for event in events:
        catalog.put(event)
    everything = sorted(group(events, timedelta(seconds=60)), key=lambda i: (i.start, i.id))

    for start, end in ((None, None), (T0 + 100 * S, T0 + 500 * S), (T0 + 333 * S, None)):
        expected = [
            i for i in everything if (start is None or i.start >= start) and (end is None or i.start < end)
        ]
        for newest_first in (False, True):
            query = IncidentQuery(start=start, end=end, newest_first=newest_first, limit=2)
            listed = []
            while True:
                page = catalog.incidents(query)
                listed += page.incidents
                if page.next_cursor is None:
                    break
                query = replace(query, cursor=page.next_cursor)
            assert listed == (expected[::-1] if newest_first else expected), (start, end, newest_first)


def test_events_left_by_the_ttl_regroup_around_a_kept_event(table: Table) -> None:
    """DynamoDB's TTL deletes expired items on its own, without the catalog: the kept event in
    the middle of an incident then starts the incident of what remains."""
    catalog = table.catalog()
    catalog.put(make_event("first", T0, kind="snap"))
    catalog.put(make_event("kept", T0 + 40 * S, keep=True))
    catalog.put(make_event("last", T0 + 80 * S, kind="snap"))
    assert [i.id for i in catalog.incidents(IncidentQuery()).incidents] == ["first"]

    for key in (
        {"camera_name": {"S": "porch"}, "event_key": {"S": f"{int(T0.timestamp() * 1000):013d}#first"}},
        {"camera_name": {"S": "#id#first"}, "event_key": {"S": "#"}},
    ):
        table.admin.delete_item(TableName=table.name, Key=key)  # as the TTL would

    [incident] = catalog.incidents(IncidentQuery()).incidents
    assert (incident.id, incident.event_count) == ("kept", 2)
    found = catalog.get("last")
    assert found is not None and found.incident_id == "kept"


def test_keep_round_trips_and_a_given_incident_id_is_not_stored(table: Table) -> None:
    catalog = table.catalog()
    catalog.put(make_event("ev-1", T0, keep=True, incident_id="stale"))

    [item] = table.raw("porch")
    found = catalog.get("ev-1")

    assert item["keep"] == {"BOOL": True} and item["incident_id"] == {"NULL": True}
    assert found is not None and (found.keep, found.incident_id) == (True, "ev-1")


def test_an_item_written_before_keep_and_incidents_reads_with_their_defaults(table: Table) -> None:
    catalog = table.catalog()
    catalog.put(make_event("ev-1", T0))
    [item] = table.raw("porch")
    table.admin.update_item(
        TableName=table.name,
        Key={"camera_name": item["camera_name"], "event_key": item["event_key"]},
        UpdateExpression="REMOVE keep, incident_id",
    )

    found = catalog.get("ev-1")

    assert found is not None and (found.keep, found.incident_id) == (False, "ev-1")
    assert found == make_event("ev-1", T0)


# -- errors and settings ---------------------------------------------------------------------


def test_a_missing_table_is_a_clear_error(moto_server: MotoServer) -> None:
    with DynamoDBCatalog(moto_server.client("dynamodb"), unique_name("missing")) as catalog:
        with pytest.raises(CatalogError, match="does not exist: deploy the stack"):
            catalog.get("ev-1")
        with pytest.raises(CatalogError, match="does not exist"):
            catalog.put(make_event("ev-1", T0))


@pytest.mark.parametrize("year", [1969, 2300])
def test_a_capture_time_outside_the_sort_key_is_refused(table: Table, year: int) -> None:
    catalog = table.catalog()

    with pytest.raises(CatalogError, match="cannot be cataloged"):
        catalog.put(make_event("ev-1", datetime(year, 1, 1, tzinfo=UTC)))

    assert table.raw("#id#ev-1") == []


def test_the_factory_opens_the_table_named_by_the_settings(
    table: Table, moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in moto_server.environ().items():
        monkeypatch.setenv(name, value)
    env = {
        "CAMVAULT_STORAGE_URL": "file://objects",
        "CAMVAULT_CATALOG_URL": f"dynamodb://{table.name}",
        "CAMVAULT_CATALOG_ENDPOINT_URL": moto_server.endpoint_url,
        "CAMVAULT_CATALOG_REGION": moto_server.region,
        "CAMVAULT_RETENTION_DAYS": "7",
        "CAMVAULT_INCIDENTS_GAP_SECONDS": "20",
    }
    config = load_config(None, env, tmp_path, require_file=False)

    catalog = open_catalog(config)
    try:
        assert catalog.put(make_event("ev-1", T0)) is True
        assert catalog.get("ev-1") == make_event("ev-1", T0)
        catalog.put(make_event("ev-2", T0 + timedelta(seconds=30)))  # more than the gap of 20 s
        found = catalog.get("ev-2")
        assert found is not None and found.incident_id == "ev-2"
    finally:
        catalog.close()
    item = table.raw("porch")[0]
    assert int(item["expires_at"]["N"]) == seconds(T0) + 7 * DAY


def test_without_boto3_the_catalog_says_which_extra_to_install() -> None:
    code = (
        "import sys; sys.modules['boto3'] = None\n"
        "from camvault.catalog.dynamodb import make_dynamodb_client\n"
        "make_dynamodb_client(endpoint_url=None, region=None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert "pip install 'camvault[aws]'" in done.stderr
