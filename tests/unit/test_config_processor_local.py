"""``[processor] local``: on by default (the embedded layouts), switched off by a gateway whose
store notifies a processor elsewhere; a value that is not true or false stops camvault with the
key's name, wherever it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from camvault.config.loader import ConfigError, build_settings, load_config

pytestmark = pytest.mark.unit

ENV_ONLY = {"CAMVAULT_STORAGE_URL": "s3://clips/patrolcams", "CAMVAULT_CATALOG_URL": "dynamodb://camvault"}


def test_processing_is_local_unless_switched_off() -> None:
    assert build_settings({}).processor.local is True
    assert build_settings({"processor": {"local": False}}).processor.local is False


@pytest.mark.parametrize("value", ["false", "0", "no", "off", "FALSE"])
def test_the_environment_switches_it_off(value: str) -> None:
    config = load_config(None, {**ENV_ONLY, "CAMVAULT_PROCESSOR_LOCAL": value}, Path("/"))
    assert config.settings.processor.local is False


def test_a_bad_value_in_the_file_names_the_key_and_the_valid_values() -> None:
    with pytest.raises(ConfigError, match=r"\[processor\] local must be true or false, not 'elsewhere'"):
        build_settings({"processor": {"local": "elsewhere"}}, source="camvault.toml")


def test_a_bad_value_in_the_environment_names_the_key_and_the_valid_values() -> None:
    with pytest.raises(
        ConfigError, match=r"environment: \[processor\] local must be true or false, not 'lambda'"
    ):
        load_config(None, {**ENV_ONLY, "CAMVAULT_PROCESSOR_LOCAL": "lambda"}, Path("/"))
