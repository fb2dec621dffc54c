"""Small transcodes, off the catalog's critical path.

The catalog entry comes first: ``TranscodeQueue.listener`` hears about each cataloged clip and
journals its key in a journal of its own (durable, shared by processes, the same ``Journal`` the
processor uses). Worker threads (``Workers`` with ``Transcoder`` as their task) make the small
version, store it beside the original as ``…-small.mp4`` (a derived key, which the processor
never processes) and set ``small_key`` on the entry.

Costs are counted in the transcode journal: ``transcoded``, ``transcode_ms``, ``bytes_in``,
``bytes_out``; a clip that cannot be transcoded is marked failed at once with its reason. The
original and its entry are never changed but for ``small_key``.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from camvault.catalog.base import Catalog
from camvault.domain.keys import event_id_for_key, is_derived_key, small_key
from camvault.domain.model import CatalogEvent
from camvault.keep import settle_expiry
from camvault.media.transcode import TranscodeError, TranscodeSettings, transcode
from camvault.processor.core import Outcome, derived_metadata, local_copy
from camvault.processor.journal import Journal
from camvault.processor.workers import Unprocessable, Workers
from camvault.store.base import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)

Enabled = Callable[[str], bool]
"""Whether a camera's clips get a small version."""


class Transcoder:
    """Makes the small version of one original and names it on its catalog entry."""

    def __init__(
        self, store: ObjectStore, catalog: Catalog, journal: Journal, settings: TranscodeSettings
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._journal = journal
        self._settings = settings

    def process(self, key: str) -> Outcome:
        """Transcode ``key``; raises ``Unprocessable`` for content that cannot be transcoded."""
        event = self._catalog.get(event_id_for_key(key))
        if event is None:
            return Outcome(key, "skipped", reason="no catalog entry (deleted?)")
        try:
            info = self._store.head(key)
        except ObjectNotFound:
            return Outcome(key, "skipped", reason="object no longer exists")
        target = small_key(key)
        with local_copy(self._store, key) as source, tempfile.TemporaryDirectory(prefix="camvault-") as tmp:
            try:
                result = transcode(source, Path(tmp) / "small.mp4", self._settings)
            except TranscodeError as exc:
                raise Unprocessable(str(exc)) from exc
            with result.path.open("rb") as data:
                self._store.put(target, data, content_type="video/mp4", metadata=derived_metadata(key, info))
        settle_expiry(self._store, key, [target])  # S3's lifecycle rule: expires with its original
        self._count(info.size, result.size, result.seconds)
        updated = self._name_small(event.id, target)
        if updated is None:  # retention deleted the entry meanwhile: do not bring it back
            self._store.delete(target)
            return Outcome(key, "skipped", reason="the entry was deleted while transcoding")
        return Outcome(key, "transcoded", event=updated)

    def _name_small(self, event_id: str, target: str) -> CatalogEvent | None:
        """Set ``small_key`` on the entry as it is now (another writer may have changed it)."""
        current = self._catalog.get(event_id)
        if current is None:
            return None
        updated = dataclasses.replace(current, small_key=target)
        self._catalog.put(updated)
        return updated

    def _count(self, size_in: int, size_out: int, seconds: float) -> None:
        self._journal.count("transcode_ms", round(seconds * 1000))
        self._journal.count("bytes_in", size_in)
        self._journal.count("bytes_out", size_out)


class TranscodeQueue:
    """The processor listener that queues clips for their small version."""

    def __init__(self, workers: Workers, enabled: Enabled) -> None:
        self._workers = workers
        self._enabled = enabled

    def listener(self, event: CatalogEvent, new: bool) -> None:
        """Queue a playable clip that has no small version yet, if its camera wants one."""
        if not wants_small(event) or not self._enabled(event.camera):
            return
        self._workers.add([event.key])


def wants_small(event: CatalogEvent) -> bool:
    """A playable clip (not a snapshot) without a small version."""
    return (
        event.kind == "record"
        and event.playable
        and event.small_key is None
        and not is_derived_key(event.key)
    )
