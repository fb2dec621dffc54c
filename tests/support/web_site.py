"""A camvault site for the browser tests: real clips and snapshots ingested through the CLI, served
by a real ``camvault serve`` on a free loopback port.

Cameras: ``driveway`` (busy; events around the DST change days of America/New_York; a small
version of its newest clip), ``backyard`` (quiet for three days), ``shed`` (60 old snapshots: more
than one page), ``attic`` (a file name that is markup, and an unreadable clip) and ``porch`` (one
alarm incident: a snapshot, a clip and a snapshot within 60 s), plus an event whose camera name is
markup, as data written by another system could hold.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from camvault.catalog.sqlite import SQLiteCatalog
from camvault.domain.keys import event_id_for_key, parse_key, small_key
from camvault.store.local import LocalStore
from tests.support.cli import camvault, set_key
from tests.support.media import make_clip, make_corrupt, make_jpeg

VIEWER_ZONE = ZoneInfo("America/New_York")
HOSTILE = "<img src=x onerror=window.__xss=1>"
SCROLL_SNAPS = 60  # more than one page of 50


def stamp(instant: datetime) -> str:
    """A file-name time camvault reads as UTC (ISO basic with Z)."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    url: str
    secret: str
    data: Path
    now: datetime
    today: date  # in the viewer's zone, when the site was built
    ids: dict[str, str] = field(default_factory=dict)  # label -> event id

    def api(self, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}/api/v1{path}")  # noqa: S310 - local server
        request.add_header("Authorization", f"Bearer {self.secret}")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local server
            return json.loads(response.read())

    def all_events(self) -> list[dict[str, Any]]:
        return self._all("events")

    def all_incidents(self) -> list[dict[str, Any]]:
        return self._all("incidents")

    def _all(self, kind: str) -> list[dict[str, Any]]:
        found, cursor = [], ""
        while True:
            page = self.api(f"/{kind}?limit=500{'&cursor=' + cursor if cursor else ''}")
            found += page[kind]
            if not page["next_cursor"]:
                return found
            cursor = page["next_cursor"]


def local_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=VIEWER_ZONE)


def ingest(data: Path, camera: str, files: list[Path]) -> None:
    run = camvault("ingest", *files, "--camera", camera, "--config", data / "camvault.toml")
    assert run.code == 0, run.err + run.out


def build_site(folder: Path, work: Path) -> tuple[Site, dict[str, Path]]:
    """Cameras ``driveway`` (busy, with a small version of its newest clip), ``backyard`` (quiet for
    three days), ``shed`` (60 old snapshots), ``attic`` (a hostile file name) and ``porch`` (one
    incident of three events)."""
    init = camvault("init", folder)
    assert init.code == 0, init.err
    secret = re.search(r"admin secret .*: (\S+)", init.out)
    assert secret, init.out
    config = folder / "camvault.toml"
    for camera in ("driveway", "backyard", "shed", "attic", "porch"):
        assert camvault("camera", "add", camera, "--timezone", "UTC", "--config", config).code == 0
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone(VIEWER_ZONE).date()
    clip = make_clip(work / "source.mp4", seconds=4.0, width=320, height=240, keyframe_interval=10)
    snap = make_jpeg(work / "source.jpg", width=320, height=240)
    labels: dict[str, Path] = {}

    def copy(label: str, source: Path, name: str) -> Path:
        target = work / name
        shutil.copyfile(source, target)
        labels[label] = target
        return target

    ingest(
        folder,
        "driveway",
        [
            copy("newest-clip", clip, f"clip_{stamp(now - timedelta(minutes=10))}.mp4"),
            copy("newest-snap", snap, f"snap_{stamp(now - timedelta(minutes=12))}.jpg"),
            copy("yesterday-clip", clip, f"clip_{stamp(local_noon(today - timedelta(days=1)))}.mp4"),
            # the 25-hour fall-back day in New York, and its neighbours
            copy("nov1-late", clip, "clip_20251102T033000Z.mp4"),  # Nov 1, 23:30 EDT
            copy("nov2-first", clip, "clip_20251102T043000Z.mp4"),  # Nov 2, 00:30 EDT
            copy("nov2-edt", clip, "clip_20251102T053000Z.mp4"),  # Nov 2, 01:30 EDT
            copy("nov2-est", clip, "clip_20251102T063000Z.mp4"),  # Nov 2, 01:30 EST
            copy("nov2-last", clip, "clip_20251103T043000Z.mp4"),  # Nov 2, 23:30 EST
            copy("nov3-first", clip, "clip_20251103T053000Z.mp4"),  # Nov 3, 00:30 EST
            # the 23-hour spring-forward day
            copy("mar8-first", clip, "clip_20260308T050000Z.mp4"),  # Mar 8, 00:00 EST
            copy("mar8-last", clip, "clip_20260309T035900Z.mp4"),  # Mar 8, 23:59 EDT
            copy("mar9-first", clip, "clip_20260309T040000Z.mp4"),  # Mar 9, 00:00 EDT
        ],
    )
    ingest(
        folder,
        "backyard",
        [copy("backyard", clip, f"clip_{stamp(local_noon(today - timedelta(days=3)))}.mp4")],
    )
    start = datetime(2020, 1, 1, tzinfo=UTC)
    ingest(
        folder,
        "shed",
        [
            copy(f"shed-{n}", snap, f"snap_{stamp(start + timedelta(hours=n))}.jpg")
            for n in range(SCROLL_SNAPS)
        ],
    )
    alarm = datetime(2024, 6, 1, 10, tzinfo=UTC)  # one incident: snapshot, clip, snapshot in 40 s
    ingest(
        folder,
        "porch",
        [
            copy("porch-snap-1", snap, f"snap_{stamp(alarm)}.jpg"),
            copy("porch-clip", clip, f"clip_{stamp(alarm + timedelta(seconds=20))}.mp4"),
            copy("porch-snap-2", snap, f"snap_{stamp(alarm + timedelta(seconds=40))}.jpg"),
        ],
    )
    broken = make_corrupt(work / "broken-source.mp4", mode="garbage")
    ingest(folder, "attic", [copy("hostile", clip, f"{HOSTILE}.mp4")])
    ingest(folder, "attic", [copy("broken", broken, f"broken_{stamp(now - timedelta(hours=2))}.mp4")])
    site = Site(url="", secret=secret.group(1), data=folder, now=now, today=today)
    return site, labels


def add_small_version(site: Site, event_id: str) -> None:
    """What the transcoder will do: put ``NAME-small.mp4`` beside the original, note it in the catalog."""
    catalog = SQLiteCatalog(site.data / "catalog.db")
    try:
        event = catalog.get(event_id)
        assert event is not None
        key = small_key(event.key)
        small = make_clip(site.data.parent / "small.mp4", seconds=4.0, width=160, height=120)
        store = LocalStore(site.data / "objects")
        try:
            store.put(key, small.read_bytes(), content_type="video/mp4")
        finally:
            store.close()
        catalog.put(dataclasses.replace(event, small_key=key))
    finally:
        catalog.close()


def add_hostile_camera_event(site: Site, source_id: str) -> str:
    """An event whose camera name is markup, as data written by another system could hold."""
    catalog = SQLiteCatalog(site.data / "catalog.db")
    try:
        event = catalog.get(source_id)
        assert event is not None
        key = dataclasses.replace(parse_key(event.key), camera=HOSTILE).key
        hostile = dataclasses.replace(event, id=event_id_for_key(key), camera=HOSTILE, key=key)
        catalog.put(hostile)
        return hostile.id
    finally:
        catalog.close()


class Server:
    """``camvault serve`` as a real process on a free loopback port; its output goes to a log file
    beside the config (a pipe nobody reads could fill up and stall the server)."""

    def __init__(self, config: Path) -> None:
        port = free_port()
        set_key(config, "api.listen", f"127.0.0.1:{port}")
        set_key(config, "gateway.listen", f"127.0.0.1:{free_port()}")  # serve starts the FTP gateway too
        self.url = f"http://127.0.0.1:{port}"
        self.log = config.parent / "serve.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "camvault", "serve", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/healthz", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"serve did not answer: {self.stop()}")

    def stop(self) -> str:
        """Stop the server; its output."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.log.read_text(errors="replace")


def _catalog_events(site: Site) -> list[dict[str, Any]]:
    run = camvault("events", "--json", "--config", site.data / "camvault.toml")
    assert run.code == 0, run.err
    return [json.loads(line) for line in run.lines()]


@contextlib.contextmanager
def served_site(root: Path) -> Iterator[Site]:
    """Build the site under ``root`` and serve it until the block ends."""
    work = root / "files"
    work.mkdir()
    site, labels = build_site(root / "data", work)
    events = {Path(e["key"]).name: e["id"] for e in _catalog_events(site)}
    site.ids = {label: events[path.name] for label, path in labels.items()}
    add_small_version(site, site.ids["newest-clip"])
    site.ids["hostile-camera"] = add_hostile_camera_event(site, site.ids["hostile"])
    server = Server(root / "data" / "camvault.toml")
    site.url = server.url
    try:
        yield site
    finally:
        server.stop()


def expected_days(site: Site, incidents: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(local day in the viewer's zone, ids newest first) for ``incidents``, as the timeline groups
    them: by the day of each incident's first event."""
    days: list[tuple[str, list[str]]] = []
    for incident in incidents:
        instant = datetime.fromisoformat(incident["start_time"].replace("Z", "+00:00"))
        day = instant.astimezone(VIEWER_ZONE).date().isoformat()
        if not days or days[-1][0] != day:
            days.append((day, []))
        days[-1][1].append(incident["id"])
    return days
