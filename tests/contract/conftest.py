"""One ``backend`` fixture per object store: the contract suite runs every test on each.

``local`` is a ``LocalStore`` in a fresh temp directory; ``s3`` is an ``S3Store`` on the
session's SeaweedFS server with a fresh random key prefix per test (removed afterwards).
Each backend records the notifications its store sends.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from camvault.store.base import ObjectStore
from camvault.store.local import LocalStore
from camvault.store.s3 import S3Store
from tests.support.seaweed import SeaweedServer, seaweed

__all__ = ["Backend", "backend", "seaweed"]


@dataclass
class Backend:
    """A store under test, the prefix that isolates this test's keys, and its notifications."""

    name: str
    store: ObjectStore
    prefix: str
    notices: list[dict[str, Any]] = field(default_factory=list)

    def key(self, rest: str) -> str:
        return self.prefix + rest


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    notices: list[dict[str, Any]] = []
    prefix = f"t-{secrets.token_hex(6)}/"
    store: ObjectStore
    if request.param == "local":
        store = LocalStore(tmp_path / "objects", notify=notices.append)
    else:
        server: SeaweedServer = request.getfixturevalue("seaweed")
        store = S3Store(server.bucket, client=server.client(), notify=notices.append)
    yield Backend(request.param, store, prefix, notices)
    try:
        for info in list(store.list(prefix)):
            store.delete(info.key)
    finally:
        store.close()
