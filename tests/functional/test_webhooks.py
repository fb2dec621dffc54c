"""Webhooks against a real local HTTP receiver: payload, signature, retries with backoff, the
per-camera rate limit, and ingest going on while the receiver is down."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from camvault.config.loader import ConfigError, load_config
from camvault.domain.model import CatalogEvent
from camvault.factory import Runtime, build_runtime
from camvault.notify.channel import Channel
from camvault.notify.webhook import WebhookError, WebhookSettings, WebhookSink
from tests.support.brokers import Receiver, wait_for
from tests.support.cli import camvault, init_data
from tests.support.media import make_jpeg

pytestmark = pytest.mark.functional

SECRET = "correct horse battery staple"


class LongestWait(random.Random):
    """Jitter that always picks the longest wait, so backoff can be measured."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = init_data(tmp_path / "data")
    assert camvault("camera", "add", "backyard", "--timezone", "UTC", "--config", path).code == 0
    return path


def open_runtime(config: Path, url: str, **env: str) -> Runtime:
    environment = {"CAMVAULT_WEBHOOKS_URL": url, "CAMVAULT_WEBHOOKS_SECRET": SECRET, **env}
    return build_runtime(load_config(str(config), environment, config.parent), notifications=True)


def ingest_snapshot(runtime: Runtime, folder: Path, second: int) -> CatalogEvent:
    image = make_jpeg(folder / f"MDAlarm_20250101-1200{second:02d}.jpg", width=64, height=48)
    stored = runtime.ingestor.ingest(image, "backyard")
    [outcome] = runtime.workers.drain([stored.key])
    assert outcome.event is not None, outcome
    return outcome.event


def verify(secret: str, headers: dict[str, str], body: bytes, max_age_s: float = 300) -> bool:
    """What a receiver does (docs/notifications.md): recompute the HMAC, refuse old timestamps."""
    timestamp = headers["X-Camvault-Timestamp"]
    expected = (
        "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    )
    fresh = abs(time.time() - int(timestamp)) <= max_age_s
    return fresh and hmac.compare_digest(expected, headers["X-Camvault-Signature"])


def test_a_new_event_is_posted_as_signed_json(receiver: Receiver, config: Path, tmp_path: Path) -> None:
    runtime = open_runtime(config, receiver.url)
    try:
        event = ingest_snapshot(runtime, tmp_path, 1)
        wait_for(receiver.received, what="the webhook")
    finally:
        runtime.close()
    [request] = receiver.received()
    assert json.loads(request.body) == event.to_json()
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Camvault-Event"] == event.id
    assert verify(SECRET, request.headers, request.body)
    assert not verify("another secret", request.headers, request.body)
    assert not verify(SECRET, request.headers, request.body.replace(b"backyard", b"frontyard"))


def test_transient_failures_are_retried_with_growing_waits(receiver: Receiver, tmp_path: Path) -> None:
    receiver.statuses = [503, 500]
    sink = WebhookSink(WebhookSettings(receiver.url, SECRET, attempts=4, base_delay_s=0.2), rng=LongestWait())
    event = sample_event(tmp_path)
    sink.send(event)
    requests = receiver.received()
    assert len(requests) == 3
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4, gaps
    assert all(verify(SECRET, r.headers, r.body) and r.body == requests[0].body for r in requests)


def test_a_refusal_is_final_and_the_attempts_are_bounded(receiver: Receiver, tmp_path: Path) -> None:
    receiver.statuses = [400]
    sink = WebhookSink(WebhookSettings(receiver.url, SECRET, attempts=4, base_delay_s=0.05))
    with pytest.raises(WebhookError, match="HTTP 400"):
        sink.send(sample_event(tmp_path))
    assert len(receiver.received()) == 1

    receiver.statuses = [302]
    with pytest.raises(WebhookError, match="HTTP 302"):
        sink.send(sample_event(tmp_path))
    assert len(receiver.received()) == 2, "a redirect is not followed nor retried"

    receiver.statuses = [503] * 10
    with pytest.raises(WebhookError, match="gave up after 3 attempts"):
        WebhookSink(WebhookSettings(receiver.url, SECRET, attempts=3, base_delay_s=0.05)).send(
            sample_event(tmp_path)
        )
    assert len(receiver.received()) == 2 + 3


def test_an_alarm_storm_posts_the_first_event_then_the_last_per_interval(
    receiver: Receiver, tmp_path: Path
) -> None:
    clock = Clock()
    counts: dict[str, int] = {}
    channel = Channel(
        WebhookSink(WebhookSettings(receiver.url, SECRET)),
        interval_s=30.0,
        count=lambda name, amount: counts.__setitem__(name, counts.get(name, 0) + amount),
        clock=clock,
    )
    storm = [sample_event(tmp_path, second) for second in range(4)]
    channel.start()
    try:
        for event in storm:
            channel.offer(event)
        wait_for(receiver.received, what="the first event")
        time.sleep(0.5)
        assert [json.loads(r.body)["id"] for r in receiver.received()] == [storm[0].id]
        clock.now += 30.0
        wait_for(lambda: len(receiver.received()) == 2, what="the coalesced event")
        assert json.loads(receiver.received()[1].body)["id"] == storm[-1].id
    finally:
        channel.close()
    assert counts == {"webhook_sent": 2, "webhook_coalesced": 2}


def test_ingest_goes_on_while_the_receiver_is_down(
    config: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver()  # not started yet: nothing listens on its port
    runtime = open_runtime(
        config, receiver.url, CAMVAULT_WEBHOOKS_ATTEMPTS="2", CAMVAULT_WEBHOOKS_INTERVAL_SECONDS="0.1"
    )
    try:
        started = time.monotonic()
        events = [ingest_snapshot(runtime, tmp_path, second) for second in range(3)]
        assert time.monotonic() - started < 5.0, "ingest must not wait for the receiver"
        assert all(runtime.catalog.get(event.id) is not None for event in events)
        wait_for(lambda: runtime.journal.stats().counters.get("webhook_failed", 0) >= 1, what="a failure")

        receiver.start()
        time.sleep(0.3)  # the channel is past the events queued while it was down
        later = ingest_snapshot(runtime, tmp_path, 9)
        wait_for(lambda: any(json.loads(r.body)["id"] == later.id for r in receiver.received()))
    finally:
        runtime.close()
        receiver.stop()
    assert "webhook notification for event" in caplog.text and "cannot reach the receiver" in caplog.text
    assert SECRET not in caplog.text
    report = json.loads(camvault("status", "--json", "--config", config).out)
    assert report["notifications"]["webhook"]["failed"] >= 1
    assert report["notifications"]["webhook"]["sent"] >= 1


def sample_event(folder: Path, second: int = 0) -> CatalogEvent:
    return CatalogEvent(
        id=f"event{second:02d}",
        camera="backyard",
        kind="snap",
        capture_time=datetime(2025, 1, 1, 12, 0, second, tzinfo=UTC),
        key=f"backyard/2025-01-01/Hour-12/snap/MDAlarm_20250101-1200{second:02d}.jpg",
        size=1234,
        content_type="image/jpeg",
        media=None,
        playable=True,
    )


@pytest.mark.parametrize("secret", ["", "short"])
def test_a_webhook_without_a_real_secret_is_refused_with_the_fix(config: Path, secret: str) -> None:
    image = make_jpeg(config.parent / "MDAlarm_20250101-120000.jpg", width=64, height=48)
    with pytest.raises(ConfigError, match=r"\[webhooks\] secret: a webhook needs a secret of at least 16"):
        open_runtime(config, "http://127.0.0.1:9/hook", CAMVAULT_WEBHOOKS_SECRET=secret)
    run = camvault("ingest", image, "--camera", "backyard", "--config", config)
    assert run.code == 0, "without a webhook url nothing needs a secret"
