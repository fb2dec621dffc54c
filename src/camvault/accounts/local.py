"""The account backend of one machine: users, API tokens, sessions and recent failed logins in
the accounts SQLite file (``[accounts] url``), shared with the camera registry.

Implements ``auth_base.AuthStore``; the login rules themselves are ``auth_base.Authenticator``'s.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

from camvault.accounts.auth_base import Session
from camvault.accounts.failures import LoginFailures
from camvault.accounts.schema import open_accounts
from camvault.accounts.sessions import Sessions
from camvault.accounts.tokens import Tokens
from camvault.accounts.users import Users


class LocalAuthStore:
    """Users, tokens, sessions and failed logins over one connection; safe to use from several
    threads. ``failures`` is the ``throttle.FailureLog`` every process on this file shares."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_accounts(path)
        self.users = Users(self._db, self._lock)
        self.tokens = Tokens(self._db, self._lock)
        self.sessions = Sessions(self._db, self._lock)
        self.failures = LoginFailures(self._db, self._lock)

    def password_hash(self, user: str) -> str | None:
        return self.users.password_hash(user)

    def token_name(self, token_digest: str) -> str | None:
        return self.tokens.name_of(token_digest)

    def put_session(self, id_digest: str, session: Session) -> None:
        self.sessions.put(id_digest, session)

    def get_session(self, id_digest: str) -> Session | None:
        return self.sessions.get(id_digest)

    def delete_session(self, id_digest: str) -> None:
        self.sessions.delete(id_digest)

    def delete_sessions_expired_by(self, instant: datetime) -> None:
        self.sessions.delete_expired_by(instant)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LocalAuthStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
