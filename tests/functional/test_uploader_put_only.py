"""The uploader with a put-only store credential (``[gateway] store_access = "put-only"``), against
SeaweedFS with an identity that may only PutObject and run multipart uploads under one prefix,
as the gateway's IAM policy on AWS: uploads land once, verified from the put's answer alone; a
crash between the put and its bookkeeping is recognised by the outbox intent (no ``name~2``);
another file under the same name gets ``name~2``; and not one read request is ever sent."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import pytest

from camvault.accounts.registry import CameraRegistry
from camvault.config.loader import ConfigError, load_config
from camvault.factory import build_runtime
from camvault.factory_gateway import build_uploader, open_spool
from camvault.gateway.spool import Arrival, Spool
from camvault.gateway.uploader import Uploader, UploadPolicy, expected_etag
from camvault.ingest import Ingestor
from camvault.processor.journal import Journal
from camvault.store.base import ObjectStore, PutResult, StoreError, read_all
from camvault.store.local import LocalStore
from camvault.store.s3 import PART_SIZE, S3Store
from tests.support.cli import init_data
from tests.support.seaweed import PUT_ONLY_PREFIX, SeaweedServer, seaweed
from tests.support.stores import PassThroughStore

__all__ = ["seaweed"]

pytestmark = pytest.mark.functional

PUT_ONLY = UploadPolicy(threads=1, retry_s=0.05, max_retry_s=0.2, poll_s=0.05, put_only=True)
WRITES = {
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
}
"""What the gateway's IAM policy allows (a 412 on a multipart completion aborts the upload)."""
CLIP = "MDalarm_20250301_120000.mp4"


class GatewayDied(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even the uploader's error handling."""


class Gate(PassThroughStore):
    """A real store in front of another: can die right after a put the store accepted, or
    answer as SSE-KMS does (an ETag that is no digest of the bytes), or keep other bytes."""

    def __init__(self, inner: ObjectStore) -> None:
        super().__init__(inner)
        self.die_after_put: str | None = None
        self.opaque_etag = False
        self.corrupt = False

    def put(
        self,
        key: str,
        data: BinaryIO | bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        if self.corrupt:
            body = data if isinstance(data, bytes) else data.read()
            data = body[:-1] + bytes([body[-1] ^ 1])
        result = self.inner.put(key, data, content_type=content_type, metadata=metadata, if_absent=if_absent)
        if self.die_after_put is not None and key.endswith("/" + self.die_after_put):
            self.die_after_put = None
            raise GatewayDied(key)
        if self.opaque_etag:
            return dataclasses.replace(result, etag="kms-" + (result.etag or ""), etag_is_digest=False)
        return result


@dataclass
class PutOnly:
    prefix: str
    store: Gate
    admin: S3Store
    requests: Counter[str]
    cameras: CameraRegistry
    journal: Journal
    ingestor: Ingestor
    spool_path: Path
    spool: Spool
    uploader: Uploader

    def reopen(self) -> None:
        """The gateway restarts: a new spool on the same files, reconciled, a new uploader."""
        self.spool.close()
        self.spool = Spool.open(self.spool_path)
        self.spool.reconcile()
        self.uploader = Uploader(self.spool, self.ingestor, self.store, policy=PUT_ONLY)

    def objects(self) -> dict[str, bytes]:
        """What the store holds under this test's prefix (read with the admin credential)."""
        return {
            info.key.rsplit("/", 1)[1]: read_all(self.admin, info.key)
            for info in self.admin.list(self.prefix)
        }

    def reads(self) -> set[str]:
        return set(self.requests) - WRITES


@pytest.fixture
def put_only(seaweed: SeaweedServer, tmp_path: Path) -> Iterator[PutOnly]:
    prefix = f"{PUT_ONLY_PREFIX}/gateway-{time.time_ns()}"
    client = seaweed.put_only_client(connect_timeout=1.0, max_attempts=1)
    requests: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        requests[model.name] += 1

    client.meta.events.register("before-call.s3.*", count)
    store = Gate(S3Store(seaweed.bucket, client=client))
    admin = S3Store(seaweed.bucket, client=seaweed.client())
    cameras = CameraRegistry(tmp_path / "accounts.db")
    cameras.add("porch", "UTC")
    journal = Journal(tmp_path / "journal.db")
    ingestor = Ingestor(store, cameras, journal, prefix=prefix, key_zone=ZoneInfo("UTC"), clock=now)
    spool = Spool.open(tmp_path / "spool")
    parts = PutOnly(
        prefix,
        store,
        admin,
        requests,
        cameras,
        journal,
        ingestor,
        tmp_path / "spool",
        spool,
        Uploader(spool, ingestor, store, policy=PUT_ONLY),
    )
    yield parts
    parts.uploader.stop()
    parts.spool.close()
    journal.close()
    cameras.close()
    store.close()
    admin.close()


def now() -> datetime:
    return datetime.now(UTC)


def commit(spool: Spool, source_path: str, data: bytes) -> Path:
    """An FTP upload of ``data`` by camera porch, committed as the gateway does before 226."""
    path = spool.home("porch") / source_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    spool.commit(path, Arrival("porch", source_path, now()))
    return path


def big_clip() -> bytes:
    """More than one part: a multipart upload of two parts."""
    return hashlib.sha256(b"seed").digest() * ((PART_SIZE + 4096) // 32)


def test_the_put_only_credential_really_cannot_read(put_only: PutOnly) -> None:
    put_only.store.put(f"{put_only.prefix}/probe", b"x", content_type="text/plain")
    with pytest.raises(StoreError, match="access denied"):
        put_only.store.head(f"{put_only.prefix}/probe")
    with pytest.raises(StoreError, match="access denied"):
        read_all(put_only.store, f"{put_only.prefix}/probe")
    with pytest.raises(StoreError, match="access denied"):
        list(put_only.store.list(put_only.prefix))


def test_uploads_land_once_verified_and_not_one_read_is_sent(put_only: PutOnly) -> None:
    clip, snap = big_clip(), b"jpeg bytes"
    home_names = [commit(put_only.spool, CLIP, clip), commit(put_only.spool, "snap.jpg", snap)]
    assert put_only.uploader.drain() == 2
    assert put_only.objects() == {CLIP: clip, "snap.jpg": snap}
    assert put_only.spool.outbox.stats().depth == 0
    assert put_only.spool.outbox.stats().counters["uploaded"] == 2
    assert not any(name.exists() for name in home_names)  # freed only after verification
    assert put_only.requests["CompleteMultipartUpload"] == 1  # the clip went multipart...
    assert put_only.reads() == set()  # ...and was verified without reading it


def test_a_multipart_etag_is_computed_locally_with_the_stores_part_size(
    put_only: PutOnly, tmp_path: Path
) -> None:
    path = tmp_path / CLIP
    path.write_bytes(big_clip())
    with path.open("rb") as data:
        result = put_only.store.put(f"{put_only.prefix}/{CLIP}", data, content_type="video/mp4")
    assert result.part_size == PART_SIZE
    assert result.etag == expected_etag(path, PART_SIZE)
    assert result.etag is not None and result.etag.endswith("-2")
    assert put_only.reads() == set()


def test_a_crash_between_the_put_and_its_bookkeeping_leaves_one_object(put_only: PutOnly) -> None:
    commit(put_only.spool, "snap.jpg", b"jpeg bytes")
    commit(put_only.spool, CLIP, big_clip())
    put_only.store.die_after_put = "snap.jpg"  # the store took it, the gateway died before it knew
    with pytest.raises(GatewayDied):
        put_only.uploader.run_one()
    put_only.reopen()
    put_only.store.die_after_put = CLIP  # the same after a multipart upload's completion
    with pytest.raises(GatewayDied):
        put_only.uploader.drain()  # the snapshot is redone first: a 412 on a key it noted
    put_only.reopen()
    assert put_only.uploader.drain() == 1
    assert put_only.objects() == {"snap.jpg": b"jpeg bytes", CLIP: big_clip()}  # no snap~2.jpg
    assert put_only.spool.outbox.stats().depth == 0
    assert put_only.reads() == set()


def test_another_file_under_a_taken_name_gets_an_alternative_name(put_only: PutOnly) -> None:
    first = commit(put_only.spool, "snap.jpg", b"first snapshot")
    assert put_only.uploader.drain() == 1
    assert not first.exists()
    commit(put_only.spool, "snap.jpg", b"second snapshot, other bytes")  # same name, same hour
    assert put_only.uploader.drain() == 1
    assert put_only.objects() == {
        "snap.jpg": b"first snapshot",
        "snap~2.jpg": b"second snapshot, other bytes",
    }
    assert put_only.reads() == set()


def test_a_name_taken_by_another_writer_is_never_taken_for_ours(put_only: PutOnly) -> None:
    received = now()
    key = f"{put_only.prefix}/porch/{received:%Y-%m-%d}/Hour-{received:%H}/snap/snap.jpg"
    put_only.admin.put(key, b"written by someone else", content_type="image/jpeg")
    commit(put_only.spool, "snap.jpg", b"ours")
    assert put_only.uploader.drain() == 1
    assert put_only.objects() == {"snap.jpg": b"written by someone else", "snap~2.jpg": b"ours"}
    assert put_only.reads() == set()


def test_the_same_file_sent_again_is_recognised_without_reading(put_only: PutOnly) -> None:
    commit(put_only.spool, "snap.jpg", b"jpeg bytes")
    commit(put_only.spool, "snap.jpg", b"jpeg bytes")  # sent again: a new arrival, same bytes
    assert put_only.uploader.drain() == 2
    assert put_only.objects() == {"snap.jpg": b"jpeg bytes"}
    assert put_only.spool.outbox.stats().counters["uploaded"] == 2
    assert put_only.reads() == set()


def test_an_answer_that_proves_nothing_fails_visibly_instead_of_claiming_verified(
    put_only: PutOnly,
) -> None:
    put_only.store.opaque_etag = True  # what S3 answers for an SSE-KMS bucket
    home_name = commit(put_only.spool, "snap.jpg", b"jpeg bytes")
    assert put_only.uploader.drain() == 1
    stats = put_only.spool.outbox.stats()
    assert stats.depth == 1 and stats.counters.get("uploaded", 0) == 0
    assert stats.last_error is not None
    assert "proves nothing about the bytes" in stats.last_error and "put-only" in stats.last_error
    assert home_name.exists()  # nothing freed
    assert put_only.reads() == set()


def test_bytes_changed_on_the_way_are_refused_and_sent_again_under_another_name(
    put_only: PutOnly,
) -> None:
    put_only.store.corrupt = True
    home_name = commit(put_only.spool, "snap.jpg", b"jpeg bytes")
    assert put_only.uploader.run_one()
    stats = put_only.spool.outbox.stats()
    assert stats.depth == 1 and stats.last_error is not None and "VerifyError" in stats.last_error
    assert home_name.exists()
    put_only.store.corrupt = False
    time.sleep(0.3)  # past the retry delay
    assert put_only.uploader.drain() == 1
    # the bad object cannot be removed with this credential; it is never taken for the file
    assert put_only.objects()["snap~2.jpg"] == b"jpeg bytes"
    assert put_only.objects()["snap.jpg"] != b"jpeg bytes"
    assert put_only.spool.outbox.stats().depth == 0
    assert put_only.reads() == set()


def test_read_write_access_falls_back_to_reading_when_the_answer_proves_nothing(tmp_path: Path) -> None:
    store = Gate(LocalStore(tmp_path / "objects"))
    store.opaque_etag = True
    cameras = CameraRegistry(tmp_path / "accounts.db")
    cameras.add("porch", "UTC")
    journal = Journal(tmp_path / "journal.db")
    ingestor = Ingestor(store, cameras, journal, prefix="rw", key_zone=ZoneInfo("UTC"), clock=now)
    spool = Spool.open(tmp_path / "spool")
    try:
        commit(spool, "snap.jpg", b"jpeg bytes")
        policy = dataclasses.replace(PUT_ONLY, put_only=False)
        assert Uploader(spool, ingestor, store, policy=policy).drain() == 1
        assert spool.outbox.stats().depth == 0
        assert [info.key.rsplit("/", 1)[1] for info in store.list("rw/")] == ["snap.jpg"]
    finally:
        spool.close()
        journal.close()
        cameras.close()


def test_store_access_is_a_checked_setting_wired_into_the_uploader(tmp_path: Path) -> None:
    config_path = init_data(tmp_path / "data")
    with pytest.raises(ConfigError, match="store_access"):
        load_config(str(config_path), {"CAMVAULT_GATEWAY_STORE_ACCESS": "read-only"}, tmp_path)
    config = load_config(str(config_path), {"CAMVAULT_GATEWAY_STORE_ACCESS": "put-only"}, tmp_path)
    runtime = build_runtime(config)
    spool = open_spool(config, runtime.ingestor)
    try:
        runtime.cameras.add("porch", "UTC")
        commit(spool, "snap.jpg", b"jpeg bytes")
        uploader = build_uploader(runtime, spool)
        assert uploader.policy.put_only
        assert uploader.drain() == 1
        assert spool.outbox.stats().counters["uploaded"] == 1
        assert [info.key.rsplit("/", 1)[1] for info in runtime.store.list("")] == ["snap.jpg"]
    finally:
        spool.close()
        runtime.close()
