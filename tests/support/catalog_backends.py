"""Catalog backends for the contract suite (one factory per backend) and the events it stores.

The contract suite (tests/contract/test_catalog_contract.py) runs every test once per entry of
``CATALOG_BACKENDS``. Adding a backend means adding one ``CatalogBackend`` here:
a name and a context manager that yields an empty, open catalog and cleans up after it. A
factory that needs a shared server (moto, SeaweedFS) asks for it through
``context.request.getfixturevalue(...)``, so no server starts unless that backend runs.

``make_event`` builds events with millisecond precision: the precision every catalog keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from camvault.catalog.base import Catalog
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.domain.model import CatalogEvent, Kind, MediaInfo


@dataclass(frozen=True)
class BackendContext:
    """What a factory may use: a private temporary folder and the running test's request."""

    tmp_path: Path
    request: pytest.FixtureRequest


@dataclass(frozen=True)
class CatalogBackend:
    """A named way to open an empty catalog for one test."""

    name: str
    open: Callable[[BackendContext], AbstractContextManager[Catalog]]


@contextmanager
def sqlite_file(context: BackendContext) -> Iterator[Catalog]:
    catalog = SQLiteCatalog.from_url("sqlite:///catalog.db", context.tmp_path)
    try:
        yield catalog
    finally:
        catalog.close()


@contextmanager
def sqlite_memory(context: BackendContext) -> Iterator[Catalog]:
    catalog = SQLiteCatalog.from_url("sqlite:///:memory:", context.tmp_path)
    try:
        yield catalog
    finally:
        catalog.close()


@contextmanager
def dynamodb(context: BackendContext) -> Iterator[Catalog]:
    """A fresh table on the session's moto server, deleted afterwards."""
    from camvault.catalog.dynamodb import DynamoDBCatalog, create_table
    from tests.support.moto import MotoServer, unique_name

    server: MotoServer = context.request.getfixturevalue("moto_server")
    table = unique_name("catalog")
    admin = server.client("dynamodb")
    try:
        create_table(admin, table)
        catalog = DynamoDBCatalog(server.client("dynamodb"), table, retention_days=30)
        try:
            yield catalog
        finally:
            catalog.close()
            admin.delete_table(TableName=table)
    finally:
        admin.close()


CATALOG_BACKENDS: tuple[CatalogBackend, ...] = (
    CatalogBackend("sqlite-file", sqlite_file),
    CatalogBackend("sqlite-memory", sqlite_memory),
    CatalogBackend("dynamodb", dynamodb),
)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


def epoch_ms(instant: datetime) -> int:
    """Exact UTC epoch milliseconds (integer arithmetic), the first half of catalog order."""
    return (instant - EPOCH) // ONE_MS


def catalog_order(event: CatalogEvent) -> tuple[int, str]:
    """The sort key of catalog order: (capture instant in ms, id)."""
    return epoch_ms(event.capture_time), event.id


def make_event(
    event_id: str,
    capture_time: datetime,
    *,
    camera: str = "porch",
    kind: Kind = "record",
    **changes: Any,
) -> CatalogEvent:
    """A playable event with a key in the seed's scheme; ``changes`` override any field."""
    utc = capture_time.astimezone(UTC)
    suffix = "mp4" if kind == "record" else "jpg"
    key = f"cams/{camera}/{utc:%Y-%m-%d}/Hour-{utc:%H}/{kind}/{event_id}.{suffix}"
    fields: dict[str, Any] = {
        "id": event_id,
        "camera": camera,
        "kind": kind,
        "capture_time": capture_time,
        "key": key,
        "size": 1000,
        "content_type": "video/mp4" if kind == "record" else "image/jpeg",
        "media": MediaInfo(duration=10.0, width=1280, height=720, video_codec="h264")
        if kind == "record"
        else MediaInfo(duration=None, width=1280, height=720, video_codec="mjpeg"),
        "playable": True,
    }
    fields.update(changes)
    return CatalogEvent(**fields)
