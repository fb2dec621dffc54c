"""Every setting camvault reads, defined once: name, type, default, check and help text.

Each section is a frozen dataclass; each field carries its help text and an optional check in
its metadata. The loader, the starter file written by ``camvault init`` and the configuration
reference in docs/configuration.md are all made from these definitions, and a test fails when
a setting is missing from the reference.

This module decides names and defaults; what a valid value looks like is ``config.checks``. It
never reads files or the environment (that is ``config.loader``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from camvault.config.checks import (
    Check,
    at_least,
    between,
    check_addressing,
    check_architecture,
    check_bitrate,
    check_catalog_url,
    check_checksum,
    check_http_url,
    check_listen,
    check_log_retention,
    check_mqtt_url,
    check_optional_address,
    check_port_range,
    check_sites,
    check_sqlite_url,
    check_stack_name,
    check_storage_url,
    check_store_access,
    check_timezone,
    check_topic,
    even_width,
    positive,
)


def setting(default: Any, help_text: str, check: Check | None = None, *, secret: bool = False) -> Any:
    """A dataclass field that knows its help text, its check and whether it is a secret."""
    return field(default=default, metadata={"help": help_text, "check": check, "secret": secret})


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
        "127.0.0.1:8080",
        "HTTP address of the REST API and web app, HOST:PORT (any address: every route needs a login; "
        "put a TLS proxy in front when it is not loopback).",
        check_listen,
    )
    workers: int = setting(
        1,
        "Processes of `camvault api` answering on the one listening address, each with its own catalog, "
        "store and accounts connections (more use more CPU cores; failed logins are counted in the "
        "accounts file, shared by all). `serve` ignores it: it runs the gateway and the processor "
        "threads in its own process and serves the API from that one process.",
        between(1, 64),
    )


@dataclass(frozen=True)
class ProcessorSettings:
    local: bool = setting(
        True,
        "Process uploads on this machine (`camvault serve`, `camvault process`). false when the store "
        "notifies a processor elsewhere (the AWS stack's Lambda): the gateway then only uploads, and "
        "`serve` and `process` refuse to start.",
    )
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
    days: int = setting(
        30,
        "Days clips and their catalog entries are kept (per camera: `camvault camera set NAME "
        "--retention-days N`). Events marked keep are never deleted.",
        at_least(1),
    )
    max_bytes: int = setting(
        0,
        "For file:// stores: most bytes camvault's objects may take; beyond it the oldest events "
        "go first (0: no limit).",
        at_least(0),
    )
    interval_minutes: int = setting(
        60, "How often `camvault serve` applies retention (0: never; run `camvault retention`).", at_least(0)
    )


@dataclass(frozen=True)
class IncidentsSettings:
    gap_seconds: int = setting(
        60,
        "Events of one camera at most this many seconds apart belong to one alarm incident.",
        at_least(1),
    )


@dataclass(frozen=True)
class TranscodeSettings:
    enabled: bool = setting(
        True,
        "Make small versions of the clips of cameras whose transcode option is on "
        "(`camvault camera set NAME --transcode`).",
    )
    width: int = setting(
        640, "Width in pixels of small versions (even; the aspect ratio is kept).", even_width
    )
    bitrate: str = setting("600k", "Video bitrate of small versions, e.g. 600k or 1.2M.", check_bitrate)
    audio: bool = setting(True, "Keep the sound of small versions as AAC (false drops it).")
    workers: int = setting(1, "Transcode threads in `camvault serve`.", at_least(1))
    journal: str = setting(
        "transcode.db", "SQLite file holding clips waiting for their small version, relative to this file."
    )


@dataclass(frozen=True)
class MqttSettings:
    url: str = setting(
        "",
        'MQTT broker for event notifications, "mqtt://HOST:PORT" or "mqtts://HOST:PORT" ("" = off).',
        check_mqtt_url,
    )
    username: str = setting("", "MQTT user name (empty: none).")
    password: str = setting(
        "", "MQTT password (better given as CAMVAULT_MQTT_PASSWORD than written here).", secret=True
    )
    topic: str = setting("camvault", "Base topic: events go to TOPIC/CAMERA/event.", check_topic)
    discovery_prefix: str = setting("homeassistant", "Home Assistant MQTT discovery prefix.", check_topic)
    motion_seconds: int = setting(
        30, "Seconds the Home Assistant motion sensor stays on after an event.", at_least(1)
    )
    interval_seconds: float = setting(
        30.0, "Per camera, at most one message per this many seconds (the latest is sent).", positive
    )


@dataclass(frozen=True)
class WebhooksSettings:
    url: str = setting("", 'URL each new event is POSTed to as JSON ("" = off).', check_http_url)
    secret: str = setting(
        "",
        "Key of the HMAC-SHA256 signature in the X-Camvault-Signature header; required with a url "
        "(at least 16 characters; better given as CAMVAULT_WEBHOOKS_SECRET).",
        secret=True,
    )
    attempts: int = setting(5, "Tries per event before it counts as failed.", at_least(1))
    timeout_seconds: float = setting(5.0, "Time allowed for one request.", positive)
    interval_seconds: float = setting(
        30.0, "Per camera, at most one request per this many seconds (the latest is sent).", positive
    )


@dataclass(frozen=True)
class AwsSettings:
    stack_name: str = setting(
        "camvault",
        "Name of the CloudFormation stack (and prefix of its functions and users).",
        check_stack_name,
    )
    sites: str = setting(
        "home",
        "Gateway sites feeding the stack, comma-separated; each gets its own IAM user and key.",
        check_sites,
    )
    architecture: str = setting(
        "arm64", 'CPU of the Lambda functions and their package: "arm64" or "x86_64".', check_architecture
    )
    processor_memory_mb: int = setting(1024, "Memory of the processor Lambda in MB.", between(128, 10240))
    processor_timeout_seconds: int = setting(
        60, "Time limit of one processor Lambda invocation in seconds.", between(10, 900)
    )
    api_memory_mb: int = setting(512, "Memory of the API Lambda in MB.", between(128, 10240))
    log_retention_days: int = setting(30, "Days CloudWatch keeps the functions' logs.", check_log_retention)


@dataclass(frozen=True)
class AuthSettings:
    admin_password_hash: str = setting(
        "",
        "Hash of the admin secret printed once by `camvault init` (never the secret itself).",
        secret=True,
    )
    session_hours: float = setting(
        168.0, "How long a web login lasts, in hours, before signing in again.", positive
    )
    login_attempts: int = setting(
        10,
        "Failed logins allowed per client address and per user name within the window; then 429.",
        at_least(1),
    )
    login_window_seconds: int = setting(
        900, "The window, in seconds, over which failed logins are counted.", at_least(1)
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
    incidents: IncidentsSettings = field(default_factory=IncidentsSettings)
    transcode: TranscodeSettings = field(default_factory=TranscodeSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    webhooks: WebhooksSettings = field(default_factory=WebhooksSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    aws: AwsSettings = field(default_factory=AwsSettings)


SECTION_HELP: dict[str, str] = {
    "storage": "The object store: the system of record for every clip and snapshot.",
    "catalog": "The catalog of events (rebuildable from the store with `camvault reindex`).",
    "accounts": "Cameras, users and API tokens.",
    "gateway": "The FTP gateway cameras upload to, and the spool where uploads wait for the object store.",
    "api": "The REST API and web app.",
    "processor": "Turns stored objects into catalog entries (probe, thumbnail).",
    "retention": "How long clips are kept: `camvault retention` and, on a schedule, `camvault serve`.",
    "incidents": "How snapshots and clips of one alarm are grouped into one incident.",
    "transcode": "Small versions of clips (H.264 MP4) for phones and slow links, made after cataloging.",
    "mqtt": "Event notifications over MQTT, with Home Assistant discovery (docs/notifications.md).",
    "webhooks": "Event notifications as signed HTTP POSTs (docs/notifications.md).",
    "aws": "Deployment to AWS with `camvault aws plan|deploy|destroy|package` (see docs/aws.md).",
    "auth": "Who may use the API and web app: the admin secret, login sessions, login throttling.",
}
