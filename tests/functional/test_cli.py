"""The ``camvault`` command as a new user meets it: init, cameras, errors, exit codes."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from camvault.accounts.passwords import verify_secret
from camvault.accounts.registry import CameraRegistry
from tests.support.cli import camvault, camvault_process, init_data

pytestmark = pytest.mark.functional


def test_init_writes_a_private_commented_config_and_prints_the_secret_once(tmp_path: Path) -> None:
    run = camvault("init", tmp_path / "data")
    assert run.code == 0, run.err
    config = tmp_path / "data" / "camvault.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    secret = next(line.split(": ")[-1] for line in run.lines() if "admin secret" in line)
    text = config.read_text()
    assert secret not in text
    assert verify_secret(secret, tomllib.loads(text)["auth"]["admin_password_hash"])
    assert '# url = "file://objects"' in text
    for made in ("objects", "spool", "catalog.db", "accounts.db"):
        assert (tmp_path / "data" / made).exists(), made
    again = camvault("init", tmp_path / "data")
    assert again.code == 1 and "already exists" in again.err
    assert config.read_text() == text


def test_two_inits_get_different_secrets(tmp_path: Path) -> None:
    first = camvault("init", tmp_path / "a").out
    second = camvault("init", tmp_path / "b").out
    assert first.split("keep it safe): ")[1].split()[0] != second.split("keep it safe): ")[1].split()[0]


def test_camera_add_list_passwd_remove(tmp_path: Path) -> None:
    config = init_data(tmp_path / "data")
    added = camvault(
        "camera",
        "add",
        "Front Door",
        "--timezone",
        "Europe/Berlin",
        "--password-stdin",
        "--config",
        config,
        stdin="hunter22\n",
    )
    assert added.code == 0, added.err
    assert "Front Door" in added.out and "password set" in added.out
    assert camvault("camera", "add", "garage", "--config", config).code == 0  # default zone
    listed = camvault("camera", "list", "--config", config).lines()
    assert listed[0].split()[:4] == ["Front", "Door", "Europe/Berlin", "password"]
    assert listed[1].split()[:2] == ["garage", "UTC"]

    registry = CameraRegistry(tmp_path / "data" / "accounts.db")
    try:
        assert registry.check_password("Front Door", "hunter22")
        assert not registry.check_password("Front Door", "hunter2")
        assert not registry.check_password("garage", "")
    finally:
        registry.close()
    assert "hunter22" not in (tmp_path / "data" / "accounts.db").read_bytes().decode("latin-1")

    changed = camvault(
        "camera", "passwd", "garage", "--password-stdin", "--config", config, stdin="n3w-pass\n"
    )
    assert changed.code == 0, changed.err
    assert camvault("camera", "remove", "garage", "--config", config).code == 0
    assert [line.split()[0] for line in camvault("camera", "list", "--config", config).lines()] == ["Front"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["camera", "add", "../escape", "--timezone", "UTC"], "camera name"),
        (["camera", "add", "cam1", "--timezone", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["camera", "remove", "ghost"], "unknown camera 'ghost'"),
        (["camera", "passwd", "ghost", "--password-stdin"], "unknown camera 'ghost'"),
    ],
)
def test_camera_errors_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    config = init_data(tmp_path / "data")
    run = camvault(*args, "--config", config, stdin="pw\n")
    assert run.code == 1
    assert run.err.startswith("camvault: error: ") and message in run.err
    assert run.err.count("\n") == 1


def test_duplicate_camera_and_empty_password_are_refused(tmp_path: Path) -> None:
    config = init_data(tmp_path / "data")
    assert camvault("camera", "add", "cam1", "--config", config).code == 0
    duplicate = camvault("camera", "add", "cam1", "--config", config)
    assert duplicate.code == 1 and "already exists" in duplicate.err
    empty = camvault("camera", "passwd", "cam1", "--password-stdin", "--config", config, stdin="\n")
    assert empty.code == 1 and "empty password" in empty.err


def test_missing_or_broken_config_is_a_one_line_error(tmp_path: Path) -> None:
    run = camvault("events", "--config", tmp_path / "nope.toml")
    assert run.code == 1 and "camvault init DIR" in run.err
    broken = tmp_path / "camvault.toml"
    broken.write_text("[api]\nlisten = 'everywhere'\n")
    run = camvault("status", "--config", broken)
    assert run.code == 1 and "[api] listen = 'everywhere'" in run.err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert camvault("frobnicate").code == 2
    assert camvault("ingest", "x.mp4").code == 2  # --camera is required


def test_python_dash_m_runs_the_same_command() -> None:
    run = camvault_process("--help")
    assert run.code == 0
    for verb in ("init", "serve", "process", "api", "camera", "ingest", "events", "reindex", "status"):
        assert verb in run.out
