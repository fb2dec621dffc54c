"""What a camvault stack is made from: ``StackSettings``, read from camvault.toml.

A stack needs an ``s3://BUCKET/PREFIX`` store (gateways may write only under PREFIX) and a
``dynamodb://TABLE`` catalog; anything else is a ConfigError that says what to set. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from camvault.config.checks import site_names
from camvault.config.loader import Config, ConfigError
from camvault.store.url import parse_storage_url


@dataclass(frozen=True)
class StackSettings:
    """What the template is made from (all of it from camvault.toml)."""

    stack_name: str
    bucket: str
    prefix: str
    table: str
    index: str
    retention_days: int
    sites: tuple[str, ...]
    architecture: str
    processor_memory_mb: int
    processor_timeout_s: int
    api_memory_mb: int
    log_retention_days: int
    timezone: str
    key_timezone: str
    region: str

    @property
    def processor_name(self) -> str:
        return f"{self.stack_name}-processor"

    @property
    def api_name(self) -> str:
        return f"{self.stack_name}-api"

    @property
    def queue_name(self) -> str:
        return f"{self.stack_name}-notifications"

    @property
    def dead_letter_queue_name(self) -> str:
        return f"{self.stack_name}-dead-letters"

    @property
    def user_path(self) -> str:
        """The IAM path of the stack's gateway users: lists them, whatever sites say now."""
        return f"/camvault/{self.stack_name}/"

    def gateway_user(self, site: str) -> str:
        return f"{self.stack_name}-gateway-{site}"

    def gateway_env(self, site: str, key_id: str, secret: str, region: str) -> str:
        """The ``gateway-SITE.env`` file of a site's gateway: its put-only credential and the
        settings that go with it."""
        lines = [
            f"# camvault gateway credential of site {site}, stack {self.stack_name}:",
            f"# may only put objects under s3://{self.bucket}/{self.prefix}/ (no read, list or delete)",
            f"AWS_ACCESS_KEY_ID={key_id}",
            f"AWS_SECRET_ACCESS_KEY={secret}",
            f"CAMVAULT_STORAGE_URL=s3://{self.bucket}/{self.prefix}",
            f"CAMVAULT_STORAGE_REGION={region}",
            "CAMVAULT_STORAGE_CHECKSUM=when_supported",
            "CAMVAULT_GATEWAY_STORE_ACCESS=put-only",  # the credential cannot read uploads back
            "CAMVAULT_PROCESSOR_LOCAL=false",  # the bucket notifies the stack's processor, not this machine
        ]
        return "\n".join(lines) + "\n"

    def environment(self) -> dict[str, str]:
        """The settings both Lambda functions read (``camvault.config.loader`` reads them)."""
        return {
            "CAMVAULT_STORAGE_URL": f"s3://{self.bucket}/{self.prefix}",
            "CAMVAULT_STORAGE_CHECKSUM": "when_supported",
            "CAMVAULT_STORAGE_KEY_TIMEZONE": self.key_timezone,
            "CAMVAULT_CATALOG_URL": f"dynamodb://{self.table}",
            "CAMVAULT_CATALOG_INDEX": self.index,
            "CAMVAULT_RETENTION_DAYS": str(self.retention_days),
            "CAMVAULT_TIMEZONE": self.timezone,
        }


def stack_settings(config: Config) -> StackSettings:
    """The stack's settings, or a ConfigError saying what camvault.toml must name for AWS."""
    settings = config.settings
    where = parse_storage_url(settings.storage.url, config.base_dir)
    if where.scheme != "s3" or not where.prefix:
        raise ConfigError(
            f"[storage] url = {settings.storage.url!r}: AWS deployment needs s3://BUCKET/PREFIX "
            '(the gateways may write only under PREFIX), e.g. "s3://my-camvault/patrolcams"'
        )
    catalog = settings.catalog.url
    if not catalog.startswith("dynamodb://"):
        raise ConfigError(
            f'[catalog] url = {catalog!r}: AWS deployment needs a DynamoDB table, e.g. "dynamodb://camvault"'
        )
    aws = settings.aws
    return StackSettings(
        stack_name=aws.stack_name,
        bucket=where.bucket,
        prefix=where.prefix,
        table=catalog.removeprefix("dynamodb://"),
        index=settings.catalog.index,
        retention_days=settings.retention.days,
        sites=tuple(site_names(aws.sites)),
        architecture=aws.architecture,
        processor_memory_mb=aws.processor_memory_mb,
        processor_timeout_s=aws.processor_timeout_seconds,
        api_memory_mb=aws.api_memory_mb,
        log_retention_days=aws.log_retention_days,
        timezone=settings.timezone,
        key_timezone=settings.storage.key_timezone,
        region=settings.storage.region,
    )
