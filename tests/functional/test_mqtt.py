"""MQTT notifications against a real mosquitto broker: payloads, the retained thumbnail, Home
Assistant discovery, the per-camera rate limit, and ingest going on while the broker is down."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camvault.config.loader import load_config
from camvault.domain.model import CatalogEvent
from camvault.factory import Runtime, build_runtime
from camvault.notify.channel import Channel, Notifier
from camvault.notify.mqtt import MqttSettings, MqttSink
from camvault.store.base import read_all
from tests.support.brokers import Mosquitto, Subscriber, running_mosquitto, wait_for
from tests.support.cli import camvault, init_data
from tests.support.media import make_jpeg

pytestmark = pytest.mark.functional


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    yield from running_mosquitto(tmp_path)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = init_data(tmp_path / "data")
    for camera in ("backyard", "porch", "garage"):
        run = camvault("camera", "add", camera, "--timezone", "UTC", "--config", path)
        assert run.code == 0, run.err
    assert camvault("camera", "set", "garage", "--no-notify", "--config", path).code == 0
    return path


@pytest.fixture
def subscriber(broker: Mosquitto) -> Iterator[Subscriber]:
    listener = Subscriber(broker.port)
    listener.start()
    yield listener
    listener.stop()


def open_runtime(config: Path, broker: Mosquitto, **env: str) -> Runtime:
    environment = {"CAMVAULT_MQTT_URL": broker.url, **env}
    return build_runtime(load_config(str(config), environment, config.parent), notifications=True)


def ingest_snapshot(runtime: Runtime, folder: Path, camera: str, second: int) -> CatalogEvent:
    image = make_jpeg(folder / f"MDAlarm_20250101-1200{second:02d}.jpg", width=64, height=48)
    stored = runtime.ingestor.ingest(image, camera)
    [outcome] = runtime.workers.drain([stored.key])
    assert outcome.event is not None, outcome
    return outcome.event


def retained(broker: Mosquitto, topic: str) -> Subscriber:
    """A fresh subscriber: whatever it gets at once was retained."""
    late = Subscriber(broker.port)
    late.start(topic)
    return late


def test_a_new_event_is_published_with_its_thumbnail_and_discovery(
    broker: Mosquitto, subscriber: Subscriber, config: Path, tmp_path: Path
) -> None:
    runtime = open_runtime(config, broker)
    try:
        event = ingest_snapshot(runtime, tmp_path, "backyard", 1)
        wait_for(lambda: subscriber.on("camvault/backyard/event"), what="the event message")
        assert subscriber.json_on("camvault/backyard/event") == [event.to_json()]
        assert event.thumbnail_key is not None
        thumbnail = read_all(runtime.store, event.thumbnail_key)
    finally:
        runtime.close()

    late = retained(broker, "#")
    try:
        wait_for(lambda: late.on("camvault/backyard/thumbnail"), what="the retained thumbnail")
        [image] = late.on("camvault/backyard/thumbnail")
        assert image.retain and image.payload == thumbnail and image.payload[:2] == b"\xff\xd8"
        assert [m.payload for m in late.on("camvault/status")] == [b"offline"]  # closed cleanly
        assert late.on("camvault/backyard/event") == []  # events are not retained
        sensor = json.loads(late.on("homeassistant/binary_sensor/camvault_backyard/motion/config")[0].payload)
        image_config = json.loads(
            late.on("homeassistant/image/camvault_backyard/thumbnail/config")[0].payload
        )
        assert not late.on("homeassistant/binary_sensor/camvault_garage/motion/config"), "garage opted out"
        assert late.on("homeassistant/binary_sensor/camvault_porch/motion/config"), "every camera announced"
    finally:
        late.stop()
    assert sensor["device_class"] == "motion" and sensor["state_topic"] == "camvault/backyard/event"
    assert sensor["unique_id"] == "camvault_backyard_motion" and sensor["off_delay"] == 30
    assert sensor["availability_topic"] == "camvault/status" and sensor["payload_not_available"] == "offline"
    assert image_config["image_topic"] == "camvault/backyard/thumbnail"
    assert image_config["content_type"] == "image/jpeg"
    assert image_config["unique_id"] == "camvault_backyard_thumbnail"
    assert sensor["device"] == image_config["device"]
    assert sensor["device"]["identifiers"] == ["camvault_backyard"] and sensor["device"]["name"] == "backyard"


def test_an_alarm_storm_sends_the_first_event_then_the_last_per_interval(
    broker: Mosquitto, subscriber: Subscriber, config: Path, tmp_path: Path
) -> None:
    runtime = build_runtime(load_config(str(config), {}, config.parent))
    clock = Clock()
    sink = MqttSink(
        MqttSettings(url=broker.url),
        read_thumbnail=lambda key: read_all(runtime.store, key),
        cameras=lambda: [],
    )
    channel = Channel(sink, interval_s=30.0, count=runtime.journal.count, clock=clock)
    notifier = Notifier([channel], wanted=lambda camera: camera != "garage")
    runtime.processor.add_listener(notifier.listener)
    notifier.start()
    try:
        wait_for(lambda: subscriber.on("camvault/status"), what="the sink to connect")
        storm = [ingest_snapshot(runtime, tmp_path, "backyard", second) for second in range(5)]
        porch = ingest_snapshot(runtime, tmp_path, "porch", 9)
        ingest_snapshot(runtime, tmp_path, "garage", 8)
        wait_for(lambda: len(subscriber.on("camvault/porch/event")) == 1, what="the porch event")
        time.sleep(0.5)  # the channel has seen the whole storm by now
        assert subscriber.json_on("camvault/backyard/event") == [storm[0].to_json()]

        clock.now += 30.0
        wait_for(lambda: len(subscriber.on("camvault/backyard/event")) == 2, what="the coalesced event")
        assert subscriber.json_on("camvault/backyard/event")[1] == storm[-1].to_json()
        assert subscriber.json_on("camvault/porch/event") == [porch.to_json()]
        assert subscriber.on("camvault/garage/event") == []
    finally:
        notifier.close()
        runtime.close()
    counters = runtime_counters(config)
    assert (counters["mqtt_sent"], counters["mqtt_coalesced"]) == (3, 3)


def runtime_counters(config: Path) -> dict[str, int]:
    run = camvault("status", "--json", "--config", config)
    assert run.code == 0, run.err
    counters: dict[str, int] = json.loads(run.out)["counters"]
    return counters


def test_ingest_goes_on_while_the_broker_is_down_and_notifications_resume(
    broker: Mosquitto, config: Path, tmp_path: Path
) -> None:
    runtime = open_runtime(config, broker, CAMVAULT_MQTT_INTERVAL_SECONDS="0.1")
    try:
        first = ingest_snapshot(runtime, tmp_path, "backyard", 1)
        broker.stop()
        started = time.monotonic()
        down = [ingest_snapshot(runtime, tmp_path, "porch", second) for second in range(2, 5)]
        assert time.monotonic() - started < 5.0, "ingest must not wait for the broker"
        assert all(runtime.catalog.get(event.id) is not None for event in [first, *down])
        wait_for(lambda: runtime.journal.stats().counters.get("mqtt_failed", 0) >= 1, what="a failure")

        broker.start()
        late = Subscriber(broker.port)
        late.start("camvault/#")
        try:
            wait_for(lambda: late.on("camvault/status"), timeout_s=40, what="camvault to reconnect")
            again = ingest_snapshot(runtime, tmp_path, "backyard", 7)
            wait_for(lambda: late.on("camvault/backyard/event"), what="the event after the outage")
            assert late.json_on("camvault/backyard/event") == [again.to_json()]
        finally:
            late.stop()
    finally:
        runtime.close()
    report = json.loads(camvault("status", "--json", "--config", config).out)
    assert report["notifications"]["mqtt"]["failed"] >= 1
    assert report["notifications"]["mqtt"]["sent"] >= 2
    text = camvault("status", "--config", config).out
    assert "mqtt:" in text and "failed" in text


def test_camvault_ingest_announces_its_event_before_it_exits(
    broker: Mosquitto, subscriber: Subscriber, config: Path, tmp_path: Path
) -> None:
    text = config.read_text()
    head, mqtt = text.split("[mqtt]\n", 1)
    config.write_text(head + "[mqtt]\n" + mqtt.replace('# url = ""', f'url = "{broker.url}"', 1))
    image = make_jpeg(tmp_path / "MDAlarm_20250101-120001.jpg", width=64, height=48)

    run = camvault("ingest", image, "--camera", "porch", "--config", config)

    assert run.code == 0, run.err
    wait_for(lambda: subscriber.on("camvault/porch/event"), what="the event from `camvault ingest`")
    [event] = subscriber.json_on("camvault/porch/event")
    assert event["camera"] == "porch" and event["kind"] == "snap"
    assert subscriber.on("camvault/status") == [], "a short ingest does not speak for camvault's status"
    again = camvault("reindex", "--config", config)
    assert again.code == 0, again.err
    time.sleep(0.5)
    assert len(subscriber.on("camvault/porch/event")) == 1, "processing again is not a new event"
