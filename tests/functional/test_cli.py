"""The ``camvault`` command as a new user meets it: init, cameras, errors, exit codes."""

from __future__ import annotations

import socket
import stat
import tomllib
from pathlib import Path

import pytest

from camvault.accounts.passwords import verify_secret
from camvault.accounts.registry import CameraRegistry
from tests.support.cli import camvault, camvault_process, init_data, set_key
from tests.support.media import make_jpeg

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
    run = camvault(*args, "--config", config, stdin="long-enough-pw\n")
    assert run.code == 1
    assert run.err.startswith("camvault: error: ") and message in run.err
    assert run.err.count("\n") == 1


def test_duplicate_camera_and_empty_password_are_refused(tmp_path: Path) -> None:
    config = init_data(tmp_path / "data")
    assert camvault("camera", "add", "cam1", "--config", config).code == 0
    duplicate = camvault("camera", "add", "cam1", "--config", config)
    assert duplicate.code == 1 and "already exists" in duplicate.err
    for short in ("\n", "seven77\n"):
        refused = camvault("camera", "passwd", "cam1", "--password-stdin", "--config", config, stdin=short)
        assert refused.code == 1 and "at least 8 characters" in refused.err
    same_but_case = camvault("camera", "add", "CAM1", "--config", config)
    assert same_but_case.code == 1 and "names ignore case" in same_but_case.err


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
    verbs = ("init", "serve", "gateway", "process", "api", "camera", "ingest", "events", "reindex", "status")
    for verb in verbs:
        assert verb in run.out


def test_config_may_come_before_the_verb_and_may_name_the_folder(tmp_path: Path) -> None:
    init_data(tmp_path / "data")
    assert camvault("--config", tmp_path / "data", "camera", "add", "cam1").code == 0
    assert camvault("camera", "list", "--config", tmp_path / "data").lines()[0].startswith("cam1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["events", "--since", "2016-02-30"], "--since '2016-02-30': use an age"),
        (["events", "--since", "99999999d"], "--since '99999999d'"),
        (["events", "--since", "0001-01-01T00:00:00+01:00"], "--since"),
        (["events", "--timezone", "Mars/Base"], "--timezone 'Mars/Base'"),
        (["events", "--camera", "nosuch"], "--camera 'nosuch': no such camera (known: cam1)"),
    ],
)
def test_bad_event_filters_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    config = init_data(tmp_path / "data")
    assert camvault("camera", "add", "cam1", "--config", config).code == 0
    run = camvault(*args, "--config", config)
    assert run.code == 1, run.out
    assert run.err.startswith("camvault: error: ") and message in run.err
    assert "Traceback" not in run.err


def test_negative_limit_is_a_usage_error(tmp_path: Path) -> None:
    config = init_data(tmp_path / "data")
    run = camvault("events", "--limit", "-1", "--config", config)
    assert run.code == 2 and "is negative" in run.err


def test_events_show_times_in_the_chosen_zone(tmp_path: Path) -> None:
    config = init_data(tmp_path / "data")
    assert camvault("camera", "add", "cam1", "--config", config).code == 0
    image = make_jpeg(tmp_path / "image-2024-07-01-12-00-00.jpg", width=64, height=48)
    assert camvault("ingest", image, "--camera", "cam1", "--config", config).code == 0
    assert camvault("events", "--config", config).lines()[0].startswith("2024-07-01 12:00:00 UTC")
    shown = camvault("events", "--timezone", "Asia/Tokyo", "--config", config).lines()[0]
    assert shown.startswith("2024-07-01 21:00:00 JST")
    since = camvault(
        "events", "--since", "2024-07-01", "--timezone", "Asia/Tokyo", "--json", "--config", config
    )
    assert len(since.lines()) == 1
    later = camvault(
        "events", "--since", "2024-07-02", "--timezone", "Asia/Tokyo", "--json", "--config", config
    )
    assert later.lines() == []


def test_serve_on_a_taken_port_says_which_and_how_to_move(tmp_path: Path) -> None:
    config = init_data(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        set_key(config, "api.listen", f"127.0.0.1:{port}")
        run = camvault("serve", "--config", config)
    assert run.code == 1
    assert (
        f'[api] listen = "127.0.0.1:{port}"' in run.err
        and f"CAMVAULT_API_LISTEN=127.0.0.1:{port + 1}" in run.err
    )
