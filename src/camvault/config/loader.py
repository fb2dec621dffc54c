"""Load settings: defaults < TOML file < ``CAMVAULT_<SECTION>_<KEY>`` environment < flags.

The file is found from ``--config``, then ``CAMVAULT_CONFIG``, then ``./camvault.toml``. Unknown
keys (in the file or as ``CAMVAULT_*`` variables) and invalid values fail with the key's name and
the fix. Relative paths are relative to the config file's folder (the working directory when
settings come from the environment alone, as on Lambda).

This module reads one file and the environment mapping it is given; it never writes.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camvault.config.schema import Settings

ENV_PREFIX = "CAMVAULT_"
CONFIG_ENV = "CAMVAULT_CONFIG"
DEFAULT_FILE = "camvault.toml"


class ConfigError(Exception):
    """The configuration is unusable; the message names the key and the fix."""


@dataclass(frozen=True)
class Config:
    """Settings plus where they came from."""

    settings: Settings
    base_dir: Path
    path: Path | None

    def resolve(self, value: str) -> Path:
        """A path setting made absolute against the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def find_config_file(flag: str | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file to read: the flag, then CAMVAULT_CONFIG, then ./camvault.toml if present."""
    if flag:
        return Path(flag)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    candidate = cwd / DEFAULT_FILE
    return candidate if candidate.is_file() else None


def load_config(
    flag: str | None,
    env: Mapping[str, str],
    cwd: Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    require_file: bool = True,
) -> Config:
    """Read and validate settings. ``overrides`` map dotted keys (``api.listen``) to flag values.

    Without a config file, settings may come from the environment alone only when it names both
    the store and the catalog (``CAMVAULT_STORAGE_URL``, ``CAMVAULT_CATALOG_URL``), as on Lambda;
    otherwise a stray ``CAMVAULT_*`` variable would quietly start an empty instance here.
    """
    path = find_config_file(flag, env, cwd)
    data: dict[str, Any] = {}
    if path is None:
        if require_file and not _environment_names_everything(env):
            raise ConfigError(
                f"no configuration: no {DEFAULT_FILE} in {cwd}, no --config and no {CONFIG_ENV}; "
                "create one with `camvault init DIR` and pass --config DIR/camvault.toml"
            )
        base_dir = cwd
    else:
        if path.is_dir():
            path = path / DEFAULT_FILE
        data = _read_toml(path)
        base_dir = path.resolve().parent
    from_env, flags = _env_values(env), dict(overrides or {})
    # Check each layer on its own first, so an error names where the bad value came from.
    for layer, source in ((data, str(path)), (from_env, "environment"), (flags, "command line")):
        build_settings(_layer(layer), source=source)
    settings = build_settings(_layer(data, from_env, flags), source=str(path) if path else "environment")
    return Config(settings=settings, base_dir=base_dir, path=path.resolve() if path else None)


def _environment_names_everything(env: Mapping[str, str]) -> bool:
    return bool(env.get(f"{ENV_PREFIX}STORAGE_URL") and env.get(f"{ENV_PREFIX}CATALOG_URL"))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; create it with `camvault init DIR`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the line it names") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def _sections() -> dict[str, type]:
    return {
        f.name: f.default_factory  # type: ignore[misc]
        for f in dataclasses.fields(Settings)
        if f.default_factory is not dataclasses.MISSING
    }


def _top_level_keys() -> set[str]:
    return {f.name for f in dataclasses.fields(Settings) if f.default_factory is dataclasses.MISSING}


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    """Map ``CAMVAULT_API_LISTEN=…`` to ``{"api": {"listen": "…"}}``; unknown names fail."""
    result: dict[str, Any] = {}
    sections = _sections()
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        if rest in _top_level_keys():
            result[rest] = value
            continue
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        key = rest[len(section) + 1 :] if section else ""
        if section is None or key not in {f.name for f in dataclasses.fields(sections[section])}:
            raise ConfigError(
                f"unknown environment variable {name}{_suggest(name, _env_names())}: camvault reads "
                "CAMVAULT_<SECTION>_<KEY> for the keys in docs/configuration.md; unset it or fix its name"
            )
        result.setdefault(section, {})[key] = value
    return result


def _env_names() -> list[str]:
    names = [f"{ENV_PREFIX}{key.upper()}" for key in _top_level_keys()]
    for section, cls in _sections().items():
        names += [f"{ENV_PREFIX}{section.upper()}_{f.name.upper()}" for f in dataclasses.fields(cls)]
    return names


def _suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _layer(*layers: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if "." in key:
                section, name = key.split(".", 1)
                merged.setdefault(section, {})[name] = value
            elif isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def build_settings(data: Mapping[str, Any], *, source: str = "config") -> Settings:
    """Validate a nested mapping against the schema and build Settings."""
    sections = _sections()
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key in sections:
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{source}: [{key}] must be a table of settings, not a {type(value).__name__}"
                )
            top[key] = _build_section(sections[key], value, f"[{key}] ", source)
        elif key in _top_level_keys():
            top[key] = value
        else:
            raise ConfigError(
                f"{source}: unknown key {key!r}; known sections and keys are listed in docs/configuration.md"
            )
    checked = _check_fields(Settings, {k: v for k, v in top.items() if k not in sections}, "", source)
    return Settings(**{**top, **checked})


def _build_section(cls: type, values: dict[str, Any], label: str, source: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            hint = ", ".join(sorted(known))
            raise ConfigError(f"{source}: unknown key {label}{key}; this section knows: {hint}")
    return cls(**_check_fields(cls, values, label, source))


def _check_fields(cls: type, values: dict[str, Any], label: str, source: str) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    result: dict[str, Any] = {}
    for key, raw in values.items():
        spec = fields[key]
        secret = bool(spec.metadata.get("secret"))
        value = _coerce(raw, spec.default, f"{label}{key}", source, secret=secret)
        check = spec.metadata.get("check")
        problem = check(value) if check else None
        if problem:
            shown = "(hidden)" if secret else repr(value)
            raise ConfigError(f"{source}: {label}{key} = {shown} is not valid: {problem}")
        result[key] = value
    return result


def _coerce(raw: Any, default: Any, name: str, source: str, *, secret: bool = False) -> Any:
    """Turn a TOML value or an environment string into the setting's type."""
    kind = type(default)
    try:
        if kind is bool:
            return _to_bool(raw)
        if kind is int and not isinstance(raw, bool):
            return int(raw)
        if kind is float and not isinstance(raw, bool):
            return float(raw)
        if kind is str and isinstance(raw, str):
            return raw
    except ValueError:
        pass
    shown = "the value given (hidden: it is a secret)" if secret else repr(raw)
    raise ConfigError(f"{source}: {name} must be {_kind_name(kind)}, not {shown}")


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in (
        "true",
        "1",
        "yes",
        "on",
        "false",
        "0",
        "no",
        "off",
    ):
        return raw.lower() in ("true", "1", "yes", "on")
    raise ValueError(raw)


def _kind_name(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}[kind]
