"""moto's real HTTP server for the AWS services that have no local server (DynamoDB, SQS, IAM,
CloudFormation…): one ``ThreadedMotoServer`` per pytest session on a free loopback port.

The ``moto_server`` fixture starts it on first use and stops it at session end (kept in the
session's ``config.stash``, so importing the fixture into several modules still starts one).
Its serving thread is named ``MOTO_THREAD_NAME``; the leak check in tests/conftest.py allows
that one thread to outlive the test that started it, and nothing else: every client a test
opens must be closed (``client.close()``), which also ends moto's thread for that connection.

moto keeps its state in memory for the whole session: tests name their tables, queues and
stacks uniquely (``unique_name``) and delete what they create.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

MOTO_THREAD_NAME = "moto-server"
REGION = "us-east-1"
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
ACCOUNT_ID = "123456789012"
"""The account moto answers as."""


SESSION_FDS: set[int] = set()
"""File descriptors the session's server keeps open (its listening socket): the fd leak check
in tests/conftest.py allows these."""


def _start_server() -> tuple[Any, str]:
    """A started moto server on a free loopback port, and its URL (moto imported only here:
    sessions that never touch AWS do not pay for it)."""
    from moto.server import ThreadedMotoServer

    class NamedMotoServer(ThreadedMotoServer):
        """moto's threaded server with a recognisable serving thread."""

        def _server_entry(self) -> None:
            threading.current_thread().name = MOTO_THREAD_NAME
            super()._server_entry()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no log line per request
    server = NamedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    assert server._server is not None
    SESSION_FDS.add(server._server.socket.fileno())
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


@dataclass(frozen=True)
class MotoServer:
    """Where the session's moto server listens, and the fake credentials it accepts."""

    endpoint_url: str
    region: str = REGION
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    account_id: str = ACCOUNT_ID

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client of ``service`` on this server (fast-failing: tests must never hang).
        The caller closes it."""
        import boto3
        from botocore.config import Config

        settings = {"connect_timeout": 2, "read_timeout": 20, "retries": {"max_attempts": 2}}
        settings.update(config)
        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(**settings),
        )

    def environ(self) -> dict[str, str]:
        """Environment variables that point the AWS SDK of a child process (or a handler built
        from the environment) at this server with these credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }


def unique_name(prefix: str) -> str:
    """A name no other test of the session uses (moto's state is shared by the session)."""
    return f"{prefix}-{secrets.token_hex(6)}"


_STASH_KEY = pytest.StashKey[MotoServer]()


@pytest.fixture(scope="session")
def moto_server(request: pytest.FixtureRequest) -> Iterator[MotoServer]:
    """The session's moto server (started on first use, stopped at session end)."""
    stash = request.config.stash
    found = stash.get(_STASH_KEY, None)
    if found is None:
        server, endpoint_url = _start_server()
        request.config.add_cleanup(server.stop)
        found = stash[_STASH_KEY] = MotoServer(endpoint_url)
    yield found
