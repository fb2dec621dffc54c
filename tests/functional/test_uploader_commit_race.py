"""An upload the uploader claims while its commit is still linking it into the spool is
uploaded once the link exists, not kept as failed with "the spooled file is gone"."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from camvault.config.loader import load_config
from camvault.factory import Runtime, build_runtime
from camvault.gateway.outbox import Outbox, Upload
from camvault.gateway.spool import Arrival, Spool
from camvault.gateway.uploader import Uploader
from camvault.store.base import read_all
from tests.support.cli import init_data

pytestmark = pytest.mark.functional


class SlowToLinkOutbox(Outbox):
    """A real outbox; after recording a commit's uploads it lets the uploader run before the
    commit goes on to link them, as a busy machine may."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.recorded = threading.Event()

    def record_many(self, uploads: Sequence[tuple[Upload, datetime]]) -> list[bool]:
        inserted = super().record_many(uploads)
        self.recorded.set()
        time.sleep(0.3)
        return inserted


@dataclass
class Parts:
    runtime: Runtime
    spool: Spool
    outbox: SlowToLinkOutbox


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    config = load_config(str(init_data(tmp_path / "data")), {}, tmp_path)
    runtime = build_runtime(config)
    runtime.cameras.add("porch", "UTC")
    outbox = SlowToLinkOutbox(tmp_path / "spool" / "outbox.db")
    spool = Spool(tmp_path / "spool", outbox)
    yield Parts(runtime, spool, outbox)
    spool.close()
    runtime.close()


def test_an_upload_claimed_before_its_spool_link_exists_is_uploaded(parts: Parts) -> None:
    path = parts.spool.home("porch") / "MDAlarm_20250301-120000.jpg"
    path.write_bytes(b"jpeg bytes")
    arrival = Arrival("porch", path.name, datetime.now(UTC))
    committer = threading.Thread(target=parts.spool.commit, args=(path, arrival))
    committer.start()
    try:
        assert parts.outbox.recorded.wait(10)
        uploader = Uploader(parts.spool, parts.runtime.ingestor, parts.runtime.store)
        assert uploader.run_one()  # claimed while the commit still links it
    finally:
        committer.join(10)
    assert parts.outbox.failed() == []
    assert parts.outbox.stats().depth == 0
    (key,) = [info.key for info in parts.runtime.store.list("porch/")]
    assert read_all(parts.runtime.store, key) == b"jpeg bytes"
