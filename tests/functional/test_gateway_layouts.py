"""The vendors' folder layouts through a real gateway, and what is never published.

Temporary names are published once under their final name; sidecars (``.idx``), empty files
and aborted transfers are never published, and each is counted; a file the camera sends again
under the same name never changes the copy already promised with ``226``.
"""

from __future__ import annotations

import ftplib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from camvault.domain.model import format_instant
from tests.support.ftp import PASSWORDS, Pipeline, RunningGateway, gateway_pipeline, running_gateway
from tests.support.media import make_jpeg

pytestmark = pytest.mark.functional

LAYOUTS = {
    # camera path (folders created as needed) → object key (capture 13:05:07 Berlin = 12:05:07 UTC)
    "FI9821P_00626E6A1B2C/snap/MDAlarm_20240102-130507.jpg": "snap/MDAlarm_20240102-130507.jpg",
    "Front Door_01_20240102130507000_MOTION.jpg": "snap/Front Door_01_20240102130507000_MOTION.jpg",
    "2024-01-02/001/jpg/13/05/07[M][0@0][1].jpg": "snap/07[M][0@0][1].jpg",
    "Back Yard/Back Yard_00_20240102130507.jpg": "snap/Back Yard_00_20240102130507.jpg",
}


def login(host: str, port: int, camera: str = "garage") -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(host, port, timeout=10)
    ftp.login(camera, PASSWORDS[camera])
    return ftp


def make_dirs(ftp: ftplib.FTP, path: str) -> None:
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        ftp.mkd("/".join(parts[:depth]))


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with gateway_pipeline(tmp_path) as running:
        yield running


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    """The gateway and its spool, without an uploader: what was committed stays visible."""
    with running_gateway(tmp_path) as running:
        yield running


def test_every_vendor_layout_lands_under_its_capture_hour(pipeline: Pipeline, tmp_path: Path) -> None:
    data = make_jpeg(tmp_path / "snap.jpg").read_bytes()
    with login(pipeline.host, pipeline.port) as ftp:
        for path in LAYOUTS:
            make_dirs(ftp, path)
            assert ftp.storbinary(f"STOR {path}", io.BytesIO(data)).startswith("226")
    events = pipeline.settle(len(LAYOUTS))
    for path, tail in LAYOUTS.items():
        key = f"garage/2024-01-02/Hour-12/{tail}"
        assert key in events, (path, sorted(events))
        assert format_instant(events[key].capture_time) == "2024-01-02T12:05:07.000Z"
        assert pipeline.metadata(key)["camera"] == "garage"
        assert pipeline.content(key) == data


def counters(gateway: RunningGateway) -> dict[str, int]:
    return dict(gateway.spool.outbox.stats().counters)


def test_sidecars_and_empty_files_are_not_published_but_counted(gateway: RunningGateway) -> None:
    with login(gateway.host, gateway.port) as ftp:
        assert ftp.storbinary("STOR clip.idx", io.BytesIO(b"index")).startswith("226")
        assert ftp.storbinary("STOR MDAlarm_20240102-130507.jpg", io.BytesIO(b"")).startswith("226")
    assert gateway.spooled() == {}
    assert counters(gateway).get("ignored") == 1
    assert counters(gateway).get("aborted") == 1


def test_an_aborted_upload_is_removed_not_published_and_counted(gateway: RunningGateway) -> None:
    with login(gateway.host, gateway.port) as ftp:
        data = ftp.transfercmd("STOR MDAlarm_20240102-130507.jpg")
        data.sendall(b"\xff\xd8" + bytes(64 * 1024))
        # ABOR while the data connection is still open: the server cannot take the upload for a
        # complete file (closing first would race the ABOR against the end of the data).
        ftp.putcmd("ABOR")
        replies = [ftp.getmultiline()]
        if replies[0].startswith("426"):  # bytes were moving: 426 for the transfer, then 226 for ABOR
            replies.append(ftp.getmultiline())
        data.close()
        assert replies in (
            ["225 ABOR command successful; data channel closed."],
            ["426 Transfer aborted via ABOR.", "226 ABOR command successful."],
        ), replies
        assert "MDAlarm_20240102-130507.jpg" not in ftp.nlst()
    assert gateway.spooled() == {}
    assert counters(gateway).get("aborted") == 1


def test_a_temporary_name_is_not_published_until_renamed(gateway: RunningGateway) -> None:
    with login(gateway.host, gateway.port) as ftp:
        ftp.storbinary("STOR snap.jpg.tmp", io.BytesIO(b"\xff\xd8jpeg"))
        assert gateway.spooled() == {}
        ftp.rename("snap.jpg.tmp", "MDAlarm_20240102-130507.jpg")
        assert gateway.spooled() == {"MDAlarm_20240102-130507.jpg": b"\xff\xd8jpeg"}
        ftp.rename("MDAlarm_20240102-130507.jpg", "renamed.jpg")  # a final name renamed: not again
    assert list(gateway.spooled()) == ["MDAlarm_20240102-130507.jpg"]


def test_sending_a_name_again_never_changes_the_promised_copy(gateway: RunningGateway) -> None:
    with login(gateway.host, gateway.port) as ftp:
        ftp.storbinary("STOR MDAlarm_20240102-130507.jpg", io.BytesIO(b"first"))
        ftp.storbinary("APPE MDAlarm_20240102-130507.jpg", io.BytesIO(b"+more"))
        ftp.storbinary("STOR MDAlarm_20240102-130508.jpg", io.BytesIO(b"second"))
        ftp.storbinary("STOR MDAlarm_20240102-130508.jpg", io.BytesIO(b"third"))
    spooled = sorted(path.read_bytes() for path in gateway.spool.queue.iterdir())
    assert spooled == [b"first", b"first+more", b"second", b"third"]
    home = gateway.home("garage")
    assert (home / "MDAlarm_20240102-130507.jpg").read_bytes() == b"first+more"
    assert (home / "MDAlarm_20240102-130508.jpg").read_bytes() == b"third"


def test_a_failed_commit_is_answered_451_never_226(gateway: RunningGateway) -> None:
    """The spool cannot link the upload (its queue folder is gone): the camera must send it again."""
    shutil.rmtree(gateway.spool.queue)
    gateway.spool.queue.write_bytes(b"not a folder")
    with login(gateway.host, gateway.port) as ftp:
        with pytest.raises(ftplib.error_temp) as caught:
            ftp.storbinary("STOR MDAlarm_20240102-130507.jpg", io.BytesIO(b"\xff\xd8jpeg"))
        assert str(caught.value).startswith("451")
        assert str(gateway.spool.root) not in str(caught.value)  # details go to the log, not the camera


def test_the_226_comes_after_the_upload_is_in_the_spool(gateway: RunningGateway) -> None:
    data = b"\xff\xd8" + bytes(range(256)) * 400
    with login(gateway.host, gateway.port) as ftp:
        assert ftp.storbinary("STOR MDAlarm_20240102-130507.jpg", io.BytesIO(data)).startswith("226")
        # no waiting: the reply itself promises that the file is durable and in the outbox
        assert gateway.spooled() == {"MDAlarm_20240102-130507.jpg": data}
        assert "MDAlarm_20240102-130507.jpg" in ftp.nlst()  # and still visible to the camera
