"""Who may use the API: the primitives an account backend implements, and the login logic
every backend shares (admin secret, sessions with expiry, API tokens, login throttling).

A backend (``accounts.local`` over SQLite; another over a managed database where there is no
local disk) stores only hashes and answers a handful of lookups. ``Authenticator`` decides
everything else: which secrets are accepted, how long a session lasts, when to stop listening
to a client that keeps guessing. This module performs no I/O of its own.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from camvault.accounts.passwords import hash_secret, verify_secret
from camvault.accounts.throttle import LoginThrottle, Throttled
from camvault.clock import Clock, utcnow

ADMIN = "admin"
TOKEN_PREFIX = "cv_"  # noqa: S105 - marks API tokens, not a secret
__all__ = [
    "ADMIN",
    "AuthStore",
    "Authenticator",
    "NewSession",
    "Session",
    "SignInUnavailable",
    "Throttled",
    "digest",
]


class SignInUnavailable(Exception):
    """This server keeps no sessions, so nobody signs in here; the message says what to send instead."""


@functools.cache
def _dummy_hash() -> str:
    """Checked for unknown user names, so that they take as long as known ones."""
    return hash_secret("not a password anyone has")


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (session id, API token); how backends store them."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    user: str
    csrf_token: str
    expires: datetime


@dataclass(frozen=True)
class NewSession:
    """A session just started: ``session_id`` goes into the cookie and is stored only hashed."""

    session_id: str
    session: Session


class AuthStore(Protocol):
    """Primitives an account backend implements. Secrets arrive already hashed."""

    def password_hash(self, user: str) -> str | None:
        """The stored password hash of ``user``, None for an unknown user."""
        ...

    def token_name(self, token_digest: str) -> str | None:
        """The name of the API token with this digest, None when there is none."""
        ...

    def put_session(self, id_digest: str, session: Session) -> None: ...

    def get_session(self, id_digest: str) -> Session | None: ...

    def delete_session(self, id_digest: str) -> None: ...

    def delete_sessions_expired_by(self, instant: datetime) -> None:
        """Forget every session that expired at or before ``instant`` (a backend with its own
        expiry, such as a TTL attribute, may do nothing)."""
        ...

    def close(self) -> None: ...


class Authenticator:
    """The login rules, over any ``AuthStore``."""

    def __init__(
        self,
        store: AuthStore,
        *,
        admin_password_hash: str,
        session_ttl: timedelta,
        throttle: LoginThrottle,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self._admin_hash = admin_password_hash
        self._admin_digest: str | None = None  # digest of the admin secret once it was verified
        self._ttl = session_ttl
        self._throttle = throttle
        self._clock = clock

    def login(self, user: str, password: str, address: str) -> NewSession | None:
        """A new session when ``password`` is right; None when not; Throttled when this address
        or user failed too often lately (then even the right password is refused)."""
        self._throttle.check(address, user)
        if not self._password_ok(user, password):
            self._throttle.failed(address, user)
            return None
        session_id = secrets.token_urlsafe(32)
        session = Session(
            user=ADMIN if user.lower() == ADMIN else user,
            csrf_token=secrets.token_urlsafe(32),
            expires=self._clock() + self._ttl,
        )
        self.store.delete_sessions_expired_by(self._clock())
        self.store.put_session(digest(session_id), session)
        return NewSession(session_id, session)

    def session(self, session_id: str) -> Session | None:
        """The live session with this id; an expired one is deleted and None returned."""
        found = self.store.get_session(digest(session_id))
        if found is None:
            return None
        if found.expires <= self._clock():
            self.store.delete_session(digest(session_id))
            return None
        return found

    def live_session(self, session_id: str) -> Session | None:
        """The session with this id while it lasts: one lookup, no write (``session`` also
        forgets an expired one)."""
        found = self.store.get_session(digest(session_id))
        return found if found is not None and found.expires > self._clock() else None

    def seconds_left(self, session: Session) -> int:
        """Whole seconds until ``session`` expires (the cookie's Max-Age)."""
        return max(0, int((session.expires - self._clock()).total_seconds()))

    def logout(self, session_id: str) -> None:
        self.store.delete_session(digest(session_id))

    def caller(self, request: Mapping[str, Any]) -> str | None:
        """The caller a front in front of this server already authenticated, from the request's
        ASGI scope; None to identify the request by its own credentials. These rules trust no
        front: only ``accounts.lambda_auth``, switched on by the Lambda handler, does."""
        return None

    def bearer(self, token: str, address: str) -> str | None:
        """Who a Bearer token speaks for: ``token:NAME`` for an API token, ``admin`` for the admin
        secret, None otherwise. Failures count towards the address's login throttle."""
        user = self.token_user(token)
        if user is not None:
            return user
        self._throttle.check(address, None)
        if not token.startswith(TOKEN_PREFIX) and self._admin_ok(token):
            return ADMIN
        self._throttle.failed(address, None)
        return None

    def token_user(self, token: str) -> str | None:
        """``token:NAME`` when ``token`` is a live API token, else None: one lookup, no throttle
        and no KDF (a wrong token must go through ``bearer``, which counts the failure)."""
        name = self.store.token_name(digest(token))
        return f"token:{name}" if name is not None else None

    def _password_ok(self, user: str, password: str) -> bool:
        if user.lower() == ADMIN:
            return self._admin_ok(password)
        stored = self.store.password_hash(user)
        ok = verify_secret(password, stored or _dummy_hash())
        return ok and stored is not None

    def _admin_ok(self, secret: str) -> bool:
        """Scrypt once per process; later requests compare a SHA-256 digest in constant time."""
        if not self._admin_hash:
            return False
        if self._admin_digest is not None:
            return hmac.compare_digest(self._admin_digest, digest(secret))
        if verify_secret(secret, self._admin_hash):
            self._admin_digest = digest(secret)
            return True
        return False

    def close(self) -> None:
        self.store.close()
