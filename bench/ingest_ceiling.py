"""The ceiling of any pyftpdlib server: stock pyftpdlib against vsftpd on the snapshot phase.

``bench/ingest`` compares the camvault gateway with vsftpd. This script asks how far a server
built on pyftpdlib could get at all: it runs pyftpdlib 2's own servers with nothing of camvault in
them (``DummyAuthorizer``, one anonymous user, uploads written to a temporary folder, no fsync, no
outbox, no uploader, no logging) in each of its three models, and vsftpd, through the same
``ftplib`` clients as ``bench/ingest`` (16 processes, each 200 snapshots of 300 KB by default),
servers taking turns going first in each round::

    python bench/ingest_ceiling.py            # 3 rounds, about 2 minutes
    python bench/ingest_ceiling.py --quick    # checks that it works

The models: ``FTPServer`` (one thread, one I/O loop for every connection), ``ThreadedFTPServer``
(a thread per connection; the gateway's model) and ``MultiprocessFTPServer`` (a forked process
per connection, like vsftpd).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.ingest import (
    Result,
    Server,
    cell,
    concurrent_snapshots,
    free_port,
    spread,
    vsftpd,
    wait_for_port,
)
from bench.procfs import cpu_model

MODELS = ("FTPServer", "ThreadedFTPServer", "MultiprocessFTPServer")
PASSIVE_BASE, PASSIVE_BLOCK = 20000, 2000


def serve(model: str, port: int, root: str, low: int, high: int) -> None:
    """Run stock pyftpdlib: the server process started by :func:`stock`."""
    import logging
    import threading

    from pyftpdlib import servers
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.handlers.ftp.dispatchers import PassiveDTP

    class SerialPassiveDTP(PassiveDTP):  # type: ignore[misc]
        """pyftpdlib's threaded model can give two connections the same passive port (bind, then
        listen); the gateway chooses ports under a lock, and so does this reference."""

        lock = threading.Lock()

        def __init__(self, cmd_channel: object, extmode: bool = False) -> None:
            with self.lock:
                super().__init__(cmd_channel, extmode)

    logging.disable(logging.CRITICAL)
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(root, perm="elradfmw")
    ports = list(range(low, high))
    attributes = {"authorizer": authorizer, "passive_ports": ports, "passive_dtp": SerialPassiveDTP}
    handler = type("Handler", (FTPHandler,), attributes)
    server = getattr(servers, model)(("127.0.0.1", port), handler)
    server.max_cons = server.max_cons_per_ip = 0
    server.serve_forever(handle_exit=True)


@contextlib.contextmanager
def stock(model: str, folder: Path, passive_ports: tuple[int, int]) -> Iterator[Server]:
    root = folder / "upload"
    root.mkdir()
    port = free_port()
    low, high = passive_ports
    command = [sys.executable, __file__, "--serve", model, str(port), str(root), str(low), str(high)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield Server(f"pyftpdlib {model}", port, "anonymous", "bench@", process.pid)
    finally:
        process.terminate()
        process.wait(10)


def run(args: argparse.Namespace, folder: Path) -> None:
    size = args.size_kb * 1024
    results: dict[str, list[Result]] = {}
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(vsftpd(_fresh(folder, "vsftpd"), _passive_ports(0)))]
        for number, model in enumerate(MODELS, start=1):
            servers.append(stack.enter_context(stock(model, _fresh(folder, model), _passive_ports(number))))
        for round_ in range(args.rounds):
            shift = round_ % len(servers)
            for server in servers[shift:] + servers[:shift]:
                print(f"round {round_ + 1}, {server.name}: {args.clients} x {args.files} ...", flush=True)
                os.sync()
                found = concurrent_snapshots(server, args.clients, args.files, size, round_)
                results.setdefault(server.name, []).append(found)
    reference = [r.files_per_s for r in results["vsftpd"]]
    print()
    python = platform.python_version()
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {cpu_model()}, Python {python}")
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {args.rounds} rounds; load {os.getloadavg()[0]:.1f}")
    print(f"{args.clients} clients x {args.files} snapshots of {args.size_kb} KB; median (lowest–highest)")
    print()
    print("| server | files/s | ratio to vsftpd, same round |")
    print("|---|---|---|")
    for name, runs in results.items():
        rates = [r.files_per_s for r in runs]
        print(f"| {name} | {cell(rates, 'files/s')} | {spread(rates, reference)} |")


def _passive_ports(server: int) -> tuple[int, int]:
    """A block of passive ports of its own for each server, below Linux's ephemeral range:
    ports a server left in TIME_WAIT are never offered by another one."""
    low = PASSIVE_BASE + server * PASSIVE_BLOCK
    return low, low + PASSIVE_BLOCK - 1


def _fresh(folder: Path, name: str) -> Path:
    path = folder / name
    path.mkdir()
    return path


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "--serve":
        model, port, root, low, high = sys.argv[2:]
        serve(model, int(port), root, int(low), int(high))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size-kb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small run to check that everything works")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.files, args.rounds = 4, 20, 1
    with tempfile.TemporaryDirectory(prefix="camvault-bench-") as folder:
        run(args, Path(folder))


if __name__ == "__main__":
    main()
