"""``camvault api`` with ``[api] workers = 2`` as a real process: two worker processes answer on
one port, the login throttle counts failures across both, a worker that dies is reported and
replaced, and SIGTERM stops every process with status 0.

Which worker answered a connection is read from ``/proc``: the server side of the connection is
a socket (``/proc/net/tcp``) that only the worker that accepted it holds a descriptor of.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from uvicorn.config import STARTUP_FAILURE

from camvault.cli.serving import worker_app
from camvault.config.loader import ConfigError, load_config
from tests.support.cli import camvault, camvault_process, init_data, set_key
from tests.support.procs import children
from tests.support.timing import wait_until

pytestmark = pytest.mark.functional

ATTEMPTS = 3
PASSWORD = "alice's password"
START_S = 90  # two spawned interpreters importing the app, on a shared machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def is_running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def server_side_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server's end of the loopback connection from ``client_port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == server_port and int(remote, 16) == client_port:
            return int(fields[9])
    return None


class Api:
    """``camvault api`` with two workers, its output in a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_port()
        set_key(config, "api.listen", f"127.0.0.1:{self.port}")
        self.data = config.parent
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "camvault", "api", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "CAMVAULT_API_WORKERS": "2"},
            )
        self.open: list[http.client.HTTPConnection] = []

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def workers(self) -> set[int]:
        return {pid for pid in children(self.process.pid) if is_worker(pid)}

    def connect(self) -> tuple[http.client.HTTPConnection, int]:
        """A new keep-alive connection that got an answer, and the worker that holds it."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        self.open.append(connection)
        answer = self.request(connection, "GET", "/api/v1/healthz")
        assert answer[0] == 200, answer
        return connection, self.holder(connection)

    def holder(self, connection: http.client.HTTPConnection) -> int:
        """The worker process holding the server side of ``connection``."""
        inode = server_side_inode(self.port, connection.sock.getsockname()[1])
        holders = [pid for pid in self.workers() if inode in socket_inodes(pid)]
        assert len(holders) == 1, (inode, holders)
        return holders[0]

    def held(self) -> Counter[int]:
        """How many of this test's open connections each worker holds."""
        return Counter(self.holder(connection) for connection in self.open)

    def one_per_worker(self) -> dict[int, http.client.HTTPConnection]:
        """Open connections until every worker holds one (the kernel picks who accepts)."""
        found: dict[int, http.client.HTTPConnection] = {}
        deadline = time.monotonic() + START_S
        while len(found) < 2:
            assert time.monotonic() < deadline, f"only workers {sorted(found)} answered: {self.output()}"
            connection, pid = self.connect()
            if pid in found:  # keep one per worker
                self.open.remove(connection)
                connection.close()
                time.sleep(0.02)
            found.setdefault(pid, connection)
        return found

    @staticmethod
    def request(
        connection: http.client.HTTPConnection, method: str, path: str, body: object = None
    ) -> tuple[int, http.client.HTTPMessage, object]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.msg, json.loads(response.read())

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_S
        while len(self.workers()) < 2 or not self.answers():
            assert self.process.poll() is None, f"camvault api ended: {self.output()}"
            assert time.monotonic() < deadline, f"camvault api did not answer: {self.output()}"
            time.sleep(0.2)

    def answers(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            return self.request(connection, "GET", "/api/v1/healthz")[0] == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        for connection in self.open:
            connection.close()
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            for pid in children(self.process.pid):
                os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait()
            raise


@pytest.fixture
def config(tmp_path: Path) -> Path:
    config = init_data(tmp_path / "data", {"auth.login_attempts": ATTEMPTS})
    assert (
        camvault(
            "user", "add", "alice", "--password-stdin", "--config", config, stdin="alice's password\n"
        ).code
        == 0
    )
    return config


@pytest.fixture
def api(config: Path, tmp_path: Path) -> Iterator[Api]:
    server = Api(config, tmp_path / "api.log")
    try:
        server.wait_until_up()
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


def test_two_workers_answer_and_count_failed_logins_together(api: Api) -> None:
    first, second = api.one_per_worker().values()
    wrong = {"username": "alice", "password": "not her password"}
    right = {"username": "alice", "password": PASSWORD}
    for connection in (first, second, first):  # failures spread over both workers
        assert api.request(connection, "POST", "/api/v1/login", wrong)[0] == 401
    for connection in (second, first):  # each worker sees all three: even the right password waits
        status, headers, body = api.request(connection, "POST", "/api/v1/login", right)
        assert status == 429, body
        assert 0 < int(headers["Retry-After"]) <= 900
    for _ in range(4):  # and so does every new connection, whichever worker takes it
        connection, _ = api.connect()
        assert api.request(connection, "POST", "/api/v1/login", right)[0] == 429


def test_connections_are_shared_evenly_between_the_workers(api: Api) -> None:
    """Each new connection goes to the worker holding the fewest: 50 keep-alive connections
    (a load test, a page of thumbnails) end up 25 and 25, not as the race to accept falls."""
    for _ in range(50):
        api.connect()
    assert sorted(api.held().values()) == [25, 25], api.held()
    first = api.holder(api.open[0])
    for connection in [c for c in api.open if api.holder(c) == first][:10]:
        api.open.remove(connection)
        connection.close()  # the worker tells the supervisor, which counts it
    assert sorted(api.held().values()) == [15, 25]
    time.sleep(0.5)  # for the closes to reach the supervisor
    for _ in range(10):  # new connections go to the worker that has room (alternating: 20/30)
        api.connect()
    assert sorted(api.held().values()) == [25, 25], api.held()


def test_connections_closed_together_are_counted_at_once(api: Api) -> None:
    """A load test that ends and starts again closes 50 connections and opens 50 new ones within
    milliseconds, before a busy worker has noticed its closes. The supervisor sees each close
    itself, so the new ones still split 25/25. (Counting from the workers' reports alone sent
    them all to the worker that had reported, a little more each round.)"""
    for _ in range(50):
        api.connect()
    assert sorted(api.held().values()) == [25, 25], api.held()
    busy = api.holder(api.open[0])
    os.kill(busy, signal.SIGSTOP)  # a worker too busy to notice its connections closing
    try:
        for connection in api.open:
            connection.close()
        api.open.clear()
        time.sleep(0.3)
        for _ in range(50):
            connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=20)
            connection.connect()  # no request yet: the stopped worker would not answer
            api.open.append(connection)
        time.sleep(0.3)  # for the supervisor to hand them all over
    finally:
        os.kill(busy, signal.SIGCONT)
    wait_until(lambda: all_held(api))
    assert sorted(api.held().values()) == [25, 25], api.held()
    assert all(api.request(connection, "GET", "/api/v1/healthz")[0] == 200 for connection in api.open)


def all_held(api: Api) -> bool:
    """Whether every open connection of the test has been adopted by a worker."""
    try:
        api.held()
    except AssertionError:  # a worker has not taken its copy yet
        return False
    return True


def test_a_connection_the_worker_closes_ends_for_the_client(api: Api) -> None:
    """The supervisor keeps a copy of every connection it hands over; when the worker closes one
    (``Connection: close``, its keep-alive timeout, shutdown), the client must still see the end."""
    connection, _ = api.connect()
    connection.request("GET", "/api/v1/healthz", headers={"Connection": "close"})
    response = connection.getresponse()
    assert response.status == 200
    response.read()
    sock = socket.create_connection(("127.0.0.1", api.port), timeout=5)
    with sock:
        sock.sendall(b"GET /api/v1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # ends (b"") only when the server side is closed
            received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received


def test_sigterm_stops_every_worker_with_status_0(api: Api) -> None:
    workers = api.workers()
    everything = children(api.process.pid)  # the workers and multiprocessing's resource tracker
    assert api.stop(signal.SIGTERM) == 0
    assert workers and workers < everything
    deadline = time.monotonic() + 5  # the resource tracker ends when it sees the supervisor gone
    while left := [pid for pid in everything if is_running(pid)]:
        assert time.monotonic() < deadline, f"left running: {left}"
        time.sleep(0.05)
    output = api.output()
    assert output.count("Application shutdown complete.") == 2, output
    assert "leaked" not in output and "Traceback" not in output, output
    for pid in workers:
        assert f"Finished server process [{pid}]" in output
    # each worker closed its connections: SQLite removes a WAL file when its last one closes
    assert not list(api.data.glob("*.db-wal"))


def test_a_worker_that_dies_is_reported_and_replaced(api: Api) -> None:
    before = api.workers()
    by_worker = api.one_per_worker()
    victim = min(before)
    held = [by_worker[victim]]  # the victim's connections end with it, not hang
    api.open.remove(held[0])
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + START_S
    while f"API worker {victim} died" not in api.output() or len(api.workers() - before) < 1:
        assert time.monotonic() < deadline, api.output()
        time.sleep(0.2)
    (replacement,) = api.workers() - before
    assert set(api.one_per_worker()) == before - {victim} | {replacement}  # both answer again
    assert all(connection.sock.recv(1) == b"" for connection in held)  # they ended with it
    assert api.stop(signal.SIGINT) == 0


@pytest.mark.parametrize("value", ["0", "-1", "65", "x"])
def test_a_bad_worker_count_is_refused_with_the_fix(value: str, config: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(str(config), {"CAMVAULT_API_WORKERS": value}, config.parent)
    assert "[api] workers" in str(refused.value) and "whole number" in str(refused.value)


def test_the_api_verb_refuses_a_bad_worker_count_before_starting(config: Path) -> None:
    set_key(config, "api.listen", f"127.0.0.1:{free_port()}")
    run = camvault_process("api", "--config", config, env={"CAMVAULT_API_WORKERS": "0"})
    assert run.code == 1
    assert run.err.count("\n") == 1, run.err
    assert "CAMVAULT_API_WORKERS" in run.err or "[api] workers" in run.err, run.err
    assert "from 1 to 64" in run.err, run.err


def test_a_worker_app_closes_its_connections_when_it_shuts_down(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMVAULT_CONFIG", str(config))  # as the supervisor passes it on
    app = worker_app()
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:  # runs the lifespan
        answer = client.post("/api/v1/login", json={"username": "alice", "password": PASSWORD})
        assert answer.status_code == 200
        assert list(config.parent.glob("accounts.db-wal"))  # the worker's connection is open
    # closed at shutdown: SQLite removes a WAL file when its last connection closes (and the
    # leak check of this test finds any descriptor left open)
    assert not list(config.parent.glob("*.db-wal"))


def test_a_worker_that_cannot_start_says_why_and_exits_as_a_startup_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "camvault.toml"
    broken.write_text('[api]\nlisten = "127.0.0.1:8080"\nworkes = 2\n', encoding="utf-8")
    monkeypatch.setenv("CAMVAULT_CONFIG", str(broken))
    with pytest.raises(SystemExit) as stopped:
        worker_app()
    assert stopped.value.code == STARTUP_FAILURE  # the supervisor stops instead of restarting it
    error = capsys.readouterr().err
    assert error.startswith(f"camvault: error: API worker {os.getpid()} could not start: ")
    assert "workes" in error and error.count("\n") == 1
