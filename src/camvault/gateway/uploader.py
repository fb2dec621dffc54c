"""The uploader: drains the outbox into the object store, verified, then frees the spool.

Worker threads claim uploads in capture order (``threads`` bound the concurrency) and store
each with the same ``Ingestor`` as ``camvault ingest``: same key, metadata (camera,
capture-time, content-type, sha256), never-overwrite rule, and dedupe by camera + name +
sha256. The upload is verified before the key is journaled for the processor: from the put's
own answer when it has one (size, and the ETag against the spooled file's MD5, or against its
multipart ETag computed here with the store's part size), else by reading the object back
(size, the sha256 in its metadata, the bytes when the ETag is no digest). Only then does the
outbox record it stored and the spool release the local copy and the home name.

With ``put_only`` (``[gateway] store_access = "put-only"``) nothing is ever read: before each
put the outbox notes the key and sha256 (an intent), so a 412 after a crash is recognised as
this file's earlier put, and an answer that proves nothing (SSE-KMS ETags) fails the upload
with a clear reason instead of claiming it verified.

A failure is retried with exponential backoff and jitter, capped at ``max_retry_s``, for as
long as it takes (a store away for a day is retried for a day); a file the store can never
take (not a clip, a removed camera) stays in the spool as failed, shown by ``camvault status``.
An upload interrupted by a crash is simply done again: the dedupe and the if-absent put make
the second attempt find the first one's object instead of writing another.

The worker threads run at a lower CPU priority than the FTP connections (``nice``, Linux sets
it per thread): on a busy machine the cameras' uploads, whose ``226`` they wait for, get the
CPU first and the spool drains right after. A lower priority never stops the uploader: the
scheduler still gives it a share of the CPU under continuous load.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from camvault.accounts.registry import UnknownCamera
from camvault.gateway.outbox import Outbox, Upload
from camvault.gateway.spool import Spool
from camvault.ingest import Claim, IngestError, Ingestor, Stored
from camvault.processor.core import META_SHA256
from camvault.store.base import ObjectStore, PutResult

log = logging.getLogger(__name__)

_MD5 = re.compile(r"[0-9a-f]{32}")
_CHUNK = 1 << 20


class VerifyError(Exception):
    """The store's object differs from the spooled file."""


@dataclass(frozen=True)
class UploadPolicy:
    threads: int = 4
    retry_s: float = 2.0
    max_retry_s: float = 300.0
    lease_s: float = 600.0
    poll_s: float = 1.0
    put_only: bool = False
    """The store credential may only put: never HEAD or GET (``[gateway] store_access``)."""
    nice: int = 10
    """How much lower than the rest of the process the worker threads' CPU priority is (0: same)."""


def verify(store: ObjectStore, stored: Stored, path: Path, *, can_read: bool = True) -> None:
    """Raise VerifyError unless the object at ``stored.key`` holds exactly the bytes at ``path``:
    from the put's answer when it proves the bytes, else by reading the object when allowed."""
    put = stored.put
    if put is not None and put.etag_is_digest and put.etag:
        _check_answer(stored, put, path)
        return
    if can_read:
        _check_by_reading(store, stored, path)
        return
    if put is not None:
        raise VerifyError(
            f"{stored.key}: the store's answer (ETag {put.etag}) proves nothing about the bytes "
            '(SSE-KMS?) and [gateway] store_access = "put-only" forbids reading it back: use '
            'SSE-S3 for the bucket, or allow GetObject and set store_access = "read-write"'
        )
    # Found by a 412 on a key noted for this sha256 (or remembered verified): an earlier
    # attempt's put, whose parts the server checked against their Content-MD5.


def expected_etag(path: Path, part_size: int | None) -> str:
    """S3's ETag for the file at ``path``: its MD5, or for a multipart upload in ``part_size``
    parts the MD5 of the concatenated part MD5s, ``-`` and the number of parts."""
    if part_size is None:
        return _digest(path, hashlib.md5(usedforsecurity=False))
    parts = hashlib.md5(usedforsecurity=False)
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(part_size):
            parts.update(hashlib.md5(chunk, usedforsecurity=False).digest())
            count += 1
    return f"{parts.hexdigest()}-{max(count, 1)}"


def _check_answer(stored: Stored, put: PutResult, path: Path) -> None:
    if put.size != stored.size:
        raise VerifyError(f"{stored.key}: the store took {put.size} bytes, the spool holds {stored.size}")
    local = expected_etag(path, put.part_size)
    if (put.etag or "").lower() != local:
        raise VerifyError(f"{stored.key}: ETag {put.etag} is not the spooled file's {local}")


def _check_by_reading(store: ObjectStore, stored: Stored, path: Path) -> None:
    info = store.head(stored.key)
    if info.size != stored.size:
        raise VerifyError(f"{stored.key}: the store holds {info.size} bytes, the spool {stored.size}")
    if info.metadata.get(META_SHA256) != stored.sha256:
        raise VerifyError(f"{stored.key}: the stored object's sha256 is not the spooled file's")
    etag = (info.etag or "").lower()
    if _MD5.fullmatch(etag):
        local = _digest(path, hashlib.md5(usedforsecurity=False))
        if local != etag:
            raise VerifyError(f"{stored.key}: ETag {etag} is not the spooled file's MD5 {local}")
        return
    with store.open(stored.key) as stream:  # multipart ETag: no MD5 of the whole, read it back
        remote = hashlib.sha256()
        while chunk := stream.read(_CHUNK):
            remote.update(chunk)
    if remote.hexdigest() != stored.sha256:
        raise VerifyError(f"{stored.key}: the bytes read back differ from the spooled file")


def _digest(path: Path, digest: hashlib._Hash) -> str:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _UploadIntents:
    """One upload's intents in the outbox (``ingest.PutIntents``)."""

    def __init__(self, outbox: Outbox, ident: str) -> None:
        self._outbox = outbox
        self._ident = ident

    def reserve(self, key: str, sha256: str) -> Claim:
        noted = self._outbox.reserve(self._ident, key, sha256)
        if noted is None:
            return Claim.NEW
        return Claim.OURS if noted == sha256 else Claim.OTHER

    def taken(self, key: str) -> None:
        self._outbox.taken(self._ident, key)


class Uploader:
    """Worker threads that move spooled uploads into the object store."""

    def __init__(
        self,
        spool: Spool,
        ingestor: Ingestor,
        store: ObjectStore,
        *,
        policy: UploadPolicy | None = None,
        on_stored: Callable[[Stored], None] | None = None,
    ) -> None:
        self._spool = spool
        self._outbox = spool.outbox
        self._ingestor = ingestor
        self._store = store
        self._policy = policy or UploadPolicy()
        self._on_stored = on_stored
        self._wake = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    @property
    def policy(self) -> UploadPolicy:
        return self._policy

    def run_one(self) -> bool:
        """Claim the next due upload and move it to the store; False when nothing was due."""
        upload = self._outbox.claim(self._policy.lease_s)
        if upload is None:
            return False
        try:
            stored = self._store_one(upload)
        except (IngestError, UnknownCamera) as exc:
            self._failed(upload, str(exc), permanent=True)
            return True
        except FileNotFoundError as exc:  # someone removed the spool copy: retrying cannot help
            self._failed(upload, f"the spooled file is gone: {exc}", permanent=True)
            return True
        except Exception as exc:  # the store is away, a timeout, a bad read: retried
            self._failed(upload, f"{type(exc).__name__}: {exc}", permanent=False)
            return True
        self._outbox.stored(upload.id, stored.key)
        self._spool.release(upload)
        if self._on_stored is not None:
            self._on_stored(stored)
        return True

    def _store_one(self, upload: Upload) -> Stored:
        path = self._spool.claimed_copy(upload)
        intents = _UploadIntents(self._outbox, upload.id) if self._policy.put_only else None

        def check(stored: Stored) -> None:
            try:
                verify(self._store, stored, path, can_read=intents is None)
            except VerifyError:
                if intents is not None:  # never take that object for this file again
                    intents.taken(stored.key)
                raise

        return self._ingestor.ingest(
            path, upload.camera, upload.source_path, received=upload.received, intents=intents, verify=check
        )

    def _failed(self, upload: Upload, reason: str, *, permanent: bool) -> None:
        policy = self._policy
        self._outbox.fail(
            upload.id, reason, retry_s=policy.retry_s, max_retry_s=policy.max_retry_s, permanent=permanent
        )
        what = "kept in the spool: see `camvault status`" if permanent else "will retry"
        log.warning("upload of %s (%s) failed: %s; %s", upload.source_path, upload.camera, reason, what)

    def drain(self) -> int:
        """Upload everything due now, in this thread; returns how many were attempted."""
        count = 0
        while self.run_one():
            count += 1
        return count

    def wake(self) -> None:
        """Something was committed: let an idle worker look now."""
        with self._wake:
            self._wake.notify()

    def start(self) -> None:
        self._stopping = False
        for number in range(self._policy.threads):
            thread = threading.Thread(target=self._loop, name=f"camvault-uploader-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 30.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads.clear()

    def _loop(self) -> None:
        lower_priority(self._policy.nice)
        while not self._stopping:
            try:
                busy = self.run_one()
            except Exception:  # the outbox itself failed (disk); keep the thread alive
                log.exception("gateway outbox error; retrying")
                busy = False
            if not busy:
                with self._wake:
                    if not self._stopping:
                        self._wake.wait(self._policy.poll_s)


def lower_priority(by: int) -> None:
    """Lower the calling thread's CPU priority by ``by`` nice steps (at most to 19). Linux only:
    elsewhere the priority belongs to the whole process, and the FTP server must keep its own."""
    if by <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread) + by, 19))
    except OSError as exc:  # a sandbox that forbids it: run at the same priority
        log.warning("the uploader keeps its CPU priority: %s", exc)
