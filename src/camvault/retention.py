"""Retention: which stored events go, and deleting them with their derived objects and entries.

Plan, then execute. ``plan`` is a pure function of a listing of the store and a ``Policy``; it
decides, and ``Retention.execute`` carries the plan out (or only reports it, for ``--dry-run``).

What the plan decides:

- Only camvault's objects are candidates: keys under the storage prefix that follow the key
  scheme, whose file name has the kind of its folder (``.mp4`` under ``record``…), and their
  derived objects. Anything else in the bucket or directory is never touched.
- An original and its derived objects (thumbnail, small version, keep marker; recognised from
  the key, ``domain.keys``) form one group. An event goes once both the end of its
  ``Hour-HH`` folder (its capture hour, in the key time zone) and the moment its original was
  stored are more than its camera's days old (``camvault camera set NAME --retention-days N``,
  else ``[retention] days``). The second condition protects the clips of a camera whose clock
  is wrong (flagged clock skew) and old footage ingested today: nothing goes sooner than its
  days after it reached the store, which is also when an S3 lifecycle rule would expire it.
  Both instants come from a listing: the plan needs neither the catalog nor a HEAD per object.
- An event with a keep marker is never deleted, not for age and not for the byte budget.
- With a byte budget (``file://`` stores only), the oldest events go, after the expired ones,
  until the objects under the prefix fit. Kept events count but never go.
- Derived objects whose original is gone (a thumbnail left by a crash, a marker of a
  hand-deleted clip) go once they are a day old, with the catalog entry of the original they
  name.

Order of deletion, per event, oldest event first: the catalog entry, then the derived
objects, then the original, then the entry once more. The entry goes first so that nothing
the API lists points at a missing object; the original goes last because it is what lets the
next run find the group again: a crash at any point leaves either the whole original with
some of its derived objects (the next run finishes it) or derived objects without their
original (cleaned as orphans). The second entry delete covers a reprocessing (``reindex``)
that wrote the entry back meanwhile. The keep marker is checked again just before deleting,
so an event kept after the plan was made survives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

from camvault.catalog.base import Catalog, CatalogError
from camvault.clock import Clock
from camvault.domain.keys import (
    KEEP_SUFFIX,
    SMALL_SUFFIX,
    BadKey,
    ObjectKey,
    event_id_for_key,
    is_derived_filename,
    keep_marker_key,
    kind_for_filename,
    original_key_of_derived,
    parse_key,
    small_key,
    validate_filename,
)
from camvault.store.base import ObjectNotFound, ObjectStore, StoreError

log = logging.getLogger(__name__)

ORPHAN_GRACE = timedelta(days=1)
Reason = Literal["age", "budget", "orphan"]


@dataclass(frozen=True)
class StoredObject:
    """One listed object: all the plan needs."""

    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class Policy:
    """What retention keeps. ``days_by_camera`` is keyed by lower-case camera name (names
    ignore case); ``max_bytes`` None: no budget."""

    now: datetime
    prefix: str
    default_days: int
    days_by_camera: Mapping[str, int] = field(default_factory=dict)
    max_bytes: int | None = None
    key_zone: tzinfo = UTC

    def days(self, camera: str) -> int:
        return self.days_by_camera.get(camera.lower(), self.default_days)


@dataclass(frozen=True)
class Removal:
    """One event, or the derived objects left of one, to delete.

    ``original`` is the original's key when it is listed (it goes too), ``event_key`` the key
    whose catalog entry goes: the original's, also for orphans whose original is named by their
    key (a thumbnail, a keep marker), else None.
    """

    reason: Reason
    camera: str
    original: str | None
    derived: tuple[str, ...]
    size: int
    since: datetime
    """The instant the event's age counts from (oldest first)."""
    event_key: str | None = None

    @property
    def event_id(self) -> str | None:
        return event_id_for_key(self.event_key) if self.event_key else None

    @property
    def keys(self) -> tuple[str, ...]:
        return (*self.derived, self.original) if self.original else self.derived


@dataclass(frozen=True)
class Plan:
    removals: tuple[Removal, ...]
    kept: int
    """Kept events that retention would otherwise have deleted."""
    bytes_before: int
    bytes_after: int


@dataclass
class _Group:
    camera: str
    hour_end: datetime
    original: StoredObject | None = None
    derived: list[StoredObject] = field(default_factory=list)
    named_original: str | None = None
    kind: str = ""

    @property
    def size(self) -> int:
        return sum(o.size for o in self.derived) + (self.original.size if self.original else 0)

    @property
    def since(self) -> datetime:
        """The later of the capture hour's end and the original's arrival in the store."""
        return max(self.hour_end, self.original.last_modified) if self.original else self.hour_end

    @property
    def kept(self) -> bool:
        return any(o.key.lower().endswith(KEEP_SUFFIX) for o in self.derived)

    def removal(self, reason: Reason) -> Removal:
        return Removal(
            reason,
            self.camera,
            self.original.key if self.original else None,
            tuple(sorted(o.key for o in self.derived)),
            self.size,
            self.since,
            self.original.key if self.original else self.named_original,
        )


def plan(objects: Iterable[StoredObject], policy: Policy) -> Plan:
    """What goes, oldest first (pure: the listing and the policy decide everything)."""
    groups = _groups(objects, policy)
    total = sum(group.size for group in groups)
    removals: list[Removal] = []
    survivors: list[_Group] = []
    kept = 0
    for group in groups:
        if group.original is None:
            if all(policy.now - o.last_modified >= ORPHAN_GRACE for o in group.derived):
                removals.append(group.removal("orphan"))
            continue
        if policy.now - group.since >= timedelta(days=policy.days(group.camera)):
            if group.kept:
                kept += 1
            else:
                removals.append(group.removal("age"))
                continue
        survivors.append(group)
    remaining = total - sum(r.size for r in removals)
    if policy.max_bytes is not None:
        for group in sorted(survivors, key=lambda g: (g.since, g.original.key if g.original else "")):
            if remaining <= policy.max_bytes:
                break
            if not group.kept:
                removals.append(group.removal("budget"))
                remaining -= group.size
    ordered = sorted(removals, key=lambda r: (r.since, r.original or r.derived[0]))
    return Plan(tuple(ordered), kept, total, remaining)


def _groups(objects: Iterable[StoredObject], policy: Policy) -> list[_Group]:
    """Originals with their derived objects; derived objects with no original form their own group."""
    folders = _Folders(policy)
    originals: dict[str, _Group] = {}
    derived: list[tuple[StoredObject, _Folder]] = []
    for item in objects:
        folder = folders.of(item.key)
        if folder is None:
            continue
        if is_derived_filename(item.key.rpartition("/")[2]):
            derived.append((item, folder))
        else:
            originals[item.key] = _Group(folder.camera, folder.hour_end, original=item, kind=folder.kind)
    folders_with_smalls = {
        i.key.rpartition("/")[0] for i, _ in derived if i.key.lower().endswith(SMALL_SUFFIX)
    }
    smalls: dict[str, str] = {}  # small version key -> its original's key (the first, by key)
    for key in sorted(originals):
        if key.rpartition("/")[0] in folders_with_smalls and originals[key].kind == "record":
            smalls.setdefault(small_key(key), key)
    orphans: dict[str, _Group] = {}
    for item, folder in derived:
        named = original_key_of_derived(item.key)
        owner = named or smalls.get(item.key) or item.key
        group = originals.get(owner) or orphans.setdefault(
            owner, _Group(folder.camera, folder.hour_end, named_original=named)
        )
        group.derived.append(item)
    return [*originals.values(), *orphans.values()]


@dataclass(frozen=True)
class _Folder:
    camera: str
    kind: str
    hour_end: datetime


class _Folders:
    """Which keys are camvault's under the policy's prefix; each folder is parsed once."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._seen: dict[str, _Folder | None] = {}

    def of(self, key: str) -> _Folder | None:
        """The key's folder when the key is one camvault wrote under the prefix, else None."""
        path, _, name = key.rpartition("/")
        if path not in self._seen:
            self._seen[path] = self._parse(path)
        folder = self._seen[path]
        if folder is None:
            return None
        try:
            validate_filename(name)
        except ValueError:
            return None
        if not is_derived_filename(name) and kind_for_filename(name) != folder.kind:
            return None
        return folder

    def _parse(self, path: str) -> _Folder | None:
        try:
            parsed = parse_key(f"{path}/_")  # the folders decide; the file name is checked alone
        except BadKey:
            return None
        if parsed.prefix != self._policy.prefix:
            return None
        return _Folder(parsed.camera, parsed.kind, _hour_end(parsed, self._policy.key_zone))


def _hour_end(parsed: ObjectKey, zone: tzinfo) -> datetime:
    """The latest instant the key's hour folder can hold (a repeated DST hour: its second run)."""
    start = datetime(parsed.day.year, parsed.day.month, parsed.day.day, parsed.hour, tzinfo=zone, fold=1)
    return start.astimezone(UTC) + timedelta(hours=1)


# -- execution ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What a run did (or, dry, would do)."""

    plan: Plan
    deleted: tuple[Removal, ...]
    spared: tuple[str, ...]
    """Originals kept after the plan was made (their keep marker appeared)."""
    failed: tuple[tuple[str, str], ...]
    """(key, reason) of removals that failed; the next run tries again."""
    temp_files: int = 0


Progress = Callable[[Removal, bool], None]
"""Told about each removal as it is done (True) or skipped (False)."""


class Retention:
    """Applies retention to one store and catalog with settings read per run."""

    def __init__(
        self,
        store: ObjectStore,
        catalog: Catalog,
        policy: Callable[[datetime], Policy],
        *,
        clock: Clock,
        sweep_temp_files: Callable[[datetime], int] | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._policy = policy
        self._clock = clock
        self._sweep = sweep_temp_files
        self._lock = threading.Lock()

    def plan(self) -> Plan:
        policy = self._policy(self._clock())
        listed = self._store.list(f"{policy.prefix}/" if policy.prefix else "")
        return plan((StoredObject(o.key, o.size, o.last_modified) for o in listed), policy)

    def run(self, *, dry_run: bool = False, progress: Progress | None = None) -> Report:
        """Plan and (unless ``dry_run``) carry the plan out."""
        planned = self.plan()
        if dry_run:
            return Report(planned, planned.removals, (), ())
        return self.execute(planned, progress=progress)

    def execute(self, planned: Plan, *, progress: Progress | None = None) -> Report:
        """Delete what ``planned`` names, oldest first; one execution at a time per process."""
        deleted: list[Removal] = []
        spared: list[str] = []
        failed: list[tuple[str, str]] = []
        with self._lock:
            for removal in planned.removals:
                done = False
                try:
                    done = self._remove(removal)
                except (StoreError, CatalogError) as exc:
                    failed.append((removal.keys[-1], str(exc)))
                else:
                    if done:
                        deleted.append(removal)
                    else:
                        spared.append(removal.keys[-1])
                if progress is not None:
                    progress(removal, done)
            temp = self._sweep(self._clock() - ORPHAN_GRACE) if self._sweep else 0
        return Report(planned, tuple(deleted), tuple(spared), tuple(failed), temp)

    def _remove(self, removal: Removal) -> bool:
        """Delete one removal's entry and objects; False when it must stay after all."""
        if removal.original is not None and self._exists(keep_marker_key(removal.original)):
            return False  # kept since the plan was made
        if removal.original is None and removal.event_key and self._exists(removal.event_key):
            return False  # the original is back: not an orphan
        if removal.event_id is not None:
            self._catalog.delete(removal.event_id)
        for key in removal.keys:
            self._store.delete(key)
        if removal.event_id is not None:
            self._catalog.delete(removal.event_id)
        return True

    def _exists(self, key: str) -> bool:
        try:
            self._store.head(key)
        except ObjectNotFound:
            return False
        return True


class Schedule:
    """Runs ``job`` now and then every ``interval`` on a thread until ``stop``; a failing run is
    logged and the next one still happens."""

    def __init__(self, job: Callable[[], object], interval: timedelta) -> None:
        self._job = job
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="camvault-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            try:
                self._job()
            except Exception:  # the schedule outlives one bad run; the log says why
                log.exception("retention run failed; the next one is in %s", self._interval)
            self._stopped.wait(self._interval.total_seconds())
