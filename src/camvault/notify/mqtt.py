"""MQTT: each new event on a topic per camera, the latest thumbnail retained, Home Assistant discovery.

Topics (``BASE`` is ``[mqtt] topic``, ``camvault`` by default):

- ``BASE/status``: ``online`` / ``offline``, retained; the broker publishes ``offline`` (the
  last will) when camvault goes away without saying so. Only the long-running process (``serve``,
  ``process``) speaks for it: a short ``camvault ingest`` sends its events but leaves it alone.
- ``BASE/CAMERA/event``: the event object as JSON (QoS 1, not retained).
- ``BASE/CAMERA/thumbnail``: the newest event's JPEG thumbnail, retained.
- ``PREFIX/binary_sensor/camvault_SLUG/motion/config`` and ``PREFIX/image/camvault_SLUG/
  thumbnail/config`` (``PREFIX`` is ``[mqtt] discovery_prefix``): retained Home Assistant
  discovery configs for a motion binary sensor (on with each event, off after
  ``motion_seconds``) and an image entity showing the thumbnail, on one device per camera.

The discovery payloads and topics are built by pure functions. The client (paho-mqtt) connects
and reconnects in its own thread. ``send`` waits for the first connection (at most ``timeout_s``
after start, so a short-lived ``camvault ingest`` still delivers); later, while the broker is
unreachable, it fails at once, so events are counted as failed, never queued without bound.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from camvault import __version__
from camvault.domain.model import CatalogEvent

log = logging.getLogger(__name__)

ONLINE = "online"
OFFLINE = "offline"


class MqttError(Exception):
    """The broker did not take the event; the message says why."""


@dataclass(frozen=True)
class MqttSettings:
    url: str  # mqtt://HOST:PORT or mqtts://HOST:PORT
    username: str = ""
    password: str = ""
    topic: str = "camvault"
    discovery_prefix: str = "homeassistant"
    motion_seconds: int = 30
    timeout_s: float = 5.0
    reconnect_max_s: float = 30.0
    presence: bool = True  # publish online/offline on BASE/status (with the last will)


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of ``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]``; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"broker url {url!r}: use mqtt://HOST:PORT or mqtts://HOST:PORT")
    tls = parts.scheme == "mqtts"
    return unquote(parts.hostname), parts.port or (8883 if tls else 1883), tls


def slug(camera: str) -> str:
    """A camera name as Home Assistant ids allow: lowercase letters, digits and ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", camera.lower()).strip("_") or "camera"


def status_topic(settings: MqttSettings) -> str:
    return f"{settings.topic}/status"


def event_topic(settings: MqttSettings, camera: str) -> str:
    return f"{settings.topic}/{camera}/event"


def thumbnail_topic(settings: MqttSettings, camera: str) -> str:
    return f"{settings.topic}/{camera}/thumbnail"


def discovery_configs(settings: MqttSettings, camera: str) -> dict[str, dict[str, Any]]:
    """Home Assistant discovery topic → retained config, for one camera."""
    node = f"camvault_{slug(camera)}"
    common = {
        "availability_topic": status_topic(settings),
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": {
            "identifiers": [node],
            "name": camera,
            "manufacturer": "camvault",
            "model": "IP camera (motion alarms)",
            "sw_version": __version__,
        },
    }
    prefix = settings.discovery_prefix
    return {
        f"{prefix}/binary_sensor/{node}/motion/config": {
            "name": "Motion",
            "unique_id": f"{node}_motion",
            "device_class": "motion",
            "state_topic": event_topic(settings, camera),
            "value_template": "{{ 'ON' }}",
            "payload_on": "ON",
            "off_delay": settings.motion_seconds,
            "json_attributes_topic": event_topic(settings, camera),
            **common,
        },
        f"{prefix}/image/{node}/thumbnail/config": {
            "name": "Latest alarm",
            "unique_id": f"{node}_thumbnail",
            "image_topic": thumbnail_topic(settings, camera),
            "content_type": "image/jpeg",
            **common,
        },
    }


def _client_id(settings: MqttSettings) -> str:
    """Unique per process: a broker disconnects a client when another connects with its id."""
    return f"camvault-{slug(settings.topic)}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class MqttSink:
    """Publishes events to one broker."""

    name = "mqtt"

    def __init__(
        self,
        settings: MqttSettings,
        *,
        read_thumbnail: Callable[[str], bytes],
        cameras: Callable[[], list[str]],
    ) -> None:
        host, port, tls = broker_address(settings.url)
        self._settings = settings
        self._read_thumbnail = read_thumbnail
        self._cameras = cameras
        self._announced: set[str] = set()
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._first_connect_by = time.monotonic() + settings.timeout_s
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=_client_id(settings))
        if settings.username:
            client.username_pw_set(settings.username, settings.password or None)
        if tls:
            client.tls_set()
        if settings.presence:
            client.will_set(status_topic(settings), OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=max(1, round(settings.reconnect_max_s)))
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_: self._connected.clear()
        self._client = client
        client.connect_async(host, port, keepalive=30)
        client.loop_start()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning(
                "the MQTT broker refused the connection: %s; check [mqtt] username and password", reason
            )
            return
        if self._settings.presence:
            client.publish(status_topic(self._settings), ONLINE, qos=1, retain=True)
        self._connected.set()
        with self._lock:
            cameras = set(self._cameras()) | self._announced
            self._announced = set()
        for camera in sorted(cameras):
            self._announce(camera)

    def _announce(self, camera: str) -> None:
        """Publish the camera's discovery configs once per connection."""
        with self._lock:
            if camera in self._announced:
                return
            self._announced.add(camera)
        for topic, config in discovery_configs(self._settings, camera).items():
            self._client.publish(topic, json.dumps(config), qos=1, retain=True)

    def send(self, event: CatalogEvent) -> None:
        if not self._connected.wait(max(0.0, self._first_connect_by - time.monotonic())):
            raise MqttError(f"not connected to the broker at {broker_address(self._settings.url)[0]}")
        self._announce(event.camera)
        if event.thumbnail_key:
            image = self._read_thumbnail(event.thumbnail_key)
            self._publish(thumbnail_topic(self._settings, event.camera), image, retain=True)
        self._publish(event_topic(self._settings, event.camera), json.dumps(event.to_json()).encode())

    def _publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise MqttError(f"publishing to {topic} failed: {mqtt.error_string(info.rc)}")
        try:
            info.wait_for_publish(self._settings.timeout_s)
        except (RuntimeError, ValueError) as exc:  # the connection went away meanwhile
            raise MqttError(f"publishing to {topic} failed: {exc}") from exc
        if not info.is_published():
            raise MqttError(f"the broker did not confirm {topic} within {self._settings.timeout_s:g} s")

    def close(self) -> None:
        if self._settings.presence and self._client.is_connected():
            with contextlib.suppress(MqttError):  # else the broker's last will says it
                self._publish(status_topic(self._settings), OFFLINE.encode(), retain=True)
        self._client.disconnect()
        self._client.loop_stop()
