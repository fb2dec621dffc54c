"""Several camvault processes on one data folder: first opens, failed transactions, reindex beside
ingest, and a key waiting out its backoff when someone asks for it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from camvault.accounts.registry import CameraRegistry
from camvault.catalog.base import EventQuery
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.cli.data import _prune
from camvault.config.loader import load_config
from camvault.factory import Runtime, build_runtime
from camvault.processor.journal import Journal
from tests.support.cli import camvault, init_data
from tests.support.media import make_jpeg

pytestmark = pytest.mark.functional

OPENERS = {
    "journal": "from camvault.processor.journal import Journal as Opened",
    "cameras": "from camvault.accounts.registry import CameraRegistry as Opened",
    "users": "from camvault.accounts.local import LocalAuthStore as Opened",
    "catalog": "from camvault.catalog.sqlite import SQLiteCatalog as Opened",
}


@pytest.mark.parametrize("what", sorted(OPENERS))
def test_processes_opening_a_fresh_database_together_all_succeed(tmp_path: Path, what: str) -> None:
    script = (
        "import sys, time; from pathlib import Path; "
        f"{OPENERS[what]}; "
        "start = float(sys.argv[2]); "
        "time.sleep(max(0, start - time.time())); "
        "Opened(Path(sys.argv[1])).close()"
    )
    reference = tmp_path / f"{what}-alone.db"
    subprocess.run([sys.executable, "-c", script, str(reference), "0"], check=True)
    with closing(sqlite3.connect(reference)) as db:
        latest = db.execute("PRAGMA user_version").fetchone()[0]  # the schema one process makes
    assert latest >= 1
    for round_number in range(3):
        path = tmp_path / f"{what}-{round_number}.db"
        start = str(datetime.now(UTC).timestamp() + 0.6)  # all four start together
        children = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(path), start], stderr=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        errors = [child.communicate(timeout=60)[1] for child in children]
        assert [child.returncode for child in children] == [0, 0, 0, 0], errors
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == latest


def test_a_failed_journal_write_releases_the_lock(tmp_path: Path) -> None:
    first = Journal(tmp_path / "journal.db")
    second = Journal(tmp_path / "journal.db")
    try:
        with pytest.raises(sqlite3.Error):
            first.add(["ok/key", object()])  # type: ignore[list-item]  # the second row cannot be bound
        second.add(["other/key"])  # would be "database is locked" if the first kept its transaction
        first.add(["third/key"])
        assert second.stats().pending == 2  # the failed batch left nothing half-written
    finally:
        first.close()
        second.close()


class Now:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.instant = datetime(2025, 1, 1, 10, 59, 59, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.instant


@pytest.fixture
def now() -> Now:
    return Now()


@pytest.fixture
def runtime(tmp_path: Path, now: Now) -> Iterator[Runtime]:
    """The embedded parts on a fresh data folder, with camera ``porch`` (UTC) registered."""
    config = load_config(str(init_data(tmp_path / "data")), {}, tmp_path)
    built = build_runtime(config, clock=now)
    built.cameras.add("porch", "UTC")
    yield built
    built.close()


def snapshot(tmp_path: Path, name: str = "image-2025-01-01-12-00-00.jpg", size: int = 64) -> Path:
    folder = tmp_path / f"made-{size}"
    folder.mkdir(exist_ok=True)
    return make_jpeg(folder / name, width=size, height=size)


def test_a_key_waiting_for_its_retry_is_processed_when_asked_for(runtime: Runtime, tmp_path: Path) -> None:
    stored = runtime.ingestor.ingest(snapshot(tmp_path), "porch")
    runtime.journal.fail(stored.key, "earlier failure", max_attempts=5, base_delay_s=3600)
    assert runtime.workers.run_one() is None  # not due for an hour
    (outcome,) = runtime.workers.drain([stored.key])
    assert outcome.status == "cataloged"


def test_the_same_notification_twice_is_one_entry(runtime: Runtime, tmp_path: Path) -> None:
    stored = runtime.ingestor.ingest(snapshot(tmp_path), "porch")
    first = runtime.processor.process(stored.key)
    second = runtime.processor.process(stored.key)
    assert first.new is True and second.new is False
    assert first.event == second.event
    assert len(runtime.catalog.query(EventQuery(limit=500)).events) == 1


def test_the_same_stampless_file_in_another_hour_is_recognised(
    runtime: Runtime, tmp_path: Path, now: Now
) -> None:
    """Without a time stamp in its name a file's key depends on its arrival hour; the same bytes
    sent again an hour later must still be one object."""
    image = snapshot(tmp_path, "snapshot.jpg")
    first = runtime.ingestor.ingest(image, "porch")
    now.instant += timedelta(seconds=2)
    again = runtime.ingestor.ingest(image, "porch")
    assert first.key == "porch/2025-01-01/Hour-10/snap/snapshot.jpg"
    assert (again.key, again.created) == (first.key, False)
    other = snapshot(tmp_path, "snapshot.jpg", size=32)  # same name, other bytes
    assert runtime.ingestor.ingest(other, "porch").key == "porch/2025-01-01/Hour-11/snap/snapshot.jpg"


def test_reindex_keeps_entries_stored_after_its_listing(runtime: Runtime, tmp_path: Path) -> None:
    """An entry missing from reindex's listing is only removed when its object is really gone."""
    stored = runtime.ingestor.ingest(snapshot(tmp_path), "porch")
    runtime.workers.drain([stored.key])
    assert _prune(runtime, listed=set()) == 0  # stored by "another process" after the listing
    runtime.store.delete(stored.key)
    assert _prune(runtime, listed=set()) == 1


def test_ingest_and_reindex_at_the_same_time_lose_nothing(tmp_path: Path) -> None:
    config = init_data(tmp_path / "data")
    assert camvault("camera", "add", "porch", "--timezone", "UTC", "--config", config).code == 0
    images = [
        make_jpeg(tmp_path / f"image-2025-01-01-12-00-{n:02d}.jpg", width=64, height=48) for n in range(12)
    ]
    assert camvault("ingest", *images[:6], "--camera", "porch", "--config", config).code == 0
    reindex = subprocess.Popen(
        [sys.executable, "-m", "camvault", "reindex", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ingest = camvault("ingest", *images[6:], "--camera", "porch", "--config", config)
    _, err = reindex.communicate(timeout=120)
    assert ingest.code == 0, ingest.err
    assert reindex.returncode == 0, err
    catalog = SQLiteCatalog(config.parent / "catalog.db")
    try:
        assert len(catalog.query(EventQuery(limit=500)).events) == 12
    finally:
        catalog.close()


def test_camera_names_ignore_case(tmp_path: Path) -> None:
    registry = CameraRegistry(tmp_path / "accounts.db")
    try:
        registry.add("Porch", "UTC")
        assert registry.get("porch").name == "Porch"
    finally:
        registry.close()
