"""Object keys: build/parse round trips, every BadKey rule, derived keys, ids and sort keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from camvault.domain.keys import (
    BadKey,
    ObjectKey,
    alternative_filename,
    build_key,
    content_type_for,
    event_id_for_key,
    event_sort_key,
    is_derived_filename,
    is_derived_key,
    kind_for_filename,
    original_key_of_derived,
    parse_key,
    small_key,
    storable_filename,
    thumbnail_key,
    validate_camera_name,
    validate_filename,
)
from camvault.domain.model import Kind

pytestmark = pytest.mark.unit

ORIGINAL_KEY = "patrolcams/backyard/2016-10-19/Hour-16/record/MDalarm_20161018_113706.mp4"


# --- parse ---------------------------------------------------------------------------------


def test_parses_the_original_systems_key() -> None:
    parsed = parse_key(ORIGINAL_KEY)
    assert parsed == ObjectKey(
        prefix="patrolcams",
        camera="backyard",
        day=date(2016, 10, 19),
        hour=16,
        kind="record",
        filename="MDalarm_20161018_113706.mp4",
    )
    assert parsed.key == ORIGINAL_KEY
    assert str(parsed) == ORIGINAL_KEY
    assert not parsed.is_derived


@pytest.mark.parametrize(
    ("key", "prefix", "camera"),
    [
        ("cam/2024-01-02/Hour-03/snap/a.jpg", "", "cam"),
        ("p/cam/2024-01-02/Hour-03/snap/a.jpg", "p", "cam"),
        ("a/b/c/cam/2024-01-02/Hour-03/snap/a.jpg", "a/b/c", "cam"),
        ("a/b/Front Door/2024-01-02/Hour-03/snap/a.jpg", "a/b", "Front Door"),
    ],
)
def test_prefix_is_everything_left_of_the_last_five_parts(key: str, prefix: str, camera: str) -> None:
    parsed = parse_key(key)
    assert (parsed.prefix, parsed.camera, parsed.filename) == (prefix, camera, "a.jpg")
    assert parsed.key == key


@pytest.mark.parametrize(("hour_dir", "hour"), [("Hour-9", 9), ("Hour-09", 9), ("Hour-0", 0)])
def test_unpadded_and_padded_hours_parse_and_write_padded(hour_dir: str, hour: int) -> None:
    parsed = parse_key(f"p/cam/2024-01-02/{hour_dir}/record/a.mp4")
    assert parsed.hour == hour
    assert parsed.key == f"p/cam/2024-01-02/Hour-{hour:02d}/record/a.mp4"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("cam/2024-01-02/Hour-03/snap", "too few parts"),
        ("", "too few parts"),
        ("/p/cam/2024-01-02/Hour-03/snap/a.jpg", "absolute"),
        ("p/cam/2024-13-02/Hour-03/snap/a.jpg", "not a valid YYYY-MM-DD date"),
        ("p/cam/2024-02-30/Hour-03/snap/a.jpg", "not a valid YYYY-MM-DD date"),
        ("p/cam/24-02-03/Hour-03/snap/a.jpg", "not a valid YYYY-MM-DD date"),
        ("p/cam/2024-2-3/Hour-03/snap/a.jpg", "not a valid YYYY-MM-DD date"),
        ("p/cam/2024-01-02/Hour03/snap/a.jpg", "not 'Hour-H' or 'Hour-HH'"),
        ("p/cam/2024-01-02/Hour-003/snap/a.jpg", "not 'Hour-H' or 'Hour-HH'"),
        ("p/cam/2024-01-02/hour-03/snap/a.jpg", "not 'Hour-H' or 'Hour-HH'"),
        ("p/cam/2024-01-02/Hour-/snap/a.jpg", "not 'Hour-H' or 'Hour-HH'"),
        ("p/cam/2024-01-02/Hour-24/snap/a.jpg", "outside 0-23"),
        ("p/cam/2024-01-02/Hour-99/snap/a.jpg", "outside 0-23"),
        ("p/cam/2024-01-02/Hour-03/video/a.jpg", "not one of record, snap"),
        ("p/cam/2024-01-02/Hour-03/Snap/a.jpg", "not one of record, snap"),
        ("p//2024-01-02/Hour-03/snap/a.jpg", "is empty"),
        ("p/cam/2024-01-02/Hour-03/snap/", "is empty"),
        ("p//cam/2024-01-02/Hour-03/snap/a.jpg", "is empty"),
        ("p/../2024-01-02/Hour-03/snap/a.jpg", "is '..'"),
        ("../cam/2024-01-02/Hour-03/snap/a.jpg", "is '..'"),
        ("p/cam/2024-01-02/Hour-03/snap/..", "is '..'"),
        ("./cam/2024-01-02/Hour-03/snap/a.jpg", "is '.'"),
        ("p/cam/2024-01-02/Hour-03/snap/.", "is '.'"),
        ("p/cam/2024-01-02/Hour-03/snap/a\\b.jpg", "backslash"),
        ("p\\q/cam/2024-01-02/Hour-03/snap/a.jpg", "backslash"),
        ("p/cam/2024-01-02/Hour-03/snap/a\x00.jpg", "NUL or control"),
        ("p/ca\nm/2024-01-02/Hour-03/snap/a.jpg", "NUL or control"),
        ("p/cam/2024-01-02/Hour-03/snap/a\x7f.jpg", "NUL or control"),
    ],
)
def test_bad_keys_say_what_is_wrong(key: str, message: str) -> None:
    with pytest.raises(BadKey, match=message.replace("(", r"\(")) as raised:
        parse_key(key)
    assert isinstance(raised.value, ValueError)


def test_object_key_rejects_bad_parts_when_built_directly() -> None:
    with pytest.raises(BadKey, match="outside 0-23"):
        ObjectKey("p", "cam", date(2024, 1, 1), 24, "snap", "a.jpg")
    with pytest.raises(BadKey, match="camera"):
        ObjectKey("p", "", date(2024, 1, 1), 1, "snap", "a.jpg")
    with pytest.raises(BadKey, match="prefix component"):
        ObjectKey("a/../b", "cam", date(2024, 1, 1), 1, "snap", "a.jpg")


# --- build ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capture", "zone", "expected_day", "expected_hour"),
    [
        (datetime(2016, 10, 18, 18, 37, 6, tzinfo=UTC), UTC, date(2016, 10, 18), 18),
        (datetime(2016, 10, 18, 23, 59, 59, 999000, tzinfo=UTC), UTC, date(2016, 10, 18), 23),
        (datetime(2016, 10, 19, 0, 0, tzinfo=UTC), UTC, date(2016, 10, 19), 0),
        # The same instant written with another offset lands in the same UTC folder.
        (
            datetime(2016, 10, 18, 11, 37, 6, tzinfo=ZoneInfo("America/Los_Angeles")),
            UTC,
            date(2016, 10, 18),
            18,
        ),
        # key_timezone moves the folder to local date and hour.
        (
            datetime(2016, 10, 18, 23, 30, tzinfo=UTC),
            ZoneInfo("Europe/Berlin"),
            date(2016, 10, 19),
            1,
        ),
        (
            datetime(2024, 3, 10, 3, 0, tzinfo=UTC),
            ZoneInfo("America/New_York"),
            date(2024, 3, 9),
            22,
        ),
        (
            datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            UTC,
            date(2023, 12, 31),
            19,
        ),
    ],
)
def test_build_key_uses_capture_date_and_hour_in_key_timezone(
    capture: datetime, zone: ZoneInfo, expected_day: date, expected_hour: int
) -> None:
    built = build_key("patrolcams", "backyard", capture, "record", "a.mp4", zone)
    assert (built.day, built.hour) == (expected_day, expected_hour)
    assert built.key == (
        f"patrolcams/backyard/{expected_day.isoformat()}/Hour-{expected_hour:02d}/record/a.mp4"
    )


def test_build_key_defaults_to_utc() -> None:
    capture = datetime(2016, 10, 18, 11, 37, 6, tzinfo=ZoneInfo("America/Los_Angeles"))
    built = build_key("patrolcams", "backyard", capture, "record", "MDalarm_20161018_113706.mp4")
    assert built.key == ("patrolcams/backyard/2016-10-18/Hour-18/record/MDalarm_20161018_113706.mp4")


@pytest.mark.parametrize("prefix", ["", "p", "a/b", "/patrolcams/", "deep/er/prefix"])
@pytest.mark.parametrize("kind", ["record", "snap"])
@pytest.mark.parametrize("hour", [0, 9, 23])
def test_build_then_parse_round_trips(prefix: str, kind: Kind, hour: int) -> None:
    capture = datetime(2020, 2, 29, hour, 5, 6, tzinfo=UTC)
    built = build_key(prefix, "Cam 1.front_door-2", capture, kind, "file name.mp4")
    assert parse_key(built.key) == built
    assert parse_key(str(built)).key == built.key
    assert built.prefix == prefix.strip("/")
    expected_start = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    assert built.key.startswith(expected_start + "Cam 1.front_door-2/2020-02-29/")


def test_build_key_rejects_naive_time_and_bad_names() -> None:
    naive = datetime(2024, 1, 1, 12, 0)
    aware = naive.replace(tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_key("p", "cam", naive, "record", "a.mp4")
    with pytest.raises(ValueError, match="invalid camera name"):
        build_key("p", "../etc", aware, "record", "a.mp4")
    with pytest.raises(ValueError, match="invalid file name"):
        build_key("p", "cam", aware, "record", "a/b.mp4")
    with pytest.raises(BadKey, match="prefix component"):
        build_key("a//b", "cam", aware, "record", "a.mp4")


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a", "backyard", "Front Door", "cam.1", "cam_2-b", "9", "x" * 64, "A.b c-d_e"]
)
def test_valid_camera_names(name: str) -> None:
    assert validate_camera_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 65,
        ".hidden",
        "-dash",
        "_under",
        " space",
        "a..b",
        "a/b",
        "a\\b",
        "a\x00b",
        "a\tb",
        "trailing ",
        "trailing.",
        "ümlaut",
        "a:b",
        "a@b",
    ],
)
def test_invalid_camera_names_state_the_rule(name: str) -> None:
    with pytest.raises(ValueError, match="1-64 characters") as raised:
        validate_camera_name(name)
    assert repr(name) in str(raised.value)


@pytest.mark.parametrize(
    "name", ["a.mp4", "04[M][0@0][1].jpg", "Front Door_00_20260630142233.mp4", "x" * 255, "é.jpg"]
)
def test_valid_filenames(name: str) -> None:
    assert validate_filename(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "is empty"),
        (".", "is '.'"),
        ("..", "is '..'"),
        ("a/b", "contains '/'"),
        ("a\\b", "backslash"),
        ("a\x00b", "NUL or control"),
        ("a\x1fb", "NUL or control"),
        ("x" * 256, "longer than 255"),
    ],
)
def test_invalid_filenames(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_filename(name)


# --- kind and content type -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "content_type"),
    [
        ("a.mp4", "record", "video/mp4"),
        ("A.MP4", "record", "video/mp4"),
        ("a.mkv", "record", "video/x-matroska"),
        ("a.avi", "record", "video/x-msvideo"),
        ("a.mov", "record", "video/quicktime"),
        ("a.dav", "record", "application/octet-stream"),
        ("a.h264", "record", "video/h264"),
        ("a.265", "record", "video/h265"),
        ("a.h265", "record", "video/h265"),
        ("a.ts", "record", "video/mp2t"),
        ("a.m4v", "record", "video/x-m4v"),
        ("a.jpg", "snap", "image/jpeg"),
        ("a.JPEG", "snap", "image/jpeg"),
        ("a.png", "snap", "image/png"),
        ("a.bmp", "snap", "image/bmp"),
        ("a.txt", None, "application/octet-stream"),
        ("a", None, "application/octet-stream"),
        ("mp4", None, "application/octet-stream"),
        ("a.mp4.part", None, "application/octet-stream"),
    ],
)
def test_kind_and_content_type_from_file_name(name: str, kind: Kind | None, content_type: str) -> None:
    assert kind_for_filename(name) == kind
    assert content_type_for(name) == content_type


# --- derived keys --------------------------------------------------------------------------


def test_derived_keys_of_the_original_example() -> None:
    assert small_key(ORIGINAL_KEY) == (
        "patrolcams/backyard/2016-10-19/Hour-16/record/MDalarm_20161018_113706-small.mp4"
    )
    assert thumbnail_key(ORIGINAL_KEY) == ORIGINAL_KEY + ".thumb.jpg"


@pytest.mark.parametrize(
    ("key", "small", "thumb"),
    [
        (
            "p/c/2024-01-01/Hour-01/record/x.mkv",
            "p/c/2024-01-01/Hour-01/record/x-small.mp4",
            "p/c/2024-01-01/Hour-01/record/x.mkv.thumb.jpg",
        ),
        (
            "c/2024-01-01/Hour-01/record/x.y.dav",
            "c/2024-01-01/Hour-01/record/x.y-small.mp4",
            "c/2024-01-01/Hour-01/record/x.y.dav.thumb.jpg",
        ),
        (
            "c/2024-01-01/Hour-01/record/noext",
            "c/2024-01-01/Hour-01/record/noext-small.mp4",
            "c/2024-01-01/Hour-01/record/noext.thumb.jpg",
        ),
    ],
)
def test_derived_keys_live_beside_the_original(key: str, small: str, thumb: str) -> None:
    assert small_key(key) == small
    assert thumbnail_key(key) == thumb
    assert parse_key(small).is_derived
    assert parse_key(thumb).is_derived


def test_video_and_snapshot_of_the_same_name_get_different_thumbnails() -> None:
    video = "c/2024-01-01/Hour-01/record/x.mp4"
    image = "c/2024-01-01/Hour-01/record/x.jpg"
    assert thumbnail_key(video) != thumbnail_key(image)


@pytest.mark.parametrize(
    "key",
    [
        ORIGINAL_KEY,
        "c/2024-01-01/Hour-01/snap/x.jpg",
        "c/2024-01-01/Hour-01/record/small.mp4",
        "c/2024-01-01/Hour-01/record/x-small.mkv",
        "c/2024-01-01/Hour-01/record/x.thumb.png",
        "c/2024-01-01/Hour-01/record/thumb.jpg",
        "c/2024-01-01/Hour-01/record/x-small.mp4~2.mp4",
    ],
)
def test_an_original_key_is_never_derived(key: str) -> None:
    assert not is_derived_key(key)
    assert not parse_key(key).is_derived
    assert is_derived_key(small_key(key))
    assert is_derived_key(thumbnail_key(key))
    assert original_key_of_derived(thumbnail_key(key)) == key
    assert original_key_of_derived(key) is None


@pytest.mark.parametrize(
    "key",
    [
        "c/2024-01-01/Hour-01/record/x-small.mp4",
        "c/2024-01-01/Hour-01/record/X-SMALL.MP4",
        "c/2024-01-01/Hour-01/record/x.mp4.thumb.jpg",
        "c/2024-01-01/Hour-01/snap/x.jpg.thumb.jpg",
        "c/2024-01-01/Hour-01/snap/camera-upload.Thumb.JPG",
        "x-small.mp4",
        "anything/at/all.thumb.jpg",
    ],
)
def test_derived_keys_are_recognised_from_the_key_alone(key: str) -> None:
    assert is_derived_key(key)


@pytest.mark.parametrize("make", [small_key, thumbnail_key])
def test_deriving_from_a_derived_key_is_refused(make: Callable[[str], str]) -> None:
    for derived in (small_key(ORIGINAL_KEY), thumbnail_key(ORIGINAL_KEY)):
        with pytest.raises(BadKey, match="derived object"):
            make(derived)


def test_deriving_from_a_bad_key_is_refused() -> None:
    with pytest.raises(BadKey, match="too few parts"):
        small_key("a.mp4")
    with pytest.raises(BadKey, match="absolute"):
        thumbnail_key("/" + ORIGINAL_KEY)


def test_small_transcodes_do_not_name_their_original() -> None:
    assert original_key_of_derived(small_key(ORIGINAL_KEY)) is None


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("a.mp4", "a.mp4"),
        ("a-small.mp4", "a-small_.mp4"),
        ("A-SMALL.MP4", "A-SMALL_.MP4"),
        ("a.jpg.thumb.jpg", "a.jpg.thumb_.jpg"),
    ],
)
def test_storable_filename_keeps_uploads_from_passing_as_derived(name: str, stored: str) -> None:
    assert storable_filename(name) == stored
    assert not is_derived_filename(stored)


# --- alternative names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "n", "expected"),
    [
        ("MDalarm_x.mp4", 2, "MDalarm_x~2.mp4"),
        ("MDalarm_x.mp4", 17, "MDalarm_x~17.mp4"),
        ("a.b.jpg", 3, "a.b~3.jpg"),
        ("noext", 2, "noext~2"),
        (".hidden", 2, ".hidden~2"),
        ("x-small.mp4", 2, "x-small~2.mp4"),
        ("04[M][0@0][1].jpg", 2, "04[M][0@0][1]~2.jpg"),
    ],
)
def test_alternative_filename(name: str, n: int, expected: str) -> None:
    assert alternative_filename(name, n) == expected
    assert not is_derived_filename(alternative_filename(name, n))
    assert kind_for_filename(expected) == kind_for_filename(name)


@pytest.mark.parametrize("n", [1, 0, -1])
def test_alternative_filename_needs_n_of_at_least_two(n: int) -> None:
    with pytest.raises(ValueError, match=">= 2"):
        alternative_filename("a.mp4", n)


# --- identity and order --------------------------------------------------------------------


def test_event_id_is_a_fixed_function_of_the_key() -> None:
    # Computed once (also with coreutils: printf %s KEY | b2sum -l 80). A change here
    # changes every event id in every existing catalog.
    assert event_id_for_key(ORIGINAL_KEY) == "32a47bd257f4e35cce81"
    assert event_id_for_key("cam/2024-01-01/Hour-00/snap/a.jpg") == "59788c0fdab2d4ba3d05"


def test_event_ids_differ_between_keys_and_have_twenty_hex_chars() -> None:
    keys = [
        ORIGINAL_KEY,
        ORIGINAL_KEY.replace("Hour-16", "Hour-6"),
        small_key(ORIGINAL_KEY),
        thumbnail_key(ORIGINAL_KEY),
        "c/2024-01-01/Hour-01/snap/x.jpg",
    ]
    ids = [event_id_for_key(key) for key in keys]
    assert len(set(ids)) == len(keys)
    for event_id in ids:
        assert len(event_id) == 20
        int(event_id, 16)


@pytest.mark.parametrize(
    ("capture_ms", "expected"),
    [
        (0, "0000000000000#abc"),
        (1476815826000, "1476815826000#abc"),
        (9999999999999, "9999999999999#abc"),
        (5, "0000000000005#abc"),
    ],
)
def test_event_sort_key_format(capture_ms: int, expected: str) -> None:
    assert event_sort_key(capture_ms, "abc") == expected


def test_sort_keys_sort_by_instant_then_id() -> None:
    keys = [
        event_sort_key(1000, "b"),
        event_sort_key(999, "z"),
        event_sort_key(1000, "a"),
        event_sort_key(10_000, "a"),
    ]
    assert sorted(keys) == [
        "0000000000999#z",
        "0000000001000#a",
        "0000000001000#b",
        "0000000010000#a",
    ]


@pytest.mark.parametrize(
    ("capture_ms", "event_id", "message"),
    [
        (-1, "abc", "13 digits"),
        (10**13, "abc", "13 digits"),
        (0, "", "non-empty"),
        (0, "a#b", "free of '#'"),
    ],
)
def test_event_sort_key_rejects_what_would_break_the_order(
    capture_ms: int, event_id: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        event_sort_key(capture_ms, event_id)
