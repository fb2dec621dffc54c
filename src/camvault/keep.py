"""Marking an event "keep": retention never deletes a kept event.

The object store is the system of record, so "kept" is recorded there: a small marker object
beside the original, ``NAME.EXT.keep.json`` (``domain.keys.keep_marker_key``), recognisable
from its key alone and therefore never processed. The processor reads the marker when it
catalogs the original, so the ``keep`` field survives ``camvault reindex`` and a lost catalog;
retention looks for the marker in the store, not in the catalog.

Order of a change: the marker first, then the catalog entry. A crash in between leaves the
store right and the entry stale until the object is processed again (``reindex``); retention,
which reads the store, already honours the new state.

This module decides the marker's content and that order; the CLI and the API call it.
"""

from __future__ import annotations

import json
from dataclasses import replace

from camvault.catalog.base import Catalog
from camvault.clock import Clock, utcnow
from camvault.domain.keys import keep_marker_key
from camvault.domain.model import CatalogEvent, format_instant
from camvault.store.base import ObjectStore

MARKER_CONTENT_TYPE = "application/json"


class UnknownEvent(LookupError):
    """No event has that id."""


def set_keep(
    store: ObjectStore, catalog: Catalog, event_id: str, keep: bool, *, clock: Clock = utcnow
) -> CatalogEvent:
    """Mark (``keep``) or unmark the event ``event_id``; returns the event as now cataloged."""
    event = catalog.get(event_id)
    if event is None:
        raise UnknownEvent(f"no event {event_id!r}; `camvault events --json` shows the ids")
    marker = keep_marker_key(event.key)
    if keep:
        body = {"event": event.id, "key": event.key, "kept_since": format_instant(clock())}
        store.put(
            marker,
            json.dumps(body, sort_keys=True).encode(),
            content_type=MARKER_CONTENT_TYPE,
            metadata={"camera": event.camera},
        )
    else:
        store.delete(marker)
    catalog.put(replace(event, keep=keep))
    return catalog.get(event_id) or replace(event, keep=keep)
