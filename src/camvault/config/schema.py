"""Every setting camvault reads, defined once: name, type, default, check and help text.

Each section is a frozen dataclass; each field carries its help text and an optional check in
its metadata. The loader, the starter file written by ``camvault init`` and the configuration
reference in docs/configuration.md are all made from these definitions, and a test fails when
a setting is missing from the reference.

This module decides names, defaults and what a valid value is. It never reads files or the
environment (that is ``config.loader``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camvault.domain.timeline import parse_zone

Check = Callable[[Any], str | None]
"""Returns None when the value is valid, else a sentence saying what a valid value looks like."""


def setting(default: Any, help_text: str, check: Check | None = None, *, secret: bool = False) -> Any:
    """A dataclass field that knows its help text, its check and whether it is a secret."""
    return field(default=default, metadata={"help": help_text, "check": check, "secret": secret})


def check_timezone(value: str) -> str | None:
    try:
        parse_zone(value)
    except ValueError as exc:
        return str(exc)
    return None


def check_listen(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return 'use HOST:PORT, e.g. "127.0.0.1:8080" (PORT 1-65535)'
    return None


def check_port_range(value: str) -> str | None:
    match = re.fullmatch(r"(\d+)-(\d+)", value)
    if not match or not 1024 <= int(match[1]) <= int(match[2]) < 65536:
        return 'use LOW-HIGH with 1024 <= LOW <= HIGH <= 65535, e.g. "60000-60099"'
    return None


def check_storage_url(value: str) -> str | None:
    from camvault.store.url import parse_storage_url  # the one parser of storage URLs

    try:
        parse_storage_url(value, Path())
    except ValueError as exc:
        return str(exc)
    return None


def check_catalog_url(value: str) -> str | None:
    if re.fullmatch(r"sqlite:///.+|dynamodb://[A-Za-z0-9_.-]{3,255}", value):
        return None
    return "use sqlite:///PATH (relative to the config file) or dynamodb://TABLE"


def check_sqlite_url(value: str) -> str | None:
    return None if value.startswith("sqlite:///") and len(value) > 10 else "use sqlite:///PATH"


def check_checksum(value: str) -> str | None:
    return (
        None
        if value in ("when_required", "when_supported")
        else ('use "when_required" (S3-compatible servers) or "when_supported" (Amazon S3)')
    )


def check_addressing(value: str) -> str | None:
    return None if value in ("auto", "path", "virtual") else 'use "auto", "path" or "virtual"'


def check_store_access(value: str) -> str | None:
    return None if value in ("read-write", "put-only") else 'use "read-write" or "put-only"'


def check_optional_address(value: str) -> str | None:
    if not value:
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return 'use an IP address such as "203.0.113.7", or "" for none'
    return None


def positive(value: float) -> str | None:
    return None if value > 0 else "use a number greater than 0"


def even_width(value: int) -> str | None:
    return None if value >= 16 and value % 2 == 0 else "use an even number of pixels >= 16, e.g. 320"


def at_least(minimum: int) -> Check:
    def check(value: int) -> str | None:
        return None if value >= minimum else f"use a whole number >= {minimum}"

    return check


@dataclass(frozen=True)
class StorageSettings:
    url: str = setting(
        "file://objects",
        "Where objects are kept: file://PATH (a directory, relative to this file) or "
        "s3://BUCKET/PREFIX (Amazon S3 or any S3-compatible server).",
        check_storage_url,
    )
    endpoint_url: str = setting(
        "", 'For s3:// on an S3-compatible server: its URL, e.g. "http://127.0.0.1:8333".'
    )
    region: str = setting("", 'For s3://: the AWS region, e.g. "eu-west-1" (empty: from the AWS config).')
    checksum: str = setting(
        "when_required",
        "For s3://: when request checksums are sent and response checksums checked.",
        check_checksum,
    )
    addressing_style: str = setting(
        "auto", 'For s3://: bucket addressing, "auto", "path" or "virtual".', check_addressing
    )
    key_timezone: str = setting(
        "UTC",
        "Time zone of the date and Hour-HH folders in object keys (UTC unless existing data says otherwise).",
        check_timezone,
    )


@dataclass(frozen=True)
class CatalogSettings:
    url: str = setting(
        "sqlite:///catalog.db",
        "Where the catalog lives: sqlite:///PATH (relative to this file) or dynamodb://TABLE.",
        check_catalog_url,
    )
    index: str = setting("timeline", "For dynamodb://: name of the timeline GSI.")
    region: str = setting("", "For dynamodb://: the AWS region (empty: from the AWS config).")
    endpoint_url: str = setting("", "For dynamodb://: a local endpoint, e.g. for tests.")


@dataclass(frozen=True)
class AccountsSettings:
    url: str = setting(
        "sqlite:///accounts.db",
        "Where cameras, users and tokens are kept (passwords and tokens hashed): sqlite:///PATH.",
        check_sqlite_url,
    )


@dataclass(frozen=True)
class GatewaySettings:
    listen: str = setting("0.0.0.0:2121", "FTP address cameras upload to, HOST:PORT.", check_listen)
    passive_ports: str = setting(
        "60000-60099",
        "FTP passive data ports, LOW-HIGH (open them in the firewall).",
        check_port_range,
    )
    masquerade_address: str = setting(
        "",
        "Public IP to announce in passive replies when cameras reach the gateway through NAT.",
        check_optional_address,
    )
    tls_cert: str = setting(
        "",
        "PEM certificate for explicit FTPS (AUTH TLS), relative to this file; `camvault init` writes a "
        "self-signed one (empty: plain FTP only).",
    )
    tls_key: str = setting("", "PEM private key for explicit FTPS, relative to this file.")
    tls_required: bool = setting(
        False, "Refuse logins and transfers that are not encrypted (only for cameras that all speak FTPS)."
    )
    max_connections_per_ip: int = setting(
        8, "FTP connections one client address may hold at once (0: no limit).", at_least(0)
    )
    idle_timeout_seconds: float = setting(
        300.0, "A camera connection that sends no command for this long is closed.", positive
    )
    spool: str = setting("spool", "Directory where uploads wait, durable, until the store has them.")
    spool_max_mb: int = setting(
        4096,
        "Uploads are refused (452) while more than this many MB wait in the spool (0: no cap).",
        at_least(0),
    )
    spool_min_free_mb: int = setting(
        512, "Uploads are refused (452) while the spool's disk has less than this many MB free.", at_least(0)
    )
    upload_threads: int = setting(4, "Uploads sent to the object store at the same time.", at_least(1))
    upload_retry_seconds: float = setting(
        2.0, "First retry delay of a failed upload to the store; doubles per retry (with jitter).", positive
    )
    upload_max_retry_seconds: float = setting(
        300.0,
        "Longest delay between retries of an upload (uploads are retried until they succeed).",
        positive,
    )
    store_access: str = setting(
        "read-write",
        'What the gateway\'s store credential may do: "read-write" verifies uploads by reading them '
        'back when the put\'s answer cannot; "put-only" (s3:PutObject and multipart only) never reads, '
        "verifies from the put's answer and notes each key in the outbox before writing it.",
        check_store_access,
    )


@dataclass(frozen=True)
class ApiSettings:
    listen: str = setting(
        "127.0.0.1:8080", "HTTP address of the REST API and web app, HOST:PORT.", check_listen
    )


@dataclass(frozen=True)
class ProcessorSettings:
    workers: int = setting(2, "Processor threads in the embedded mode.", at_least(1))
    journal: str = setting(
        "processor.db",
        "SQLite file holding events waiting for processing (survives restarts), relative to this file.",
    )
    max_attempts: int = setting(
        6, "Tries per event before it is marked failed (visible in `camvault status`).", at_least(1)
    )
    retry_seconds: float = setting(
        2.0, "First retry delay; each further retry doubles it (with jitter).", positive
    )
    clock_skew_seconds: int = setting(
        900,
        "A capture time further than this from the arrival time is flagged as clock skew.",
        at_least(1),
    )
    thumbnail_width: int = setting(320, "Width in pixels of generated thumbnails (even).", even_width)
    probe_seconds: float = setting(
        10.0,
        "Time budget for probing one file; beyond it the file is cataloged as unplayable.",
        positive,
    )


@dataclass(frozen=True)
class RetentionSettings:
    days: int = setting(30, "Days clips and their catalog entries are kept.", at_least(1))


@dataclass(frozen=True)
class AuthSettings:
    admin_password_hash: str = setting(
        "",
        "Hash of the admin secret printed once by `camvault init` (never the secret itself).",
        secret=True,
    )


@dataclass(frozen=True)
class Settings:
    """All settings. ``base_dir`` is the config file's folder (relative paths start there)."""

    timezone: str = setting(
        "UTC", "Default IANA time zone for cameras registered without one.", check_timezone
    )
    storage: StorageSettings = field(default_factory=StorageSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    accounts: AccountsSettings = field(default_factory=AccountsSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    processor: ProcessorSettings = field(default_factory=ProcessorSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)


SECTION_HELP: dict[str, str] = {
    "storage": "The object store: the system of record for every clip and snapshot.",
    "catalog": "The catalog of events (rebuildable from the store with `camvault reindex`).",
    "accounts": "Cameras, users and API tokens.",
    "gateway": "The FTP gateway cameras upload to, and the spool where uploads wait for the object store.",
    "api": "The REST API and web app.",
    "processor": "Turns stored objects into catalog entries (probe, thumbnail).",
    "retention": "How long clips are kept (applied from the next version; the value is checked now).",
    "auth": "Access to the API and web app (login arrives with the web app; the API is loopback-only).",
}
