"""The object store contract, run against ``file://`` (LocalStore) and ``s3://`` (SeaweedFS).

Decided semantics both backends share: ``list`` is a string-prefix match in UTF-8 key order
(``cam1`` also lists ``cam1-x`` and ``cam10/…``, as S3 does); a range that starts at or after
the end reads as empty, and one that runs past the end stops at the end; metadata names come
back lower-case; a single-part etag is the md5 hex of the bytes.
"""

from __future__ import annotations

import hashlib
import io
import urllib.request
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from camvault.store.base import ObjectExists, ObjectNotFound, StoreError, read_all
from camvault.store.url import BadObjectKey
from tests.contract.conftest import Backend

pytestmark = pytest.mark.contract

CAPTURE = "2016-10-18T18:37:06+02:00"


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_put_head_open_round_trip(backend: Backend) -> None:
    key = backend.key("cam1/2016-10-18/Hour-16/record/clip.mp4")
    body = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 10

    info = backend.store.put(
        key, body, content_type="video/mp4", metadata={"Camera": "cam1", "capture-time": CAPTURE}
    )
    head = backend.store.head(key)

    expected_meta = {"camera": "cam1", "capture-time": CAPTURE}
    md5 = md5_hex(body)
    assert (info.key, info.size, info.etag, dict(info.metadata)) == (key, len(body), md5, expected_meta)
    assert info.content_type == "video/mp4"
    assert (head.key, head.size, head.etag, head.content_type) == (key, len(body), md5, "video/mp4")
    assert dict(head.metadata) == expected_meta
    assert head.last_modified.tzinfo is not None
    assert read_all(backend.store, key) == body


def test_the_put_answer_proves_the_bytes_without_a_read(backend: Backend, tmp_path: Path) -> None:
    """A caller that may only put (the gateway's put-only credential) verifies from the answer."""
    from camvault.gateway.uploader import expected_etag

    small, big = tmp_path / "small.jpg", tmp_path / "big.mp4"
    small.write_bytes(b"jpeg bytes")
    big.write_bytes(hashlib.sha256(b"big").digest() * ((9 << 20) // 32))
    for path in (small, big):
        with path.open("rb") as data:
            answer = backend.store.put(backend.key(path.name), data, content_type="application/octet-stream")
        assert answer.size == path.stat().st_size and answer.etag_is_digest
        assert answer.etag == expected_etag(path, answer.part_size)


def test_empty_object(backend: Backend) -> None:
    key = backend.key("empty.bin")
    info = backend.store.put(key, b"", content_type="application/octet-stream")
    assert info.size == 0
    assert backend.store.head(key).size == 0
    assert read_all(backend.store, key) == b""


class Trickle(io.RawIOBase):
    """A file that hands out at most 64 KiB per read, like a socket or a pipe."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = path.open("rb")
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        return self._file.read(min(size if size >= 0 else 1 << 16, 1 << 16))

    def close(self) -> None:
        self._file.close()
        super().close()


def test_streamed_put_of_20_mb_from_a_file_object(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "big.mp4"
    chunk = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB, not all-equal bytes
    with source.open("wb") as out:
        for i in range(160):
            out.write(bytes([i]) + chunk[1:])
    size = source.stat().st_size
    assert size == 20 * 1024 * 1024
    key = backend.key("cam1/big.mp4")

    with Trickle(source) as stream:
        info = backend.store.put(key, stream, content_type="video/mp4")  # type: ignore[arg-type]
        assert stream.reads > 300  # really streamed in small reads, not one big read

    assert info.size == size == backend.store.head(key).size
    digest = hashlib.md5(usedforsecurity=False)
    with backend.store.open(key) as got:
        while block := got.read(1 << 20):
            digest.update(block)
    assert digest.hexdigest() == md5_hex(source.read_bytes())


def test_range_reads(backend: Backend) -> None:
    key = backend.key("range.bin")
    body = bytes(range(256)) * 4
    backend.store.put(key, body, content_type="application/octet-stream")

    def read(start: int, length: int | None = None) -> bytes:
        with backend.store.open(key, start, length) as stream:
            return stream.read()

    assert read(0) == body
    assert read(10) == body[10:]
    assert read(10, 5) == body[10:15]
    assert read(1023, 1) == body[-1:]
    assert read(1023) == body[-1:]
    assert read(1020, 100) == body[1020:]  # runs past the end: stops at the end
    assert read(1024) == b""  # starts at the end: empty
    assert read(5000, 10) == b""  # starts after the end: empty
    assert read(10, 0) == b""
    with pytest.raises(ValueError, match="range"):
        backend.store.open(key, -1)


def test_list_is_a_string_prefix_match_in_key_order(backend: Backend) -> None:
    names = ["cam2/y", "cam10/x", "cam1/b/c", "cam1-x", "cam1/a", "cam"]
    for n, name in enumerate(names):
        backend.store.put(backend.key(name), b"x" * (n + 1), content_type="text/plain")

    def listed(prefix: str) -> list[str]:
        return [info.key.removeprefix(backend.prefix) for info in backend.store.list(prefix)]

    assert listed(backend.key("cam1")) == ["cam1-x", "cam1/a", "cam1/b/c", "cam10/x"]
    assert listed(backend.key("cam1/")) == ["cam1/a", "cam1/b/c"]
    assert listed(backend.key("cam1/b")) == ["cam1/b/c"]
    assert listed(backend.key("")) == sorted(names)
    assert listed(backend.key("nothing")) == []
    infos = {i.key: i for i in backend.store.list(backend.key("cam1/a"))}
    assert infos[backend.key("cam1/a")].size == 5
    assert infos[backend.key("cam1/a")].etag == md5_hex(b"xxxxx")


def test_delete_is_idempotent(backend: Backend) -> None:
    key = backend.key("cam1/2016-10-18/Hour-16/snap/a.jpg")
    backend.store.put(key, b"jpeg", content_type="image/jpeg")
    backend.store.delete(key)
    backend.store.delete(key)
    backend.store.delete(backend.key("never/there.jpg"))
    with pytest.raises(ObjectNotFound):
        backend.store.head(key)
    assert list(backend.store.list(backend.prefix)) == []


def test_missing_objects_are_not_found(backend: Backend) -> None:
    key = backend.key("missing.mp4")
    with pytest.raises(ObjectNotFound):
        backend.store.head(key)
    with pytest.raises(ObjectNotFound):
        backend.store.open(key)
    with pytest.raises(ObjectNotFound):
        backend.store.open(key, 10, 5)
    with pytest.raises(ObjectNotFound):
        backend.store.open(key, 0, 0)
    with pytest.raises(ObjectNotFound):
        backend.store.set_tags(key, {"camvault-expires": "yes"})
    with pytest.raises(ObjectNotFound):
        backend.store.set_tags(key, {})


def test_tagging_leaves_the_object_as_it_was(backend: Backend) -> None:
    key = backend.key("tagged.jpg")
    backend.store.put(key, b"jpeg", content_type="image/jpeg", metadata={"camera": "porch"})
    before = backend.store.head(key)
    backend.store.set_tags(key, {"camvault-expires": "yes"})
    backend.store.set_tags(key, {})
    after = backend.store.head(key)
    assert (after.size, after.content_type, after.etag, dict(after.metadata)) == (
        before.size,
        before.content_type,
        before.etag,
        dict(before.metadata),
    )
    assert read_all(backend.store, key) == b"jpeg"
    assert len(backend.notices) == 1  # the put's; tagging creates nothing to process


def test_if_absent_keeps_the_original(backend: Backend) -> None:
    key = backend.key("once.mp4")
    backend.store.put(key, b"original", content_type="video/mp4", if_absent=True)
    with pytest.raises(ObjectExists):
        backend.store.put(key, b"replacement", content_type="video/mp4", if_absent=True)
    assert read_all(backend.store, key) == b"original"
    assert backend.store.head(key).size == len(b"original")
    assert len(backend.notices) == 1

    backend.store.put(key, b"replacement", content_type="video/mp4")
    assert read_all(backend.store, key) == b"replacement"


@pytest.mark.parametrize(
    "name", ["with space/a b.mp4", "plus+sign/x+y=z.jpg", "unicode/Überwachung-カメラ 1.mp4", "a%20b"]
)
def test_unusual_keys_round_trip(backend: Backend, name: str) -> None:
    key = backend.key(name)
    backend.store.put(key, name.encode(), content_type="text/plain")
    assert backend.store.head(key).key == key
    assert read_all(backend.store, key) == name.encode()
    assert [info.key for info in backend.store.list(backend.prefix)] == [key]
    record = backend.notices[0]["Records"][0]
    assert unquote_plus(record["s3"]["object"]["key"]) == key


def test_notify_once_per_put_with_the_object(backend: Backend) -> None:
    keys = [backend.key("cam1/a.mp4"), backend.key("cam1/b c+d.jpg")]
    for key in keys:
        backend.store.put(key, b"12345", content_type="video/mp4")
    assert len(backend.notices) == 2
    for key, notice in zip(keys, backend.notices, strict=True):
        (record,) = notice["Records"]
        assert record["eventName"].startswith("ObjectCreated:")
        assert record["s3"]["bucket"]["name"] == backend.store.bucket
        assert unquote_plus(record["s3"]["object"]["key"]) == key
        assert record["s3"]["object"]["size"] == 5


def test_bad_keys_are_rejected(backend: Backend) -> None:
    bad = ["", "/abs/x", "a/../../x", "..", "a//b", "a/./b", "a\\b", "a\x00b", "a/", ".camvault-meta/x"]
    for key in bad:
        with pytest.raises(BadObjectKey):
            backend.store.put(key, b"x", content_type="text/plain")
        with pytest.raises(BadObjectKey):
            backend.store.head(key)
        with pytest.raises((ValueError, StoreError)):
            backend.store.delete(key)
    assert backend.notices == []


def test_presign(backend: Backend) -> None:
    key = backend.key("cam1/share me.mp4")
    body = b"presigned bytes"
    backend.store.put(key, body, content_type="video/mp4")
    url = backend.store.presign(key, 60)
    if backend.name == "local":
        assert url is None
        assert backend.store.local_path(key) is not None
        return
    assert url is not None
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test server
        assert response.read() == body
    assert backend.store.local_path(key) is None
