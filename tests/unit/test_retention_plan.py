"""The retention plan and the incident grouping: pure decisions over listings and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from camvault.domain.incidents import group, starts_incident
from camvault.domain.keys import (
    is_derived_key,
    keep_marker_key,
    original_key_of_derived,
    small_key,
    storable_filename,
    thumbnail_key,
)
from camvault.retention import Policy, StoredObject, plan
from tests.support.catalog_backends import make_event

pytestmark = pytest.mark.unit

NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def clip(camera: str, day: int, hour: int = 12, name: str = "MDalarm.mp4", prefix: str = "cams") -> str:
    return f"{prefix}/{camera}/2024-06-{day:02d}/Hour-{hour:02d}/record/{name}"


def listing(*keys: str, size: int = 100, modified: datetime = NOW - 30 * DAY) -> list[StoredObject]:
    return [StoredObject(key, size, modified) for key in keys]


def with_derived(key: str, *, small: bool = True, keep: bool = False) -> list[str]:
    keys = [key, thumbnail_key(key)]
    keys += [small_key(key)] if small else []
    keys += [keep_marker_key(key)] if keep else []
    return keys


def policy(**changes: object) -> Policy:
    fields: dict[str, object] = {"now": NOW, "prefix": "cams", "default_days": 10}
    fields.update(changes)
    return Policy(**fields)  # type: ignore[arg-type]


def test_keep_marker_is_derived_and_names_its_original() -> None:
    key = clip("front", 1)
    marker = keep_marker_key(key)
    assert marker == key + ".keep.json"
    assert is_derived_key(marker) and original_key_of_derived(marker) == key
    assert storable_filename("x.mp4.keep.json") == "x.mp4.keep_.json"  # an upload cannot pose as one


def test_expired_events_go_with_their_derived_objects_and_entry_oldest_first() -> None:
    old, older, fresh = clip("front", 19), clip("front", 18, name="b.mp4"), clip("front", 20)
    result = plan(listing(*with_derived(old), *with_derived(older), *with_derived(fresh)), policy())
    assert [r.original for r in result.removals] == [older, old]
    first = result.removals[0]
    assert first.derived == (small_key(older), thumbnail_key(older)) and first.reason == "age"
    assert first.event_key == older and first.size == 300
    assert (result.bytes_before, result.bytes_after) == (900, 300)


def test_an_event_goes_only_when_its_whole_hour_folder_is_old_enough() -> None:
    # The Hour-11 folder of 2024-06-20 ends at 12:00, exactly 10 days before NOW.
    at_limit, inside = clip("front", 20, hour=11), clip("front", 20, hour=12, name="b.mp4")
    result = plan(listing(at_limit, inside), policy())
    assert [r.original for r in result.removals] == [at_limit]


def test_nothing_goes_sooner_than_its_days_after_it_was_stored() -> None:
    """A camera whose clock says 2000 (or footage from then, ingested now) keeps its clips."""
    skewed = "cams/front/2000-01-01/Hour-00/record/a.mp4"
    arrived = listing(skewed, modified=NOW - 9 * DAY)
    assert plan(arrived, policy()).removals == ()
    result = plan(listing(skewed, modified=NOW - 10 * DAY), policy())
    assert [(r.original, r.since) for r in result.removals] == [(skewed, NOW - 10 * DAY)]


def test_a_repeated_dst_hour_counts_from_its_second_run() -> None:
    key = "cams/front/2024-10-27/Hour-02/record/a.mp4"  # 02:00-03:00 happens twice in Berlin
    berlin = ZoneInfo("Europe/Berlin")
    second_run_end = datetime(2024, 10, 27, 2, tzinfo=UTC)  # 03:00 CET
    keeps = policy(now=second_run_end + 10 * DAY - timedelta(seconds=1), key_zone=berlin)
    assert plan(listing(key), keeps).removals == ()
    goes = policy(now=second_run_end + 10 * DAY, key_zone=berlin)
    assert [r.original for r in plan(listing(key), goes).removals] == [key]


def test_per_camera_days_and_kept_events() -> None:
    front, garage, kept = clip("front", 25), clip("Garage", 25), clip("front", 1, name="kept.mp4")
    objects = listing(*with_derived(front), *with_derived(garage), *with_derived(kept, keep=True))
    result = plan(objects, policy(days_by_camera={"garage": 3}))
    assert [r.original for r in result.removals] == [garage]
    assert result.kept == 1


def test_only_camvaults_own_keys_are_candidates() -> None:
    objects = listing(
        clip("front", 1, prefix="cams-old"),  # beside the prefix
        clip("front", 1, prefix="cams/archive"),  # a deeper prefix
        "cams/notes.txt",
        "cams/front/2024-06-01/Hour-12/record/readme.txt",  # not a clip in a clip folder
        "cams/front/2024-06-01/Hour-12/snap/clip.mp4",
        "cams/front/2024-06-99/Hour-12/record/a.mp4",
    )
    assert plan(objects, policy(max_bytes=0)).removals == ()


def test_the_byte_budget_removes_the_oldest_unkept_events_after_the_expired_ones() -> None:
    keys = [clip("front", day) for day in (27, 28, 29)]
    kept = clip("front", 26, name="kept.mp4")
    objects = listing(*keys, *with_derived(kept, small=False, keep=True))
    result = plan(objects, policy(max_bytes=450))  # 600 bytes: 3 clips, and 3 objects of the kept one
    assert [(r.original, r.reason) for r in result.removals] == [(keys[0], "budget"), (keys[1], "budget")]
    assert result.bytes_after == 400
    assert plan(objects, policy(max_bytes=10_000)).removals == ()
    unreachable = plan(objects, policy(max_bytes=250))  # kept events alone are over: they still stay
    assert [r.original for r in unreachable.removals] == keys and unreachable.bytes_after == 300


def test_orphaned_derived_objects_go_after_a_day_with_the_entry_they_name() -> None:
    gone = clip("front", 29)
    objects = [
        *listing(thumbnail_key(gone), keep_marker_key(gone), modified=NOW - 2 * DAY),
        *listing(small_key(clip("front", 29, name="other.mp4")), modified=NOW - 2 * DAY),
        *listing(thumbnail_key(clip("front", 29, name="new.mp4")), modified=NOW - timedelta(hours=3)),
    ]
    removals = plan(objects, policy()).removals
    assert [(r.reason, r.original, r.derived, r.event_key) for r in removals] == [
        ("orphan", None, (keep_marker_key(gone), thumbnail_key(gone)), gone),
        ("orphan", None, (small_key(clip("front", 29, name="other.mp4")),), None),
    ]


def test_incidents_start_after_a_gap_longer_than_the_setting() -> None:
    assert starts_incident(None, 5, 60_000)
    assert not starts_incident(0, 60_000, 60_000)
    assert starts_incident(0, 60_001, 60_000)
    t0 = datetime(2024, 6, 1, tzinfo=UTC)
    events = [
        make_event("b", t0 + timedelta(seconds=50), kind="snap"),
        make_event("a", t0, kind="snap"),
        make_event("c", t0 + timedelta(seconds=50), camera="garage"),
        make_event("d", t0 + timedelta(seconds=111)),
    ]
    incidents = group(events, timedelta(seconds=60))
    assert [(i.camera, i.id, i.event_count) for i in incidents] == [
        ("garage", "c", 1),
        ("porch", "a", 2),
        ("porch", "d", 1),
    ]
    assert incidents[1].face_event_id == "a" and incidents[1].face_key == events[1].key  # no clip: a snap
    assert incidents[1].to_json()["end_time"] == "2024-06-01T00:00:50.000Z"
