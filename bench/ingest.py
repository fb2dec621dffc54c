"""FTP ingest benchmark: camvault's gateway against Debian's vsftpd, in one run on one machine.

Both servers get the same work from the same clients (one ``ftplib`` process per client):

1. one large upload (200 MB by default);
2. 16 clients at once, each uploading 200 snapshots of 300 KB over its own session;

each phase ``--rounds`` times (3 by default), the two servers taking turns going first, so both meet
the same load of a shared machine; the report gives the median and the range of each figure and of
the per-round ratio. For the gateway, its resident memory with 32 logged-in idle cameras (``VmRSS``)
and its peak (``VmHWM``) over the whole run, and its CPU time per snapshot (user + system, all
threads) until the last ``226`` and until its spool has drained into the store. vsftpd is started
by this script on free loopback ports from a temporary config (``run_as_launching_user``, anonymous
upload into a temporary folder), which works for any user, root included. The gateway is the real
``camvault gateway`` process: every upload is fsynced and recorded in the outbox before ``226``, and
its uploader copies each file into the ``file://`` object store meanwhile; vsftpd only writes to the
page cache.
"""

from __future__ import annotations

import argparse
import contextlib
import ftplib
import io
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# run as a script, bench/ is on sys.path but its parent (the package root) is not
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.procfs import cpu_model, cpu_seconds

PASSWORD = secrets.token_urlsafe(16)  # a throwaway camera in a temporary data folder
MB = 1 << 20


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    user: str
    password: str
    pid: int
    queue: Path | None = None
    """The gateway's spool queue: uploads not yet in the object store."""


@dataclass(frozen=True)
class Result:
    seconds: float
    files: int
    size: int
    cpu_s: float = 0.0
    """For the gateway: its CPU time (user + system, all threads) until the last ``226``."""
    drained_s: float = 0.0
    """For the gateway: seconds from the start until its spool was empty (all in the store)."""
    drained_cpu_s: float = 0.0
    """For the gateway: its CPU time until then."""

    @property
    def mb_per_s(self) -> float:
        return self.size / MB / self.seconds

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def passive_range() -> tuple[int, int]:
    low = free_port()
    low = min(low, 65000)
    return low, low + 100


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {timeout}s")


@contextlib.contextmanager
def vsftpd(folder: Path, passive_ports: tuple[int, int] | None = None) -> Iterator[Server]:
    binary = shutil.which("vsftpd") or "/usr/sbin/vsftpd"
    root, empty = folder / "upload", folder / "empty"
    root.mkdir(mode=0o700)
    empty.mkdir(mode=0o755)
    port = free_port()
    low, high = passive_ports or passive_range()
    config = folder / "vsftpd.conf"
    config.write_text(
        "\n".join(
            [
                "listen=YES",
                "listen_ipv6=NO",
                "listen_address=127.0.0.1",
                f"listen_port={port}",
                "background=NO",
                "run_as_launching_user=YES",
                "anonymous_enable=YES",
                "local_enable=NO",
                f"anon_root={root}",
                "no_anon_password=YES",
                "anon_upload_enable=YES",
                "anon_mkdir_write_enable=YES",
                "anon_other_write_enable=YES",
                "write_enable=YES",
                "anon_umask=077",
                f"pasv_min_port={low}",
                f"pasv_max_port={high}",
                "seccomp_sandbox=NO",
                "xferlog_enable=NO",
                "max_clients=200",
                "max_per_ip=200",
                f"secure_chroot_dir={empty}",
                "",
            ]
        )
    )
    process = subprocess.Popen([binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield Server("vsftpd", port, "anonymous", "bench@", process.pid)
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def gateway(folder: Path) -> Iterator[Server]:
    data = folder / "camvault"
    port = free_port()
    low, high = passive_range()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    camvault = [sys.executable, "-m", "camvault"]
    subprocess.run([*camvault, "init", str(data)], check=True, capture_output=True, env=env)
    config = str(data / "camvault.toml")
    env |= {
        "CAMVAULT_GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "CAMVAULT_GATEWAY_PASSIVE_PORTS": f"{low}-{high}",
        "CAMVAULT_GATEWAY_MAX_CONNECTIONS_PER_IP": "0",
        "CAMVAULT_GATEWAY_SPOOL_MAX_MB": "0",
        "CAMVAULT_GATEWAY_SPOOL_MIN_FREE_MB": "0",
    }
    add = [*camvault, "camera", "add", "bench", "--timezone", "UTC", "--password-stdin", "--config", config]
    subprocess.run(add, input=f"{PASSWORD}\n".encode(), check=True, capture_output=True, env=env)
    log = (folder / "gateway.log").open("wb")
    process = subprocess.Popen([*camvault, "gateway", "--config", config], stdout=log, stderr=log, env=env)
    try:
        wait_for_port(port, process)
        yield Server("camvault gateway", port, "bench", PASSWORD, process.pid, data / "spool" / "queue")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def login(server: Server) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", server.port, timeout=120)
    ftp.login(server.user, server.password)
    return ftp


def upload_many(server: Server, client: int, files: int, payload: bytes, start: float, round_: int) -> None:
    with login(server) as ftp:
        while time.time() < start:
            time.sleep(0.001)
        for number in range(files):
            minute, second = divmod(number, 60)
            name = f"MDAlarm_202401{10 + round_:02d}-{client:02d}{minute:02d}{second:02d}.jpg"
            ftp.storbinary(f"STOR {name}", io.BytesIO(payload), blocksize=64 * 1024)


def concurrent_snapshots(server: Server, clients: int, files: int, size: int, round_: int) -> Result:
    payload = os.urandom(size)
    start = time.time() + 2.0  # every client logged in and waiting before the clock starts
    workers = [
        multiprocessing.Process(target=upload_many, args=(server, client, files, payload, start, round_))
        for client in range(clients)
    ]
    for worker in workers:
        worker.start()
    time.sleep(max(0.0, start - time.time()))  # the logins are not part of the figure
    cpu_before = cpu_seconds(server.pid)
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a client failed against {server.name}")
    seconds, cpu = time.time() - start, cpu_seconds(server.pid) - cpu_before
    drained = drained_cpu = 0.0
    if server.queue is not None:
        wait_for_drain(server)
        drained, drained_cpu = time.time() - start, cpu_seconds(server.pid) - cpu_before
    return Result(seconds, clients * files, clients * files * size, cpu, drained, drained_cpu)


def large_upload(server: Server, source: Path, round_: int) -> Result:
    with login(server) as ftp, source.open("rb") as data:
        started = time.perf_counter()
        ftp.storbinary(f"STOR Front_00_202401{10 + round_:02d}130507.mp4", data, blocksize=256 * 1024)
        seconds = time.perf_counter() - started
    return Result(seconds, 1, source.stat().st_size)


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} for process {pid}")


def idle_rss(server: Server, cameras: int) -> int:
    sessions = [login(server) for _ in range(cameras)]
    try:
        time.sleep(1.0)
        return memory_kb(server.pid, "VmRSS")
    finally:
        for ftp in sessions:
            ftp.quit()


def wait_for_drain(server: Server, timeout: float = 600) -> None:
    """Wait until the gateway's uploader has sent everything to the object store."""
    deadline = time.monotonic() + timeout
    while server.queue is not None and any(server.queue.iterdir()):
        if time.monotonic() > deadline:
            raise SystemExit(f"the gateway's spool did not drain within {timeout}s")
        time.sleep(0.05)


def settle(server: Server) -> None:
    """Start a phase from rest: the gateway's uploader has sent everything, and no dirty pages
    left by an earlier phase are waiting to be written."""
    wait_for_drain(server)
    os.sync()


def run(args: argparse.Namespace, folder: Path) -> None:
    large = folder / "large.bin"
    with large.open("wb") as handle:
        for _ in range(args.large_mb):
            handle.write(os.urandom(MB))
    size = args.size_kb * 1024
    results: dict[str, list[Result]] = {}
    memory: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        servers = []
        for name, start in (("vsftpd", vsftpd), ("gateway", gateway)):
            (folder / name).mkdir()
            servers.append(stack.enter_context(start(folder / name)))
        memory["idle"] = idle_rss(servers[1], args.idle)
        for round_ in range(args.rounds):
            ordered = servers if round_ % 2 == 0 else servers[::-1]  # each goes first in turn
            for server in ordered:
                print(f"round {round_ + 1}, {server.name}: large upload ...", flush=True)
                settle(server)
                results.setdefault(f"large {server.name}", []).append(large_upload(server, large, round_))
            for server in ordered:
                print(
                    f"round {round_ + 1}, {server.name}: {args.clients} clients x {args.files} ...",
                    flush=True,
                )
                settle(server)
                found = concurrent_snapshots(server, args.clients, args.files, size, round_)
                results.setdefault(f"snapshots {server.name}", []).append(found)
        memory["peak"] = memory_kb(servers[1].pid, "VmHWM")
    report(args, results, memory)


def spread(gateway: list[float], reference: list[float]) -> str:
    ratios = sorted(mine / theirs for mine, theirs in zip(gateway, reference, strict=True))
    return f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}–{ratios[-1]:.2f})"


def report(args: argparse.Namespace, results: dict[str, list[Result]], memory: dict[str, int]) -> None:
    gateway = "camvault gateway"
    big, ref_big = results[f"large {gateway}"], results["large vsftpd"]
    many, ref_many = results[f"snapshots {gateway}"], results["snapshots vsftpd"]
    print()
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.machine()}, {cpu_model()}, "
          f"Python {platform.python_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
          f"{args.rounds} rounds, servers alternating; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("each cell: median (lowest–highest) over the rounds; ratio: per round, same round")
    print()
    print("| run | vsftpd | camvault gateway | ratio gateway/vsftpd | goal |")
    print("|---|---|---|---|---|")
    mbs, ref_mbs = [r.mb_per_s for r in big], [r.mb_per_s for r in ref_big]
    fps, ref_fps = [r.files_per_s for r in many], [r.files_per_s for r in ref_many]
    print(
        f"| one {args.large_mb} MB upload | {cell(ref_mbs, 'MB/s')} | {cell(mbs, 'MB/s')} "
        f"| {spread(mbs, ref_mbs)} | >= 0.9 |"
    )
    print(
        f"| {args.clients} clients x {args.files} snapshots of {args.size_kb} KB "
        f"| {cell(ref_fps, 'files/s')} | {cell(fps, 'files/s')} | {spread(fps, ref_fps)} | >= 1.0 |"
    )
    accepted = cell([1000 * r.cpu_s / r.files for r in many], "ms", 1)
    drained = cell([1000 * r.drained_cpu_s / r.files for r in many], "ms", 1)
    print(f"| gateway CPU per file, until the last 226 / until drained | | {accepted} / {drained} | | |")
    print(f"| gateway: time until its spool drained | | {cell([r.drained_s for r in many], 's', 1)} | | |")
    print(
        f"| gateway RSS, {args.idle} idle cameras logged in | | {memory['idle'] / 1024:.1f} MB | | <= 64 MB |"
    )
    print(f"| gateway peak RSS over the whole run | | {memory['peak'] / 1024:.1f} MB | | |")


def cell(values: list[float], unit: str, digits: int = 0) -> str:
    ordered = sorted(values)
    low, median, high = ordered[0], statistics.median(ordered), ordered[-1]
    return f"{median:.{digits}f} {unit} ({low:.{digits}f}–{high:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size-kb", type=int, default=300)
    parser.add_argument("--large-mb", type=int, default=200)
    parser.add_argument("--idle", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=3, help="each phase this many times, servers alternating"
    )
    parser.add_argument("--quick", action="store_true", help="a small run to check that everything works")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.files, args.large_mb, args.idle, args.rounds = 4, 20, 20, 8, 2
    with tempfile.TemporaryDirectory(prefix="camvault-bench-") as folder:
        run(args, Path(folder))


if __name__ == "__main__":
    main()
