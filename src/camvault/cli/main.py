"""Parse the command line, load settings, run one verb, turn known errors into one-line reasons.

Every verb takes ``--config PATH`` (default: ``CAMVAULT_CONFIG``, then ``./camvault.toml``). Exit
status is 0 on success, 1 when the verb failed, 2 for usage errors; the reason is one line on
stderr that says what to do next.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from camvault import __version__
from camvault.accounts.registry import AccountError
from camvault.catalog.base import CatalogError
from camvault.cli import accounts, aws, data, events, gateway, retention, run, setup, users
from camvault.cli.errors import CliError
from camvault.config.loader import Config, ConfigError, load_config
from camvault.ingest import IngestError
from camvault.store.base import StoreError

Handler = Callable[[argparse.Namespace, Config], int]

KNOWN_ERRORS = (ConfigError, AccountError, IngestError, StoreError, CatalogError, CliError, sqlite3.Error)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camvault",
        description="Keep IP camera clips safe off the camera, catalog them, play them back.",
    )
    parser.add_argument("--version", action="version", version=f"camvault {__version__}")
    config_help = "config file or data folder (default: $CAMVAULT_CONFIG, then ./camvault.toml)"
    # --config may stand before or after the verb; the verb's copy must not reset the other.
    parser.add_argument("--config", metavar="PATH", help=config_help)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help=config_help, default=argparse.SUPPRESS)
    common.add_argument(
        "-v", "--verbose", action="store_true", help="log more detail", default=argparse.SUPPRESS
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for module in (setup, accounts, users, run, gateway, data, events, retention, aws):
        module.register(verbs, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    os.umask(0o077)  # everything camvault creates (objects, databases, spool) is private
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if hasattr(args, "plain_handler"):
            return int(args.plain_handler(args))
        handler: Handler = args.handler
        return handler(args, load_config(args.config, os.environ, Path.cwd()))
    except KNOWN_ERRORS as exc:
        print(f"camvault: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"camvault: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
