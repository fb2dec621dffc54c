"""``camvault camera add|list|set|remove|passwd``: the cameras allowed to upload and their options."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from camvault.accounts.registry import AccountError, CameraOptions
from camvault.config.loader import Config
from camvault.factory import open_cameras

MIN_PASSWORD = 8


def _retention_days(text: str) -> int | None:
    if text == "default":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days nor `default`") from None


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    camera = verbs.add_parser("camera", help="register, list and remove cameras")
    actions = camera.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        parents=[common],
        help="register a camera",
        description="Register a camera. Its FTP login is its NAME; its password is stored hashed.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--timezone",
        metavar="ZONE",
        help="IANA zone of the camera's clock, e.g. Europe/Berlin (default: the config's timezone)",
    )
    add.add_argument("--password-stdin", action="store_true", help="read the FTP password from stdin")
    add.set_defaults(handler=cmd_add)
    listing = actions.add_parser(
        "list", parents=[common], help="list cameras", description="List registered cameras."
    )
    listing.set_defaults(handler=cmd_list)
    remove = actions.add_parser(
        "remove",
        parents=[common],
        help="remove a camera (its clips stay)",
        description="Remove a camera: it can no longer upload. Its clips stay in the store and catalog.",
    )
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=cmd_remove)
    change = actions.add_parser(
        "set",
        parents=[common],
        help="change a camera's settings",
        description="Change a camera's time zone or options. Times already read from its file names are "
        "read again in the new zone by `camvault reindex`.",
    )
    change.add_argument("name", metavar="NAME")
    change.add_argument("--timezone", metavar="ZONE", help="IANA zone, e.g. Europe/Berlin")
    change.add_argument(
        "--retention-days",
        metavar="N",
        type=_retention_days,
        default=argparse.SUPPRESS,
        help="keep its events N days; `default` follows [retention] days",
    )
    change.add_argument(
        "--transcode",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="make a small version of its clips",
    )
    change.add_argument(
        "--notify",
        action=argparse.BooleanOptionalAction,
        default=argparse.SUPPRESS,
        help="announce its new events (MQTT, webhooks)",
    )
    change.set_defaults(handler=cmd_set)
    passwd = actions.add_parser("passwd", parents=[common], help="set a camera's FTP password")
    passwd.add_argument("name", metavar="NAME")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd.set_defaults(handler=cmd_passwd)


def require_password(from_stdin: bool) -> str:
    """Like ``read_password``, but a password must be given."""
    password = read_password(from_stdin)
    if password is None:
        raise AccountError("no password given: pipe it in with --password-stdin")
    return password


def read_password(from_stdin: bool) -> str | None:
    """The password from stdin (first line) or an interactive prompt; None when neither applies."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        try:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Again: "):
                raise AccountError("the two passwords differ; nothing was changed")
        except EOFError:
            raise AccountError("no password entered; nothing was changed") from None
    else:
        return None
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters; nothing was changed")
    return password


def cmd_add(args: argparse.Namespace, config: Config) -> int:
    password = read_password(args.password_stdin)
    with open_cameras(config) as cameras:
        camera = cameras.add(args.name, args.timezone or config.settings.timezone, password)
    login = "FTP password set" if camera.has_password else "no FTP password yet: `camvault camera passwd`"
    print(f"camera {camera.name} added (time zone {camera.timezone}; {login})")
    return 0


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    with open_cameras(config) as cameras:
        rows = cameras.list()
    if not rows:
        print("no cameras yet: add one with `camvault camera add NAME --timezone ZONE`")
        return 0
    width = max(len(row.name) for row in rows)
    for row in rows:
        login = "password set" if row.has_password else "no password"
        options = describe_options(row.options, config)
        print(f"{row.name:<{width}}  {row.timezone:<24}  {login:<12}  {options}")
    return 0


def cmd_remove(args: argparse.Namespace, config: Config) -> int:
    with open_cameras(config) as cameras:
        cameras.remove(args.name)
    print(f"camera {args.name} removed; its clips stay in the store and the catalog")
    return 0


def cmd_set(args: argparse.Namespace, config: Config) -> int:
    options = ("retention_days", "transcode", "notify")  # flags left out are absent from args
    changes: dict[str, int | bool | None] = {key: getattr(args, key) for key in options if key in args}
    if args.timezone is None and not changes:
        raise AccountError(
            "nothing to change: give --timezone, --retention-days, --transcode/--no-transcode "
            "or --notify/--no-notify"
        )
    with open_cameras(config) as cameras:
        if changes:
            cameras.set_options(args.name, **changes)
            print(f"camera {args.name}: {describe_options(cameras.options(args.name), config)}")
        if args.timezone is not None:
            camera = cameras.set_timezone(args.name, args.timezone)
            print(
                f"camera {camera.name} now reads its clock in {camera.timezone}; run `camvault reindex` to "
                "apply it to stored clips"
            )
    return 0


def describe_options(options: CameraOptions, config: Config) -> str:
    """One line: ``keeps 7 days, transcode on, notify off``."""
    if options.retention_days is None:
        days = f"keeps {config.settings.retention.days} days (default)"
    else:
        days = f"keeps {options.retention_days} days"
    transcode = "on" if options.transcode else "off"
    notify = "on" if options.notify else "off"
    return f"{days}, transcode {transcode}, notify {notify}"


def cmd_passwd(args: argparse.Namespace, config: Config) -> int:
    password = require_password(args.password_stdin)
    with open_cameras(config) as cameras:
        cameras.set_password(args.name, password)
    print(f"password of camera {args.name} changed")
    return 0
