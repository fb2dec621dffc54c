"""API routes that mark an event keep: ``PUT`` and ``DELETE /api/v1/events/{id}/keep``.

Both answer the event object (with ``keep``) as it is now cataloged; the mark itself is a
marker object in the store (``camvault.keep``), so the routes need the store they are given.
They never open stores or read settings.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from camvault.api import API
from camvault.catalog.base import Catalog
from camvault.keep import UnknownEvent, set_keep
from camvault.store.base import ObjectStore


def keep_routes(catalog: Catalog, store: ObjectStore) -> APIRouter:
    """The keep routes over ``catalog`` and ``store``."""
    router = APIRouter(prefix=API, tags=["events"])

    def change(event_id: str, keep: bool) -> dict[str, Any]:
        try:
            return set_keep(store, catalog, event_id, keep).to_json()
        except UnknownEvent:
            raise HTTPException(404, f"no event {event_id!r}") from None

    @router.put("/events/{event_id}/keep")
    def keep_event(event_id: str) -> dict[str, Any]:
        """Mark the event keep: retention never deletes it."""
        return change(event_id, True)

    @router.delete("/events/{event_id}/keep")
    def release_event(event_id: str) -> dict[str, Any]:
        """Remove the keep mark: the event expires like the others."""
        return change(event_id, False)

    return router
