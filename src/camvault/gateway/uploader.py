"""The uploader: drains the outbox into the object store, verified, then frees the spool.

Worker threads claim uploads in capture order (``threads`` bound the concurrency) and store
each with the same ``Ingestor`` as ``camvault ingest``: same key, metadata (camera,
capture-time, content-type, sha256), never-overwrite rule, and dedupe by camera + name +
sha256, which also journals the key for the processor. Then the upload is verified against
the store: size and the sha256 in its metadata always; the bytes themselves through the ETag
when it is an MD5 (single-part uploads), else by reading the object back. Only then does the
outbox record it stored and the spool release the local copy and the home name.

A failure is retried with exponential backoff and jitter, capped at ``max_retry_s``, for as
long as it takes (a store away for a day is retried for a day); a file the store can never
take (not a clip, a removed camera) stays in the spool as failed, shown by ``camvault status``.
An upload interrupted by a crash is simply done again: the dedupe and the if-absent put make
the second attempt find the first one's object instead of writing another.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from camvault.accounts.registry import UnknownCamera
from camvault.gateway.outbox import Upload
from camvault.gateway.spool import Spool
from camvault.ingest import IngestError, Ingestor, Stored
from camvault.processor.core import META_SHA256
from camvault.store.base import ObjectStore

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


def verify(store: ObjectStore, stored: Stored, path: Path) -> None:
    """Raise VerifyError unless the object at ``stored.key`` holds exactly the bytes at ``path``."""
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
        path = self._spool.spooled(upload.id)
        stored = self._ingestor.ingest(path, upload.camera, upload.source_path, received=upload.received)
        verify(self._store, stored, path)
        return stored

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
