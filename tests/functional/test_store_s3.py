"""The ``s3://`` store against a real SeaweedFS: errors that say what to check, multipart puts."""

from __future__ import annotations

import base64
import io
import secrets
import time
import zlib
from collections.abc import Iterator

import pytest

from camvault.store.base import ObjectExists, ObjectNotFound, StoreError, read_all
from camvault.store.s3 import PART_SIZE, S3Store, make_s3_client
from tests.support.seaweed import SeaweedServer, seaweed

__all__ = ["seaweed"]

pytestmark = pytest.mark.functional


@pytest.fixture
def store(seaweed: SeaweedServer) -> Iterator[S3Store]:
    s3 = S3Store(seaweed.bucket, client=seaweed.client())
    yield s3
    s3.close()


def fresh(name: str) -> str:
    return f"s3-functional-{secrets.token_hex(4)}/{name}"


def test_wrong_credentials_say_what_to_check(seaweed: SeaweedServer, store: S3Store) -> None:
    key = fresh("a.mp4")
    store.put(key, b"clip", content_type="video/mp4")
    intruder = S3Store(seaweed.bucket, client=seaweed.client(secret_access_key="not-the-secret"))
    with pytest.raises(StoreError, match=r"access denied.*check the credentials") as put_error:
        intruder.put(fresh("b.mp4"), b"x", content_type="video/mp4")
    assert not isinstance(put_error.value, ObjectNotFound)
    with pytest.raises(StoreError, match="check the credentials"):
        intruder.head(key)
    with pytest.raises(StoreError, match="check the credentials"):
        list(intruder.list(key))
    intruder.close()


def test_a_missing_bucket_is_named(seaweed: SeaweedServer) -> None:
    nowhere = S3Store("no-such-bucket-here", client=seaweed.client())
    with pytest.raises(StoreError, match=r"bucket 'no-such-bucket-here' does not exist") as err:
        nowhere.open("a.mp4")
    assert not isinstance(err.value, ObjectNotFound)
    with pytest.raises(StoreError, match=r"bucket 'no-such-bucket-here' does not exist"):
        list(nowhere.list("cam1/"))
    nowhere.close()


def test_a_stopped_server_fails_fast_then_recovers(seaweed: SeaweedServer, store: S3Store) -> None:
    key = fresh("kept.mp4")
    store.put(key, b"kept across restart", content_type="video/mp4")
    quick = S3Store(
        seaweed.bucket, client=seaweed.client(connect_timeout=1.0, read_timeout=2.0, max_attempts=1)
    )
    seaweed.stop()
    try:
        assert not seaweed.is_responding()
        began = time.monotonic()
        with pytest.raises(StoreError, match=r"endpoint_url.*127\.0\.0\.1.*server is running"):
            quick.put(fresh("lost.mp4"), b"x", content_type="video/mp4")
        with pytest.raises(StoreError, match="endpoint_url"):
            quick.head(key)
        assert time.monotonic() - began < 15
    finally:
        seaweed.start()
    assert read_all(quick, key) == b"kept across restart"
    quick.close()


class FailingSource(io.RawIOBase):
    """Hands out ``good`` bytes, then fails like a dropped camera connection."""

    def __init__(self, good: int) -> None:
        super().__init__()
        self.left = good

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError("connection reset by camera")
        n = min(size, self.left, 1 << 20)
        self.left -= n
        return b"z" * n


def test_a_failed_multipart_put_is_aborted(seaweed: SeaweedServer, store: S3Store) -> None:
    key = fresh("broken.mp4")
    with pytest.raises(OSError, match="connection reset"):
        store.put(key, FailingSource(PART_SIZE * 2 + 5), content_type="video/mp4")  # type: ignore[arg-type]
    with pytest.raises(ObjectNotFound):
        store.head(key)
    uploads = seaweed.client().list_multipart_uploads(Bucket=seaweed.bucket, Prefix=key)
    assert uploads.get("Uploads", []) == []


def test_if_absent_holds_for_multipart_puts(seaweed: SeaweedServer, store: S3Store) -> None:
    key = fresh("big.mp4")
    original = b"o" * (PART_SIZE + 10)
    info = store.put(key, io.BytesIO(original), content_type="video/mp4", if_absent=True)
    assert info.size == len(original)
    assert info.etag is not None
    assert info.etag.endswith("-2")  # two parts, each checked with Content-MD5
    with pytest.raises(ObjectExists):
        store.put(key, io.BytesIO(b"r" * (PART_SIZE + 1)), content_type="video/mp4", if_absent=True)
    assert store.head(key).size == len(original)
    with store.open(key, PART_SIZE, 20) as tail:
        assert tail.read() == b"o" * 10
    uploads = seaweed.client().list_multipart_uploads(Bucket=seaweed.bucket, Prefix=key)
    assert uploads.get("Uploads", []) == []


def test_listed_objects_carry_exact_sizes_and_head_adds_the_rest(store: S3Store) -> None:
    key = fresh("cam1/a.jpg")
    store.put(key, b"jpeg!", content_type="image/jpeg", metadata={"Camera": "cam1"})
    (listed,) = store.list(key)
    assert (listed.key, listed.size, listed.content_type, dict(listed.metadata)) == (key, 5, "", {})
    head = store.head(key)
    assert (head.content_type, dict(head.metadata)) == ("image/jpeg", {"camera": "cam1"})


def test_flexible_checksums_when_supported(seaweed: SeaweedServer) -> None:
    # checksum="when_supported" makes botocore add a CRC32 to every upload (beside our
    # Content-MD5) and validate checksums on full reads. SeaweedFS accepts it: it verifies and
    # keeps the CRC32 of a single-part put and reports it back; ranges and multipart work too.
    client = seaweed.client(checksum="when_supported")
    store = S3Store(seaweed.bucket, client=client)
    small_key, big_key = fresh("crc/small.mp4"), fresh("crc/big.mp4")
    small = bytes(range(256)) * 40
    big = b"c" * PART_SIZE + b"tail-bytes"

    small_info = store.put(small_key, small, content_type="video/mp4", metadata={"camera": "cam1"})
    big_info = store.put(big_key, io.BytesIO(big), content_type="video/mp4")

    head = store.head(small_key)
    assert (head.size, head.etag, head.content_type) == (len(small), small_info.etag, "video/mp4")
    assert dict(head.metadata) == {"camera": "cam1"}
    assert store.head(big_key).size == len(big)
    assert big_info.etag is not None and big_info.etag.endswith("-2")
    with store.open(small_key, 256, 10) as part:
        assert part.read() == bytes(range(10))
    with store.open(big_key, PART_SIZE, 100) as tail:
        assert tail.read() == b"tail-bytes"
    assert read_all(store, small_key) == small
    assert read_all(store, big_key) == big
    stored = client.head_object(Bucket=seaweed.bucket, Key=small_key, ChecksumMode="ENABLED")
    assert stored.get("ChecksumCRC32") == base64.b64encode(zlib.crc32(small).to_bytes(4, "big")).decode()
    store.close()


def test_make_s3_client_rejects_a_bad_checksum_setting() -> None:
    with pytest.raises(StoreError, match="when_required or when_supported"):
        make_s3_client(endpoint_url=None, region="us-east-1", checksum="sometimes")
