"""Webhooks: each new event POSTed as JSON, signed, retried with backoff.

The body is the event object (``CatalogEvent.to_json``). Two headers let the receiver trust it:
``X-Camvault-Timestamp`` (Unix seconds when it was sent) and ``X-Camvault-Signature``
(``sha256=`` + hex HMAC-SHA256, keyed with the configured secret, of ``TIMESTAMP.BODY``). A
receiver recomputes the HMAC and refuses old timestamps, so a captured request cannot be
replayed later. Connection errors, timeouts, 408, 425, 429 and 5xx answers are retried with exponential
backoff and full jitter, a bounded number of times; other answers are final.

The secret is never logged. ``signature`` and ``backoff_delays`` are pure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from camvault.domain.model import CatalogEvent

SIGNATURE_HEADER = "X-Camvault-Signature"
TIMESTAMP_HEADER = "X-Camvault-Timestamp"
EVENT_HEADER = "X-Camvault-Event"
RETRY_STATUSES = frozenset({408, 425, 429})  # and every 5xx


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other: the event is not re-sent to another address."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookError(Exception):
    """The receiver did not take the event; the message says why."""


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    secret: str
    attempts: int = 5
    timeout_s: float = 5.0
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``TIMESTAMP.BODY`` keyed with ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def backoff_delays(attempts: int, base_s: float, max_s: float, rng: random.Random) -> list[float]:
    """The waits between ``attempts`` tries: full jitter over ``base_s * 2**n``, capped at ``max_s``."""
    return [rng.uniform(0, min(max_s, base_s * 2**n)) for n in range(max(0, attempts - 1))]


def event_body(event: CatalogEvent) -> bytes:
    return json.dumps(event.to_json(), separators=(",", ":"), sort_keys=True).encode()


class WebhookSink:
    """POSTs events to one URL."""

    name = "webhook"

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        rng: random.Random | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        if not settings.url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url {settings.url!r}: use http:// or https://")
        self._settings = settings
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._now = now
        self._closing = threading.Event()
        self._opener = urllib.request.build_opener(_NoRedirects())

    def send(self, event: CatalogEvent) -> None:
        """POST the event; retries transient failures, raises WebhookError when it gives up."""
        body = event_body(event)
        settings = self._settings
        delays = backoff_delays(settings.attempts, settings.base_delay_s, settings.max_delay_s, self._rng)
        problem = ""
        for attempt in range(settings.attempts):
            retry, problem = self._try(event.id, body)
            if not retry:
                if problem:
                    raise WebhookError(problem)
                return
            if attempt < len(delays) and self._closing.wait(delays[attempt]):
                break  # shutting down
        raise WebhookError(f"gave up after {settings.attempts} attempts: {problem}")

    def _try(self, event_id: str, body: bytes) -> tuple[bool, str]:
        """One POST: (retry?, problem); ("", False) is success."""
        timestamp = int(self._now())
        request = urllib.request.Request(  # noqa: S310 - the scheme was checked in __init__
            self._settings.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "camvault",
                EVENT_HEADER: event_id,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: signature(self._settings.secret, timestamp, body),
            },
        )
        try:
            with self._opener.open(request, timeout=self._settings.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            retry = exc.code in RETRY_STATUSES or exc.code >= 500
            return retry, f"the receiver answered HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return True, f"cannot reach the receiver: {reason}"
        return False, ""

    def close(self) -> None:
        self._closing.set()
