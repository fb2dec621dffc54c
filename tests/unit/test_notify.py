"""Pure parts of notifications: rate limit, webhook signature and backoff, MQTT topics and Home
Assistant discovery, and the settings that configure them."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from camvault.config.loader import ConfigError, build_settings
from camvault.notify.mqtt import MqttSettings, broker_address, discovery_configs, slug
from camvault.notify.ratelimit import RateLimiter
from camvault.notify.webhook import backoff_delays, signature

pytestmark = pytest.mark.unit


def test_the_first_event_goes_at_once_then_the_latest_once_per_interval() -> None:
    limiter: RateLimiter[str] = RateLimiter(30.0)
    assert limiter.offer("porch", "a", now=0.0) == "a"
    assert limiter.offer("porch", "b", now=1.0) is None
    assert limiter.holds("porch")
    assert limiter.offer("porch", "c", now=2.0) is None  # replaces b
    assert limiter.offer("garage", "x", now=2.0) == "x"  # cameras are independent
    assert limiter.next_due() == 30.0
    assert limiter.due(now=29.9) == []
    assert limiter.due(now=30.0) == ["c"]
    assert not limiter.holds("porch")
    # the coalesced send started a new interval
    assert limiter.offer("porch", "d", now=45.0) is None
    assert limiter.due(now=59.9) == []
    assert limiter.due(now=60.0) == ["d"]
    assert limiter.offer("porch", "e", now=90.0) == "e"


def test_release_hands_over_every_held_event() -> None:
    limiter: RateLimiter[str] = RateLimiter(30.0)
    limiter.offer("porch", "a", now=0.0)
    limiter.offer("porch", "b", now=1.0)
    assert limiter.release() == ["b"]
    assert limiter.next_due() is None


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"x"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1700000000, body) == f"sha256={expected}"
    assert signature("s3cret", 1700000001, body) != signature("s3cret", 1700000000, body)
    assert signature("other", 1700000000, body) != signature("s3cret", 1700000000, body)


def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert backoff_delays(6, 1.0, 10.0, Top()) == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff_delays(1, 1.0, 10.0, Top()) == []
    delays = backoff_delays(5, 1.0, 10.0, random.Random(7))
    assert all(0 <= delay <= cap for delay, cap in zip(delays, [1, 2, 4, 8], strict=True))


def test_broker_urls() -> None:
    assert broker_address("mqtt://10.0.0.2") == ("10.0.0.2", 1883, False)
    assert broker_address("mqtts://broker.lan:8884") == ("broker.lan", 8884, True)
    for bad in ("http://x", "mqtt://", "broker:1883"):
        with pytest.raises(ValueError, match="use mqtt://HOST:PORT"):
            broker_address(bad)


def test_discovery_configs_for_a_camera() -> None:
    settings = MqttSettings(url="mqtt://x", topic="home/cams", discovery_prefix="ha", motion_seconds=45)
    configs = discovery_configs(settings, "Front Door")
    assert slug("Front Door") == "front_door"
    sensor = configs["ha/binary_sensor/camvault_front_door/motion/config"]
    image = configs["ha/image/camvault_front_door/thumbnail/config"]
    assert set(configs) == {
        "ha/binary_sensor/camvault_front_door/motion/config",
        "ha/image/camvault_front_door/thumbnail/config",
    }
    assert sensor["state_topic"] == "home/cams/Front Door/event"
    assert sensor["off_delay"] == 45 and sensor["device_class"] == "motion"
    assert sensor["unique_id"] != image["unique_id"]
    assert image["image_topic"] == "home/cams/Front Door/thumbnail"
    assert sensor["availability_topic"] == image["availability_topic"] == "home/cams/status"
    assert sensor["device"]["identifiers"] == ["camvault_front_door"]


def test_notification_settings_default_to_off() -> None:
    settings = build_settings({})
    assert settings.mqtt.url == "" and settings.webhooks.url == ""
    assert settings.transcode.width == 640 and settings.transcode.bitrate == "600k"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mqtt": {"url": "tcp://broker"}}, "[mqtt] url = 'tcp://broker' is not valid: broker url"),
        (
            {"mqtt": {"topic": "cams/#"}},
            "[mqtt] topic = 'cams/#' is not valid: use a topic without wildcards",
        ),
        ({"mqtt": {"topic": "cams//x"}}, "without wildcards, spaces or empty levels"),
        ({"mqtt": {"interval_seconds": 0}}, "[mqtt] interval_seconds = 0.0 is not valid"),
        ({"webhooks": {"url": "ftp://x"}}, "[webhooks] url = 'ftp://x' is not valid: use an http://"),
        ({"webhooks": {"attempts": 0}}, "[webhooks] attempts = 0 is not valid: use a whole number >= 1"),
        ({"transcode": {"bitrate": "fast"}}, "[transcode] bitrate = 'fast' is not valid: bitrate 'fast'"),
        ({"transcode": {"bitrate": "5k"}}, "use at least 10k bits per second"),
        ({"transcode": {"width": 641}}, "[transcode] width = 641 is not valid: use an even number"),
    ],
)
def test_bad_notification_and_transcode_settings_name_the_fix(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings(data)
    assert message in str(caught.value)


def test_a_bad_secret_value_is_never_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        build_settings({"webhooks": {"secret": 12345}})
    assert "[webhooks] secret must be a string" in str(caught.value)
    assert "12345" not in str(caught.value)
