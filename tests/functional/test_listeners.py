"""Processor listeners hear about each cataloged event, and can never break processing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from camvault.catalog.sqlite import SQLiteCatalog
from camvault.domain.model import CatalogEvent
from camvault.media.probe import MediaLimits
from camvault.processor.core import Processor, ProcessorSettings
from camvault.store.local import LocalStore
from tests.support.media import make_jpeg

pytestmark = pytest.mark.functional

KEY = "cams/porch/2025-01-01/Hour-12/snap/image-2025-01-01-12-00-00.jpg"


def test_listeners_hear_each_event_and_a_failing_one_changes_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects")
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    heard: list[tuple[str, bool]] = []

    def broken(event: CatalogEvent, new: bool) -> None:
        raise RuntimeError("listener bug")

    settings = ProcessorSettings("cams", ZoneInfo("UTC"), timedelta(minutes=15), MediaLimits())
    processor = Processor(store, catalog, settings, zone_of=lambda name: None, listeners=[broken])
    processor.add_listener(lambda event, new: heard.append((event.id, new)))
    try:
        image = make_jpeg(tmp_path / "snap.jpg", width=64, height=48)
        store.put(KEY, image.read_bytes(), content_type="image/jpeg")

        first = processor.process(KEY)
        second = processor.process(KEY)

        assert first.status == second.status == "cataloged"
        assert first.event is not None and catalog.get(first.event.id) is not None
        assert heard == [(first.event.id, True), (first.event.id, False)]
    finally:
        catalog.close()
        store.close()
