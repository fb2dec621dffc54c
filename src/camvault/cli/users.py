"""``camvault user add|list|remove|passwd`` and ``camvault token create|list|revoke``: who may
use the web app and the API."""

from __future__ import annotations

import argparse
from typing import Any

from camvault.cli.accounts import require_password
from camvault.config.loader import Config
from camvault.factory import open_auth_store


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    _register_users(verbs, common)
    _register_tokens(verbs, common)


def _register_users(verbs: Any, common: argparse.ArgumentParser) -> None:
    user = verbs.add_parser("user", help="add, list and remove people who may sign in")
    actions = user.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        parents=[common],
        help="add a user",
        description="Add a user of the web app. The password is stored as a scrypt hash.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=cmd_user_add)
    listing = actions.add_parser("list", parents=[common], help="list users")
    listing.set_defaults(handler=cmd_user_list)
    remove = actions.add_parser("remove", parents=[common], help="remove a user and end their sessions")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=cmd_user_remove)
    passwd = actions.add_parser(
        "passwd", parents=[common], help="change a user's password (ends their sessions)"
    )
    passwd.add_argument("name", metavar="NAME")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd.set_defaults(handler=cmd_user_passwd)


def _register_tokens(verbs: Any, common: argparse.ArgumentParser) -> None:
    token = verbs.add_parser("token", help="create, list and revoke API tokens for scripts")
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        parents=[common],
        help="create a token (printed once)",
        description="Create an API token called NAME and print it once; only its hash is kept. "
        "Scripts send it as `Authorization: Bearer TOKEN`.",
    )
    create.add_argument("name", metavar="NAME")
    create.set_defaults(handler=cmd_token_create)
    listing = actions.add_parser("list", parents=[common], help="list token names")
    listing.set_defaults(handler=cmd_token_list)
    revoke = actions.add_parser("revoke", parents=[common], help="revoke a token at once")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(handler=cmd_token_revoke)


def cmd_user_add(args: argparse.Namespace, config: Config) -> int:
    password = require_password(args.password_stdin)
    with open_auth_store(config) as store:
        user = store.users.add(args.name, password)
    print(f"user {user.name} added; they sign in at the web app's /login")
    return 0


def cmd_user_list(args: argparse.Namespace, config: Config) -> int:
    with open_auth_store(config) as store:
        users = store.users.list()
    if not users:
        print("no users yet (admin signs in with the secret from `camvault init`): `camvault user add NAME`")
    for user in users:
        print(f"{user.name}  added {user.created:%Y-%m-%d %H:%M} UTC")
    return 0


def cmd_user_remove(args: argparse.Namespace, config: Config) -> int:
    with open_auth_store(config) as store:
        store.users.remove(args.name)
    print(f"user {args.name} removed and signed out")
    return 0


def cmd_user_passwd(args: argparse.Namespace, config: Config) -> int:
    password = require_password(args.password_stdin)
    with open_auth_store(config) as store:
        store.users.set_password(args.name, password)
    print(f"password of user {args.name} changed; their sessions ended")
    return 0


def cmd_token_create(args: argparse.Namespace, config: Config) -> int:
    with open_auth_store(config) as store:
        token = store.tokens.create(args.name)
    print(f"token {args.name} created; it is shown only this once:")
    print(token)
    return 0


def cmd_token_list(args: argparse.Namespace, config: Config) -> int:
    with open_auth_store(config) as store:
        tokens = store.tokens.list()
    if not tokens:
        print("no tokens yet: `camvault token create NAME`")
    for token in tokens:
        print(f"{token.name}  created {token.created:%Y-%m-%d %H:%M} UTC")
    return 0


def cmd_token_revoke(args: argparse.Namespace, config: Config) -> int:
    with open_auth_store(config) as store:
        store.tokens.revoke(args.name)
    print(f"token {args.name} revoked")
    return 0
