"""Media over HTTP: a file:// store streams the exact bytes with Range (206, 416), HEAD and
If-Range; an s3:// store redirects to a presigned URL that downloads the same bytes from a real
SeaweedFS server. Missing events and missing derived files are 404 with a message."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from camvault.api.app import create_app
from camvault.api.media import attachment
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.domain.model import CatalogEvent
from camvault.store.base import ObjectStore
from camvault.store.local import LocalStore
from camvault.store.s3 import S3Store
from tests.support.api import ADMIN, LOCAL, authenticator, event
from tests.support.seaweed import SeaweedServer

pytestmark = pytest.mark.functional

CLIP = os.urandom(200_003)  # an odd size, so off-by-one errors show
THUMB = b"\xff\xd8\xff\xe0" + os.urandom(5_000)
AT = datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)


def stored_event(store: ObjectStore, catalog: SQLiteCatalog) -> CatalogEvent:
    clip = event("porch", AT, size=len(CLIP))
    store.put(clip.key, CLIP, content_type="video/mp4")
    assert clip.thumbnail_key is not None
    store.put(clip.thumbnail_key, THUMB, content_type="image/jpeg")
    catalog.put(clip)
    return clip


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SQLiteCatalog]:
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    yield catalog
    catalog.close()


def serve(tmp_path: Path, catalog: SQLiteCatalog, store: ObjectStore) -> Iterator[TestClient]:
    auth = authenticator(tmp_path / "accounts.db")
    app = create_app(catalog, auth, store=store)
    with TestClient(app, base_url=LOCAL, headers=ADMIN, follow_redirects=False) as client:
        yield client
    auth.close()
    store.close()


@pytest.fixture
def local(tmp_path: Path, catalog: SQLiteCatalog) -> Iterator[tuple[TestClient, CatalogEvent]]:
    store = LocalStore(tmp_path / "objects")
    clip = stored_event(store, catalog)
    for client in serve(tmp_path, catalog, store):
        yield client, clip


def url(clip: CatalogEvent, variant: str = "original") -> str:
    return f"/api/v1/events/{clip.id}/media/{variant}"


def test_the_whole_file_with_its_type_and_validators(local: tuple[TestClient, CatalogEvent]) -> None:
    client, clip = local
    response = client.get(url(clip))
    assert response.status_code == 200
    assert response.content == CLIP
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] and response.headers["last-modified"]
    assert "content-disposition" not in response.headers
    thumb = client.get(url(clip, "thumbnail"))
    assert (thumb.content, thumb.headers["content-type"]) == (THUMB, "image/jpeg")


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=199000-", 199000, len(CLIP) - 1),
        ("bytes=-500", len(CLIP) - 500, len(CLIP) - 1),
        ("bytes=150000-999999999", 150000, len(CLIP) - 1),
    ],
)
def test_range_requests_return_the_exact_bytes(
    local: tuple[TestClient, CatalogEvent], header: str, first: int, last: int
) -> None:
    client, clip = local
    response = client.get(url(clip), headers={"Range": header})
    assert response.status_code == 206
    assert response.content == CLIP[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(CLIP)}"
    assert response.headers["content-length"] == str(last - first + 1)


def test_a_range_beyond_the_end_is_416(local: tuple[TestClient, CatalogEvent]) -> None:
    client, clip = local
    response = client.get(url(clip), headers={"Range": f"bytes={len(CLIP)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(CLIP)}"


def test_head_sends_the_headers_without_the_bytes(local: tuple[TestClient, CatalogEvent]) -> None:
    client, clip = local
    response = client.head(url(clip))
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(CLIP))
    assert response.content == b""
    ranged = client.head(url(clip), headers={"Range": "bytes=10-19"})
    assert (ranged.status_code, ranged.headers["content-length"]) == (206, "10")


def test_if_range_resumes_only_an_unchanged_file(local: tuple[TestClient, CatalogEvent]) -> None:
    client, clip = local
    etag = client.head(url(clip)).headers["etag"]
    same = client.get(url(clip), headers={"Range": "bytes=0-9", "If-Range": etag})
    assert (same.status_code, same.content) == (206, CLIP[:10])
    stale = client.get(url(clip), headers={"Range": "bytes=0-9", "If-Range": '"an-older-version"'})
    assert (stale.status_code, stale.content) == (200, CLIP)


def test_download_asks_the_browser_to_save(local: tuple[TestClient, CatalogEvent]) -> None:
    client, clip = local
    response = client.get(url(clip), params={"download": "1"})
    assert response.headers["content-disposition"].startswith("attachment")
    assert clip.key.rsplit("/", 1)[-1] in response.headers["content-disposition"]


@pytest.mark.parametrize(
    ("filename", "header"),
    [
        ("cam 1_20250101.mp4", 'attachment; filename="cam 1_20250101.mp4"'),
        ('odd"name\\.jpg', "attachment; filename*=utf-8''odd%22name%5C.jpg"),
        ("Garten-Süd.mp4", "attachment; filename*=utf-8''Garten-S%C3%BCd.mp4"),
    ],
)
def test_download_names_are_quoted_or_encoded(filename: str, header: str) -> None:
    assert attachment(filename) == header


def test_missing_things_are_404_with_a_message(
    local: tuple[TestClient, CatalogEvent], tmp_path: Path
) -> None:
    client, clip = local
    no_small = client.get(url(clip, "small"))
    assert no_small.status_code == 404
    assert no_small.json()["detail"] == f"event {clip.id!r} has no small file"
    unknown = client.get("/api/v1/events/0123abcd/media/original")
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "no event '0123abcd'")
    (tmp_path / "objects" / clip.key).unlink()
    gone = client.get(url(clip))
    assert gone.status_code == 404
    assert "missing from the store" in gone.json()["detail"]
    assert str(tmp_path) not in gone.text  # no storage path leaks


def test_an_unknown_variant_is_400(local: tuple[TestClient, CatalogEvent]) -> None:
    client, clip = local
    response = client.get(url(clip, "huge"))
    assert response.status_code == 400
    assert "variant" in response.json()["detail"]


def test_s3_media_redirects_to_a_presigned_url_with_the_same_bytes(
    seaweed: SeaweedServer, tmp_path: Path, catalog: SQLiteCatalog
) -> None:
    store = S3Store(seaweed.bucket, client=seaweed.client())
    clip = stored_event(store, catalog)
    for client in serve(tmp_path, catalog, store):
        response = client.get(url(clip))
        assert response.status_code == 307
        location = response.headers["location"]
        query = urlsplit(location).query
        assert "X-Amz-Signature=" in query and "X-Amz-Expires=300" in query  # valid 5 minutes
        assert location.startswith(seaweed.endpoint_url)
        with urllib.request.urlopen(location, timeout=10) as download:  # noqa: S310 - loopback server
            assert download.read() == CLIP
        ranged_request = urllib.request.Request(location, headers={"Range": "bytes=100-199"})  # noqa: S310
        with urllib.request.urlopen(ranged_request, timeout=10) as ranged:  # noqa: S310 - loopback server
            assert (ranged.status, ranged.read()) == (206, CLIP[100:200])
        assert client.get(url(clip, "small")).status_code == 404
        saved = client.get(url(clip), params={"download": "1"})
        assert saved.status_code == 307
        with urllib.request.urlopen(saved.headers["location"], timeout=10) as download:  # noqa: S310
            filename = clip.key.rsplit("/", 1)[-1]
            assert download.headers["content-disposition"] == f'attachment; filename="{filename}"'
            assert download.read() == CLIP
