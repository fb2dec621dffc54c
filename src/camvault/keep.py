"""Marking an event "keep": retention never deletes a kept event.

The object store is the system of record, so "kept" is recorded there: a small marker object
beside the original, ``NAME.EXT.keep.json`` (``domain.keys.keep_marker_key``), recognisable
from its key alone and therefore never processed. The processor reads the marker when it
catalogs the original, so the ``keep`` field survives ``camvault reindex`` and a lost catalog;
retention looks for the marker in the store, not in the catalog.

Order of a change: the marker first, then the catalog entry. A crash in between leaves the
store right and the entry stale until the object is processed again (``reindex``); retention,
which reads the store, already honours the new state.

On AWS nothing is deleted by camvault itself: the bucket's lifecycle rule expires objects
under the prefix that carry the tag ``camvault-expires=yes`` (``EXPIRES_TAG``), and the catalog
gives no TTL to kept events. So the tag follows the marker: the processor tags each original
and its derived objects it catalogs unless the marker is there (``settle_expiry``), marking keep
removes the tag from them and releasing it puts it back. A ``file://`` store keeps no tags.

Setting the tag races with marking keep (the processor read "not kept", then the owner kept it,
then the processor tags). ``settle_expiry`` therefore reads the marker again after tagging and
tags again until the two agree; ``set_keep`` writes the marker before the tags, so whichever
writes the tags last has seen the marker as it now is.

This module decides the marker's content, the tag and that order; the CLI, the API and the
processor call it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from camvault.catalog.base import Catalog
from camvault.clock import Clock, utcnow
from camvault.domain.keys import keep_marker_key
from camvault.domain.model import CatalogEvent, format_instant
from camvault.store.base import ObjectNotFound, ObjectStore

MARKER_CONTENT_TYPE = "application/json"
EXPIRES_TAG = ("camvault-expires", "yes")
"""The object tag the AWS lifecycle rule selects (``camvault.aws.template``)."""
SETTLE_ROUNDS = 3


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
    tag_for_expiry(store, event_keys(event), expires=not keep)
    catalog.put(replace(event, keep=keep))
    return catalog.get(event_id) or replace(event, keep=keep)


def event_keys(event: CatalogEvent) -> list[str]:
    """The original and the derived objects the catalog names for ``event``."""
    return [key for key in (event.key, event.thumbnail_key, event.small_key) if key]


def is_kept(store: ObjectStore, key: str) -> bool:
    """Whether the object at ``key`` is marked keep (its marker is in the store)."""
    try:
        store.head(keep_marker_key(key))
    except ObjectNotFound:
        return False
    return True


def tag_for_expiry(store: ObjectStore, keys: Sequence[str], *, expires: bool) -> None:
    """Tag ``keys`` for the lifecycle rule, or remove the tag; objects already gone are skipped."""
    tags = dict([EXPIRES_TAG]) if expires else {}
    for key in keys:
        try:
            store.set_tags(key, tags)
        except ObjectNotFound:
            continue


def settle_expiry(store: ObjectStore, original: str, derived: Sequence[str]) -> bool:
    """Tag ``original`` and ``derived`` as the keep marker says; returns whether it is kept.

    The marker is read again after tagging, and the tags set again while it changed meanwhile,
    so a keep marked during processing is never overwritten by a stale "expires"."""
    kept = is_kept(store, original)
    for _ in range(SETTLE_ROUNDS):
        tag_for_expiry(store, [original, *derived], expires=not kept)
        now = is_kept(store, original)
        if now == kept:
            return kept
        kept = now
    tag_for_expiry(store, [original, *derived], expires=not kept)
    return kept
