"""Real FTP clients upload to a real gateway; each committed upload is in the spool, byte-identical."""

from __future__ import annotations

import ftplib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ftp import PASSWORDS, RunningGateway, running_gateway

pytestmark = pytest.mark.functional


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    with running_gateway(tmp_path) as running:
        yield running


def login(gateway: RunningGateway, camera: str = "garage") -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(gateway.host, gateway.port, timeout=10)
    ftp.login(camera, PASSWORDS[camera])
    return ftp


def test_ftplib_upload_is_committed_before_226(gateway: RunningGateway) -> None:
    data = b"\xff\xd8snapshot" * 1000
    with login(gateway) as ftp:
        reply = ftp.storbinary("STOR MDAlarm_20240102-130507.jpg", io.BytesIO(data))
        assert reply.startswith("226")
        # the 226 is a promise: the upload is already in the spool and its outbox
        assert gateway.spooled() == {"MDAlarm_20240102-130507.jpg": data}
        assert "MDAlarm_20240102-130507.jpg" in ftp.nlst()
