"""The one place that builds camvault's parts from settings and passes them to each other.

Backends are chosen by URL scheme and imported lazily, so a ``file://`` + ``sqlite:///`` install
never imports boto3. Nothing else in the package reads settings to construct an adapter; no
module keeps a global instance. The gateway's parts are built beside it, in ``factory_gateway``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from camvault.accounts.registry import CameraOptions, CameraRegistry, UnknownCamera
from camvault.catalog.base import Catalog
from camvault.clock import Clock, utcnow
from camvault.config.loader import Config, ConfigError
from camvault.ingest import Ingestor, processed_elsewhere
from camvault.media.probe import MediaLimits
from camvault.media.transcode import TranscodeSettings, parse_bitrate
from camvault.notify.channel import Channel, Notifier, Sink
from camvault.processor.core import Processor, ProcessorSettings
from camvault.processor.journal import Journal
from camvault.processor.transcoder import TranscodeQueue, Transcoder
from camvault.processor.workers import RetryPolicy, Workers
from camvault.retention import Policy, Retention
from camvault.store.base import Notify, ObjectStore, read_all
from camvault.store.url import StorageLocation, parse_storage_url

if TYPE_CHECKING:
    from camvault.accounts.auth_base import Authenticator
    from camvault.accounts.local import LocalAuthStore


def sqlite_path(url: str, config: Config, setting: str) -> Path:
    """The file of a ``sqlite:///PATH`` URL, relative to the config file's folder."""
    from camvault.catalog.sqlite import sqlite_path_from_url

    try:
        path = sqlite_path_from_url(url, config.base_dir)
    except ValueError as exc:
        raise ConfigError(f"{setting}: {exc}") from None
    if isinstance(path, str):
        raise ConfigError(f"{setting} = {url!r}: an in-memory database would forget everything; use a file")
    return path


def storage_location(config: Config) -> StorageLocation:
    try:
        return parse_storage_url(config.settings.storage.url, config.base_dir)
    except ValueError as exc:
        raise ConfigError(f"[storage] url: {exc}") from None


def open_store(config: Config, notify: Notify | None, *, clock: Clock = utcnow) -> ObjectStore:
    """The object store named by ``[storage] url``; ``clock`` stamps objects a ``file://`` store writes."""
    where = storage_location(config)
    if where.scheme == "file":
        from camvault.store.local import LocalStore

        assert where.root is not None
        return LocalStore(where.root, notify=notify, clock=clock)
    from camvault.store.s3 import S3Store, make_s3_client

    storage = config.settings.storage
    client = make_s3_client(
        endpoint_url=storage.endpoint_url or None,
        region=storage.region or None,
        checksum=storage.checksum,
        addressing_style=storage.addressing_style,
    )
    return S3Store(where.bucket, client=client, notify=notify)


def open_catalog(config: Config) -> Catalog:
    """The catalog named by ``[catalog] url``."""
    url = config.settings.catalog.url
    if url.startswith("sqlite:///"):
        from camvault.catalog.sqlite import SQLiteCatalog

        gap = timedelta(seconds=config.settings.incidents.gap_seconds)
        return SQLiteCatalog(sqlite_path(url, config, "[catalog] url"), incident_gap=gap)
    from camvault.catalog.dynamodb import DynamoDBCatalog, make_dynamodb_client, table_from_url

    try:
        table = table_from_url(url)
    except ValueError as exc:
        raise ConfigError(f"[catalog] url: {exc}") from None
    catalog = config.settings.catalog
    client = make_dynamodb_client(endpoint_url=catalog.endpoint_url or None, region=catalog.region or None)
    return DynamoDBCatalog(
        client,
        table,
        index=catalog.index,
        retention_days=config.settings.retention.days,
        incident_gap=timedelta(seconds=config.settings.incidents.gap_seconds),
    )


def open_cameras(config: Config) -> CameraRegistry:
    return CameraRegistry(sqlite_path(config.settings.accounts.url, config, "[accounts] url"))


def open_auth_store(config: Config) -> LocalAuthStore:
    """Users, API tokens and sessions in the accounts database."""
    from camvault.accounts.local import LocalAuthStore

    return LocalAuthStore(sqlite_path(config.settings.accounts.url, config, "[accounts] url"))


def open_auth(config: Config, *, clock: Clock = utcnow) -> Authenticator:
    """The login rules of ``[auth]`` over the accounts database."""
    from camvault.accounts.auth_base import Authenticator
    from camvault.accounts.throttle import LoginThrottle

    settings = config.settings.auth
    store = open_auth_store(config)
    return Authenticator(
        store,
        admin_password_hash=settings.admin_password_hash,
        session_ttl=timedelta(hours=settings.session_hours),
        # failures counted in the accounts file: shared by every process that opens it
        throttle=LoginThrottle(
            settings.login_attempts,
            timedelta(seconds=settings.login_window_seconds),
            clock,
            store.failures,
        ),
        clock=clock,
    )


class NotifyRelay:
    """Lets the store be built before the worker pool it notifies."""

    def __init__(self) -> None:
        self.target: Notify | None = None

    def __call__(self, document: dict[str, Any]) -> None:
        if self.target is not None:
            self.target(document)


@dataclass
class Runtime:
    """Everything an embedded process needs, built once; ``close`` releases it all."""

    config: Config
    store: ObjectStore
    catalog: Catalog
    cameras: CameraRegistry
    journal: Journal
    processor: Processor
    workers: Workers
    ingestor: Ingestor
    transcode_journal: Journal
    transcodes: Workers
    notifier: Notifier | None = None

    def close(self) -> None:
        self.workers.stop()
        self.transcodes.stop()
        if self.notifier is not None:
            self.notifier.close()
        self.transcode_journal.close()
        self.store.close()
        self.catalog.close()
        self.journal.close()
        self.cameras.close()


def build_runtime(
    config: Config, *, clock: Clock = utcnow, notifications: bool = False, presence: bool = True
) -> Runtime:
    """Build store, catalog, registry, journal, processor, workers and ingestor from settings;
    with ``notifications``, also the MQTT and webhook senders (started). ``presence``: this process
    speaks for camvault's MQTT online/offline status (``serve``, ``process``; not ``ingest``).
    With ``[processor] local = false`` stored keys are not journaled here: the store notifies a
    processor elsewhere, and the workers built here are never started."""
    settings = config.settings
    relay = NotifyRelay()
    store = open_store(config, relay, clock=clock)
    catalog = open_catalog(config)
    cameras = open_cameras(config)
    journal = Journal(config.resolve(settings.processor.journal), clock=clock)
    processor = Processor(
        store, catalog, processor_settings(config), zone_of=lambda name: _zone_of(cameras, name)
    )
    workers = Workers(
        journal,
        processor,
        threads=settings.processor.workers,
        retry=RetryPolicy(settings.processor.max_attempts, settings.processor.retry_seconds),
    )
    local = settings.processor.local  # false: the store notifies a processor elsewhere
    if local:
        relay.target = workers.notify
    ingestor = Ingestor(
        store,
        cameras,
        journal,
        prefix=storage_location(config).prefix,
        key_zone=ZoneInfo(settings.storage.key_timezone),
        clock=clock,
        to_process=journal.add if local else processed_elsewhere,
    )
    transcode_journal = Journal(config.resolve(settings.transcode.journal), clock=clock)
    transcodes = Workers(
        transcode_journal,
        Transcoder(store, catalog, transcode_journal, transcode_settings(config)),
        threads=settings.transcode.workers,
        name="transcode",
        retry=RetryPolicy(settings.processor.max_attempts, settings.processor.retry_seconds),
    )
    wants_small = TranscodeQueue(
        transcodes, lambda name: settings.transcode.enabled and _options(cameras, name).transcode
    )
    processor.add_listener(wants_small.listener)
    runtime = Runtime(
        config, store, catalog, cameras, journal, processor, workers, ingestor, transcode_journal, transcodes
    )
    if notifications:
        try:
            runtime.notifier = build_notifier(config, runtime, presence=presence)
        except BaseException:
            runtime.close()
            raise
        processor.add_listener(runtime.notifier.listener)
        runtime.notifier.start()
    return runtime


def transcode_settings(config: Config) -> TranscodeSettings:
    section = config.settings.transcode
    return TranscodeSettings(
        width=section.width,
        bitrate=parse_bitrate(section.bitrate),
        audio=section.audio,
        limits=processor_settings(config).limits,
    )


MIN_WEBHOOK_SECRET = 16


def build_notifier(config: Config, runtime: Runtime, *, presence: bool = True) -> Notifier:
    """One channel per configured sink ([mqtt] url, [webhooks] url); counters go to the journal."""
    settings = config.settings
    count = runtime.journal.count
    channels: list[Channel] = []
    sink: Sink
    if settings.mqtt.url:
        from camvault.notify.mqtt import MqttSettings, MqttSink

        mqtt = settings.mqtt
        sink = MqttSink(
            MqttSettings(
                url=mqtt.url,
                username=mqtt.username,
                password=mqtt.password,
                topic=mqtt.topic,
                discovery_prefix=mqtt.discovery_prefix,
                motion_seconds=mqtt.motion_seconds,
                presence=presence,
            ),
            read_thumbnail=lambda key: read_all(runtime.store, key),
            cameras=lambda: [c.name for c in runtime.cameras.list() if c.options.notify],
        )
        channels.append(Channel(sink, interval_s=mqtt.interval_seconds, count=count))
    if settings.webhooks.url:
        from camvault.notify.webhook import WebhookSettings, WebhookSink

        hooks = settings.webhooks
        if len(hooks.secret) < MIN_WEBHOOK_SECRET:
            raise ConfigError(
                f"[webhooks] secret: a webhook needs a secret of at least {MIN_WEBHOOK_SECRET} characters so "
                "receivers can check that requests come from camvault; set CAMVAULT_WEBHOOKS_SECRET, e.g. "
                'to the output of: python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        sink = WebhookSink(
            WebhookSettings(hooks.url, hooks.secret, attempts=hooks.attempts, timeout_s=hooks.timeout_seconds)
        )
        channels.append(Channel(sink, interval_s=hooks.interval_seconds, count=count))
    return Notifier(channels, lambda name: _options(runtime.cameras, name).notify)


@dataclass
class ProcessorRuntime:
    """What a processor without the embedded machinery (the Lambda handler) needs."""

    store: ObjectStore
    catalog: Catalog
    processor: Processor
    bucket: str | None
    """The bucket of an ``s3://`` store: notifications from other buckets are not ours."""

    def close(self) -> None:
        self.store.close()
        self.catalog.close()


def build_processor_runtime(config: Config) -> ProcessorRuntime:
    """Store, catalog and processor only: no journal, worker threads or camera registry. Camera
    time zones are then unknown, so the capture time the gateway recorded is used as is."""
    store = open_store(config, None)
    try:
        catalog = open_catalog(config)
    except BaseException:
        store.close()
        raise
    processor = Processor(store, catalog, processor_settings(config), zone_of=lambda _name: None)
    where = storage_location(config)
    return ProcessorRuntime(store, catalog, processor, where.bucket if where.scheme == "s3" else None)


def processor_settings(config: Config) -> ProcessorSettings:
    settings = config.settings
    return ProcessorSettings(
        prefix=storage_location(config).prefix,
        default_zone=ZoneInfo(settings.timezone),
        skew_tolerance=timedelta(seconds=settings.processor.clock_skew_seconds),
        limits=MediaLimits(
            max_seconds=settings.processor.probe_seconds,
            thumbnail_width=settings.processor.thumbnail_width,
        ),
    )


def _options(cameras: CameraRegistry, name: str) -> CameraOptions:
    try:
        return cameras.options(name)
    except UnknownCamera:
        return CameraOptions()


def _zone_of(cameras: CameraRegistry, name: str) -> ZoneInfo | None:
    try:
        return cameras.get(name).zone
    except UnknownCamera:
        return None


def build_retention(runtime: Runtime, *, clock: Clock = utcnow) -> Retention:
    """Retention over the runtime's store and catalog; camera options are read at every run."""
    from camvault.store.local import LocalStore

    settings = runtime.config.settings
    where = storage_location(runtime.config)
    budget = settings.retention.max_bytes if where.scheme == "file" and settings.retention.max_bytes else None

    def policy(now: datetime) -> Policy:
        days = {
            camera.name.lower(): camera.options.retention_days
            for camera in runtime.cameras.list()
            if camera.options.retention_days is not None
        }
        return Policy(
            now, where.prefix, settings.retention.days, days, budget, ZoneInfo(settings.storage.key_timezone)
        )

    store = runtime.store
    sweep = store.remove_stale_temp_files if isinstance(store, LocalStore) else None
    return Retention(store, runtime.catalog, policy, clock=clock, sweep_temp_files=sweep)
