"""Settings: the schema (``schema``), loading with precedence (``loader``), the starter file (``starter``)."""

from camvault.config.loader import Config, ConfigError, load_config
from camvault.config.schema import Settings

__all__ = ["Config", "ConfigError", "Settings", "load_config"]
