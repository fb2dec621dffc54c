"""Render the commented starter ``camvault.toml`` that ``camvault init`` writes.

Every setting appears with its help text; the ones ``init`` decides (the admin secret's hash)
are set, every other one is shown commented out at its default, so the file documents itself.
This module builds text; it never writes files.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

from camvault.config.schema import SECTION_HELP, Settings


def iter_settings() -> Iterator[tuple[str, dataclasses.Field[Any]]]:
    """Every setting as (section, field); section is "" for top-level keys."""
    for top in dataclasses.fields(Settings):
        if top.default_factory is dataclasses.MISSING:
            yield "", top
    for top in dataclasses.fields(Settings):
        if top.default_factory is not dataclasses.MISSING:
            for inner in dataclasses.fields(top.default_factory()):
                yield top.name, inner


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def render_starter(values: Mapping[str, Any]) -> str:
    """The starter file. ``values`` maps dotted keys (``auth.admin_password_hash``) to set values."""
    lines = [
        "# camvault configuration. Every key can be overridden by an environment variable",
        "# CAMVAULT_<SECTION>_<KEY> (e.g. CAMVAULT_API_LISTEN=127.0.0.1:9000); relative paths",
        "# are relative to this file's folder. Reference: docs/configuration.md",
        "",
    ]
    current = None
    for section, spec in iter_settings():
        if section != current:
            current = section
            if section:
                lines += ["", f"# {SECTION_HELP[section]}", f"[{section}]"]
        dotted = f"{section}.{spec.name}" if section else spec.name
        lines.append(f"# {spec.metadata['help']}")
        if dotted in values:
            lines.append(f"{spec.name} = {_toml_value(values[dotted])}")
        else:
            lines.append(f"# {spec.name} = {_toml_value(spec.default)}")
    return "\n".join(lines).lstrip("\n") + "\n"


def render_reference() -> str:
    """The settings table of docs/configuration.md (kept in sync by a test)."""
    rows = ["| key | environment variable | default | meaning |", "|---|---|---|---|"]
    for section, spec in iter_settings():
        key = f"[{section}] {spec.name}" if section else spec.name
        env = "CAMVAULT_" + (f"{section}_{spec.name}" if section else spec.name).upper()
        default = (
            "(a secret: never shown)" if spec.metadata.get("secret") else f"`{_toml_value(spec.default)}`"
        )
        rows.append(f"| `{key}` | `{env}` | {default} | {spec.metadata['help']} |")
    return "\n".join(rows) + "\n"
