"""The embedded processor: durable journal, worker threads, retries with backoff, no silent drops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from camvault.catalog.sqlite import SQLiteCatalog
from camvault.domain.keys import event_id_for_key
from camvault.factory import NotifyRelay
from camvault.media.probe import MediaLimits
from camvault.processor.core import Processor, ProcessorSettings
from camvault.processor.journal import Journal
from camvault.processor.workers import RetryPolicy, Workers
from camvault.store.base import ObjectInfo, StoreError
from camvault.store.local import LocalStore
from tests.support.media import make_jpeg
from tests.support.timing import Clock

pytestmark = pytest.mark.functional

KEY = "cams/porch/2025-01-01/Hour-12/snap/image-2025-01-01-12-00-00.jpg"


class FlakyStore(LocalStore):
    """A local store whose ``head`` fails the first ``failures`` times: a store that is down."""

    def __init__(self, root: Path, failures: int, notify: NotifyRelay | None = None) -> None:
        super().__init__(root, notify=notify)
        self.failures = failures

    def head(self, key: str) -> ObjectInfo:
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("store unreachable")
        return super().head(key)


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[dict[str, Any]]:
    clock = Clock()
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    journal = Journal(tmp_path / "journal.db", clock=clock)
    parts = {"clock": clock, "catalog": catalog, "journal": journal, "tmp": tmp_path}
    yield parts
    parts["journal"].close()
    catalog.close()


def processor(store: LocalStore, catalog: SQLiteCatalog) -> Processor:
    settings = ProcessorSettings(
        prefix="cams",
        default_zone=ZoneInfo("UTC"),
        skew_tolerance=timedelta(minutes=15),
        limits=MediaLimits(),
    )
    return Processor(store, catalog, settings, zone_of=lambda name: None)


def put_snapshot(store: LocalStore, tmp: Path, key: str = KEY) -> None:
    image = make_jpeg(tmp / "snap.jpg", width=64, height=48)
    store.put(key, image.read_bytes(), content_type="image/jpeg", metadata={"camera": "porch"})


def test_a_store_outage_is_retried_with_backoff_until_it_succeeds(parts: dict[str, Any]) -> None:
    relay = NotifyRelay()
    store = FlakyStore(parts["tmp"] / "objects", failures=2, notify=relay)
    workers = Workers(parts["journal"], processor(store, parts["catalog"]), retry=RetryPolicy(5, 10.0))
    relay.target = workers.notify
    put_snapshot(store, parts["tmp"])

    first = workers.run_one()
    assert first is not None and first.status == "failed"
    assert workers.run_one() is None  # not due until the backoff has passed
    parts["clock"].now += timedelta(seconds=20)  # first delay: 10 s x [0.5, 1.5)
    assert workers.run_one().status == "failed"  # type: ignore[union-attr]
    assert workers.run_one() is None
    parts["clock"].now += timedelta(seconds=40)  # second delay: 20 s x [0.5, 1.5)
    done = workers.run_one()
    assert done is not None and done.status == "cataloged"
    assert parts["catalog"].get(event_id_for_key(KEY)) is not None
    stats = parts["journal"].stats()
    assert stats.pending == 0 and stats.failed == 0
    assert stats.counters == {"attempts_failed": 2, "cataloged": 1}
    store.close()


def test_after_the_last_attempt_the_object_stays_visible_as_failed(parts: dict[str, Any]) -> None:
    store = FlakyStore(parts["tmp"] / "objects", failures=100)
    workers = Workers(parts["journal"], processor(store, parts["catalog"]), retry=RetryPolicy(3, 1.0))
    parts["journal"].add([KEY])
    for _ in range(3):
        assert workers.run_one() is not None
        parts["clock"].now += timedelta(minutes=1)
    assert workers.run_one() is None
    stats = parts["journal"].stats()
    assert stats.failed == 1 and stats.pending == 0
    assert stats.last_error == "StoreError: store unreachable"
    assert parts["journal"].failed() == [(KEY, "StoreError: store unreachable")]

    store.failures = 0
    put_snapshot(store, parts["tmp"])
    assert parts["journal"].retry_failed() == 1
    assert workers.run_one().status == "cataloged"  # type: ignore[union-attr]
    assert parts["journal"].stats().failed == 0
    store.close()


def test_worker_threads_drain_notifications_and_ignore_derived_objects(parts: dict[str, Any]) -> None:
    relay = NotifyRelay()
    store = LocalStore(parts["tmp"] / "objects", notify=relay)
    workers = Workers(parts["journal"], processor(store, parts["catalog"]), threads=2, poll_s=0.05)
    relay.target = workers.notify
    workers.start()
    try:
        keys = [KEY.replace("12-00-00", f"12-00-{n:02d}") for n in range(6)]
        for key in keys:
            put_snapshot(store, parts["tmp"], key)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and parts["journal"].stats().counters.get("cataloged", 0) < 6:
            time.sleep(0.05)
    finally:
        workers.stop()
    stats = parts["journal"].stats()
    assert stats.counters.get("cataloged") == 6
    assert stats.pending == 0
    # thumbnails were written (derived objects) but never became work for the processor
    assert "skipped" not in stats.counters
    thumbs = [info.key for info in store.list("cams/") if info.key.endswith(".thumb.jpg")]
    assert len(thumbs) == 6
    store.close()


def test_journal_survives_a_restart_and_a_lost_claim_comes_back(parts: dict[str, Any]) -> None:
    journal: Journal = parts["journal"]
    journal.add([KEY, KEY])  # a re-delivered notification is one entry
    claimed = journal.claim(lease_s=60)
    assert claimed is not None and claimed.key == KEY
    journal.close()  # the process dies while holding the claim

    reopened = Journal(parts["tmp"] / "journal.db", clock=parts["clock"])
    parts["journal"] = reopened
    assert reopened.claim() is None  # still leased to the dead process
    parts["clock"].now += timedelta(seconds=61)
    assert reopened.claim() == claimed
    assert reopened.stats().pending == 1


def test_objects_outside_the_prefix_or_with_bad_keys_are_not_cataloged(parts: dict[str, Any]) -> None:
    store = LocalStore(parts["tmp"] / "objects")
    proc = processor(store, parts["catalog"])
    assert proc.process("other/porch/2025-01-01/Hour-12/snap/a.jpg").status == "skipped"
    rejected = proc.process("cams/porch/2025-01-01/Hour-99/snap/a.jpg")
    assert rejected.status == "rejected" and "hour" in (rejected.reason or "").lower()
    assert proc.process(KEY).status == "skipped"  # announced but no longer there
    assert proc.process(KEY + ".thumb.jpg").reason == "derived object"
    store.close()
