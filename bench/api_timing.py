"""``bench/api``: the API over a catalog of 1,000,000 events, in-process and over HTTP.

Steps (each prints its numbers; all of them end in a summary to paste into docs/benchmarks.md):

1. build the catalog once (cached in ``--cache DIR``, default ``/tmp/camvault-bench``);
2. in-process: the newest page of 50 and a page deep in the past reached by a cursor, each as
   the events route does it (catalog query + JSON), p50 and p99;
3. over HTTP: the real ``camvault api`` command (uvicorn) in its own process, 50 concurrent
   clients on keep-alive connections with an API token (``wrk`` when installed, else a minimal
   Python client), p50, p99 and requests/s for both pages;
4. the first timeline render in chromium (``bench.timeline_render``), against the same server.

Goals: in-process p99 <= 5 ms, HTTP p99 <= 50 ms at 50 clients, first render <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from bench.catalog_build import cached_catalog
from bench.procfs import cpu_model, cpu_seconds

from camvault.api.events import page_body
from camvault.catalog.base import EventQuery, Position, encode_cursor, page_reader
from camvault.catalog.sqlite import SQLiteCatalog

EVENTS = 1_000_000
DEEP = 900_000  # the deep page starts this many events back from the newest
IN_PROCESS_GOAL_MS, HTTP_GOAL_MS = 5.0, 50.0


@dataclass(frozen=True)
class Timing:
    name: str
    p50: float
    p99: float
    count: int
    seconds: float = 0.0
    cpu_ms: float = 0.0  # CPU time the work itself used (median per call, or server CPU per request)

    @classmethod
    def of(cls, name: str, samples_ms: list[float], seconds: float = 0.0, cpu_ms: float = 0.0) -> Timing:
        ordered = sorted(samples_ms)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return cls(name, statistics.median(ordered), p99, len(ordered), seconds, cpu_ms)

    def line(self, goal_ms: float) -> str:
        rate = f", {self.count / self.seconds:,.0f} requests/s" if self.seconds else ""
        verdict = "meets" if self.p99 <= goal_ms else "MISSES"
        return (
            f"{self.name}: p50 {self.p50:.2f} ms, p99 {self.p99:.2f} ms over {self.count:,} "
            f"requests{rate}, CPU {self.cpu_ms:.2f} ms per request ({verdict} the {goal_ms:g} ms goal)"
        )


def deep_cursor(catalog_path: Path, back: int) -> str:
    """The cursor a client holds after paging newest-first down to ``back`` events from the newest."""
    db = sqlite3.connect(f"file:{catalog_path}?mode=ro", uri=True)
    try:
        row = db.execute(
            "SELECT capture_ms, id FROM events ORDER BY capture_ms DESC, id DESC LIMIT 1 OFFSET ?", (back,)
        ).fetchone()
    finally:
        db.close()
    if row is None:
        raise SystemExit(f"the catalog has fewer than {back + 1} events; use --events {back + 1000} or more")
    return encode_cursor(Position(int(row[0]), str(row[1])))


def in_process(catalog_path: Path, cursor: str, runs: int) -> list[Timing]:
    timings = []
    with SQLiteCatalog(catalog_path) as catalog:
        for name, query in (
            ("in-process newest page", EventQuery(limit=50)),
            ("in-process deep page", EventQuery(limit=50, cursor=cursor)),
        ):
            samples, cpu = _repeat(lambda q=query: _page_json(catalog, q), runs)
            timings.append(Timing.of(name, samples, cpu_ms=cpu))
    return timings


def _page_json(catalog: SQLiteCatalog, query: EventQuery) -> str:
    """What ``GET /api/v1/events`` does for one page, without HTTP: the query and the body."""
    body = page_body(page_reader(catalog)(query))
    assert body.count('"capture_time"') == 50
    return body


def _repeat(work: Callable[[], object], runs: int) -> tuple[list[float], float]:
    """Wall-clock milliseconds of each run, and the median CPU milliseconds of one run."""
    for _ in range(min(100, runs)):
        work()
    samples, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        work()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return samples, statistics.median(cpu)


class Server:
    """``camvault api`` on a free loopback port, with a fresh config over the cached catalog."""

    def __init__(self, catalog_path: Path, folder: Path, workers: int = 1) -> None:
        self.config = folder / "camvault.toml"
        init = _camvault("init", str(folder))
        self.admin_secret = init.split("keep it safe): ", 1)[1].split()[0]
        self.token = _camvault("token", "create", "bench", "--config", str(self.config)).split()[-1]
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "CAMVAULT_CATALOG_URL": f"sqlite:///{catalog_path.resolve()}",
            "CAMVAULT_API_LISTEN": f"127.0.0.1:{self.port}",
            "CAMVAULT_API_WORKERS": str(workers),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "camvault", "api", "--config", str(self.config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/healthz", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("camvault api did not start")

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far (user + system), its worker processes included
        (those still running: measure between two reads while they all run)."""
        return sum(cpu_seconds(pid) for pid in _process_tree(self.process.pid))

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


def over_http(server: Server, cursor: str, clients: int, seconds: float) -> list[Timing]:
    """Both pages under load, with ``wrk`` (C, Debian package ``wrk``) when it is installed: it
    costs the shared CPU a fraction of what a Python client does. Otherwise a minimal Python client."""
    timings = []
    wrk = shutil.which("wrk")
    for name, params in (
        ("HTTP newest page", {"limit": "50"}),
        ("HTTP deep page", {"limit": "50", "cursor": cursor}),
    ):
        label = f"{name} ({clients} clients, {'wrk' if wrk else 'Python client'})"
        if wrk:
            timings.append(_wrk(wrk, server, label, params, clients, seconds))
            continue
        samples, elapsed, cpu_s = asyncio.run(_load(server, params, clients, seconds))
        timings.append(Timing.of(label, samples, elapsed, cpu_s * 1000 / max(1, len(samples))))
    return timings


def _wrk(
    wrk: str, server: Server, label: str, params: dict[str, str], clients: int, seconds: float
) -> Timing:
    """One ``wrk`` run (1 s of warm-up first): its latency percentiles, rate and the server's CPU."""
    url = f"{server.url}/api/v1/events?{urlencode(params)}"
    command = [wrk, "-t1", f"-c{clients}", "-H", f"Authorization: Bearer {server.token}", "--latency"]
    subprocess.run([*command, "-d1s", url], capture_output=True, check=True, timeout=60)
    cpu_before = server.cpu_seconds()
    done = subprocess.run(
        [*command, f"-d{seconds:g}s", url], capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    cpu_s = server.cpu_seconds() - cpu_before
    return parse_wrk(label, done.stdout, cpu_s)


def parse_wrk(label: str, output: str, cpu_s: float) -> Timing:
    """A ``Timing`` from ``wrk --latency`` output; an error when any answer was not a 2xx."""
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw failed requests:\n{output}")
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([0-9.]+(?:us|ms|s))$", output, re.MULTILINE))
    requests = re.search(r"^\s+(\d+) requests in ([0-9.]+)(us|ms|s|m)", output, re.MULTILINE)
    if len(percentiles) != 2 or requests is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    count = int(requests.group(1))
    seconds = _milliseconds(requests.group(2) + requests.group(3)) / 1000
    return Timing(
        label,
        _milliseconds(percentiles["50"]),
        _milliseconds(percentiles["99"]),
        count,
        seconds,
        cpu_s * 1000 / max(1, count),
    )


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


async def _load(
    server: Server, params: dict[str, str], clients: int, seconds: float
) -> tuple[list[float], float, float]:
    """``clients`` keep-alive connections, each sending its next request when the last is answered:
    1 s of warm-up, then ``seconds`` measured. Returns the latencies, the measured seconds and
    the server's CPU seconds over them (the warm-up excluded).

    A minimal HTTP/1.1 client on asyncio streams: a full-featured client costs more CPU per request
    than the server does, and on one machine it would measure itself.
    """
    target = f"/api/v1/events?{urlencode(params)}"
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token}\r\n\r\n"
    ).encode()
    samples: list[float] = []

    async def one_client(until: float, record: bool) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            while time.perf_counter() < until:
                started = time.perf_counter()
                writer.write(request)
                await _read_response(reader)
                if record:
                    samples.append((time.perf_counter() - started) * 1000)
        finally:
            writer.close()
            await writer.wait_closed()

    warm_until = time.perf_counter() + 1.0
    await asyncio.gather(*(one_client(warm_until, False) for _ in range(clients)))
    cpu_before, started = server.cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(one_client(started + seconds, True) for _ in range(clients)))
    return samples, time.perf_counter() - started, server.cpu_seconds() - cpu_before


async def _read_response(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise RuntimeError(f"the API answered {status.decode()}: {head.decode(errors='replace')}")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)


def machine() -> str:
    load = os.getloadavg()[0]
    return (
        f"{cpu_model()}, {os.cpu_count()} cores (load average {load:.1f} at start), Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def _camvault(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "camvault", *args], capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode:
        raise RuntimeError(f"camvault {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's supervisor spawns a resource tracker and workers)."""
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        found.append(current)
        children = Path(f"/proc/{current}/task/{current}/children")
        waiting.extend(int(child) for child in children.read_text().split())
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/api", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="catalog size (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=2000, help="in-process repetitions per page")
    parser.add_argument("--clients", type=int, default=50, help="concurrent HTTP clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="HTTP load per page, in seconds")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes of `camvault api` ([api] workers)"
    )
    parser.add_argument("--no-browser", action="store_true", help="skip the chromium first-render step")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "camvault-bench",
        help="folder that keeps the built catalog between runs (default /tmp/camvault-bench)",
    )
    args = parser.parse_args(argv)
    folder = args.cache / "api"
    print(f"machine: {machine()}; camvault api with {args.workers} worker process(es)")
    catalog_path = cached_catalog(folder, args.events)
    cursor = deep_cursor(catalog_path, min(DEEP, args.events * 9 // 10))
    results = [t.line(IN_PROCESS_GOAL_MS) for t in in_process(catalog_path, cursor, args.runs)]
    for line in results:
        print(line)
    with tempfile.TemporaryDirectory(prefix="camvault-bench-api-") as scratch:
        server = Server(catalog_path, Path(scratch) / "site", args.workers)
        try:
            for timing in over_http(server, cursor, args.clients, args.seconds):
                results.append(timing.line(HTTP_GOAL_MS))
                print(results[-1])
            if not args.no_browser:
                from bench.timeline_render import measure_first_render

                results.append(measure_first_render(server.url, "admin", server.admin_secret).summary())
                print(results[-1])
        finally:
            server.stop()
    print("\nsummary:\n" + "\n".join(f"- {line}" for line in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
