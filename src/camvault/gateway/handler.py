"""The FTP conversation with one camera, and the promise behind ``226``.

pyftpdlib answers ``226 Transfer complete`` as soon as the data connection closes, and only
then tells the handler that a file arrived. This module moves that decision before the reply:
when an upload is complete, the file is published (``Spool.commit``: fsynced, linked into the
spool, recorded in the outbox) and only then is ``226`` sent; when the commit fails the camera
gets ``451`` and sends the file again. Before any data is accepted, STOR and APPE ask the spool
whether it has room (``452`` when it does not).

What an upload means comes from :mod:`camvault.gateway.layouts`: a temporary name is published
when it is renamed to its final name (RNTO), before the ``250`` reply; sidecars, empty files and
aborted transfers are never published (logged and counted). ``.mkv`` and ``.avi`` clips are
remuxed to MP4 first when that is possible.

It never decides confinement (:mod:`camvault.gateway.filesystem`) or who may log in
(:mod:`camvault.gateway.authorizer`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pyftpdlib.filesystems import FilesystemError
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.handlers.ftp.dispatchers import PassiveDTP

from camvault.gateway.filesystem import ConfinedFS, climbs_out, path_problem
from camvault.gateway.layouts import UploadName, classify, remuxable
from camvault.gateway.metrics import Counters
from camvault.gateway.remux import remux_to_mp4
from camvault.gateway.spool import Arrival, Spool, SpoolError

__all__ = ["CommittingDTPHandler", "GatewayContext", "GatewayHandler", "SerialPassiveDTP"]

log = logging.getLogger("camvault.gateway")

PATH_COMMANDS = frozenset(
    {"CWD", "XCWD", "LIST", "NLST", "MLSD", "MLST", "STAT", "STOR", "APPE", "RETR", "SIZE", "MDTM"}
    | {"MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO", "SITE CHMOD", "MFMT"}
)


@dataclass(frozen=True)
class GatewayContext:
    """What every connection of one gateway shares; built once and passed in."""

    spool: Spool
    counters: Counters
    clock: Callable[[], datetime]
    camera_name: Callable[[str], str]


WRITEBACK_BYTES = 8 << 20
"""While an upload arrives, ask the kernel to start writing each new 8 MB to disk."""


class CommittingDTPHandler(DTPHandler):  # type: ignore[misc]  # pyftpdlib is untyped
    """A data channel whose ``226`` for an upload waits until the file is published.

    A large upload is written to disk while it arrives (the kernel is asked to start writeback
    of every new ``WRITEBACK_BYTES``, without waiting for it), so the fsync before ``226`` only
    waits for the last few megabytes instead of the whole file."""

    _written_back = 0

    def handle_read(self) -> None:
        super().handle_read()
        if self.receive and self.tot_bytes_received - self._written_back >= WRITEBACK_BYTES:
            self._start_writeback()

    handle_read_event = handle_read

    def _start_writeback(self) -> None:
        file = self.file_obj
        if file is None or file.closed:
            return
        file.flush()
        end = file.tell()
        start = max(0, end - (self.tot_bytes_received - self._written_back))
        # Linux starts writeback of the dirty pages in the range and returns at once.
        os.posix_fadvise(file.fileno(), start, end - start, os.POSIX_FADV_DONTNEED)
        self._written_back = self.tot_bytes_received

    def close(self) -> None:
        if self._upload_complete():
            if not self.file_obj.closed:
                self.file_obj.close()
            refusal = self.cmd_channel.publish_upload(self.file_obj.name)
            if refusal is not None:
                self._resp = (refusal, logging.getLogger("pyftpdlib").warning)
        super().close()

    def _upload_complete(self) -> bool:
        response = self._resp[0] if self._resp else ""
        return bool(
            not self._closed
            and self.receive
            and self.transfer_finished
            and self.file_obj is not None
            and response.startswith("226")
        )


class SerialPassiveDTP(PassiveDTP):  # type: ignore[misc]  # pyftpdlib is untyped
    """A passive data listener whose port is chosen under the gateway's lock.

    pyftpdlib binds with ``SO_REUSEADDR`` and only then listens: two connection threads could
    bind the same free port and the second ``listen`` would fail (``EADDRINUSE``), dropping that
    camera. ``lock`` is set on the per-gateway subclass."""

    lock: ClassVar[threading.Lock]

    def __init__(self, cmd_channel: Any, extmode: bool = False) -> None:
        with self.lock:
            super().__init__(cmd_channel, extmode)


class GatewayHandler(FTPHandler):  # type: ignore[misc]  # pyftpdlib is untyped
    """One camera's FTP session. ``context`` is set on the per-gateway subclass."""

    context: ClassVar[GatewayContext]
    dtp_handler = CommittingDTPHandler
    abstracted_fs = ConfinedFS
    use_sendfile = False

    def pre_process_command(self, line: str, cmd: str, arg: str) -> None:
        problem = self._path_problem(cmd, arg)
        if problem is not None:
            log.warning("refused %s from %s (%s): %s", cmd, self.username or "-", self.remote_ip, problem)
            self.respond(f"553 Refused: {problem}.")
            return
        super().pre_process_command(line, cmd, arg)

    def _path_problem(self, cmd: str, arg: str) -> str | None:
        if cmd not in PATH_COMMANDS:
            return None
        problem = path_problem(arg)
        if problem is None and self.authenticated and climbs_out(self.fs.cwd, arg):
            problem = "path leaves your home folder"
        return problem

    def ftp_STOR(self, file: str, mode: str = "w") -> str | None:
        reason = self.context.spool.refusal()
        if reason is not None:
            self.context.counters.rejected()
            log.warning("refused an upload from %s (%s): %s", self.username, self.remote_ip, reason)
            self.respond(f"452 Upload refused: {reason}.")
            return None
        result: str | None = super().ftp_STOR(file, mode)
        return result

    def ftp_STOU(self, line: str) -> None:
        """Unique names chosen by the server are not offered: a camera names its own files."""
        self.respond("502 STOU not implemented; use STOR.")

    def ftp_RNTO(self, path: str) -> tuple[str, str] | None:
        source: str | None = getattr(self, "_rnfr", None)
        if not source:
            self.respond("503 Bad sequence of commands: use RNFR first.")
            return None
        setattr(self, "_rnfr", None)  # noqa: B010 - pyftpdlib's attribute, untyped
        try:
            self.run_as_current_user(self.fs.rename, source, path)
        except (OSError, FilesystemError) as exc:
            self.respond(f"550 {getattr(exc, 'strerror', None) or exc}.")
            return None
        refusal = None
        if self._upload_name(source).disposition == "temporary" and Path(path).is_file():
            refusal = self.publish_upload(path)
        self.respond(refusal or "250 Renaming ok.")
        return (source, path)

    def on_incomplete_file_received(self, file: str) -> None:
        self.context.counters.aborted()
        log.warning("upload of %s by %s aborted; not published", self._relative(file), self.username)
        Path(file).unlink(missing_ok=True)

    def publish_upload(self, file: str) -> str | None:
        """Publish a complete upload; None to answer with success, else the error reply."""
        upload = self._upload_name(file)
        if upload.disposition == "temporary":
            return None  # published when renamed to its final name
        if upload.disposition == "ignore":
            self.context.counters.ignored()
            log.info("ignored %s from %s: not a clip or snapshot", upload.source_path, self.username)
            return None
        path = Path(file)
        try:
            size = path.stat().st_size
        except OSError as exc:  # deleted by another session of the same camera meanwhile
            what = upload.source_path
            log.warning("upload %s from %s vanished before it was kept: %s", what, self.username, exc)
            return "451 The file vanished before it was kept; send it again."
        if size == 0:
            self.context.counters.aborted()
            log.warning("empty upload %s from %s; not published", upload.source_path, self.username)
            return None
        if remuxable(upload.source_path):
            path, upload = self._remuxed(path, upload)
        return self._commit(path, upload)

    def _remuxed(self, path: Path, upload: UploadName) -> tuple[Path, UploadName]:
        converted = remux_to_mp4(path)
        if converted is None:
            return path, upload
        path.unlink()
        return converted, classify(self._relative(str(converted)))

    def _commit(self, path: Path, upload: UploadName) -> str | None:
        camera = self._camera()
        arrival = Arrival(camera=camera, source_path=upload.source_path, received=self.context.clock())
        try:
            self.context.spool.commit(path, arrival)
        except SpoolError as exc:
            log.error("could not keep %s from %s: %s", upload.source_path, camera, exc)
            return "451 Not stored: the gateway could not keep the file; send it again."  # details logged
        log.info("received %s from %s", upload.source_path, camera)
        return None

    def _camera(self) -> str:
        """The registered name of the camera logged in on this session, looked up once."""
        known: tuple[str, str] | None = getattr(self, "_camera_of_user", None)
        if known is None or known[0] != self.username:
            known = (self.username, self.context.camera_name(self.username))
            self._camera_of_user = known
        return known[1]

    def _upload_name(self, file: str) -> UploadName:
        return classify(self._relative(file))

    def _relative(self, file: str) -> str:
        return Path(file).relative_to(self.fs.root).as_posix()

    def log_cmd(self, cmd: str, arg: Any, respcode: int, respstr: str) -> None:
        """pyftpdlib's per-command log line, only when debugging (uploads are logged once above)."""
        if log.isEnabledFor(logging.DEBUG):
            super().log_cmd(cmd, arg, respcode, respstr)

    def log_transfer(self, *args: Any, **kwargs: Any) -> None:
        """pyftpdlib's per-transfer log line, only when debugging (uploads are logged once above)."""
        if log.isEnabledFor(logging.DEBUG):
            super().log_transfer(*args, **kwargs)
