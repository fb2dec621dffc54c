"""The bytes of an event: its original, its small transcode or its thumbnail.

From a store with files on this machine (``file://``) the file is streamed with HTTP Range
(206), HEAD and If-Range; from a store that can presign (``s3://``) the client is redirected
(307) to a URL valid for ``PRESIGN_SECONDS``. With ``download=1`` either answer asks the browser
to save the file under its own name. Never reveals a store path or bucket in an error.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

from camvault.api import API
from camvault.catalog.base import Catalog
from camvault.domain.model import CatalogEvent
from camvault.store.base import ObjectNotFound, ObjectStore

PRESIGN_SECONDS = 300
Variant = Literal["original", "small", "thumbnail"]
RESPONSES: dict[int | str, dict[str, str]] = {
    206: {"description": "the requested byte range"},
    307: {"description": "redirect to a short-lived presigned URL (s3:// stores)"},
    404: {"description": "no such event, or no such file for it"},
    416: {"description": "the range is outside the file"},
}


def media_router(catalog: Catalog, store: ObjectStore | None) -> APIRouter:
    router = APIRouter(prefix=API, tags=["media"])

    path = "/events/{event_id}/media/{variant}"

    @router.get(path, responses=RESPONSES)
    def media(event_id: str, variant: Variant, download: bool = False) -> Response:
        """The file's bytes (Range, If-Range), or a redirect to a presigned URL."""
        return _respond(catalog, store, event_id, variant, download)

    @router.head(path, responses=RESPONSES)
    def media_head(event_id: str, variant: Variant, download: bool = False) -> Response:
        """The headers ``GET`` would send, without the bytes."""
        return _respond(catalog, store, event_id, variant, download)

    return router


def _respond(
    catalog: Catalog, store: ObjectStore | None, event_id: str, variant: Variant, download: bool
) -> Response:
    event = catalog.get(event_id)
    if event is None:
        raise HTTPException(404, f"no event {event_id!r}")
    key = _key(event, variant)
    if store is None:
        raise HTTPException(404, "this server has no object store to read media from")
    filename = key.rsplit("/", 1)[-1]
    url = store.presign(key, PRESIGN_SECONDS, content_disposition=attachment(filename) if download else None)
    if url is not None:
        return RedirectResponse(url, status_code=307)
    return _local(store, event, key, variant, filename, download)


def _key(event: CatalogEvent, variant: Variant) -> str:
    key = {"original": event.key, "small": event.small_key, "thumbnail": event.thumbnail_key}[variant]
    if key is None:
        raise HTTPException(404, f"event {event.id!r} has no {variant} file")
    return key


def _content_type(event: CatalogEvent, variant: Variant) -> str:
    return {"original": event.content_type, "small": "video/mp4", "thumbnail": "image/jpeg"}[variant]


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` that asks the browser to save the file as ``filename`` (RFC 6266:
    an ASCII name quoted, any other name percent-encoded as UTF-8)."""
    if filename.isascii() and filename.isprintable() and '"' not in filename and "\\" not in filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=utf-8''{quote(filename, safe='')}"


def _local(
    store: ObjectStore, event: CatalogEvent, key: str, variant: Variant, filename: str, download: bool
) -> Response:
    media_type = _content_type(event, variant)
    try:
        path = store.local_path(key)
    except ObjectNotFound:
        raise HTTPException(
            404, f"the {variant} file of event {event.id!r} is missing from the store"
        ) from None
    if path is None:
        raise HTTPException(501, "this object store can neither presign URLs nor serve files")
    headers = {"Content-Disposition": attachment(filename)} if download else None
    return FileResponse(path, media_type=media_type, headers=headers)
