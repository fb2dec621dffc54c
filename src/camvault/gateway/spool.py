"""The spool: where a finished upload becomes durable before the FTP server answers ``226``.

Layout of the spool directory (one filesystem, so a hard link moves no bytes):

- ``homes/<camera>/``: each camera's FTP home (0700), where uploads are written;
- ``queue/<id>``: a hard link to every committed upload, kept until the object store has it;
- ``orphans/``: spool files found at start without an outbox row (kept for a human, never deleted);
- ``outbox.db``: the durable outbox (:mod:`camvault.gateway.outbox`).

``commit`` fsyncs the file and its folder, records the upload in the outbox (one SQLite
transaction, ``synchronous=FULL``), links it into ``queue/`` and fsyncs that folder; it returns
only when all of that is on disk, so a ``226`` that follows is a promise. The upload's id is a
hash of (camera, source path, arrival instant), so committing the same arrival twice is one
upload. The name stays visible in the camera's home until the uploader stored and verified the
object; it then removes the home name only if it still is the same inode.

The home name and the spool link share one inode: the FTP server must never write into a file
that was committed (a ``STOR`` over an existing name unlinks it first, an ``APPE`` to a
committed file copies it first), or the spooled bytes would change.

``reconcile`` (at start) finishes what a crash interrupted: an outbox row whose link is missing
is linked again from its home name (the commit stopped between the row and the link) or kept as
failed with the reason when both are gone; a stored upload whose cleanup was interrupted is
cleaned up; a spool file without a row is moved to ``orphans/`` and counted. Uploads kept as
failed (not a clip, a removed camera) are tried again at each start.

``refusal`` says why a new upload must be refused (``452``) before its data is accepted: the
spool holds more than its byte cap, or the disk's free space is below the floor.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from camvault.gateway.groupcommit import GroupCommit
from camvault.gateway.outbox import Outbox, Upload
from camvault.sqlitedb import NewerSchema

log = logging.getLogger(__name__)

__all__ = ["Arrival", "Spool", "SpoolError", "SpoolLimits"]

MB = 1 << 20


@dataclass(frozen=True)
class Arrival:
    """One finished upload, as the FTP handler saw it."""

    camera: str
    """Registered camera name, canonical spelling."""
    source_path: str
    """Final path as the camera uploaded it, relative to its FTP home, POSIX (``/``-separated)."""
    received: datetime
    """Aware UTC instant the upload completed."""


class SpoolError(Exception):
    """The commit failed: the FTP handler must not answer ``226``."""


@dataclass(frozen=True)
class SpoolLimits:
    """Back-pressure: refuse uploads above ``max_bytes`` waiting (0: no cap) or below
    ``min_free_bytes`` free on the spool's disk."""

    max_bytes: int = 0
    min_free_bytes: int = 0


@dataclass(frozen=True)
class _Pending:
    """An upload whose file is fsynced, waiting for its group commit."""

    file: Path
    upload: Upload
    order: datetime


OrderOf = Callable[[Arrival], datetime]
"""The instant an arrival is queued by: its capture instant (default: the arrival instant)."""


def _received(arrival: Arrival) -> datetime:
    return arrival.received


def upload_id(arrival: Arrival) -> str:
    """The spool id of an arrival: the same arrival always gets the same id."""
    text = "\0".join((arrival.camera, arrival.source_path, arrival.received.astimezone(UTC).isoformat()))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> os.stat_result:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        return os.fstat(fd)
    finally:
        os.close(fd)


class Spool:
    """The spool directory and its outbox. Thread-safe (the outbox serialises its writes)."""

    def __init__(
        self,
        root: Path,
        outbox: Outbox,
        *,
        limits: SpoolLimits | None = None,
        order_of: OrderOf = _received,
    ) -> None:
        self.root = root
        self.outbox = outbox
        self.limits = limits or SpoolLimits()
        self._order_of = order_of
        self.on_commit: Callable[[], None] | None = None
        """Called after each commit (the uploader's ``wake``)."""
        self._group: GroupCommit[_Pending] = GroupCommit(self._commit_batch)
        self._linking = threading.Lock()
        """Held by a commit from recording its uploads until their spool links exist."""
        self.homes = root / "homes"
        self.queue = root / "queue"
        self.orphans = root / "orphans"
        for folder in (root, self.homes, self.queue):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    @classmethod
    def open(cls, root: Path, *, limits: SpoolLimits | None = None, order_of: OrderOf = _received) -> Spool:
        """The spool at ``root`` with its outbox (``root/outbox.db``)."""
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            outbox = Outbox(root / "outbox.db")
        except NewerSchema as exc:
            raise SpoolError(str(exc)) from None
        return cls(root, outbox, limits=limits, order_of=order_of)

    def home(self, camera: str) -> Path:
        """The camera's FTP home (created 0700), on the spool's filesystem."""
        path = self.homes / camera
        if not path.is_dir():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            fsync_dir(self.homes)
        return path

    def spooled(self, ident: str) -> Path:
        """Where the spool copy of upload ``ident`` lives."""
        return self.queue / ident

    def claimed_copy(self, upload: Upload) -> Path:
        """The spool copy of an upload the uploader claimed. The outbox records a commit's uploads
        before their links exist, so a copy not there yet may belong to a commit still linking
        it: wait for that commit before taking the copy for gone."""
        path = self.spooled(upload.id)
        if not path.exists():
            with self._linking:
                pass
        return path

    def refusal(self) -> str | None:
        """Why a new upload must be refused (``452``) now, or None to accept it."""
        limits = self.limits
        if limits.min_free_bytes:
            vfs = os.statvfs(self.root)
            free = vfs.f_bavail * vfs.f_frsize
            if free < limits.min_free_bytes:
                return (
                    f"spool disk nearly full: {free // MB} MB free, below the floor of "
                    f"{limits.min_free_bytes // MB} MB ([gateway] spool_min_free_mb)"
                )
        if limits.max_bytes:
            waiting = self.outbox.waiting_bytes()
            if waiting >= limits.max_bytes:
                return (
                    f"spool full: {waiting // MB} MB waiting for the object store, cap "
                    f"{limits.max_bytes // MB} MB ([gateway] spool_max_mb); is the store reachable?"
                )
        return None

    def commit(self, file: Path, arrival: Arrival) -> None:
        """Make the finished upload at ``file`` (inside a camera home) durable and queue it for the
        object store. Returns only when durable; raises SpoolError otherwise (no ``226``)."""
        try:
            self._commit(file, arrival)
        except SpoolError:
            raise
        except OSError as exc:
            raise SpoolError(f"cannot spool {arrival.source_path!r} of {arrival.camera}: {exc}") from exc
        except Exception as exc:  # a failing outbox (sqlite3.Error) must not become a 226 either
            raise SpoolError(f"cannot record {arrival.source_path!r} of {arrival.camera}: {exc}") from exc

    def _commit(self, file: Path, arrival: Arrival) -> None:
        if arrival.received.tzinfo is None:
            raise SpoolError("the arrival instant must be timezone-aware")
        home = self._home_name(file)
        facts = _fsync_file(file)
        upload = Upload(
            id=upload_id(arrival),
            camera=arrival.camera,
            source_path=arrival.source_path,
            received=arrival.received.astimezone(UTC),
            size=facts.st_size,
            home=home.as_posix(),
            home_inode=facts.st_ino,
        )
        error = self._group.submit(_Pending(file, upload, self._order_of(arrival)))
        if error is not None:
            raise error
        if self.on_commit is not None:
            self.on_commit()

    def _home_name(self, file: Path) -> Path:
        """``file``'s path under ``homes``: read from the path the FTP server gives (absolute,
        normalised, no links: no file system calls), else from the resolved path."""
        try:
            relative = file.relative_to(self.homes)
        except ValueError:
            relative = None
        if relative is None or ".." in relative.parts:
            relative = file.resolve().relative_to(self.homes.resolve())
        return relative

    def _commit_batch(self, batch: Sequence[_Pending]) -> list[Exception | None]:
        """The durable part of a commit, shared by uploads finishing together: each folder
        fsynced once, the rows in one transaction, the links, and one fsync of the queue."""
        errors: dict[int, Exception] = {}
        for folder in {pending.file.parent for pending in batch}:
            try:
                fsync_dir(folder)
            except OSError as exc:
                errors.update({at: exc for at, pending in enumerate(batch) if pending.file.parent == folder})
        live = [at for at in range(len(batch)) if at not in errors]
        with self._linking:
            self.outbox.record_many([(batch[at].upload, batch[at].order) for at in live])
            for at in live:
                try:
                    self._link(batch[at].file, self.spooled(batch[at].upload.id))
                except OSError as exc:
                    errors[at] = exc
        fsync_dir(self.queue)
        return [errors.get(at) for at in range(len(batch))]

    @staticmethod
    def _link(file: Path, target: Path) -> None:
        try:
            os.link(file, target)
        except FileExistsError:
            if not target.samefile(file):
                raise
        # Another inode at target is a different upload with the same id: impossible by
        # construction (the id hashes camera, path and instant), so it is an error, not a skip.

    def release(self, upload: Upload) -> None:
        """The store has ``upload``: remove the spool copy, then the home name if it is still the
        same file, then forget the upload."""
        spooled = self.spooled(upload.id)
        with contextlib.suppress(FileNotFoundError):
            spooled.unlink()
        home = self.homes / upload.home
        with contextlib.suppress(FileNotFoundError):
            if home.stat().st_ino == upload.home_inode:
                home.unlink()
        fsync_dir(self.queue)  # else a crash could bring back a spool file the outbox forgot
        self.outbox.forget(upload.id)

    def reconcile(self) -> None:
        """Finish whatever a crash interrupted (see the module docstring). Run before serving."""
        self.outbox.release_claims()
        failed_before = {upload.id for upload, _ in self.outbox.failed()}
        self.outbox.retry_failed()  # a restart is the way to try kept uploads again
        known = set()
        for upload in self.outbox.uploads():
            known.add(upload.id)
            if upload.stored_key is not None:
                self.release(upload)
            elif not self.spooled(upload.id).exists():
                self._relink(upload, counted=upload.id in failed_before)
        self._set_aside_orphans(known)

    def _relink(self, upload: Upload, *, counted: bool) -> None:
        home = self.homes / upload.home
        try:
            if home.stat().st_ino == upload.home_inode:
                self._link(home, self.spooled(upload.id))
                fsync_dir(self.queue)
                log.info("spool: linked %s of %s again after a restart", upload.source_path, upload.camera)
                return
        except FileNotFoundError:
            pass
        reason = f"the spooled file of {upload.source_path!r} ({upload.camera}) vanished from {self.queue}"
        log.error("spool: %s", reason)
        self.outbox.fail(upload.id, reason, retry_s=1, max_retry_s=1, permanent=True)
        if not counted:
            self.outbox.count("spool_missing")

    def _set_aside_orphans(self, known: set[str]) -> None:
        for path in self.queue.iterdir():
            if path.name in known:
                continue
            self.orphans.mkdir(mode=0o700, exist_ok=True)
            path.rename(self.orphans / path.name)
            fsync_dir(self.orphans)
            log.warning("spool: %s had no outbox entry; kept in %s", path.name, self.orphans)
            self.outbox.count("spool_orphans")

    def close(self) -> None:
        self.outbox.close()
