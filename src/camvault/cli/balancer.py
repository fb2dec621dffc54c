"""``camvault api`` with several worker processes: one process accepts, the workers answer.

When every worker accepts on the shared listening socket, a connection stays with the worker
that won the race, and connections opened together split unevenly (31/19 of 50 over two
workers); the worker holding more answers each of them later (see docs/benchmarks.md). Here
the supervisor accepts every connection itself and hands it (its file descriptor, over a Unix
socket pair) to the worker holding the fewest open connections.

How many a worker holds must be known at once: a load test that ends and starts again closes
50 connections and opens 50 new ones within milliseconds, before a busy worker's loop has even
noticed the closes, and counts taken from the workers' reports alone then sent most of the new
ones to one worker, a little more each round (50/0 after five rounds). So the supervisor keeps
its own copy of every connection it handed over, and the kernel tells it (``EPOLLRDHUP``) the
moment the client closes one; a worker that closes a connection itself says which, and the
supervisor closes its copy then (until it does, the client does not see the close).

The workers are fresh interpreters (spawned, not forked) that build their app with
``serving.worker_app`` and answer with uvicorn on the connections handed to them.

A worker that dies is reported and replaced; one that cannot start stops them all. SIGINT or
SIGTERM stops accepting, then stops every worker (uvicorn finishes the requests in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import select
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

READY, CLOSED, TAKE = b"R", b"-", b"+"  # CLOSED and TAKE are followed by the connection's id
MESSAGE_BYTES = 64
STARTUP_S = 120.0  # a worker that has not started by then is reported and the API stops
STOP_S = 30.0  # a worker still running this long after SIGTERM is killed
log = logging.getLogger("camvault.api")


class WorkerFailed(Exception):
    """A worker could not start (it printed why)."""


@dataclass
class _Worker:
    process: BaseProcess
    channel: socket.socket  # the supervisor's end
    ready: bool = False
    connections: dict[bytes, socket.socket] = field(default_factory=dict)
    """The supervisor's copies of the connections this worker holds, by the id sent with each."""

    @property
    def open(self) -> int:
        return len(self.connections)


@dataclass
class Supervisor:
    """Runs ``count`` workers (``target(channel)`` in each) and balances ``listener``'s
    connections over them."""

    listener: socket.socket
    count: int
    target: Callable[[socket.socket], None]
    workers: list[_Worker] = field(default_factory=list)
    _selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    _hangups: select.epoll = field(default_factory=select.epoll)
    """Reports a connection the client closed (``EPOLLRDHUP``), by file descriptor."""
    _watched: dict[int, tuple[_Worker, bytes]] = field(default_factory=dict)
    _handed: int = 0
    _stopping: bool = False

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM; raises WorkerFailed when a worker cannot start."""
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        previous_wakeup = signal.set_wakeup_fd(wake_write.fileno())
        try:
            self._selector.register(wake_read, selectors.EVENT_READ, "wake")
            self._selector.register(self._hangups.fileno(), selectors.EVENT_READ, "hangup")
            for _ in range(self.count):
                self._start_worker()
            self._wait_until_ready()
            self.listener.setblocking(False)
            self._selector.register(self.listener, selectors.EVENT_READ, "accept")
            while not self._stopping:
                self._step()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_workers()
            self._selector.close()
            self._hangups.close()
            wake_read.close()
            wake_write.close()

    def _stop(self, signum: int, frame: object) -> None:
        self._stopping = True

    def _start_worker(self) -> _Worker:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        process = multiprocessing.get_context("spawn").Process(
            target=self.target, args=(theirs,), name="camvault-api-worker"
        )
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self.workers.append(worker)
        self._selector.register(ours, selectors.EVENT_READ, worker)
        return worker

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while not self._stopping and not all(worker.ready for worker in self.workers):
            if time.monotonic() > deadline:
                raise WorkerFailed(f"an API worker did not start within {STARTUP_S:g} s")
            self._step(timeout=0.5)

    def _step(self, timeout: float = 1.0) -> None:
        for key, _ in self._selector.select(timeout):
            if key.data == "accept":
                self._accept()
            elif key.data == "hangup":
                self._hung_up()
            elif key.data != "wake":
                self._hear(key.data)
            else:
                _drain(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: say so, pause, keep serving
                log.warning("could not accept a connection: %s", exc)
                time.sleep(0.1)
                return
            self._hand_over(connection)

    def _hand_over(self, connection: socket.socket) -> None:
        """Give ``connection`` to the least busy worker, keeping a copy to watch for its close."""
        self._handed += 1
        name = str(self._handed).encode()
        for worker in sorted(self.workers, key=lambda worker: worker.open):
            try:
                socket.send_fds(worker.channel, [TAKE + name], [connection.fileno()])
            except OSError:
                continue  # that worker is gone; its exit is handled when its channel closes
            worker.connections[name] = connection
            self._watched[connection.fileno()] = (worker, name)
            self._hangups.register(connection.fileno(), select.EPOLLRDHUP)
            return
        connection.close()
        log.warning("no API worker could take a connection; it was closed")

    def _hung_up(self) -> None:
        """Forget the connections whose client has closed them (the worker closes its own)."""
        for fd, _ in self._hangups.poll(0):
            if fd in self._watched:
                self._forget(*self._watched[fd])

    def _forget(self, worker: _Worker, name: bytes) -> None:
        """Close the supervisor's copy of a connection (unwatched first: epoll keeps watching a
        connection whose copy is closed while the worker still holds it)."""
        connection = worker.connections.pop(name, None)
        if connection is None:  # already forgotten: the client and the worker both closed it
            return
        self._hangups.unregister(connection)
        del self._watched[connection.fileno()]
        connection.close()

    def _forget_all(self, worker: _Worker) -> None:
        for name in list(worker.connections):
            self._forget(worker, name)

    def _hear(self, worker: _Worker) -> None:
        try:
            message = worker.channel.recv(4096)
        except OSError:
            message = b""
        if message.startswith(CLOSED):
            self._forget(worker, message[len(CLOSED) :])
        elif message:
            worker.ready = worker.ready or message.startswith(READY)
        else:
            self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        """``worker`` has gone: one that never started stops the API, any other is replaced."""
        self._selector.unregister(worker.channel)
        worker.channel.close()
        self._forget_all(worker)  # its clients must see their connections end
        worker.process.join(timeout=STOP_S)
        self.workers.remove(worker)
        if self._stopping:
            return
        if not worker.ready:
            raise WorkerFailed(f"API worker {worker.process.pid} could not start (see the reason above)")
        log.warning(
            "API worker %s died (exit status %s); starting another",
            worker.process.pid,
            worker.process.exitcode,
        )
        self._start_worker()

    def _stop_workers(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.terminate()
        for worker in self.workers:
            worker.process.join(timeout=STOP_S)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.channel.close()
            self._forget_all(worker)
        self.workers.clear()


def _drain(wake: socket.socket) -> None:
    try:
        while wake.recv(4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def serve_handed(server: Any, channel: socket.socket) -> None:
    """In a worker: run uvicorn's ``server`` on the connections the supervisor hands over on
    ``channel`` (``server`` built with an app factory; it listens on nothing itself)."""
    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(_serve_handed(server, channel))


async def _serve_handed(server: Any, channel: socket.socket) -> None:
    serving = asyncio.ensure_future(server.serve(sockets=[]))
    while not server.started:
        if serving.done():
            await serving  # start-up failed: uvicorn exits with its start-up failure status
            return
        await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()
    channel.setblocking(False)
    channel.send(READY)
    handed = _Handed(server, channel, loop)
    loop.add_reader(channel.fileno(), handed.take)
    try:
        await serving
    finally:
        loop.remove_reader(channel.fileno())
        channel.close()


class _Handed:
    """A worker's side of the channel: adopts the connections handed over, reports closed ones."""

    def __init__(self, server: Any, channel: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.channel = channel
        self.loop = loop
        self.adopting: set[asyncio.Task[Any]] = set()

    def take(self) -> None:
        try:
            message, fds, _, _ = socket.recv_fds(self.channel, MESSAGE_BYTES, 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            message, fds = b"", []
        if not message:  # the supervisor has gone: stop as on SIGTERM
            self.loop.remove_reader(self.channel.fileno())
            self.server.should_exit = True
            return
        name = message[len(TAKE) :]
        for fd in fds:  # one per message
            made = functools.partial(self.protocol, name)
            adopt = self.loop.connect_accepted_socket(made, socket.socket(fileno=fd))
            task = self.loop.create_task(adopt)
            self.adopting.add(task)
            task.add_done_callback(self.adopting.discard)

    def protocol(self, name: bytes) -> asyncio.Protocol:
        """uvicorn's HTTP protocol for the connection ``name``, as its own server would make it;
        when the connection closes, the supervisor hears which."""
        config = self.server.config
        made: Any = config.http_protocol_class(
            config=config, server_state=self.server.server_state, app_state=self.server.lifespan.state
        )
        lost = made.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            lost(exc)
            with contextlib.suppress(OSError):  # the supervisor has gone: the server is stopping
                self.channel.send(CLOSED + name)

        made.connection_lost = connection_lost
        return made  # type: ignore[no-any-return]
