"""What a valid value of a setting looks like: one check per kind of value.

A check returns None for a valid value, else a sentence saying what a valid value looks like.
``config.schema`` attaches them to the settings; nothing here reads files or the environment.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from camvault.domain.timeline import parse_zone

Check = Callable[[Any], str | None]
"""Returns None when the value is valid, else a sentence saying what a valid value looks like."""


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


def check_bitrate(value: str) -> str | None:
    from camvault.media.transcode import parse_bitrate  # the one parser of bitrates

    try:
        rate = parse_bitrate(value)
    except ValueError as exc:
        return str(exc)
    return None if rate >= 10_000 else "use at least 10k bits per second, e.g. 600k"


def check_mqtt_url(value: str) -> str | None:
    if not value:
        return None
    from camvault.notify.mqtt import broker_address  # the one parser of broker URLs

    try:
        broker_address(value)
    except ValueError as exc:
        return str(exc)
    return None


def check_http_url(value: str) -> str | None:
    ok = not value or re.fullmatch(r"https?://[^\s/]+(/\S*)?", value)
    return None if ok else 'use an http:// or https:// URL, e.g. "https://hooks.example.net/camvault", or ""'


def check_topic(value: str) -> str | None:
    ok = re.fullmatch(r"[^#+\s/]+(/[^#+\s/]+)*", value)
    return None if ok else 'use a topic without wildcards, spaces or empty levels, e.g. "camvault"'


LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653)
"""The retention periods CloudWatch Logs accepts."""


def check_stack_name(value: str) -> str | None:
    if re.fullmatch(r"[a-z][a-z0-9-]{0,29}", value):
        return None
    return "use 1-30 lower-case letters, digits and '-', starting with a letter, e.g. \"camvault\""


def site_names(value: str) -> list[str]:
    """The names in ``[aws] sites`` (comma-separated, spaces ignored)."""
    return [name.strip() for name in value.split(",")]


def check_sites(value: str) -> str | None:
    names = site_names(value)
    valid = all(re.fullmatch(r"[a-z0-9]{1,20}", name) for name in names)
    if valid and len(set(names)) == len(names):
        return None
    return 'use distinct names of 1-20 lower-case letters and digits, comma-separated, e.g. "home,shop"'


def check_architecture(value: str) -> str | None:
    return None if value in ("arm64", "x86_64") else 'use "arm64" or "x86_64"'


def check_log_retention(value: int) -> str | None:
    return None if value in LOG_RETENTION_DAYS else f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))}"


def between(low: int, high: int) -> Check:
    def check(value: int) -> str | None:
        return None if low <= value <= high else f"use a whole number from {low} to {high}"

    return check
