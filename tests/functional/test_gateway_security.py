"""Every way out of a camera's home is refused, logins are checked and throttled, and no secret
reaches the log. Also the server limits: connections per address, idle timeout, passive ports."""

from __future__ import annotations

import ftplib
import io
import logging
import socket
import ssl
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyftpdlib.authorizers import AuthenticationFailed

from camvault.accounts.registry import CameraRegistry
from camvault.gateway.authorizer import CameraAuthorizer, LoginThrottle
from camvault.gateway.server import TLSFiles
from camvault.gateway.tls import write_self_signed
from tests.support.cli import init_data
from tests.support.ftp import PASSWORDS, RunningGateway, running_gateway

pytestmark = pytest.mark.functional


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[RunningGateway]:
    with running_gateway(tmp_path, throttle=LoginThrottle(max_failures=3, window=60)) as running:
        running.home("porch").joinpath("porch-secret.jpg").write_bytes(b"porch's own")
        yield running


def login(gateway: RunningGateway, camera: str = "garage", password: str | None = None) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect(gateway.host, gateway.port, timeout=10)
    try:
        ftp.login(camera, PASSWORDS[camera] if password is None else password)
    except BaseException:
        ftp.close()
        raise
    return ftp


def refused(ftp: ftplib.FTP, command: str) -> str:
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.sendcmd(command)
    return str(caught.value)


def store_refused(ftp: ftplib.FTP, path: str) -> str:
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.storbinary(f"STOR {path}", io.BytesIO(b"\xff\xd8evil"))
    return str(caught.value)


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize(
    "path",
    ["../porch/evil.jpg", "../../evil.jpg", "snap/../../porch/evil.jpg", "../../../../../../tmp/evil.jpg"],
)
def test_dot_dot_paths_are_refused(gateway: RunningGateway, tmp_path: Path, path: str) -> None:
    before = files_under(tmp_path)
    with login(gateway) as ftp:
        ftp.mkd("snap")
        assert store_refused(ftp, path).startswith("553")
        assert refused(ftp, "CWD ../porch").startswith("553")
        with pytest.raises(ftplib.error_perm, match=r"^553"):
            ftp.nlst("../porch")
        ftp.cwd("snap")
        assert refused(ftp, "RNFR ../../porch/porch-secret.jpg").startswith("553")
        assert refused(ftp, "DELE ../../porch/porch-secret.jpg").startswith("553")
    assert files_under(tmp_path) == before
    assert gateway.spooled() == {}


def test_absolute_paths_stay_inside_the_home(gateway: RunningGateway, tmp_path: Path) -> None:
    porch = gateway.home("porch")
    before = files_under(tmp_path)
    with login(gateway) as ftp:
        assert refused(ftp, "CWD /etc").startswith("550")
        assert store_refused(ftp, "/etc/passwd").startswith("550")
        assert refused(ftp, f"CWD {porch}").startswith("550")
        assert store_refused(ftp, f"{porch}/evil.jpg").startswith("550")
        assert refused(ftp, f"DELE {porch}/porch-secret.jpg").startswith("550")
        assert ftp.pwd() == "/"
        assert ftp.nlst("/") == []
    assert files_under(tmp_path) == before
    assert (porch / "porch-secret.jpg").read_bytes() == b"porch's own"


def test_nul_bytes_and_control_characters_are_refused(gateway: RunningGateway) -> None:
    with login(gateway) as ftp:
        assert "NUL" in store_refused(ftp, "evil\x00.jpg")
        assert refused(ftp, "MKD a\x00b").startswith("553")
        assert refused(ftp, "DELE a\x1bb.jpg").startswith("553")
        assert ftp.nlst() == []


def test_overlong_names_and_paths_are_refused(gateway: RunningGateway) -> None:
    with login(gateway) as ftp:
        assert "longer than 255" in store_refused(ftp, "x" * 256 + ".jpg")
        assert "longer than 1024" in store_refused(ftp, "a/" * 600 + "x.jpg")
        assert refused(ftp, "MKD " + "d" * 300).startswith("553")
        assert ftp.nlst() == []


def test_symlinks_in_a_home_are_never_followed(gateway: RunningGateway, tmp_path: Path) -> None:
    """Even a link an administrator left in a home does not lead to another camera's files."""
    home = gateway.home("garage")
    (home / "to-porch").symlink_to(gateway.home("porch"), target_is_directory=True)
    (home / "passwd.jpg").symlink_to("/etc/passwd")
    with login(gateway) as ftp:
        assert refused(ftp, "CWD to-porch").startswith("550")
        assert store_refused(ftp, "to-porch/evil.jpg").startswith("550")
        assert store_refused(ftp, "passwd.jpg").startswith("550")
        assert refused(ftp, "DELE to-porch/porch-secret.jpg").startswith("550")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.nlst("to-porch")
    assert Path("/etc/passwd").is_file()
    assert (gateway.home("porch") / "porch-secret.jpg").read_bytes() == b"porch's own"


def test_another_cameras_home_is_invisible(gateway: RunningGateway) -> None:
    with login(gateway, "porch") as ftp:
        assert ftp.nlst() == ["porch-secret.jpg"]
    with login(gateway) as ftp:
        assert ftp.nlst() == []
        assert refused(ftp, "SIZE /porch-secret.jpg").startswith("550")
        assert refused(ftp, "CWD /porch").startswith("550")


def test_downloads_and_permission_changes_are_not_allowed(gateway: RunningGateway) -> None:
    with login(gateway) as ftp:
        ftp.storbinary("STOR MDAlarm_20240102-130507.jpg", io.BytesIO(b"\xff\xd8jpeg"))
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.retrbinary("RETR MDAlarm_20240102-130507.jpg", lambda _: None)
        assert refused(ftp, "SITE CHMOD 777 MDAlarm_20240102-130507.jpg").startswith("550")
        assert refused(ftp, "STOU").startswith("502")  # the server never picks names
        assert refused(ftp, "PORT 192,0,2,1,4,1").startswith("501")  # no FTP bounce to other hosts
        assert refused(ftp, "PORT 127,0,0,1,0,21").startswith("501")  # nor to privileged ports


def test_unknown_cameras_and_wrong_passwords_are_refused(gateway: RunningGateway) -> None:
    with login(gateway, "GARAGE", PASSWORDS["garage"]) as ftp:  # names ignore case, as in the registry
        assert ftp.pwd() == "/"
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        login(gateway, "garage", "not-the-password")
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        login(gateway, "garage", "")
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        ftp = ftplib.FTP()
        with ftp:
            ftp.connect(gateway.host, gateway.port, timeout=10)
            ftp.login("nobody", "anything")
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        ftp = ftplib.FTP()
        with ftp:
            ftp.connect(gateway.host, gateway.port, timeout=10)
            ftp.login()  # anonymous
    with pytest.raises(ftplib.error_perm, match="Too many failed logins"):
        login(gateway, "porch")  # the 4th attempt from this address, with porch's right password


def test_failed_logins_are_throttled_per_address_and_logged_without_secrets(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-Secret-4711"
    for _ in range(3):
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            login(gateway, "garage", wrong)
    # now even the right password is refused from this address, with the reason
    with pytest.raises(ftplib.error_perm, match="Too many failed logins"):
        login(gateway, "garage")
    failures = [record.getMessage() for record in caplog.records if "failed login" in record.getMessage()]
    assert failures and all("127.0.0.1" in message for message in failures)
    assert any("'garage'" in message for message in failures)
    assert wrong not in caplog.text
    assert PASSWORDS["garage"] not in caplog.text


def test_a_right_password_works_and_is_never_logged(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with login(gateway) as ftp:
        ftp.storbinary("STOR MDAlarm_20240102-130507.jpg", io.BytesIO(b"\xff\xd8jpeg"))
    assert "garage" in caplog.text
    assert PASSWORDS["garage"] not in caplog.text


# --- server limits ----------------------------------------------------------------------------


def test_connections_per_address_are_limited(tmp_path: Path) -> None:
    with running_gateway(tmp_path, per_ip=2) as gateway:
        first, second = login(gateway), login(gateway)
        with first, second, socket.create_connection((gateway.host, gateway.port), timeout=10) as third:
            assert third.makefile("rb").readline().startswith(b"421")


def test_idle_connections_are_closed(tmp_path: Path) -> None:
    with running_gateway(tmp_path, idle_timeout=0.5) as gateway, login(gateway) as ftp:
        time.sleep(1.5)
        with pytest.raises((ftplib.error_temp, EOFError, OSError)):
            ftp.voidcmd("NOOP")
            ftp.voidcmd("NOOP")


def test_passive_replies_announce_the_masquerade_address_and_port_range(tmp_path: Path) -> None:
    ports = range(47000, 47010)
    with running_gateway(tmp_path, masquerade="203.0.113.7", passive=ports) as gateway, login(gateway) as ftp:
        reply = ftp.sendcmd("PASV")
        numbers = reply[reply.index("(") + 1 : reply.index(")")].split(",")
        assert numbers[:4] == ["203", "0", "113", "7"]
        assert int(numbers[4]) * 256 + int(numbers[5]) in ports
        extended = ftp.sendcmd("EPSV")
        assert extended.startswith("229")
        assert int(extended.split("|")[3]) in ports


# --- FTPS -------------------------------------------------------------------------------------


def test_init_writes_a_private_self_signed_pair_the_gateway_offers(tmp_path: Path) -> None:
    config = init_data(tmp_path / "data")
    text = config.read_text(encoding="utf-8")
    assert 'tls_cert = "tls/gateway.crt"' in text and 'tls_key = "tls/gateway.key"' in text
    for name in ("gateway.crt", "gateway.key"):
        path = tmp_path / "data" / "tls" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in (tmp_path / "data" / "tls" / "gateway.key").read_bytes()


def test_tls_required_refuses_plain_logins(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    write_self_signed(cert, key, now=datetime.now(UTC))
    with running_gateway(tmp_path, tls=TLSFiles(cert, key, required=True)) as gateway:
        with pytest.raises(ftplib.error_perm, match=r"^550 SSL/TLS required"):
            login(gateway)
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with ftplib.FTP_TLS(context=context) as ftp:
            ftp.connect(gateway.host, gateway.port, timeout=10)
            ftp.login("garage", PASSWORDS["garage"])  # AUTH TLS first, verified against the pair
            with pytest.raises(ftplib.error_perm, match=r"^550 SSL/TLS required"):
                ftp.storbinary("STOR MDAlarm_20240102-130507.jpg", io.BytesIO(b"\xff\xd8"))
            ftp.prot_p()
            assert ftp.storbinary("STOR MDAlarm_20240102-130507.jpg", io.BytesIO(b"\xff\xd8")).startswith(
                "226"
            )
        assert gateway.spooled() == {"MDAlarm_20240102-130507.jpg": b"\xff\xd8"}


class _Session:
    """What the authorizer reads from pyftpdlib's session: the client's address."""

    def __init__(self, address: str) -> None:
        self.remote_ip = address


def test_throttling_is_per_address_and_ends_with_its_window(tmp_path: Path) -> None:
    now = [1000.0]
    with CameraRegistry(tmp_path / "accounts.db") as cameras:
        cameras.add("garage", "UTC", PASSWORDS["garage"])
        authorizer = CameraAuthorizer(
            cameras,
            lambda name: tmp_path / name,
            LoginThrottle(max_failures=2, window=60),
            monotonic=lambda: now[0],
        )
        try:
            attacker, camera = _Session("192.0.2.66"), _Session("192.0.2.10")
            for _ in range(2):
                with pytest.raises(AuthenticationFailed):
                    authorizer.validate_authentication("garage", "guess", attacker)
            with pytest.raises(AuthenticationFailed, match="too many failed logins"):
                authorizer.validate_authentication("garage", PASSWORDS["garage"], attacker)
            authorizer.validate_authentication("garage", PASSWORDS["garage"], camera)  # other address: fine
            now[0] += 61
            authorizer.validate_authentication("garage", PASSWORDS["garage"], attacker)  # window over
        finally:
            authorizer.close()
