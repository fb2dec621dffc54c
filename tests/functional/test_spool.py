"""The spool: a committed upload is durable and queued once; back-pressure says why; a restart
finishes whatever a crash interrupted, losing and duplicating nothing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from camvault.gateway.metrics import Counters, figures, prometheus_text
from camvault.gateway.outbox import Outbox, Upload
from camvault.gateway.spool import Arrival, Spool, SpoolError, SpoolLimits, upload_id

pytestmark = pytest.mark.functional

RECEIVED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    opened = Spool.open(tmp_path / "spool")
    yield opened
    opened.close()


def upload(
    spool: Spool, name: str, data: bytes = b"clip bytes", camera: str = "porch"
) -> tuple[Path, Arrival]:
    """A finished upload in the camera's home (as the FTP server leaves it) and its arrival."""
    path = spool.home(camera) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path, Arrival(camera, name, RECEIVED)


def test_a_committed_upload_is_in_the_queue_and_the_outbox(spool: Spool) -> None:
    path, arrival = upload(spool, "record/MDalarm_20250301_120000.mkv", b"x" * 1000)
    spool.commit(path, arrival)
    spooled = spool.spooled(upload_id(arrival))
    assert spooled.read_bytes() == b"x" * 1000
    assert path.exists(), "the camera still sees its file (it may LIST or DELE it)"
    assert spooled.stat().st_ino == path.stat().st_ino  # a link: no bytes copied
    (queued,) = spool.outbox.uploads()
    assert (queued.camera, queued.source_path, queued.received, queued.size) == (
        "porch",
        "record/MDalarm_20250301_120000.mkv",
        RECEIVED,
        1000,
    )
    assert spool.home("porch").stat().st_mode & 0o777 == 0o700


def test_committing_the_same_arrival_twice_queues_it_once(spool: Spool) -> None:
    path, arrival = upload(spool, "snap.jpg")
    spool.commit(path, arrival)
    spool.commit(path, arrival)
    assert len(spool.outbox.uploads()) == 1
    assert spool.outbox.stats().depth == 1


def test_the_same_name_uploaded_again_later_is_a_second_upload(spool: Spool) -> None:
    path, arrival = upload(spool, "snap.jpg", b"first")
    spool.commit(path, arrival)
    path.unlink()  # a STOR over an existing name writes a new file
    path.write_bytes(b"second")
    spool.commit(path, Arrival("porch", "snap.jpg", RECEIVED + timedelta(seconds=5)))
    contents = sorted(spool.spooled(u.id).read_bytes() for u in spool.outbox.uploads())
    assert contents == [b"first", b"second"]


def test_a_file_outside_the_camera_homes_is_not_committed(spool: Spool, tmp_path: Path) -> None:
    stray = tmp_path / "elsewhere.jpg"
    stray.write_bytes(b"x")
    with pytest.raises(SpoolError, match=r"elsewhere\.jpg"):
        spool.commit(stray, Arrival("porch", "elsewhere.jpg", RECEIVED))
    assert spool.outbox.uploads() == []


def test_a_vanished_file_is_not_committed(spool: Spool) -> None:
    with pytest.raises(SpoolError, match="cannot spool"):
        spool.commit(spool.home("porch") / "gone.jpg", Arrival("porch", "gone.jpg", RECEIVED))
    assert spool.outbox.uploads() == []


def test_uploads_finishing_together_are_each_committed_or_each_refused(spool: Spool) -> None:
    files = [upload(spool, f"snap{n:02d}.jpg", bytes([n]) * 100) for n in range(16)]
    spool.spooled(upload_id(files[5][1])).write_bytes(b"another upload")  # its link must fail
    together = threading.Barrier(len(files))

    def commit(path: Path, arrival: Arrival) -> SpoolError | None:
        together.wait()
        try:
            spool.commit(path, arrival)
        except SpoolError as exc:
            return exc
        return None

    with ThreadPoolExecutor(len(files)) as pool:
        outcomes = list(pool.map(commit, *zip(*files, strict=True)))
    assert [n for n, outcome in enumerate(outcomes) if outcome is not None] == [5]
    for n, (_, arrival) in enumerate(files):
        if n != 5:
            assert spool.spooled(upload_id(arrival)).read_bytes() == bytes([n]) * 100
    assert len(spool.outbox.uploads()) == 16  # the failed one is repaired or kept failed at restart


def test_a_naive_arrival_instant_is_refused(spool: Spool) -> None:
    path, _ = upload(spool, "snap.jpg")
    with pytest.raises(SpoolError, match="timezone-aware"):
        spool.commit(path, Arrival("porch", "snap.jpg", datetime(2025, 3, 1, 12, 0)))


def test_release_keeps_a_home_name_that_now_holds_another_upload(spool: Spool) -> None:
    path, arrival = upload(spool, "snap.jpg", b"first")
    spool.commit(path, arrival)
    (first,) = spool.outbox.uploads()
    path.unlink()
    path.write_bytes(b"second, not uploaded yet")
    spool.outbox.stored(first.id, "porch/key")
    spool.release(first)
    assert path.read_bytes() == b"second, not uploaded yet"
    assert not spool.spooled(first.id).exists()
    assert spool.outbox.uploads() == []


def test_refusal_names_the_spool_cap(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path / "spool", limits=SpoolLimits(max_bytes=1 << 20))
    try:
        assert spool.refusal() is None
        path, arrival = upload(spool, "big.mp4", b"x" * (1 << 20))
        spool.commit(path, arrival)
        reason = spool.refusal()
        assert reason is not None and "spool full" in reason and "spool_max_mb" in reason
    finally:
        spool.close()


def test_the_spool_cap_counts_what_waits_across_a_restart_and_frees_what_was_stored(
    tmp_path: Path,
) -> None:
    limits = SpoolLimits(max_bytes=3 << 20)
    spool = Spool.open(tmp_path / "spool", limits=limits)
    try:
        for name in ("a.mp4", "b.mp4"):
            spool.commit(*upload(spool, name, b"x" * (1 << 20)))
        spool.commit(*upload(spool, "a.mp4", b"x" * (1 << 20)))  # the same arrival again: once
        assert spool.outbox.waiting_bytes() == 2 << 20
    finally:
        spool.close()
    spool = Spool.open(tmp_path / "spool", limits=limits)  # a restart sums what still waits
    try:
        assert spool.outbox.waiting_bytes() == 2 << 20
        spool.commit(*upload(spool, "c.mp4", b"x" * (1 << 20)))
        assert "spool full" in (spool.refusal() or "")
        first = spool.outbox.uploads()[0]
        spool.outbox.stored(first.id, "porch/a.mp4")
        spool.outbox.stored(first.id, "porch/a.mp4")  # told twice: freed once
        assert spool.outbox.waiting_bytes() == 2 << 20
        assert spool.refusal() is None
        spool.release(first)
        assert spool.outbox.waiting_bytes() == 2 << 20
    finally:
        spool.close()


def test_refusal_names_the_free_disk_floor(tmp_path: Path) -> None:
    floor = 1 << 60  # more than any disk has
    spool = Spool.open(tmp_path / "spool", limits=SpoolLimits(min_free_bytes=floor))
    try:
        reason = spool.refusal()
        assert reason is not None and "spool_min_free_mb" in reason
    finally:
        spool.close()


def test_commits_are_queued_in_the_order_given(tmp_path: Path) -> None:
    """The factory passes capture instants; a later upload captured earlier goes first."""
    captured = {"a.jpg": RECEIVED, "b.jpg": RECEIVED - timedelta(hours=1)}
    spool = Spool.open(tmp_path / "spool", order_of=lambda arrival: captured[arrival.source_path])
    try:
        for name in ("a.jpg", "b.jpg"):
            spool.commit(*upload(spool, name))
        first = spool.outbox.claim()
        assert first is not None and first.source_path == "b.jpg"
    finally:
        spool.close()


# --- restart after a crash -------------------------------------------------------------------


def test_restart_links_an_upload_whose_commit_stopped_after_the_outbox_row(spool: Spool) -> None:
    path, arrival = upload(spool, "snap.jpg", b"bytes")
    spool.commit(path, arrival)
    spooled = spool.spooled(upload_id(arrival))
    spooled.unlink()  # the state of a crash between the outbox row and the link
    spool.reconcile()
    assert spooled.read_bytes() == b"bytes"
    assert spool.outbox.stats().depth == 1


def test_restart_keeps_an_upload_whose_files_vanished_visible_as_failed(spool: Spool) -> None:
    path, arrival = upload(spool, "snap.jpg")
    spool.commit(path, arrival)
    spool.spooled(upload_id(arrival)).unlink()
    path.unlink()
    spool.reconcile()
    spool.reconcile()  # and the next restart: still there, counted once
    ((failed, reason),) = spool.outbox.failed()
    assert failed.source_path == "snap.jpg" and "vanished" in reason
    assert spool.outbox.stats().counters["spool_missing"] == 1


def test_restart_tries_uploads_kept_as_failed_again(spool: Spool) -> None:
    path, arrival = upload(spool, "snap.jpg")
    spool.commit(path, arrival)
    spool.outbox.fail(upload_id(arrival), "camera gone", retry_s=1, max_retry_s=1, permanent=True)
    assert spool.outbox.claim() is None
    spool.reconcile()
    again = spool.outbox.claim()
    assert again is not None and again.id == upload_id(arrival)


def test_restart_finishes_the_cleanup_of_a_stored_upload(spool: Spool) -> None:
    path, arrival = upload(spool, "snap.jpg")
    spool.commit(path, arrival)
    spool.outbox.stored(upload_id(arrival), "porch/2025-03-01/Hour-12/snap/snap.jpg")
    spool.reconcile()  # crashed after the store confirmed, before the spool copy was removed
    assert not spool.spooled(upload_id(arrival)).exists()
    assert not path.exists()
    assert spool.outbox.uploads() == []


def test_commits_after_a_cleanup_are_still_fsynced(spool: Spool) -> None:
    """Forgetting a stored upload skips its own fsync; the commits behind a 226 never do."""
    for name in ("a.jpg", "b.jpg"):
        path, arrival = upload(spool, name)
        spool.commit(path, arrival)
        (queued,) = spool.outbox.uploads()
        spool.outbox.stored(queued.id, f"porch/{name}")
        spool.release(queued)
        assert spool.outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert spool.outbox.uploads() == []


def test_restart_sets_a_spool_file_without_outbox_row_aside(spool: Spool) -> None:
    stray = spool.queue / "0123456789abcdef"
    stray.write_bytes(b"unknown")
    spool.reconcile()
    assert (spool.orphans / stray.name).read_bytes() == b"unknown"
    assert not stray.exists()
    assert spool.outbox.stats().counters["spool_orphans"] == 1


def test_restart_makes_uploads_claimed_by_the_dead_process_due_again(spool: Spool) -> None:
    spool.commit(*upload(spool, "snap.jpg"))
    assert spool.outbox.claim(lease_s=3600) is not None
    assert spool.outbox.claim() is None  # still leased to the process that died
    spool.reconcile()
    assert spool.outbox.claim() is not None


def test_an_outbox_from_a_newer_camvault_is_a_clear_error(tmp_path: Path) -> None:
    Outbox(tmp_path / "spool" / "outbox.db").close()
    with closing(sqlite3.connect(tmp_path / "spool" / "outbox.db")) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(SpoolError, match="newer camvault"):
        Spool.open(tmp_path / "spool")


# --- figures ---------------------------------------------------------------------------------


def test_figures_count_what_the_ftp_front_refused_and_what_waits(spool: Spool) -> None:
    counters = Counters(spool.outbox)
    counters.rejected()
    counters.rejected()
    counters.ignored()
    counters.aborted()
    spool.commit(*upload(spool, "snap.jpg", b"12345"))
    fig = figures(spool.outbox, RECEIVED + timedelta(seconds=90), refusal="spool full")
    assert (fig.rejected, fig.ignored, fig.aborted) == (2, 1, 1)
    assert (fig.outbox_depth, fig.outbox_bytes, fig.oldest_pending_age_s) == (1, 5, 90.0)
    text = prometheus_text(fig)
    assert "camvault_gateway_outbox_depth 1\n" in text
    assert "camvault_gateway_rejected_uploads_total 2\n" in text
    assert "camvault_gateway_accepting_uploads 0\n" in text


def test_uploads_per_second_counts_the_last_minute(spool: Spool) -> None:
    for number in range(3):
        path, arrival = upload(spool, f"{number}.jpg")
        spool.commit(path, arrival)
        stored = Upload(upload_id(arrival), "porch", arrival.source_path, RECEIVED, 1, "", 0)
        spool.outbox.stored(stored.id, f"porch/{number}.jpg")
    fig = figures(spool.outbox, datetime.now(UTC))
    assert fig.uploads_per_second == pytest.approx(3 / 60, abs=0.001)
    assert fig.uploaded == 3
    assert fig.outbox_depth == 0


def test_retries_back_off_but_never_wait_longer_than_the_cap(tmp_path: Path) -> None:
    """A store away for a day is retried all day: the delay doubles up to the cap, never beyond,
    and an upload is never given up."""
    now = [RECEIVED]
    outbox = Outbox(tmp_path / "outbox.db", clock=lambda: now[0])
    spool = Spool(tmp_path / "spool", outbox)
    try:
        spool.commit(*upload(spool, "snap.jpg"))
        for attempt in range(60):
            claimed = outbox.claim()
            assert claimed is not None, "an upload must stay due within the cap"
            outbox.fail(claimed.id, "store away", retry_s=1, max_retry_s=10, permanent=False)
            if attempt >= 4:  # 1, 2, 4, 8 s, then the cap: 10 s with a jitter of 0.5-1.5
                now[0] += timedelta(seconds=4.9)
                assert outbox.claim() is None, "the delay must have grown to the cap"
            now[0] += timedelta(seconds=15.1)
        assert outbox.stats().failed == 0
    finally:
        spool.close()
