"""The uploader: spooled uploads reach the object store once, verified, in capture order, with
their metadata; the spool is freed only after the store confirmed the bytes; failures are
retried until the store takes the file, and a stopped SeaweedFS loses nothing."""

from __future__ import annotations

import ftplib
import hashlib
import io
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import pytest

from camvault.accounts.registry import CameraRegistry
from camvault.catalog.base import EventQuery
from camvault.config.loader import load_config
from camvault.factory import Runtime, build_runtime
from camvault.factory_gateway import build_uploader, open_spool
from camvault.gateway.spool import Arrival, Spool, SpoolLimits
from camvault.gateway.uploader import Uploader, UploadPolicy
from camvault.ingest import Ingestor, Stored
from camvault.processor.journal import Journal
from camvault.store.base import ObjectStore, PutResult, StoreError, read_all
from camvault.store.s3 import PART_SIZE, S3Store
from tests.support.cli import init_data
from tests.support.ftp import PASSWORDS, gateway_pipeline
from tests.support.media import make_clip, make_jpeg
from tests.support.seaweed import SeaweedServer, seaweed
from tests.support.stores import PassThroughStore
from tests.support.timing import wait_until

__all__ = ["seaweed"]

pytestmark = pytest.mark.functional

QUICK = UploadPolicy(threads=2, retry_s=0.05, max_retry_s=0.2, poll_s=0.05)


def received_now() -> datetime:
    return datetime.now(UTC)


def put_in_home(spool: Spool, camera: str, source_path: str, data: bytes) -> Path:
    path = spool.home(camera) / source_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def commit(spool: Spool, camera: str, source_path: str, data: bytes) -> Path:
    """An FTP upload of ``data`` to ``source_path``, committed as the gateway does before 226."""
    path = put_in_home(spool, camera, source_path, data)
    spool.commit(path, Arrival(camera, source_path, received_now()))
    return path


# --- the embedded runtime (file:// store), wired by the factory --------------------------------


@dataclass
class Embedded:
    runtime: Runtime
    spool: Spool
    uploader: Uploader


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    config = load_config(str(init_data(tmp_path / "data")), {}, tmp_path)
    runtime = build_runtime(config)
    runtime.cameras.add("porch", "America/Los_Angeles")
    spool = open_spool(config, runtime.ingestor)
    yield Embedded(runtime, spool, build_uploader(runtime, spool))
    spool.close()
    runtime.close()


def test_an_upload_reaches_the_store_with_its_key_metadata_and_capture_time(
    embedded: Embedded, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "MDalarm_20161018_113706.mp4").read_bytes()
    home_name = commit(embedded.spool, "porch", "record/MDalarm_20161018_113706.mp4", clip)
    assert embedded.uploader.drain() == 1
    key = "porch/2016-10-18/Hour-18/record/MDalarm_20161018_113706.mp4"
    store = embedded.runtime.store
    assert read_all(store, key) == clip
    info = store.head(key)
    assert info.content_type == "video/mp4"
    assert info.metadata["camera"] == "porch"
    assert info.metadata["capture-time"] == "2016-10-18T18:37:06.000Z"  # read in the camera's zone
    assert info.metadata["source-path"] == "record/MDalarm_20161018_113706.mp4"
    # the local copy and the camera's name go only now, once the store confirmed the bytes
    assert not home_name.exists()
    assert list(embedded.spool.queue.iterdir()) == []
    assert embedded.spool.outbox.stats().depth == 0
    # handed to the processor exactly as `camvault ingest` does
    embedded.runtime.workers.drain([key])
    (event,) = embedded.runtime.catalog.query(EventQuery(limit=10)).events
    assert (event.key, event.camera, event.playable) == (key, "porch", True)


def test_uploads_go_out_in_capture_order(embedded: Embedded, tmp_path: Path) -> None:
    image = make_jpeg(tmp_path / "i.jpg", width=32, height=32).read_bytes()
    names = ["MDAlarm_20250301-120500.jpg", "MDAlarm_20250301-120000.jpg", "MDAlarm_20250301-121000.jpg"]
    for name in names:  # uploaded out of order (a camera emptying its SD card)
        commit(embedded.spool, "porch", name, image + name.encode())
    stored: list[Stored] = []
    uploader = Uploader(
        embedded.spool, embedded.runtime.ingestor, embedded.runtime.store, on_stored=stored.append
    )
    uploader.drain()
    assert [s.name for s in stored] == sorted(names)


def test_the_same_file_committed_twice_is_one_object(embedded: Embedded, tmp_path: Path) -> None:
    image = make_jpeg(tmp_path / "i.jpg", width=32, height=32).read_bytes()
    commit(embedded.spool, "porch", "snapshot.jpg", image)
    commit(embedded.spool, "porch", "snapshot.jpg", image)  # sent again, a new arrival
    assert embedded.uploader.drain() == 2
    keys = [info.key for info in embedded.runtime.store.list("porch/")]
    assert len(keys) == 1 and keys[0].endswith("/snap/snapshot.jpg")


def test_uploader_threads_drain_what_is_committed_while_running(embedded: Embedded, tmp_path: Path) -> None:
    image = make_jpeg(tmp_path / "i.jpg", width=32, height=32).read_bytes()
    embedded.uploader.start()
    try:
        for number in range(20):
            commit(embedded.spool, "porch", f"MDAlarm_20250301-1200{number:02d}.jpg", image + bytes([number]))
        wait_until(lambda: embedded.spool.outbox.stats().depth == 0)
    finally:
        embedded.uploader.stop()
    assert len(list(embedded.runtime.store.list("porch/"))) == 20
    assert list(embedded.spool.queue.iterdir()) == []


def test_a_file_the_store_can_never_take_stays_in_the_spool_as_failed(embedded: Embedded) -> None:
    commit(embedded.spool, "porch", "notes.txt", b"not a clip")
    embedded.runtime.cameras.add("gone", "UTC")
    commit(embedded.spool, "gone", "snap.jpg", b"jpeg")
    embedded.runtime.cameras.remove("gone")
    assert embedded.uploader.drain() == 2
    assert embedded.uploader.drain() == 0  # not retried by itself
    failed = {upload.source_path: reason for upload, reason in embedded.spool.outbox.failed()}
    assert "not a clip or snapshot" in failed["notes.txt"]
    assert "gone" in failed["snap.jpg"]
    assert len(list(embedded.spool.queue.iterdir())) == 2  # kept, never lost
    assert embedded.spool.outbox.stats().failed == 2


# --- stores that misbehave ---------------------------------------------------------------------


class Wrapped(PassThroughStore):
    """A real store whose ``put`` the test can break: fail, or keep other bytes than sent."""

    def __init__(self, inner: ObjectStore) -> None:
        super().__init__(inner)
        self.failures = 0
        self.corrupt = False
        self.puts = 0

    def put(
        self,
        key: str,
        data: BinaryIO | bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        if_absent: bool = False,
    ) -> PutResult:
        self.puts += 1
        if self.failures:
            self.failures -= 1
            raise StoreError("the store is unreachable (test)")
        body = data if isinstance(data, bytes) else data.read()
        if self.corrupt:
            body = body[:-1] + bytes([body[-1] ^ 1])
        return self.inner.put(key, body, content_type=content_type, metadata=metadata, if_absent=if_absent)


@dataclass
class Parts:
    prefix: str
    store: Wrapped
    cameras: CameraRegistry
    journal: Journal
    ingestor: Ingestor
    spool: Spool
    uploader: Uploader


def parts_over(
    store: ObjectStore, tmp_path: Path, *, prefix: str = "uploader-test", limits: SpoolLimits | None = None
) -> Parts:
    wrapped = Wrapped(store)
    cameras = CameraRegistry(tmp_path / "accounts.db")
    cameras.add("porch", "UTC")
    journal = Journal(tmp_path / "journal.db")
    ingestor = Ingestor(
        wrapped, cameras, journal, prefix=prefix, key_zone=ZoneInfo("UTC"), clock=received_now
    )
    spool = Spool.open(tmp_path / "spool", limits=limits)
    uploader = Uploader(spool, ingestor, wrapped, policy=QUICK)
    return Parts(prefix, wrapped, cameras, journal, ingestor, spool, uploader)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Parts]:
    from camvault.store.local import LocalStore

    parts = parts_over(LocalStore(tmp_path / "objects"), tmp_path)
    yield parts
    close(parts)


def close(parts: Parts) -> None:
    parts.uploader.stop()
    parts.spool.close()
    parts.journal.close()
    parts.cameras.close()
    parts.store.close()


def test_a_failing_store_is_retried_with_backoff_until_it_takes_the_file(local: Parts) -> None:
    local.store.failures = 3
    commit(local.spool, "porch", "snap.jpg", b"jpeg bytes")
    local.uploader.start()
    wait_until(lambda: local.spool.outbox.stats().depth == 0)
    assert local.store.puts == 4
    stats = local.spool.outbox.stats()
    assert stats.counters["attempts_failed"] == 3
    assert stats.counters["uploaded"] == 1


def test_the_last_error_is_shown_while_an_upload_waits(local: Parts) -> None:
    local.store.failures = 1
    commit(local.spool, "porch", "snap.jpg", b"jpeg bytes")
    local.uploader.run_one()
    stats = local.spool.outbox.stats()
    assert stats.depth == 1
    assert stats.last_error is not None and "unreachable" in stats.last_error


def test_an_object_that_differs_from_the_spooled_file_is_not_trusted(local: Parts) -> None:
    local.store.corrupt = True
    home_name = commit(local.spool, "porch", "snap.jpg", b"jpeg bytes")
    local.uploader.run_one()
    stats = local.spool.outbox.stats()
    assert stats.depth == 1
    assert stats.last_error is not None and "VerifyError" in stats.last_error
    assert home_name.exists() and len(list(local.spool.queue.iterdir())) == 1  # nothing deleted


def test_a_spool_copy_removed_by_hand_is_kept_as_failed_not_retried(local: Parts) -> None:
    commit(local.spool, "porch", "snap.jpg", b"jpeg bytes")
    (upload,) = local.spool.outbox.uploads()
    local.spool.spooled(upload.id).unlink()
    assert local.uploader.drain() == 1
    ((failed, reason),) = local.spool.outbox.failed()
    assert failed.id == upload.id and "the spooled file is gone" in reason


def test_an_upload_interrupted_after_the_put_is_redone_without_a_duplicate(local: Parts) -> None:
    """A crash after the store took the object but before the outbox knew: the redo finds it."""
    commit(local.spool, "porch", "snap.jpg", b"jpeg bytes")
    upload = local.spool.outbox.claim()
    assert upload is not None
    # what the dead process had done:
    local.ingestor.ingest(local.spool.spooled(upload.id), "porch", "snap.jpg", received=upload.received)
    local.spool.reconcile()  # the restart
    assert local.uploader.drain() == 1
    assert [info.key for info in local.store.list("uploader-test/")] == [
        f"uploader-test/porch/{upload.received:%Y-%m-%d}/Hour-{upload.received:%H}/snap/snap.jpg"
    ]


# --- SeaweedFS ---------------------------------------------------------------------------------


@pytest.fixture
def on_seaweed(seaweed: SeaweedServer, tmp_path: Path) -> Iterator[Parts]:
    prefix = f"uploader-{time.time_ns()}"
    store = S3Store(seaweed.bucket, client=seaweed.client(connect_timeout=1.0, max_attempts=1))
    parts = parts_over(store, tmp_path, prefix=prefix, limits=SpoolLimits(max_bytes=3 << 20))
    yield parts
    close(parts)


def stored_objects(parts: Parts) -> dict[str, bytes]:
    return {
        info.key.rsplit("/", 1)[1]: read_all(parts.store, info.key) for info in parts.store.list(parts.prefix)
    }


def test_a_multipart_upload_is_verified_by_its_etag_computed_locally(on_seaweed: Parts) -> None:
    big = hashlib.sha256(b"seed").digest() * ((PART_SIZE + 4096) // 32)
    commit(on_seaweed.spool, "porch", "MDalarm_20250301_120000.mp4", big)
    assert on_seaweed.uploader.drain() == 1
    assert stored_objects(on_seaweed) == {"MDalarm_20250301_120000.mp4": big}
    assert on_seaweed.spool.outbox.stats().depth == 0


def test_seaweed_stopped_for_a_while_loses_nothing(on_seaweed: Parts, seaweed: SeaweedServer) -> None:
    sent: dict[str, bytes] = {}
    on_seaweed.uploader.start()
    seaweed.stop()
    try:
        for number in range(12):
            name = f"MDAlarm_20250301-1200{number:02d}.jpg"
            assert on_seaweed.spool.refusal() is None  # still accepting while the store is away
            sent[name] = hashlib.sha256(name.encode()).digest() * 4096  # 128 KiB
            commit(on_seaweed.spool, "porch", name, sent[name])
        wait_until(lambda: on_seaweed.spool.outbox.stats().counters.get("attempts_failed", 0) >= 12)
        assert on_seaweed.spool.outbox.stats().depth == 12
        assert on_seaweed.spool.outbox.stats().last_error is not None
    finally:
        seaweed.start()
    wait_until(lambda: on_seaweed.spool.outbox.stats().depth == 0, timeout_s=60)
    assert stored_objects(on_seaweed) == sent
    assert list(on_seaweed.spool.queue.iterdir()) == []


def test_at_the_spool_cap_new_uploads_are_refused_until_the_store_drains_it(
    on_seaweed: Parts, seaweed: SeaweedServer
) -> None:
    seaweed.stop()
    try:
        commit(on_seaweed.spool, "porch", "MDalarm_20250301_120000.mp4", b"v" * (3 << 20))
        reason = on_seaweed.spool.refusal()
        assert reason is not None and "spool full" in reason
    finally:
        seaweed.start()
    on_seaweed.uploader.drain()
    assert on_seaweed.spool.refusal() is None


def test_spooled_bytes_are_not_shared_with_a_later_upload_to_the_same_name(
    on_seaweed: Parts, tmp_path: Path
) -> None:
    """The home name and the spool copy share an inode until the store has the file: a camera
    that overwrites its test file in between must not change what is uploaded."""
    first = commit(on_seaweed.spool, "porch", "MDAlarm_20250301-120000.jpg", b"first")
    replacement = tmp_path / "replacement"
    replacement.write_bytes(b"second")
    first.unlink()  # what the FTP server does for a STOR over an existing name
    shutil.copyfile(replacement, first)
    on_seaweed.uploader.drain()
    assert stored_objects(on_seaweed) == {"MDAlarm_20250301-120000.jpg": b"first"}
    assert first.read_bytes() == b"second"  # not removed: it is another file now


def test_arrival_instant_names_the_hour_of_a_stampless_file(on_seaweed: Parts) -> None:
    path = put_in_home(on_seaweed.spool, "porch", "snapshot.jpg", b"jpeg")
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    on_seaweed.spool.commit(path, Arrival("porch", "snapshot.jpg", received))
    on_seaweed.uploader.drain()
    (info,) = list(on_seaweed.store.list(on_seaweed.prefix))
    assert f"/{received:%Y-%m-%d}/Hour-{received:%H}/snap/" in info.key


def test_through_ftp_the_store_away_means_spooled_then_452_at_the_cap_then_drained(
    seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real FTP uploads while SeaweedFS is stopped: accepted into the spool until the cap, then
    refused with 452 before any data is sent; once the store is back the spool drains and
    uploads are accepted again."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret_key)
    prefix = f"ftp-cap-{time.time_ns()}"
    settings: dict[str, str | int] = {
        "storage.url": f"s3://{seaweed.bucket}/{prefix}",
        "storage.endpoint_url": seaweed.endpoint_url,
        "storage.region": seaweed.region,
        "gateway.spool_max_mb": 2,
        "gateway.upload_retry_seconds": 0.1,
        "gateway.upload_max_retry_seconds": 0.5,
    }
    data = {f"MDAlarm_20250301-12000{n}.jpg": bytes([n]) * (1 << 20) for n in range(3)}
    with gateway_pipeline(tmp_path, settings) as pipeline:
        seaweed.stop()
        try:
            with ftplib.FTP(timeout=10) as ftp:
                ftp.connect(pipeline.host, pipeline.port)
                ftp.login("garage", PASSWORDS["garage"])
                names = list(data)
                for name in names[:2]:
                    assert ftp.storbinary(f"STOR {name}", io.BytesIO(data[name])).startswith("226")
                with pytest.raises(ftplib.error_temp, match=r"^452"):
                    ftp.storbinary(f"STOR {names[2]}", io.BytesIO(data[names[2]]))
        finally:
            seaweed.start()
        spool = open_spool(pipeline.runtime.config)
        try:
            wait_until(lambda: spool.outbox.stats().depth == 0, timeout_s=90)
            assert spool.outbox.stats().counters["rejected"] == 1
        finally:
            spool.close()
        with ftplib.FTP(timeout=10) as ftp:
            ftp.connect(pipeline.host, pipeline.port)
            ftp.login("garage", PASSWORDS["garage"])
            assert ftp.storbinary(f"STOR {names[2]}", io.BytesIO(data[names[2]])).startswith("226")
        store = pipeline.runtime.store
        wait_until(lambda: len(list(store.list(f"{prefix}/"))) == 3, timeout_s=60)
        stored = {info.key.rsplit("/", 1)[1]: read_all(store, info.key) for info in store.list(f"{prefix}/")}
    assert stored == data
