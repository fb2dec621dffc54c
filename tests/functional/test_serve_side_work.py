"""``camvault serve`` as a real process runs the side work: the small transcodes of the clips that
``camvault ingest`` cataloged, and the MQTT online/offline status, against a real mosquitto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.test_serve import Served, get_json
from tests.support.brokers import Mosquitto, Subscriber, running_mosquitto, wait_for
from tests.support.cli import camvault, init_data, set_key
from tests.support.media import make_clip

pytestmark = pytest.mark.functional

CLIP = "MDalarm_20161018_113706.mp4"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    yield from running_mosquitto(tmp_path)


def test_serve_makes_the_small_version_and_speaks_for_the_mqtt_status(
    broker: Mosquitto, tmp_path: Path
) -> None:
    config = init_data(tmp_path / "data")
    assert camvault("camera", "add", "backyard", "--timezone", "UTC", "--config", config).code == 0
    assert camvault("camera", "set", "backyard", "--transcode", "--config", config).code == 0
    set_key(config, "mqtt.url", broker.url)
    watcher = Subscriber(broker.port)
    watcher.start("camvault/#")
    served = Served(config)
    try:
        wait_for(lambda: watcher.on("camvault/status"), what="serve's online status")
        clip = make_clip(tmp_path / CLIP, seconds=2.0, width=1280, height=720, fps=10)
        run = camvault("ingest", clip, "--camera", "backyard", "--config", config)
        assert run.code == 0, run.err

        def small_key() -> object:
            return get_json(f"{served.url}/events", served.token)["events"][0]["small_key"]

        wait_for(small_key, timeout_s=60, what="serve's transcode worker")
        assert small_key() == f"backyard/2016-10-18/Hour-11/record/{CLIP.removesuffix('.mp4')}-small.mp4"
        wait_for(lambda: watcher.on("camvault/backyard/event"), what="the event")
    finally:
        served.stop()
    try:
        wait_for(lambda: len(watcher.on("camvault/status")) >= 2, what="the offline status")
        assert [m.payload for m in watcher.on("camvault/status")] == [b"online", b"offline"]
    finally:
        watcher.stop()
    report = json.loads(camvault("status", "--json", "--config", config).out)
    assert report["transcode"]["done"] == 1 and report["notifications"]["mqtt"]["sent"] == 1
