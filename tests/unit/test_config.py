"""Settings: defaults, file, environment and flag precedence; clear errors; docs kept in sync."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from camvault.config.loader import ConfigError, build_settings, load_config
from camvault.config.schema import Settings
from camvault.config.starter import iter_settings, render_reference, render_starter

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "camvault.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_embedded_setup() -> None:
    settings = Settings()
    assert settings.storage.url == "file://objects"
    assert settings.catalog.url == "sqlite:///catalog.db"
    assert settings.api.listen == "127.0.0.1:8080"
    assert settings.retention.days == 30
    assert settings.timezone == "UTC"


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write(tmp_path, '[api]\nlisten = "127.0.0.1:8000"\n[retention]\ndays = 10\n')
    from_file = load_config(str(path), {}, tmp_path)
    assert from_file.settings.api.listen == "127.0.0.1:8000"
    assert from_file.settings.retention.days == 10

    env = {"CAMVAULT_API_LISTEN": "127.0.0.1:9000", "CAMVAULT_RETENTION_DAYS": "7"}
    from_env = load_config(str(path), env, tmp_path)
    assert from_env.settings.api.listen == "127.0.0.1:9000"
    assert from_env.settings.retention.days == 7

    flagged = load_config(str(path), env, tmp_path, {"api.listen": "127.0.0.1:9100"})
    assert flagged.settings.api.listen == "127.0.0.1:9100"
    assert flagged.settings.retention.days == 7


def test_config_file_found_from_environment_then_working_directory(tmp_path: Path) -> None:
    path = write(tmp_path, 'timezone = "Europe/Berlin"\n')
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert load_config(None, {"CAMVAULT_CONFIG": str(path)}, other).settings.timezone == "Europe/Berlin"
    assert load_config(None, {}, tmp_path).path == path.resolve()


def test_no_config_anywhere_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="camvault init DIR"):
        load_config(None, {}, tmp_path)


def test_environment_alone_is_enough_when_it_names_store_and_catalog(tmp_path: Path) -> None:
    env = {
        "CAMVAULT_STORAGE_URL": "s3://camvault-clips/patrolcams",
        "CAMVAULT_CATALOG_URL": "dynamodb://events",
    }
    config = load_config(None, env, tmp_path)
    assert config.settings.storage.url == "s3://camvault-clips/patrolcams"
    assert config.base_dir == tmp_path


def test_a_stray_variable_does_not_start_an_empty_instance(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no configuration"):
        load_config(None, {"CAMVAULT_API_LISTEN": "127.0.0.1:9000"}, tmp_path)


def test_a_folder_given_as_config_means_its_camvault_toml(tmp_path: Path) -> None:
    path = write(tmp_path, 'timezone = "Asia/Tokyo"\n')
    assert load_config(str(tmp_path), {}, Path("/")).path == path.resolve()


def test_errors_name_the_layer_the_bad_value_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, '[api]\nlisten = "127.0.0.1:8000"\n')
    with pytest.raises(ConfigError, match=r"^environment: \[api\] listen = 'nope'"):
        load_config(str(path), {"CAMVAULT_API_LISTEN": "nope"}, tmp_path)
    with pytest.raises(ConfigError, match=r"^command line: \[retention\] days"):
        load_config(str(path), {}, tmp_path, {"retention.days": "x"})


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    config = load_config(str(path), {}, Path("/"))
    assert config.resolve("spool") == tmp_path / "spool"
    assert config.resolve("/var/spool/camvault") == Path("/var/spool/camvault")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = 1\n", "unknown key 'colour'"),
        ("[storage]\nbucket = 'x'\n", "unknown key [storage] bucket; this section knows: addressing_style"),
        ("[nonsense]\nx = 1\n", "unknown key 'nonsense'"),
        ("storage = 1\n", "[storage] must be a table"),
        ("[api]\nlisten = 'localhost'\n", "[api] listen = 'localhost' is not valid: use HOST:PORT"),
        ("[api]\nlisten = '127.0.0.1:99999'\n", "PORT 1-65535"),
        ("timezone = 'Mars/Olympus'\n", "timezone = 'Mars/Olympus' is not valid: unknown time zone"),
        ("[retention]\ndays = 'thirty'\n", "[retention] days must be a whole number, not 'thirty'"),
        ("[retention]\ndays = 0\n", "[retention] days = 0 is not valid: use a whole number >= 1"),
        ("[storage]\nurl = 'ftp://x'\n", "unsupported storage url 'ftp://x': use file://PATH"),
        ("[catalog]\nurl = 'postgres://x'\n", "use sqlite:///PATH"),
        ("[gateway]\npassive_ports = '60000'\n", "use LOW-HIGH"),
        ("[gateway]\nmasquerade_address = 'my.host'\n", "use an IP address"),
        ("[processor]\nworkers = true\n", "[processor] workers must be a whole number"),
        ("[api\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), {}, tmp_path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_unknown_environment_variable_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(ConfigError, match="unknown environment variable CAMVAULT_API_PORT"):
        load_config(str(path), {"CAMVAULT_API_PORT": "80"}, tmp_path)
    with pytest.raises(ConfigError, match="CAMVAULT_RETENTION_DAYS"):
        load_config(str(path), {"CAMVAULT_RETENTION_DAYZ": "1"}, tmp_path)


def test_bad_environment_value_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    with pytest.raises(ConfigError, match=r"\[processor\] workers must be a whole number, not 'many'"):
        load_config(str(path), {"CAMVAULT_PROCESSOR_WORKERS": "many"}, tmp_path)


def test_missing_config_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; create it with `camvault init DIR`"):
        load_config(str(tmp_path / "nope.toml"), {}, tmp_path)


def test_starter_file_parses_and_holds_only_given_values() -> None:
    text = render_starter({"auth.admin_password_hash": "scrypt$16384$8$1$c2FsdA$aGFzaA"})
    data = tomllib.loads(text)
    assert data["auth"] == {"admin_password_hash": "scrypt$16384$8$1$c2FsdA$aGFzaA"}
    settings = build_settings(data)
    assert settings.storage == Settings().storage
    for section, spec in iter_settings():
        assert f"# {spec.name} = " in text or f"{spec.name} = " in text, (section, spec.name)


def test_every_setting_is_documented() -> None:
    docs = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert render_reference() in docs, "docs/configuration.md is out of date: paste render_reference()"
    for section, spec in iter_settings():
        assert spec.metadata["help"], f"{section}.{spec.name} has no help text"
