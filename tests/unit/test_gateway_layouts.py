"""What an upload's name means to the gateway, and the capture time its path yields."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from camvault.domain.capture import capture_from_name
from camvault.gateway.filesystem import MAX_PATH, path_problem
from camvault.gateway.layouts import classify, remuxable, source_path

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")
CAPTURED = datetime(2024, 1, 2, 12, 5, 7, tzinfo=UTC)  # 13:05:07 in Berlin


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("FI9821P_00626E6A1B2C/snap/MDAlarm_20240102-130507.jpg", "foscam"),
        ("FI9821P_00626E6A1B2C/record/MDalarm_20240102_130507.mkv", "foscam"),
        ("Front Door_01_20240102130507000_MOTION_DETECTION.jpg", "hikvision"),
        ("2024-01-02/001/jpg/13/05/07[M][0@0][0].jpg", "dahua-jpg"),
        ("2024-01-02/001/dav/13/13.05.07-13.05.37[M][0@0][0].mp4", "dahua-dav"),
        ("Front Yard_00_20240102130507.mp4", "reolink"),
    ],
)
def test_vendor_layouts_are_published_with_their_capture_time(path: str, pattern: str) -> None:
    upload = classify(path)
    assert upload.disposition == "publish"
    assert upload.source_path == path
    capture = capture_from_name(upload.source_path, BERLIN)
    assert capture is not None
    assert (capture.instant, capture.pattern) == (CAPTURED, pattern)


@pytest.mark.parametrize(
    "name",
    [
        "13.05.07-13.05.37[M][0@0][0].mp4_",  # Dahua
        "snap.jpg.tmp",  # Axis and many others
        "clip.mp4.part",
        "clip.MP4.PART",
        ".in.Front Yard_00_20240102130507.mp4",  # lftp xfer:use-temp-file
        ".hidden.jpg",
    ],
)
def test_temporary_names_wait_for_their_rename(name: str) -> None:
    assert classify(f"cam/{name}").disposition == "temporary"


@pytest.mark.parametrize("name", ["13.05.07-13.05.37[M][0@0][0].idx", "info.txt", "config.xml", "noext"])
def test_sidecars_and_other_files_are_ignored(name: str) -> None:
    assert classify(name).disposition == "ignore"


def test_source_path_is_relative_to_the_home_and_posix() -> None:
    assert source_path("/cam/snap/a.jpg") == "cam/snap/a.jpg"
    assert source_path("cam//snap/./a.jpg") == "cam/snap/a.jpg"


def test_only_matroska_and_avi_are_remuxed() -> None:
    assert remuxable("a/MDalarm_20240102_130507.mkv")
    assert remuxable("clip.AVI")
    assert not remuxable("clip.mp4")
    assert not remuxable("snap.jpg")


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("a\x00b.jpg", "NUL"),
        ("a\rb.jpg", "control character"),
        ("x" * 256 + ".jpg", "file name longer than 255"),
        ("a/" * 600, f"path longer than {MAX_PATH}"),
    ],
)
def test_path_arguments_refused_before_the_file_system(path: str, problem: str) -> None:
    found = path_problem(path)
    assert found is not None and problem in found


def test_ordinary_paths_with_spaces_and_brackets_pass() -> None:
    assert path_problem("2024-01-02/001/jpg/13/05/07[M][0@0][0].jpg") is None
    assert path_problem("Front Yard_00_20240102130507.mp4") is None
