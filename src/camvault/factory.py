"""The one place that builds camvault's parts from settings and passes them to each other.

Backends are chosen by URL scheme and imported lazily, so a ``file://`` + ``sqlite:///`` install
never imports boto3. Nothing else in the package reads settings to construct an adapter; no
module keeps a global instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from camvault.accounts.registry import CameraRegistry, UnknownCamera
from camvault.catalog.base import Catalog
from camvault.clock import Clock, utcnow
from camvault.config.loader import Config, ConfigError
from camvault.ingest import Ingestor
from camvault.media.probe import MediaLimits
from camvault.processor.core import Processor, ProcessorSettings
from camvault.processor.journal import Journal
from camvault.processor.workers import RetryPolicy, Workers
from camvault.store.base import Notify, ObjectStore
from camvault.store.url import StorageLocation, parse_storage_url


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


def open_store(config: Config, notify: Notify | None) -> ObjectStore:
    """The object store named by ``[storage] url``."""
    where = storage_location(config)
    if where.scheme == "file":
        from camvault.store.local import LocalStore

        assert where.root is not None
        return LocalStore(where.root, notify=notify)
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

        return SQLiteCatalog(sqlite_path(url, config, "[catalog] url"))
    from camvault.catalog.dynamodb import DynamoDBCatalog, make_dynamodb_client, table_from_url

    try:
        table = table_from_url(url)
    except ValueError as exc:
        raise ConfigError(f"[catalog] url: {exc}") from None
    catalog = config.settings.catalog
    client = make_dynamodb_client(endpoint_url=catalog.endpoint_url or None, region=catalog.region or None)
    return DynamoDBCatalog(client, table, index=catalog.index, retention_days=config.settings.retention.days)


def open_cameras(config: Config) -> CameraRegistry:
    return CameraRegistry(sqlite_path(config.settings.accounts.url, config, "[accounts] url"))


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

    def close(self) -> None:
        self.workers.stop()
        self.store.close()
        self.catalog.close()
        self.journal.close()
        self.cameras.close()


def build_runtime(config: Config, *, clock: Clock = utcnow) -> Runtime:
    """Build store, catalog, registry, journal, processor, workers and ingestor from settings."""
    settings = config.settings
    relay = NotifyRelay()
    store = open_store(config, relay)
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
    relay.target = workers.notify
    ingestor = Ingestor(
        store,
        cameras,
        journal,
        prefix=storage_location(config).prefix,
        key_zone=ZoneInfo(settings.storage.key_timezone),
        clock=clock,
    )
    return Runtime(config, store, catalog, cameras, journal, processor, workers, ingestor)


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


def _zone_of(cameras: CameraRegistry, name: str) -> ZoneInfo | None:
    try:
        return cameras.get(name).zone
    except UnknownCamera:
        return None
