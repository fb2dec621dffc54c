"""Store and catalog files as if they had arrived at another time (for retention tests run
against the real clock: an object's age counts from its capture and from its arrival)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from camvault.config.loader import load_config
from camvault.factory import build_runtime


def ingest_at(config: Path, when: datetime, camera: str, *files: Path) -> list[str]:
    """Ingest ``files`` for ``camera`` with the runtime's clock at ``when``; their keys."""
    runtime = build_runtime(load_config(str(config), {}, config.parent), clock=lambda: when)
    try:
        keys = []
        for path in files:
            stored = runtime.ingestor.ingest(path, camera)
            (outcome,) = runtime.workers.drain([stored.key])
            assert outcome.status == "cataloged", outcome.reason
            keys.append(stored.key)
        return keys
    finally:
        runtime.close()
