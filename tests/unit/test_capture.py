"""Capture time: vendor patterns, DST edge cases, precedence and the clock-skew flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from camvault.domain.capture import (
    CaptureSource,
    CaptureTime,
    capture_from_name,
    is_clock_skewed,
    local_to_utc,
    pattern_names,
    resolve_capture_time,
)

pytestmark = pytest.mark.unit

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")
ARRIVAL = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    """``2016-10-18T18:37:06.502`` read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- every vendor pattern ------------------------------------------------------------------

VENDOR_CASES = [
    # Foscam
    ("MDalarm_20161018_113706.mp4", LOS_ANGELES, "2016-10-18T18:37:06", "foscam", "filename"),
    ("MDAlarm_20190201-124005.jpg", BERLIN, "2019-02-01T11:40:05", "foscam", "filename"),
    ("HMDAlarm_20190201-124005.jpg", BERLIN, "2019-02-01T11:40:05", "foscam", "filename"),
    ("Schedule_20190701-124005.jpg", BERLIN, "2019-07-01T10:40:05", "foscam", "filename"),
    ("IOAlarm_20190701_124005.mp4", NEW_YORK, "2019-07-01T16:40:05", "foscam", "filename"),
    (
        "cam/record/MDalarm_20161018_113706.mp4",
        UTC_ZONE,
        "2016-10-18T11:37:06",
        "foscam",
        "filename",
    ),
    # Hikvision, with and without milliseconds
    (
        "192.168.1.64_01_20190827095800502_MOTION_DETECTION.jpg",
        BERLIN,
        "2019-08-27T07:58:00.502",
        "hikvision",
        "filename",
    ),
    (
        "192.168.1.64_01_20190827095800_MOTION_DETECTION.jpg",
        BERLIN,
        "2019-08-27T07:58:00",
        "hikvision",
        "filename",
    ),
    (
        "upload/192.168.1.64_01_20191227095800_LINE_CROSSING_DETECTION.jpg",
        BERLIN,
        "2019-12-27T08:58:00",
        "hikvision",
        "filename",
    ),
    # Dahua / Amcrest: the date, hour, minute and second come from folders
    (
        "AMC0001/2018-07-25/001/jpg/09/50/04[M][0@0][1].jpg",
        NEW_YORK,
        "2018-07-25T13:50:04",
        "dahua-jpg",
        "path",
    ),
    ("2018-07-25/001/jpg/09/50/04.jpg", UTC_ZONE, "2018-07-25T09:50:04", "dahua-jpg", "path"),
    (
        "AMC0001/2018-07-25/001/dav/21/21.04.49-21.05.14[M][0@0][0].mp4",
        NEW_YORK,
        "2018-07-26T01:04:49",
        "dahua-dav",
        "path",
    ),
    # a clip that starts before midnight and ends after it: only the start counts
    (
        "/cam/2018-07-25/001/dav/23/23.59.50-00.00.20[M][0@0][0].dav",
        BERLIN,
        "2018-07-25T21:59:50",
        "dahua-dav",
        "path",
    ),
    # Reolink: camera names may hold spaces and underscores
    ("Front Door_00_20260630142233.mp4", BERLIN, "2026-06-30T12:22:33", "reolink", "filename"),
    ("back_yard cam_01_20260101000005.jpg", BERLIN, "2025-12-31T23:00:05", "reolink", "filename"),
    # Yi: folder gives date and hour, file gives minute, second (and duration)
    ("2023Y05M06D15H/22M37S23.mp4", BERLIN, "2023-05-06T13:22:37", "yi", "path"),
    ("record/2023Y12M06D00H/05M09S60.mp4", UTC_ZONE, "2023-12-06T00:05:09", "yi", "path"),
    # Axis-style and generic ISO-like stamps
    ("image-2024-03-10-12-30-00.jpg", NEW_YORK, "2024-03-10T16:30:00", "iso-extended", "filename"),
    ("cam_2024-03-10T12:30:00.jpg", BERLIN, "2024-03-10T11:30:00", "iso-extended", "filename"),
    ("2024-03-10_12-30-00.mp4", BERLIN, "2024-03-10T11:30:00", "iso-extended", "filename"),
    ("snap 2024-07-10 12.30.00.jpg", BERLIN, "2024-07-10T10:30:00", "iso-extended", "filename"),
    ("20240310T123000.jpg", BERLIN, "2024-03-10T11:30:00", "iso-basic", "filename"),
    ("clip_20240310_123000.mp4", BERLIN, "2024-03-10T11:30:00", "iso-basic", "filename"),
    # milliseconds are kept
    ("2024-03-10T12:30:00.123.jpg", BERLIN, "2024-03-10T11:30:00.123", "iso-extended", "filename"),
    ("2024-03-10T12:30:00,5.jpg", BERLIN, "2024-03-10T11:30:00.500", "iso-extended", "filename"),
    ("20240310T123000.250.jpg", BERLIN, "2024-03-10T11:30:00.250", "iso-basic", "filename"),
    ("20240310_123000123.jpg", BERLIN, "2024-03-10T11:30:00.123", "iso-basic", "filename"),
    # an explicit offset in the name beats the camera's zone
    ("2024-03-10T12:30:00Z.jpg", BERLIN, "2024-03-10T12:30:00", "iso-extended", "filename"),
    ("2024-03-10T12:30:00+0530.jpg", BERLIN, "2024-03-10T07:00:00", "iso-extended", "filename"),
    ("2024-03-10T12:30:00-05:00.jpg", BERLIN, "2024-03-10T17:30:00", "iso-extended", "filename"),
    ("20240310T123000.500Z.jpg", BERLIN, "2024-03-10T12:30:00.5", "iso-basic", "filename"),
    ("20240310T123000+0100.jpg", NEW_YORK, "2024-03-10T11:30:00", "iso-basic", "filename"),
    # a trailing number that is not a real offset is not read as one
    (
        "image-2024-03-10-12-30-00-1234.jpg",
        UTC_ZONE,
        "2024-03-10T12:30:00",
        "iso-extended",
        "filename",
    ),
]


@pytest.mark.parametrize(("path", "zone", "expected", "pattern", "source"), VENDOR_CASES)
def test_vendor_patterns(
    path: str, zone: ZoneInfo, expected: str, pattern: str, source: CaptureSource
) -> None:
    found = capture_from_name(path, zone)
    assert found == CaptureTime(utc(expected), source, pattern, None)
    assert found.instant.tzinfo is UTC


def test_every_pattern_has_a_case() -> None:
    assert {case[3] for case in VENDOR_CASES} == set(pattern_names())


def test_pattern_order_is_most_specific_first() -> None:
    names = pattern_names()
    assert names.index("foscam") < names.index("iso-basic")
    assert names.index("hikvision") < names.index("reolink")
    assert names.index("dahua-dav") < names.index("iso-extended")


# --- DST edge cases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "zone", "expected", "note_start"),
    [
        # New York fall-back: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST); the first wins.
        ("2024-11-03_01-30-00.jpg", NEW_YORK, "2024-11-03T05:30:00", "ambiguous local time"),
        ("MDalarm_20241103_015959.mp4", NEW_YORK, "2024-11-03T05:59:59", "ambiguous local time"),
        # New York spring-forward: 02:30 never happens; read with EST (-05:00).
        ("image-2024-03-10-02-30-00.jpg", NEW_YORK, "2024-03-10T07:30:00", "nonexistent local"),
        ("MDalarm_20240310_020000.mp4", NEW_YORK, "2024-03-10T07:00:00", "nonexistent local"),
        # Berlin: fall-back 2024-10-27 02:00-03:00 twice, spring-forward 2024-03-31 02:00-03:00.
        ("20241027T023000.jpg", BERLIN, "2024-10-27T00:30:00", "ambiguous local time"),
        ("20240331T023000.jpg", BERLIN, "2024-03-31T01:30:00", "nonexistent local"),
        ("Front Door_00_20240331025959.mp4", BERLIN, "2024-03-31T01:59:59", "nonexistent local"),
    ],
)
def test_dst_edge_cases_are_explicit(path: str, zone: ZoneInfo, expected: str, note_start: str) -> None:
    found = capture_from_name(path, zone)
    assert found is not None
    assert found.instant == utc(expected)
    assert found.note is not None
    assert found.note.startswith(note_start)
    assert zone.key in found.note


# The vendor patterns that read local wall-clock time from folders or file names, on both sides
# of the year: New York 2024-11-03 01:30 is 05:30Z or 06:30Z (the earlier wins), 2024-03-10
# 02:30 does not exist (read with EST: 07:30Z); Berlin 2024-10-27 02:30 is 00:30Z or 01:30Z,
# 2024-03-31 02:30 does not exist (read with CET: 01:30Z).
VENDOR_DST_CASES = [
    (
        "192.168.1.64_01_20241103013000502_MOTION_DETECTION.jpg",
        NEW_YORK,
        "2024-11-03T05:30:00.502",
        "hikvision",
        "ambiguous local time",
    ),
    (
        "192.168.1.64_01_20240331023000_MOTION_DETECTION.jpg",
        BERLIN,
        "2024-03-31T01:30:00",
        "hikvision",
        "nonexistent local time",
    ),
    (
        "AMC0001/2024-10-27/001/jpg/02/30/00[M][0@0][1].jpg",
        BERLIN,
        "2024-10-27T00:30:00",
        "dahua-jpg",
        "ambiguous local time",
    ),
    (
        "AMC0001/2024-03-10/001/jpg/02/30/00[M][0@0][1].jpg",
        NEW_YORK,
        "2024-03-10T07:30:00",
        "dahua-jpg",
        "nonexistent local time",
    ),
    (
        "AMC0001/2024-11-03/001/dav/01/01.30.00-01.35.00[M][0@0][0].mp4",
        NEW_YORK,
        "2024-11-03T05:30:00",
        "dahua-dav",
        "ambiguous local time",
    ),
    (
        "AMC0001/2024-03-31/001/dav/02/02.30.00-02.35.00[M][0@0][0].dav",
        BERLIN,
        "2024-03-31T01:30:00",
        "dahua-dav",
        "nonexistent local time",
    ),
    ("2024Y11M03D01H/30M00S60.mp4", NEW_YORK, "2024-11-03T05:30:00", "yi", "ambiguous local time"),
    ("2024Y03M31D02H/30M00S60.mp4", BERLIN, "2024-03-31T01:30:00", "yi", "nonexistent local time"),
    ("Front Door_00_20241027023000.mp4", BERLIN, "2024-10-27T00:30:00", "reolink", "ambiguous local time"),
    ("back yard_01_20240310023000.jpg", NEW_YORK, "2024-03-10T07:30:00", "reolink", "nonexistent local time"),
]


@pytest.mark.parametrize(("path", "zone", "expected", "pattern", "note_start"), VENDOR_DST_CASES)
def test_vendor_patterns_at_dst_transitions(
    path: str, zone: ZoneInfo, expected: str, pattern: str, note_start: str
) -> None:
    found = capture_from_name(path, zone)
    assert found is not None
    assert (found.instant, found.pattern) == (utc(expected), pattern)
    assert found.note is not None
    assert found.note.startswith(note_start)
    assert zone.key in found.note


def test_every_local_time_vendor_pattern_has_both_dst_cases() -> None:
    kinds = {(case[3], case[4]) for case in VENDOR_DST_CASES}
    for pattern in ["hikvision", "dahua-jpg", "dahua-dav", "yi", "reolink"]:
        assert (pattern, "ambiguous local time") in kinds
        assert (pattern, "nonexistent local time") in kinds


@pytest.mark.parametrize(
    ("path", "zone", "expected"),
    [
        # just outside the DST transitions: no note
        ("2024-11-03_00-59-59.jpg", NEW_YORK, "2024-11-03T04:59:59"),
        ("2024-11-03_02-00-00.jpg", NEW_YORK, "2024-11-03T07:00:00"),
        ("2024-03-10_01-59-59.jpg", NEW_YORK, "2024-03-10T06:59:59"),
        ("2024-03-10_03-00-00.jpg", NEW_YORK, "2024-03-10T07:00:00"),
        ("20241027T015959.jpg", BERLIN, "2024-10-26T23:59:59"),
        ("20241027T030000.jpg", BERLIN, "2024-10-27T02:00:00"),
        ("20240331T030000.jpg", BERLIN, "2024-03-31T01:00:00"),
        # an explicit offset never needs a DST decision
        ("2024-11-03T01:30:00-0500.jpg", NEW_YORK, "2024-11-03T06:30:00"),
    ],
)
def test_ordinary_times_have_no_note(path: str, zone: ZoneInfo, expected: str) -> None:
    found = capture_from_name(path, zone)
    assert found is not None
    assert (found.instant, found.note) == (utc(expected), None)


def test_local_to_utc_fall_back_note_names_the_choice() -> None:
    resolved = local_to_utc(datetime(2024, 11, 3, 1, 30), NEW_YORK)
    assert resolved.instant == utc("2024-11-03T05:30:00")
    assert resolved.note == (
        "ambiguous local time 2024-11-03 01:30:00 in America/New_York (DST fall-back): "
        "chose the first occurrence (UTC-04:00)"
    )


def test_local_to_utc_gap_note_names_the_shift() -> None:
    resolved = local_to_utc(datetime(2024, 3, 10, 2, 30), NEW_YORK)
    assert resolved.instant == utc("2024-03-10T07:30:00")
    assert resolved.note == (
        "nonexistent local time 2024-03-10 02:30:00 in America/New_York (DST spring-forward "
        "gap): read with the pre-transition offset UTC-05:00, i.e. 2024-03-10 03:30:00 local"
    )


def test_local_to_utc_handles_a_half_hour_dst_zone() -> None:
    # Lord Howe Island moves its clocks by 30 minutes.
    zone = ZoneInfo("Australia/Lord_Howe")
    ambiguous = local_to_utc(datetime(2024, 4, 7, 1, 45), zone)
    assert ambiguous.note is not None
    assert ambiguous.note.startswith("ambiguous")
    assert ambiguous.instant == utc("2024-04-06T14:45:00")
    gap = local_to_utc(datetime(2024, 10, 6, 2, 15), zone)
    assert gap.note is not None
    assert gap.note.startswith("nonexistent")
    assert gap.instant == utc("2024-10-05T15:45:00")


def test_local_to_utc_rejects_aware_input() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_to_utc(datetime(2024, 1, 1, tzinfo=UTC), BERLIN)


# --- no match ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "",
        "video.mp4",
        "DCIM/IMG_0001.JPG",
        "1476815826.mp4",
        "MDalarm_2016101_113706.mp4",
        "2023Y05M06D15H.mp4",
        "22M37S23.mp4",
        "2018-07-25/001/jpg/09/50.jpg",
        "Front Door_00_2026063014223.mp4",
        "2024-03-10.jpg",
        "12-30-00.jpg",
        "20240310123000.jpg",
    ],
)
def test_names_without_a_stamp_do_not_match(path: str) -> None:
    assert capture_from_name(path, BERLIN) is None


@pytest.mark.parametrize(
    "path",
    [
        "MDalarm_20161318_113706.mp4",  # month 13
        "MDalarm_20230229_113706.mp4",  # not a leap year
        "MDalarm_20161018_243706.mp4",  # hour 24
        "MDalarm_20161018_116006.mp4",  # minute 60
        "192.168.1.64_01_20190230095800502_MOTION_DETECTION.jpg",
        "cam/2018-02-30/001/jpg/09/50/04[M][0@0][1].jpg",
        "cam/2018-07-25/001/dav/24/24.04.49-24.05.14[M][0@0][0].mp4",
        "Front Door_00_20261330142233.mp4",
        "2023Y02M30D15H/22M37S23.mp4",
        "2023Y05M06D15H/61M37S23.mp4",
        "image-2024-02-30-02-30-00.jpg",
        "20240310T253000.jpg",
        "2024-00-10T12:30:00Z.jpg",
    ],
)
def test_invalid_calendar_values_are_no_match(path: str) -> None:
    assert capture_from_name(path, BERLIN) is None


def test_an_invalid_stamp_falls_through_to_the_next_pattern() -> None:
    # Foscam's own stamp is not a real date, but the name also carries a valid ISO stamp.
    found = capture_from_name("MDalarm_20161318_113706_2024-03-10T12-30-00.mp4", BERLIN)
    assert found is not None
    assert (found.pattern, found.instant) == ("iso-extended", utc("2024-03-10T11:30:00"))


def test_a_later_valid_occurrence_of_the_same_pattern_is_used() -> None:
    found = capture_from_name("20241399T000000_20240101T000000.jpg", UTC_ZONE)
    assert found is not None
    assert found.instant == utc("2024-01-01T00:00:00")


def test_only_the_file_name_is_searched_for_file_name_patterns() -> None:
    assert capture_from_name("MDalarm_20161018_113706/clip.mp4", BERLIN) is None


# --- precedence ----------------------------------------------------------------------------


def test_metadata_wins_over_the_name() -> None:
    found = resolve_capture_time(
        "MDalarm_20161018_113706.mp4", LOS_ANGELES, ARRIVAL, "2016-10-18T11:37:07.250-07:00"
    )
    assert found == CaptureTime(utc("2016-10-18T18:37:07.250"), "metadata")


def test_metadata_with_z_is_read_as_utc() -> None:
    found = resolve_capture_time("x.mp4", LOS_ANGELES, ARRIVAL, "2016-10-18T18:37:06.000Z")
    assert found == CaptureTime(utc("2016-10-18T18:37:06"), "metadata")


@pytest.mark.parametrize("bad", ["", "yesterday", "2016-10-18T11:37:06", "2016-13-18T11:37:06Z"])
def test_invalid_metadata_falls_back_to_the_name_with_a_note(bad: str) -> None:
    found = resolve_capture_time("MDalarm_20161018_113706.mp4", LOS_ANGELES, ARRIVAL, bad)
    assert (found.source, found.pattern) == ("filename", "foscam")
    assert found.instant == utc("2016-10-18T18:37:06")
    assert found.note == f"ignored invalid capture-time metadata {bad!r}"


def test_invalid_metadata_note_keeps_the_dst_note() -> None:
    found = resolve_capture_time("2024-11-03_01-30-00.jpg", NEW_YORK, ARRIVAL, "nope")
    assert found.note is not None
    assert found.note.startswith("ignored invalid capture-time metadata 'nope'; ambiguous")


def test_name_wins_over_arrival() -> None:
    found = resolve_capture_time("Front Door_00_20260630142233.mp4", BERLIN, ARRIVAL)
    assert found == CaptureTime(utc("2026-06-30T12:22:33"), "filename", "reolink")


def test_arrival_when_nothing_else_is_known() -> None:
    arrival = datetime(2024, 5, 1, 14, 0, 0, 123000, tzinfo=BERLIN)
    found = resolve_capture_time("cam/clip.mp4", BERLIN, arrival)
    assert found == CaptureTime(utc("2024-05-01T12:00:00.123"), "arrival")
    assert found.instant.tzinfo is UTC


def test_arrival_after_invalid_metadata_and_no_pattern() -> None:
    found = resolve_capture_time("clip.mp4", BERLIN, ARRIVAL, "garbage")
    assert (found.instant, found.source, found.pattern) == (ARRIVAL, "arrival", None)
    assert found.note == "ignored invalid capture-time metadata 'garbage'"


def test_resolve_requires_an_aware_arrival() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_capture_time("clip.mp4", BERLIN, datetime(2024, 1, 1))


def test_capture_time_is_normalised_to_utc() -> None:
    value = CaptureTime(datetime(2024, 1, 1, 1, 0, tzinfo=BERLIN), "arrival")
    assert value.instant == utc("2024-01-01T00:00:00")
    assert value.instant.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        CaptureTime(datetime(2024, 1, 1), "arrival")


# --- clock skew ----------------------------------------------------------------------------

TOLERANCE = timedelta(hours=1)


@pytest.mark.parametrize(
    ("capture", "skewed"),
    [
        (ARRIVAL, False),
        (ARRIVAL - timedelta(seconds=30), False),  # ordinary upload delay
        (ARRIVAL - TOLERANCE, False),  # exactly at the tolerance
        (ARRIVAL - TOLERANCE - timedelta(milliseconds=1), True),
        (ARRIVAL - timedelta(days=365 * 8), True),  # camera clock reset to its factory date
        (ARRIVAL + timedelta(seconds=2), False),  # camera clock slightly fast
        (ARRIVAL + TOLERANCE, False),
        (ARRIVAL + TOLERANCE + timedelta(milliseconds=1), True),
        (ARRIVAL + timedelta(days=1), True),
    ],
)
def test_clock_skew(capture: datetime, skewed: bool) -> None:
    assert is_clock_skewed(capture, ARRIVAL, TOLERANCE) is skewed


def test_clock_skew_compares_instants_across_zones() -> None:
    capture = datetime(2030, 1, 1, 13, 0, tzinfo=BERLIN)  # == ARRIVAL
    assert not is_clock_skewed(capture, ARRIVAL, timedelta(0))
    offset_capture = datetime(2030, 1, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert not is_clock_skewed(offset_capture, ARRIVAL, timedelta(0))


def test_clock_skew_rejects_naive_times_and_negative_tolerance() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_clock_skewed(datetime(2030, 1, 1), ARRIVAL, TOLERANCE)
    with pytest.raises(ValueError, match="negative"):
        is_clock_skewed(ARRIVAL, ARRIVAL, timedelta(seconds=-1))
