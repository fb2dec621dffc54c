"""The embedded pipeline end to end, through the ``camvault`` command as a user runs it.

Real files made by real codecs go in with ``camvault ingest``; the store, the catalog, the
``events`` listing and the API must all agree on camera, UTC capture instant, media facts and
thumbnail.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import pytest

from camvault.config.loader import load_config
from camvault.factory import open_store
from camvault.store.base import read_all
from tests.support.cli import camvault, init_data
from tests.support.media import make_clip, make_corrupt, make_jpeg

pytestmark = pytest.mark.functional

CLIP = "MDalarm_20161018_113706.mp4"
SNAP = "MDAlarm_20161018-113710.jpg"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = init_data(tmp_path / "data")
    run = camvault("camera", "add", "backyard", "--timezone", "America/Los_Angeles", "--config", path)
    assert run.code == 0, run.err
    return path


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "camera"
    folder.mkdir()
    make_clip(folder / CLIP, seconds=3.0, width=640, height=360)
    make_jpeg(folder / SNAP, width=640, height=480)
    return folder


def events(config: Path, *extra: str) -> list[dict[str, Any]]:
    run = camvault("events", "--json", "--config", config, *extra)
    assert run.code == 0, run.err
    return [json.loads(line) for line in run.lines()]


def test_ingest_catalogs_clip_and_snapshot_with_capture_time_media_and_thumbnail(
    config: Path, media: Path
) -> None:
    run = camvault("ingest", media / CLIP, media / SNAP, "--camera", "backyard", "--config", config)
    assert run.code == 0, run.err + run.out
    listed = {event["kind"]: event for event in events(config)}
    clip, snap = listed["record"], listed["snap"]

    assert clip["camera"] == "backyard"
    assert clip["capture_time"] == "2016-10-18T18:37:06.000Z"  # 11:37:06 PDT
    assert clip["key"] == f"backyard/2016-10-18/Hour-18/record/{CLIP}"
    assert clip["playable"] is True
    assert clip["media"]["width"] == 640 and clip["media"]["height"] == 360
    assert clip["media"]["video_codec"] == "h264"
    assert clip["media"]["duration"] == pytest.approx(3.0, abs=0.15)
    assert clip["content_type"] == "video/mp4"
    assert clip["size"] == (media / CLIP).stat().st_size

    assert snap["capture_time"] == "2016-10-18T18:37:10.000Z"
    assert snap["key"] == f"backyard/2016-10-18/Hour-18/snap/{SNAP}"
    assert snap["media"]["width"] == 640 and snap["media"]["duration"] is None

    store = open_store(load_config(str(config), {}, config.parent), notify=None)
    try:
        assert read_all(store, clip["key"]) == (media / CLIP).read_bytes()
        info = store.head(clip["key"])
        assert info.metadata["camera"] == "backyard"
        assert info.metadata["capture-time"] == "2016-10-18T18:37:06.000Z"
        thumb = read_all(store, clip["thumbnail_key"])
    finally:
        store.close()
    assert thumb[:2] == b"\xff\xd8"
    thumb_file = config.parent / "thumb.jpg"
    thumb_file.write_bytes(thumb)
    with av.open(str(thumb_file)) as container:
        frame = next(container.decode(video=0))
    assert frame.width == 320 and frame.height == 180


def test_same_file_twice_is_one_entry_and_same_second_clips_both_survive(
    config: Path, media: Path, tmp_path: Path
) -> None:
    assert camvault("ingest", media / CLIP, "--camera", "backyard", "--config", config).code == 0
    again = camvault("ingest", media / CLIP, "--camera", "backyard", "--config", config)
    assert again.code == 0 and "already stored" in again.out
    assert len(events(config)) == 1

    other = tmp_path / "other"
    other.mkdir()
    make_clip(other / CLIP, seconds=1.0, width=320, height=240)  # same name, same second, other bytes
    assert camvault("ingest", other / CLIP, "--camera", "backyard", "--config", config).code == 0
    listed = events(config)
    assert len(listed) == 2
    assert {e["capture_time"] for e in listed} == {"2016-10-18T18:37:06.000Z"}
    assert sorted(e["key"].rsplit("/", 1)[1] for e in listed) == [CLIP, "MDalarm_20161018_113706~2.mp4"]
    assert {e["media"]["width"] for e in listed} == {640, 320}


def test_reindex_restores_the_same_catalog_after_the_database_is_deleted(config: Path, media: Path) -> None:
    assert (
        camvault("ingest", media / CLIP, media / SNAP, "--camera", "backyard", "--config", config).code == 0
    )
    before = events(config)
    (config.parent / "catalog.db").unlink()
    for leftover in config.parent.glob("catalog.db-*"):
        leftover.unlink()
    assert events(config) == []
    run = camvault("reindex", "--config", config)
    assert run.code == 0, run.err
    assert "reindex: 2/2" in run.err  # progress is reported
    assert events(config) == before


def test_corrupt_clip_is_cataloged_unplayable_and_the_next_file_goes_on(
    config: Path, media: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    make_corrupt(broken / "MDalarm_20161018_113800.mp4", from_clip=media / CLIP, mode="truncate")
    run = camvault(
        "ingest",
        broken / "MDalarm_20161018_113800.mp4",
        media / SNAP,
        "--camera",
        "backyard",
        "--config",
        config,
    )
    assert run.code == 0, run.err + run.out
    listed = {e["key"].rsplit("/", 1)[1]: e for e in events(config)}
    bad = listed["MDalarm_20161018_113800.mp4"]
    assert bad["playable"] is False
    assert bad["problem"].startswith("truncated")
    assert bad["thumbnail_key"] is None
    assert listed[SNAP]["playable"] is True


def test_unknown_camera_is_refused_and_nothing_is_stored(config: Path, media: Path) -> None:
    run = camvault("ingest", media / CLIP, "--camera", "frontdoor", "--config", config)
    assert run.code == 1
    assert "unknown camera 'frontdoor'" in run.err
    assert "camvault camera add frontdoor" in run.err
    assert not [p for p in (config.parent / "objects").rglob("*") if p.is_file()]


def test_a_file_that_is_no_clip_or_snapshot_is_refused_and_others_go_on(
    config: Path, media: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a clip")
    run = camvault("ingest", notes, media / SNAP, "--camera", "backyard", "--config", config)
    assert run.code == 1
    assert "camvault: error: " in run.err and "not a clip or snapshot" in run.err
    assert "stored as" in run.out  # the snapshot beside it went in
    assert [e["kind"] for e in events(config)] == ["snap"]


def test_missing_file_gives_a_clear_error(config: Path, tmp_path: Path) -> None:
    run = camvault("ingest", tmp_path / "nope.mp4", "--camera", "backyard", "--config", config)
    assert run.code == 1
    assert "nope.mp4: No such file or directory" in run.err


def test_events_filters_by_camera_and_since(config: Path, media: Path, tmp_path: Path) -> None:
    assert camvault("camera", "add", "porch", "--timezone", "Europe/Berlin", "--config", config).code == 0
    porch = tmp_path / "porch"
    porch.mkdir()
    make_jpeg(porch / "image-2024-03-10-02-30-00.jpg")
    assert camvault("ingest", media / SNAP, "--camera", "backyard", "--config", config).code == 0
    assert (
        camvault(
            "ingest", porch / "image-2024-03-10-02-30-00.jpg", "--camera", "porch", "--config", config
        ).code
        == 0
    )
    assert [e["camera"] for e in events(config, "--camera", "porch")] == ["porch"]
    assert [e["capture_time"] for e in events(config, "--since", "2020-01-01T00:00:00Z")] == [
        "2024-03-10T01:30:00.000Z"  # 02:30 CET
    ]
    bad = camvault("events", "--since", "yesterday-ish", "--config", config)
    assert bad.code == 1 and "--since" in bad.err


def test_status_reports_counts(config: Path, media: Path) -> None:
    assert (
        camvault("ingest", media / CLIP, media / SNAP, "--camera", "backyard", "--config", config).code == 0
    )
    run = camvault("status", "--json", "--config", config)
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["events"] == 2
    assert report["cameras"] == 1
    assert report["processor_pending"] == 0
    assert report["processor_failed"] == 0
    assert report["counters"]["cataloged"] == 2


def test_ingest_of_an_original_system_folder_tree_keeps_keys_readable(config: Path, media: Path) -> None:
    """Objects written by the original system (unpadded Hour-9) are cataloged by reindex."""
    objects = config.parent / "objects"
    legacy = objects / "backyard" / "2016-10-19" / "Hour-9" / "record"
    legacy.mkdir(parents=True)
    shutil.copy(media / CLIP, legacy / CLIP)
    run = camvault("reindex", "--config", config)
    assert run.code == 0, run.err + run.out
    (event,) = events(config)
    assert event["key"] == f"backyard/2016-10-19/Hour-9/record/{CLIP}"
    assert event["capture_time"] == "2016-10-18T18:37:06.000Z"  # from the name, in the camera's zone
    assert event["playable"] is True


def test_catalog_uses_wal(config: Path, media: Path) -> None:
    assert camvault("ingest", media / SNAP, "--camera", "backyard", "--config", config).code == 0
    with sqlite3.connect(config.parent / "catalog.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reindex_drops_entries_whose_objects_are_gone(config: Path, media: Path) -> None:
    assert (
        camvault("ingest", media / CLIP, media / SNAP, "--camera", "backyard", "--config", config).code == 0
    )
    store = open_store(load_config(str(config), {}, config.parent), notify=None)
    try:
        store.delete(f"backyard/2016-10-18/Hour-18/snap/{SNAP}")
    finally:
        store.close()
    run = camvault("reindex", "--config", config)
    assert run.code == 0, run.err
    assert "1 entries removed whose objects are gone" in run.out
    assert [e["kind"] for e in events(config)] == ["record"]


def test_clock_skew_is_flagged_only_for_capture_times_far_from_arrival(
    config: Path, media: Path, tmp_path: Path
) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    now_la = datetime.now(ZoneInfo("America/Los_Angeles"))
    make_jpeg(fresh / f"MDAlarm_{now_la:%Y%m%d-%H%M%S}.jpg", width=64, height=48)
    assert (
        camvault("ingest", *fresh.iterdir(), media / SNAP, "--camera", "backyard", "--config", config).code
        == 0
    )
    skew = {e["key"].rsplit("/", 1)[1]: e["clock_skew"] for e in events(config)}
    assert skew == {f"MDAlarm_{now_la:%Y%m%d-%H%M%S}.jpg": False, SNAP: True}  # SNAP is from 2016


def test_a_dst_ambiguous_name_is_resolved_and_says_so(config: Path, tmp_path: Path) -> None:
    assert camvault("camera", "add", "porch", "--timezone", "America/New_York", "--config", config).code == 0
    folder = tmp_path / "porch"
    folder.mkdir()
    clip = make_jpeg(folder / "MDAlarm_20241103-013000.jpg", width=64, height=48)
    run = camvault("ingest", clip, "--camera", "porch", "--config", config)
    assert run.code == 0, run.err
    assert "(capture time: " in run.out
    (event,) = events(config, "--camera", "porch")
    assert event["capture_time"] == "2024-11-03T05:30:00.000Z"  # the first 01:30, EDT
    assert event["capture_source"] == "filename"
    assert "ambiguous" in event["capture_note"]


def test_correcting_a_camera_zone_and_reindexing_corrects_its_clips(config: Path, media: Path) -> None:
    assert camvault("ingest", media / CLIP, "--camera", "backyard", "--config", config).code == 0
    assert camvault("camera", "set", "backyard", "--timezone", "Europe/Berlin", "--config", config).code == 0
    assert events(config)[0]["capture_time"] == "2016-10-18T18:37:06.000Z"  # unchanged until reindex
    assert camvault("reindex", "--config", config).code == 0
    (event,) = events(config)
    assert event["capture_time"] == "2016-10-18T09:37:06.000Z"  # 11:37:06 CEST
    assert event["key"] == f"backyard/2016-10-18/Hour-18/record/{CLIP}"  # identity never changes


def test_ingest_says_when_a_stored_file_is_not_playable(config: Path, tmp_path: Path) -> None:
    empty = tmp_path / "MDalarm_20161018_113900.mp4"
    empty.write_bytes(b"")
    run = camvault("ingest", empty, "--camera", "backyard", "--config", config)
    assert run.code == 0
    assert "NOT PLAYABLE: not a media file: the file is empty" in run.out


def test_created_files_are_private(config: Path, media: Path) -> None:
    assert camvault("ingest", media / CLIP, "--camera", "backyard", "--config", config).code == 0
    data = config.parent
    for path in [
        data / "catalog.db",
        data / "accounts.db",
        data / "processor.db",
        *data.glob("objects/**/*"),
    ]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
