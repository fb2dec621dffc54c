"""The DynamoDB table layout without DynamoDB: the generic item mapping and the key ranges of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from camvault.catalog.base import EventQuery, Position, encode_cursor
from camvault.catalog.dynamodb import table_from_url
from camvault.catalog.dynamodb_items import (
    ABOVE_ALL_KEYS,
    decode,
    encode,
    event_item,
    item_event,
    key_range,
    lookup_item,
)
from camvault.domain.model import MediaInfo
from tests.support.catalog_backends import make_event

pytestmark = pytest.mark.unit

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
T0_MS = 1_714_564_800_000


def test_an_event_item_maps_every_field_and_back() -> None:
    event = make_event(
        "ev-1",
        T0,
        media=MediaInfo(duration=10.0, width=1280, height=720, video_codec="h264", audio_codec=None),
        received_time=T0 + timedelta(seconds=3),
        extra={"capture_source": "filename"},
    )

    item = event_item(event, retention_days=None)
    # DynamoDB normalises numbers: 10.0 comes back as "10"
    item["media"]["M"]["duration"] = {"N": "10"}
    back = item_event(item)

    assert back == event
    assert back.extra == event.extra
    assert back.media is not None
    assert isinstance(back.media.duration, float)
    assert item["received_time"] == {"N": str(T0_MS + 3000)}


def test_a_kept_event_and_its_lookup_carry_no_ttl_and_the_others_do() -> None:
    kept = make_event("ev-1", T0, keep=True)
    released = make_event("ev-1", T0, keep=False)

    assert "expires_at" not in event_item(kept, retention_days=30)
    assert "expires_at" not in lookup_item(kept, retention_days=30)
    expiry = {"N": str(T0_MS // 1000 + 30 * 86_400)}
    assert event_item(released, retention_days=30)["expires_at"] == expiry
    assert lookup_item(released, retention_days=30)["expires_at"] == expiry
    assert item_event(event_item(kept, retention_days=30)).keep is True


def test_an_item_written_before_a_field_existed_reads_the_field_default() -> None:
    item = event_item(make_event("ev-1", T0, clock_skew=True, extra={"a": "b"}), retention_days=None)
    del item["clock_skew"], item["extra"], item["problem"]

    back = item_event(item)

    assert (back.clock_skew, back.extra, back.problem) == (False, {}, None)


@dataclass(frozen=True)
class Later:
    """Stands for CatalogEvent after a later version adds fields: the mapping follows the hints."""

    id: str
    keep: bool = False
    kept_until: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    score: float | None = None


def test_fields_added_later_flow_through_by_their_type() -> None:
    value = Later("x", keep=True, kept_until=T0, tags={"incident": "7"}, score=2.0)

    assert decode(encode(value), Later) == value
    assert decode(encode(Later("y")), Later) == Later("y")


def test_a_value_the_table_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot store a set"):
        encode({"a"})


def test_the_lookup_item_is_not_indexed_by_the_timeline() -> None:
    item = lookup_item(make_event("ev-1", T0), retention_days=30)

    assert "capture_date" not in item
    assert item["camera_name"] == {"S": "#id#ev-1"}
    assert item["target_key"] == {"S": f"{T0_MS}#ev-1"}


# -- key ranges ----------------------------------------------------------------------------


def test_no_bounds_cover_every_key() -> None:
    found = key_range(EventQuery())

    assert found is not None
    assert (found.low, found.high, found.exclude) == ("0" * 13, ABOVE_ALL_KEYS, None)


def test_start_and_end_become_bare_millisecond_bounds_and_days() -> None:
    found = key_range(EventQuery(start=T0, end=T0 + timedelta(days=2, microseconds=1)))

    assert found is not None
    assert (found.low, found.high) == (f"{T0_MS}", f"{T0_MS + 2 * 86_400_000 + 1}")
    assert (found.first_day, found.last_day) == ("2024-05-01", "2024-05-03")
    assert found.day_keys == ("2024-05-01", "2024-05-03~")
    assert found.day_keys[0] <= "2024-05-03#porch" <= found.day_keys[1]


@pytest.mark.parametrize("newest_first", [True, False])
def test_a_cursor_is_an_inclusive_bound_that_excludes_its_own_key(newest_first: bool) -> None:
    cursor = encode_cursor(Position(T0_MS, "ev-5"))

    found = key_range(EventQuery(cursor=cursor, newest_first=newest_first))

    assert found is not None
    assert found.exclude == f"{T0_MS}#ev-5"
    assert (found.high if newest_first else found.low) == found.exclude


@pytest.mark.parametrize(
    ("ms", "newest_first", "selects_all"),
    [(-5, True, False), (-5, False, True), (10**14, True, True), (10**14, False, False)],
)
def test_a_cursor_outside_the_sort_key_space(ms: int, newest_first: bool, selects_all: bool) -> None:
    found = key_range(EventQuery(cursor=encode_cursor(Position(ms, "x")), newest_first=newest_first))

    if selects_all:
        assert found is not None
        assert (found.low, found.high, found.exclude) == ("0" * 13, ABOVE_ALL_KEYS, None)
    else:
        assert found is None


def test_empty_ranges_select_nothing() -> None:
    assert key_range(EventQuery(start=T0, end=T0)) is None
    assert key_range(EventQuery(end=datetime(1960, 1, 1, tzinfo=UTC))) is None
    past_end = encode_cursor(Position(T0_MS + 10, "a"))
    assert key_range(EventQuery(end=T0, cursor=past_end, newest_first=False)) is None


def test_a_dynamodb_url_names_one_table() -> None:
    assert table_from_url("dynamodb://camvault-events") == "camvault-events"
    for bad in ("dynamodb://", "dynamodb://a/b", "sqlite:///x.db"):
        with pytest.raises(ValueError, match="use dynamodb://TABLE"):
            table_from_url(bad)
