"""Per-camera options: how long a camera's events are kept, whether its clips get a small
version, whether its events are announced; set with ``camvault camera set`` and kept in the
accounts database across upgrades."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from camvault.accounts.registry import AccountError, CameraOptions, CameraRegistry, UnknownCamera
from tests.support.cli import camvault, init_data

pytestmark = pytest.mark.functional


def test_a_new_camera_follows_the_defaults_and_options_change_one_at_a_time(tmp_path: Path) -> None:
    with CameraRegistry(tmp_path / "accounts.db") as registry:
        registry.add("front", "UTC")
        assert registry.options("front") == CameraOptions(retention_days=None, transcode=False, notify=True)
        assert registry.set_options("front", retention_days=7) == CameraOptions(7, False, True)
        assert registry.set_options("front", transcode=True, notify=False) == CameraOptions(7, True, False)
        assert registry.set_options("front", retention_days=None) == CameraOptions(None, True, False)
    with CameraRegistry(tmp_path / "accounts.db") as reopened:
        assert reopened.get("FRONT").options == CameraOptions(None, True, False)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"retention_days": 0}, "from 1 to 36500"),
        ({"retention_days": True}, "from 1 to 36500"),
        ({"transcode": 1}, "'transcode' is on or off"),
        ({"colour": True}, "unknown camera option 'colour'"),
    ],
)
def test_bad_options_are_refused_and_change_nothing(
    tmp_path: Path, changes: dict[str, int | bool | None], message: str
) -> None:
    with CameraRegistry(tmp_path / "accounts.db") as registry:
        registry.add("front", "UTC")
        registry.set_options("front", retention_days=3)
        with pytest.raises(AccountError, match=message):
            registry.set_options("front", **changes)
        assert registry.options("front") == CameraOptions(3, False, True)
        with pytest.raises(UnknownCamera, match="unknown camera 'ghost'"):
            registry.set_options("ghost", notify=False)


def test_an_accounts_file_from_before_options_keeps_its_cameras(tmp_path: Path) -> None:
    path = tmp_path / "accounts.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE cameras (name TEXT PRIMARY KEY COLLATE NOCASE, timezone TEXT NOT NULL, "
            "password_hash TEXT, created_ms INTEGER NOT NULL)"
        )
        old.execute("INSERT INTO cameras VALUES ('garage', 'Europe/Berlin', NULL, 0)")
        old.execute("PRAGMA user_version = 1")
    old.close()
    with CameraRegistry(path) as registry:
        camera = registry.get("garage")
        assert (camera.timezone, camera.options) == ("Europe/Berlin", CameraOptions())


def test_camera_set_changes_options_and_list_shows_them(tmp_path: Path) -> None:
    config = init_data(tmp_path / "data", {"retention.days": 30})
    for name in ("front", "garage"):
        assert camvault("camera", "add", name, "--config", config).code == 0
    changed = camvault(
        "camera", "set", "front", "--retention-days", "7", "--transcode", "--no-notify", "--config", config
    )
    assert changed.code == 0, changed.err
    assert "keeps 7 days, transcode on, notify off" in changed.out
    listed = camvault("camera", "list", "--config", config).lines()
    assert listed[0].startswith("front") and listed[0].endswith("keeps 7 days, transcode on, notify off")
    assert listed[1].startswith("garage")
    assert listed[1].endswith("keeps 30 days (default), transcode off, notify on")

    back = camvault("camera", "set", "front", "--retention-days", "default", "--config", config)
    assert back.code == 0 and "keeps 30 days (default), transcode on, notify off" in back.out
    both = camvault("camera", "set", "garage", "--timezone", "Asia/Tokyo", "--notify", "--config", config)
    assert both.code == 0 and "Asia/Tokyo" in both.out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["front"], 1, "nothing to change"),
        (["front", "--retention-days", "0"], 1, "from 1 to 36500"),
        (["front", "--retention-days", "week"], 2, "'week' is not a number of days"),
        (["ghost", "--notify"], 1, "unknown camera 'ghost'"),
    ],
)
def test_camera_set_refuses_bad_input_in_one_line(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    config = init_data(tmp_path / "data")
    assert camvault("camera", "add", "front", "--config", config).code == 0
    run = camvault("camera", "set", *args, "--config", config)
    assert run.code == code and message in run.err
    if code == 1:
        assert run.err.startswith("camvault: error: ") and run.err.count("\n") == 1
    listed = camvault("camera", "list", "--config", config).lines()
    assert listed[0].endswith("keeps 30 days (default), transcode off, notify on")
