"""``camvault init DIR``: a new data folder with a commented config and a printed-once secret."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from camvault.accounts.passwords import hash_secret, new_secret
from camvault.config.loader import DEFAULT_FILE, Config, ConfigError, load_config
from camvault.config.starter import render_starter
from camvault.factory import open_cameras, open_catalog, storage_location
from camvault.processor.journal import Journal

TLS_CERT = "tls/gateway.crt"
TLS_KEY = "tls/gateway.key"


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    init = verbs.add_parser(
        "init",
        help="create a data folder with a commented camvault.toml",
        description="Create DIR with a commented camvault.toml, the object store folder, the catalog "
        "and the account database. The admin secret is printed once; only its hash is kept.",
    )
    init.add_argument("dir", metavar="DIR", type=Path)
    init.set_defaults(plain_handler=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    folder: Path = args.dir
    path = folder / DEFAULT_FILE
    if path.exists():
        raise ConfigError(f"{path} already exists; keep it, or choose another DIR")
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file; DIR must be a folder (new or existing)")
    folder.mkdir(parents=True, exist_ok=True)
    secret = new_secret()
    text = render_starter(
        {
            "auth.admin_password_hash": hash_secret(secret),
            "gateway.tls_cert": TLS_CERT,
            "gateway.tls_key": TLS_KEY,
        }
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    config = load_config(str(path), {}, Path.cwd())
    _lay_out(config)
    shown = path if path.is_absolute() else Path(path)
    print(f"Created {shown} and the data folders beside it.")
    print()
    print(f"  admin secret (shown only this once; keep it safe): {secret}")
    print()
    print("Next:")
    print(f"  camvault camera add NAME --timezone ZONE --config {shown}")
    print(f"  camvault serve --config {shown}")
    return 0


def _write_tls_pair(config: Config) -> None:
    """A self-signed certificate and key (0600) so that cameras can use FTPS from the start."""
    from camvault.gateway.tls import write_self_signed

    cert = config.resolve(config.settings.gateway.tls_cert)
    key = config.resolve(config.settings.gateway.tls_key)
    if cert.exists() or key.exists():
        return
    cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_self_signed(cert, key, now=datetime.now(UTC))


def _lay_out(config: Config) -> None:
    """Create the store root, spool, catalog and account database."""
    where = storage_location(config)
    if where.root is not None:
        where.root.mkdir(parents=True, exist_ok=True)
    config.resolve(config.settings.gateway.spool).mkdir(parents=True, exist_ok=True)
    _write_tls_pair(config)
    open_catalog(config).close()
    open_cameras(config).close()
    Journal(config.resolve(config.settings.processor.journal)).close()
