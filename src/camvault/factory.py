"""The one place that builds camvault's parts from settings and passes them to each other.

Backends are chosen by URL scheme and imported lazily, so a ``file://`` + ``sqlite:///`` install
never imports boto3. Nothing else in the package reads settings to construct an adapter; no
module keeps a global instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
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
    raise ConfigError(
        f"[catalog] url = {url!r}: the dynamodb:// catalog is not part of this version yet; "
        "use sqlite:///catalog.db"
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
    return Authenticator(
        open_auth_store(config),
        admin_password_hash=settings.admin_password_hash,
        session_ttl=timedelta(hours=settings.session_hours),
        throttle=LoginThrottle(
            settings.login_attempts, timedelta(seconds=settings.login_window_seconds), clock
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
        store,
        catalog,
        processor_settings(config),
        zone_of=lambda name: _zone_of(cameras, name),
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
