"""Real FTP clients upload to the gateway in the vendors' layouts; each file ends in the store and
the catalog with the right key, metadata and capture time.

Clients: Python ``ftplib`` (plain and explicit FTPS), ``curl`` (passive, active ``-P -``,
``--ftp-create-dirs``, ``--ssl-reqd``), ``lftp`` with ``xfer:use-temp-file``, busybox ``ftpput``.
Cameras are in Europe/Berlin: 2024-01-02 13:05:07 on the camera is 12:05:07 UTC.
"""

from __future__ import annotations

import ftplib
import io
import random
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from camvault.domain.model import format_instant
from camvault.gateway.handler import WRITEBACK_BYTES
from tests.support.cli import camvault, init_data
from tests.support.ftp import PASSWORDS, Pipeline, free_port, gateway_pipeline
from tests.support.media import make_clip, make_jpeg

pytestmark = pytest.mark.functional

CAPTURED = "2024-01-02T12:05:07.000Z"
DAY = "garage/2024-01-02/Hour-12"


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with gateway_pipeline(tmp_path) as running:
        yield running


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return make_jpeg(tmp_path / "snapshot.jpg", width=320, height=240)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip.mp4", seconds=1.0)


def login(pipeline: Pipeline, camera: str = "garage") -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(pipeline.host, pipeline.port, timeout=10)
    ftp.login(camera, PASSWORDS[camera])
    return ftp


def assert_published(pipeline: Pipeline, key: str, data: bytes, *, captured: str = CAPTURED) -> None:
    """``key`` is in the store with ``data`` and its metadata, and in the catalog."""
    events = pipeline.settle(1)
    assert key in events, sorted(events)
    event = events[key]
    assert event.camera == "garage"
    assert format_instant(event.capture_time) == captured
    metadata = pipeline.metadata(key)
    assert metadata["camera"] == "garage"
    assert metadata["capture-time"] == captured
    assert pipeline.content(key) == data


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def url(pipeline: Pipeline, path: str) -> str:
    return f"ftp://{pipeline.host}:{pipeline.port}/{quote(path)}"


# --- Python ftplib -----------------------------------------------------------------------------


def test_ftplib_foscam_snapshot_in_camera_folders(pipeline: Pipeline, snapshot: Path) -> None:
    data = snapshot.read_bytes()
    with login(pipeline) as ftp:
        ftp.mkd("FI9821P_00626E6A1B2C")
        ftp.cwd("FI9821P_00626E6A1B2C")
        ftp.mkd("snap")
        reply = ftp.storbinary("STOR snap/MDAlarm_20240102-130507.jpg", io.BytesIO(data))
        assert reply.startswith("226")
    assert_published(pipeline, f"{DAY}/snap/MDAlarm_20240102-130507.jpg", data)


def test_ftplib_camera_settings_test_upload_list_and_delete(pipeline: Pipeline) -> None:
    """Cameras check their FTP settings by uploading a file, listing it and deleting it."""
    with login(pipeline) as ftp:
        ftp.storbinary("STOR test.txt", io.BytesIO(b"camera ftp test"))
        assert "test.txt" in ftp.nlst()
        assert any("test.txt" in line for line in _listing(ftp))
        assert ftp.delete("test.txt").startswith("250")
        assert "test.txt" not in ftp.nlst()
        ftp.mkd("probe")
        ftp.rmd("probe")
    assert pipeline.originals() == []  # a text file is not a clip: nothing is published


def _listing(ftp: ftplib.FTP) -> list[str]:
    lines: list[str] = []
    ftp.retrlines("LIST", lines.append)
    return lines


def test_ftplib_appe_of_a_new_file_is_published(pipeline: Pipeline, snapshot: Path) -> None:
    data = snapshot.read_bytes()
    with login(pipeline) as ftp:
        ftp.storbinary("APPE MDAlarm_20240102-130507.jpg", io.BytesIO(data))
    assert_published(pipeline, f"{DAY}/snap/MDAlarm_20240102-130507.jpg", data)


def test_a_large_clip_written_to_disk_while_it_arrives_is_published_intact(pipeline: Pipeline) -> None:
    data = random.Random(3).randbytes(WRITEBACK_BYTES * 2 + 12345)  # writeback starts twice mid-upload
    with login(pipeline) as ftp:
        reply = ftp.storbinary("STOR Front_00_20240102130507.mp4", io.BytesIO(data), blocksize=1 << 20)
        assert reply.startswith("226")
    assert_published(pipeline, f"{DAY}/record/Front_00_20240102130507.mp4", data)


def test_dahua_temporary_name_is_published_once_when_renamed(pipeline: Pipeline, clip: Path) -> None:
    data = clip.read_bytes()
    folder = "2024-01-02/001/dav/13"
    final = f"{folder}/13.05.07-13.05.37[M][0@0][0].mp4"
    with login(pipeline) as ftp:
        for part in ("2024-01-02", "2024-01-02/001", "2024-01-02/001/dav", folder):
            ftp.mkd(part)
        assert ftp.storbinary(f"STOR {final}_", io.BytesIO(data)).startswith("226")
        assert ftp.sendcmd(f"RNFR {final}_").startswith("350")
        assert ftp.sendcmd(f"RNTO {final}").startswith("250")
    assert_published(pipeline, f"{DAY}/record/13.05.07-13.05.37[M][0@0][0].mp4", data)
    assert pipeline.originals() == [f"{DAY}/record/13.05.07-13.05.37[M][0@0][0].mp4"]  # once, final name


def test_ftplib_over_explicit_ftps(pipeline: Pipeline, snapshot: Path) -> None:
    data = snapshot.read_bytes()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the self-signed pair that `camvault init` wrote
    with ftplib.FTP_TLS(context=context) as ftp:
        ftp.connect(pipeline.host, pipeline.port, timeout=10)
        ftp.auth()
        ftp.login("garage", PASSWORDS["garage"])
        ftp.prot_p()
        name = "Front Door_01_20240102130507123_MOTION_DETECTION.jpg"
        assert ftp.storbinary(f"STOR {name}", io.BytesIO(data)).startswith("226")
    key = f"{DAY}/snap/Front Door_01_20240102130507123_MOTION_DETECTION.jpg"
    assert_published(pipeline, key, data, captured="2024-01-02T12:05:07.123Z")


def test_foscam_mkv_clip_is_remuxed_to_mp4(pipeline: Pipeline, tmp_path: Path) -> None:
    mkv = make_clip(tmp_path / "clip.mkv", seconds=1.0)
    with login(pipeline) as ftp, mkv.open("rb") as data:
        ftp.mkd("record")
        ftp.storbinary("STOR record/MDalarm_20240102_130507.mkv", data)
    events = pipeline.settle(1)
    event = events[f"{DAY}/record/MDalarm_20240102_130507.mp4"]
    assert event.content_type == "video/mp4"
    assert event.playable and event.media is not None and event.media.video_codec == "h264"
    assert pipeline.metadata(event.key)["capture-time"] == CAPTURED


def test_avi_that_cannot_be_remuxed_is_kept_as_uploaded(pipeline: Pipeline) -> None:
    broken = b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(2000)
    with login(pipeline) as ftp:
        ftp.storbinary("STOR Schedule_20240102-130507.avi", io.BytesIO(broken))
    assert_published(pipeline, f"{DAY}/record/Schedule_20240102-130507.avi", broken)


# --- curl --------------------------------------------------------------------------------------


def curl(pipeline: Pipeline, local: Path, path: str, *extra: str) -> None:
    run(
        "curl", "-sS", "--globoff", "--max-time", "30", "--user", f"garage:{PASSWORDS['garage']}",
        "-T", local, *extra, url(pipeline, path),
    )  # fmt: skip


def test_curl_passive_creates_the_dahua_folders(pipeline: Pipeline, snapshot: Path) -> None:
    path = "2024-01-02/001/jpg/13/05/07[M][0@0][0].jpg"
    curl(pipeline, snapshot, path, "--ftp-create-dirs", "--ftp-pasv")
    assert_published(pipeline, f"{DAY}/snap/07[M][0@0][0].jpg", snapshot.read_bytes())


def test_curl_active_mode(pipeline: Pipeline, snapshot: Path) -> None:
    curl(pipeline, snapshot, "IOAlarm_20240102-130507.jpg", "-P", "-")
    assert_published(pipeline, f"{DAY}/snap/IOAlarm_20240102-130507.jpg", snapshot.read_bytes())


def test_curl_epsv_off_uses_pasv(pipeline: Pipeline, snapshot: Path) -> None:
    curl(pipeline, snapshot, "HMDAlarm_20240102-130507.jpg", "--disable-epsv")
    assert_published(pipeline, f"{DAY}/snap/HMDAlarm_20240102-130507.jpg", snapshot.read_bytes())


def test_curl_ftps_required(pipeline: Pipeline, clip: Path) -> None:
    name = "Back Yard_00_20240102130507.mp4"
    curl(pipeline, clip, name, "--ssl-reqd", "--insecure")
    assert_published(pipeline, f"{DAY}/record/{name}", clip.read_bytes())


# --- lftp and busybox --------------------------------------------------------------------------


def test_lftp_with_temp_file_names_reolink_clip(pipeline: Pipeline, clip: Path) -> None:
    name = "Front Yard_00_20240102130507.mp4"
    script = (
        "set net:max-retries 1; set net:timeout 10; set ftp:ssl-allow no; set xfer:use-temp-file yes; "
        f'put "{clip}" -o "{name}"; bye'
    )
    run("lftp", "-u", f"garage,{PASSWORDS['garage']}", "-p", str(pipeline.port), "-e", script, pipeline.host)
    assert_published(pipeline, f"{DAY}/record/{name}", clip.read_bytes())


def test_busybox_ftpput_hikvision_snapshot(pipeline: Pipeline, snapshot: Path) -> None:
    name = "CAM01_01_20240102130507456_MOTION_DETECTION.jpg"
    run(
        "busybox", "ftpput", "-u", "garage", "-p", PASSWORDS["garage"], "-P", str(pipeline.port),
        pipeline.host, name, snapshot,
    )  # fmt: skip
    assert_published(
        pipeline, f"{DAY}/snap/{name}", snapshot.read_bytes(), captured="2024-01-02T12:05:07.456Z"
    )


# --- the `camvault gateway` command -----------------------------------------------------------


def test_gateway_command_receives_stores_and_stops_on_sigterm(tmp_path: Path, snapshot: Path) -> None:
    port = free_port()
    config = init_data(
        tmp_path / "data", {"gateway.listen": f"127.0.0.1:{port}", "gateway.spool_min_free_mb": 1}
    )
    command = ("camera", "add", "garage", "--timezone", "Europe/Berlin", "--password-stdin", "--config")
    add = camvault(*command, config, stdin=PASSWORDS["garage"] + "\n")
    assert add.code == 0, add.err
    process = subprocess.Popen(
        [sys.executable, "-m", "camvault", "gateway", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(3)]
        assert any(f"camvault gateway: ftp://127.0.0.1:{port}" in line for line in banner), banner
        run(
            "curl", "-sS", "--max-time", "30", "--user", f"garage:{PASSWORDS['garage']}", "--ssl-reqd",
            "--insecure", "-T", snapshot, f"ftp://127.0.0.1:{port}/MDAlarm_20240102-130507.jpg",
        )  # fmt: skip
        stored = tmp_path / "data" / "objects" / DAY / "snap" / "MDAlarm_20240102-130507.jpg"
        deadline = time.monotonic() + 30
        while not stored.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stored.read_bytes() == snapshot.read_bytes()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert PASSWORDS["garage"] not in output
