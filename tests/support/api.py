"""What the API tests share: an authenticator with a known admin secret, and catalog events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from camvault.accounts.auth_base import Authenticator
from camvault.accounts.local import LocalAuthStore
from camvault.accounts.passwords import hash_secret
from camvault.accounts.throttle import LoginThrottle
from camvault.clock import Clock, utcnow
from camvault.domain.keys import build_key, event_id_for_key
from camvault.domain.model import CatalogEvent, MediaInfo

ADMIN_SECRET = "the-admin-secret-of-these-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_SECRET}"}
LOCAL = "http://127.0.0.1:8080"
_ADMIN_HASH = hash_secret(ADMIN_SECRET)


def authenticator(
    accounts: Path,
    *,
    clock: Clock = utcnow,
    attempts: int = 10,
    window: timedelta = timedelta(minutes=15),
    session_ttl: timedelta = timedelta(hours=1),
) -> Authenticator:
    """The login rules over a real accounts file at ``accounts`` (failed logins counted in it too),
    admin secret ``ADMIN_SECRET``."""
    store = LocalAuthStore(accounts)
    return Authenticator(
        store,
        admin_password_hash=_ADMIN_HASH,
        session_ttl=session_ttl,
        throttle=LoginThrottle(attempts, window, clock, store.failures),  # as factory.open_auth
        clock=clock,
    )


def event(
    camera: str,
    at: datetime,
    kind: str = "record",
    name: str | None = None,
    *,
    size: int = 1000,
    small: bool = False,
) -> CatalogEvent:
    """An event as the processor would catalog it (thumbnail always, small transcode on request)."""
    filename = name or f"clip-{at:%Y%m%dT%H%M%S}.mp4"
    key = build_key("", camera, at, kind, filename).key  # type: ignore[arg-type]
    return CatalogEvent(
        id=event_id_for_key(key),
        camera=camera,
        kind=kind,  # type: ignore[arg-type]
        capture_time=at,
        key=key,
        size=size,
        content_type="video/mp4" if kind == "record" else "image/jpeg",
        media=MediaInfo(duration=2.0, width=640, height=360, video_codec="h264"),
        playable=True,
        thumbnail_key=key + ".thumb.jpg",
        small_key=key.rsplit(".", 1)[0] + "-small.mp4" if small else None,
    )


@contextmanager
def served_http(app: Any) -> Iterator[str]:
    """Run ``app`` under a real uvicorn on a free loopback port, in a thread; yields its base URL."""
    # the asyncio loop: uvloop keeps a wake-up pipe open after its loop closes
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    (sock,) = [s for server_ in server.servers for s in server_.sockets]
    port = sock.getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
