"""The ``file://`` store on a real disk: atomic puts, confinement, races, disk full."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from camvault.store.base import ObjectExists, ObjectNotFound, StoreError, read_all
from camvault.store.local import META_DIR, TMP_PREFIX, LocalStore
from camvault.store.url import BadObjectKey, StorageLocation, parse_storage_url

pytestmark = pytest.mark.functional


def all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_put_leaves_only_the_object_and_its_sidecar(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "vault")
    store.put("cam1/2016-10-18/a.mp4", io.BytesIO(b"clip" * 1000), content_type="video/mp4")
    store.put("cam1/2016-10-18/a.mp4", b"replaced", content_type="video/mp4")

    assert all_files(store.root) == [f"{META_DIR}/cam1/2016-10-18/a.mp4.json", "cam1/2016-10-18/a.mp4"]
    assert not any(TMP_PREFIX in name for name in all_files(store.root))
    assert store.bucket == "vault"
    path = store.local_path("cam1/2016-10-18/a.mp4")
    assert path == store.root / "cam1" / "2016-10-18" / "a.mp4"
    assert path.read_bytes() == b"replaced"


class WatchingReader(io.RawIOBase):
    """A source that, between its chunks, records what a concurrent reader of the store sees."""

    def __init__(self, store: LocalStore, key: str, chunks: list[bytes]) -> None:
        super().__init__()
        self.store, self.key, self.chunks = store, key, list(chunks)
        self.seen: list[tuple[bytes | None, list[str]]] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            current: bytes | None = read_all(self.store, self.key)
        except ObjectNotFound:
            current = None
        self.seen.append((current, [i.key for i in self.store.list("")]))
        return self.chunks.pop(0) if self.chunks else b""


def test_a_reader_never_sees_a_partial_object(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "vault")
    new = WatchingReader(store, "cam/new.mp4", [b"a" * 100, b"b" * 100, b"c" * 100])
    store.put("cam/new.mp4", new, content_type="video/mp4")  # type: ignore[arg-type]
    assert len(new.seen) == 4
    assert all(seen == (None, []) for seen in new.seen)  # absent until the rename
    assert read_all(store, "cam/new.mp4") == b"a" * 100 + b"b" * 100 + b"c" * 100

    old = read_all(store, "cam/new.mp4")
    again = WatchingReader(store, "cam/new.mp4", [b"x" * 50, b"y" * 50])
    store.put("cam/new.mp4", again, content_type="video/mp4")  # type: ignore[arg-type]
    assert all(seen == (old, ["cam/new.mp4"]) for seen in again.seen)  # old, whole, until rename
    assert read_all(store, "cam/new.mp4") == b"x" * 50 + b"y" * 50


def test_keys_are_confined_to_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "vault")
    for key in ["../escaped", "a/../../escaped", "/tmp/escaped", "a\\..\\escaped", "a/\x00"]:
        with pytest.raises(BadObjectKey):
            store.put(key, b"x", content_type="text/plain")
        with pytest.raises(BadObjectKey):
            store.open(key)
        with pytest.raises(BadObjectKey):
            store.local_path(key)
    with pytest.raises(BadObjectKey):
        list(store.list("../"))
    assert not (tmp_path / "escaped").exists()
    assert all_files(tmp_path) == []


def test_only_one_of_two_racing_if_absent_puts_wins(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "vault")
    outcomes: dict[str, list[str]] = {}

    def put(key: str, body: bytes, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            store.put(key, body, content_type="text/plain", if_absent=True)
            outcomes[key].append(body.decode())
        except ObjectExists:
            outcomes[key].append("lost")

    for n in range(20):
        key = f"race/{n}.txt"
        outcomes[key] = []
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=put, args=(key, s.encode(), barrier)) for s in "AB"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [o for o in outcomes[key] if o != "lost"]
        assert len(winners) == 1, outcomes[key]
        assert read_all(store, key) == winners[0].encode()
        assert store.head(key).etag is not None  # the winner's sidecar, not a guess


def test_delete_removes_the_sidecar_and_empty_folders(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "vault")
    store.put("cam1/d1/h/a.mp4", b"a", content_type="video/mp4")
    store.put("cam1/d2/b.mp4", b"b", content_type="video/mp4")
    store.delete("cam1/d1/h/a.mp4")
    assert all_files(store.root) == [f"{META_DIR}/cam1/d2/b.mp4.json", "cam1/d2/b.mp4"]
    assert not (store.root / "cam1" / "d1").exists()
    assert not (store.root / META_DIR / "cam1" / "d1").exists()
    store.delete("cam1/d2/b.mp4")
    assert sorted(p.name for p in store.root.iterdir()) == [META_DIR]


def test_objects_copied_in_by_hand_are_listed_with_guessed_facts(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "vault")
    (store.root / "cam1").mkdir()
    (store.root / "cam1" / "old.jpg").write_bytes(b"jpeg")
    store.put("cam1/new.mp4", b"mp4", content_type="video/mp4", metadata={"camera": "cam1"})
    (store.root / "cam1" / "new.mp4").write_bytes(b"edited by hand")  # sidecar now stale

    infos = {i.key: i for i in store.list("cam1/")}
    assert sorted(infos) == ["cam1/new.mp4", "cam1/old.jpg"]
    assert (infos["cam1/old.jpg"].content_type, infos["cam1/old.jpg"].etag) == ("image/jpeg", None)
    assert infos["cam1/new.mp4"].size == len(b"edited by hand")
    assert infos["cam1/new.mp4"].etag is None
    assert dict(infos["cam1/new.mp4"].metadata) == {}


def test_a_key_cannot_be_the_folder_of_another(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "vault")
    store.put("cam1", b"file", content_type="text/plain")
    with pytest.raises(StoreError, match="share a name"):
        store.put("cam1/a.mp4", b"x", content_type="video/mp4")
    with pytest.raises(ObjectNotFound):
        store.head("cam1/a.mp4")
    assert read_all(store, "cam1") == b"file"


def test_put_time_comes_from_the_clock_and_reaches_the_notification(tmp_path: Path) -> None:
    instant = datetime(2016, 10, 18, 16, 37, 6, tzinfo=UTC)
    notices: list[dict[str, Any]] = []
    store = LocalStore(tmp_path / "vault", notify=notices.append, clock=lambda: instant)
    info = store.put("cam1/a.mp4", b"x", content_type="video/mp4")
    assert info.last_modified == instant == store.head("cam1/a.mp4").last_modified
    (record,) = notices[0]["Records"]
    assert record["eventTime"].startswith("2016-10-18T16:37:06")
    assert record["s3"]["bucket"]["name"] == "vault"


def test_a_failing_notify_does_not_undo_the_put(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def broken(_: dict[str, Any]) -> None:
        raise RuntimeError("queue is gone")

    store = LocalStore(tmp_path / "vault", notify=broken)
    with caplog.at_level(logging.ERROR, logger="camvault.store.streams"):
        info = store.put("cam1/a.mp4", b"clip", content_type="video/mp4")
    assert read_all(store, "cam1/a.mp4") == b"clip"
    assert info.size == 4
    (record,) = [r for r in caplog.records if r.name == "camvault.store.streams"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "stored vault/cam1/a.mp4 but its ObjectCreated notification failed"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "queue is gone" in caplog.text  # the traceback is logged with it


@contextlib.contextmanager
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs mounted at ``tmp_path/tiny`` (needs root, real or in a namespace)."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)],
        check=True,
        capture_output=True,
    )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True, capture_output=True)


NAMESPACE_ROOT = ["unshare", "--user", "--map-root-user", "--mount"]


def rerun_as_namespace_root(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Run this same test again in a child pytest that is root in its own user and mount
    namespaces (so it may mount a tmpfs no one else sees); fail if the child does not pass.
    Fails, saying what to do, when this machine allows neither: a test that cannot run proves
    nothing and must not pass quietly."""
    if shutil.which("unshare") is None:
        pytest.fail(f"not root (euid {os.geteuid()}) and no unshare(1) to mount a tmpfs in a namespace")
    probe = subprocess.run([*NAMESPACE_ROOT, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.fail(
            f"not root (euid {os.geteuid()}) and unprivileged user namespaces are refused here "
            f"({' '.join(NAMESPACE_ROOT)}: {probe.stderr.strip() or probe.returncode}): run as root"
        )
    child = subprocess.run(
        [
            *NAMESPACE_ROOT,
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--basetemp={tmp_path / 'in-namespace'}",
            request.node.nodeid,
        ],
        cwd=request.config.rootpath,
        capture_output=True,
        text=True,
        check=False,
        timeout=100,
    )
    assert child.returncode == 0 and "1 passed" in child.stdout, child.stdout + child.stderr


def test_disk_full_removes_the_temp_file_and_says_what_to_do(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        rerun_as_namespace_root(request, tmp_path)
        return
    with tiny_disk(tmp_path) as disk:
        check_disk_full(disk)


def check_disk_full(disk: Path) -> None:
    store = LocalStore(disk / "vault")
    two_mib = io.BytesIO(b"v" * (2 << 20))
    with pytest.raises(StoreError, match=r"disk full: free space on .*tiny.* \[storage\] url") as err:
        store.put("cam1/big.mp4", two_mib, content_type="video/mp4")
    assert "cam1/big.mp4" in str(err.value)
    assert two_mib.tell() > 512 * 1024  # really wrote until the disk was full
    assert not any(TMP_PREFIX in name for name in all_files(store.root))
    with pytest.raises(ObjectNotFound):
        store.head("cam1/big.mp4")
    store.put("cam1/small.jpg", b"j" * 1000, content_type="image/jpeg")  # space came back
    assert read_all(store, "cam1/small.jpg") == b"j" * 1000


def test_storage_urls_name_the_store(tmp_path: Path) -> None:
    relative = parse_storage_url("file://objects", tmp_path)
    assert relative == StorageLocation("file", "objects", "", tmp_path / "objects")
    absolute = parse_storage_url(f"file://{tmp_path}/vault/", Path("/elsewhere"))
    assert (absolute.root, absolute.bucket) == (tmp_path / "vault", "vault")
    assert absolute.root is not None
    assert LocalStore(absolute.root).bucket == "vault"
    assert parse_storage_url("s3://cams-1/patrolcams/", tmp_path) == StorageLocation(
        "s3", "cams-1", "patrolcams", None
    )
    assert parse_storage_url("s3://cams-1", tmp_path).prefix == ""
    for bad in ["ftp://x/y", "s3://Bad_Bucket/p", "s3://ab/p", "s3://b1ucket/a/../b", "file://", "objects"]:
        with pytest.raises(ValueError, match=r"file://PATH .* or s3://BUCKET/PREFIX"):
            parse_storage_url(bad, tmp_path)
