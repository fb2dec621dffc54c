"""Who may log in over FTP: registered cameras with their password, and nobody else.

A camera logs in with its registered name (any case) and its password, checked against the
scrypt hash in :class:`camvault.accounts.registry.CameraRegistry`. There is no anonymous
login and no default account. Failed logins are counted per client address: after
``max_failures`` within ``window`` seconds that address is refused, even with the right
password, until the window has passed. Every failure is logged with the client address and
the name tried, never with the password.

It never decides where a camera's files go (the spool does) or what they mean.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyftpdlib.authorizers import AuthenticationFailed

from camvault.accounts.passwords import hash_secret, new_secret, verify_secret
from camvault.accounts.registry import CameraRegistry, UnknownCamera

__all__ = ["CAMERA_PERMISSIONS", "CameraAuthorizer", "LoginThrottle"]

log = logging.getLogger("camvault.gateway")

CAMERA_PERMISSIONS = "elawdfm"
"""CWD, LIST, APPE, STOR, DELE/RMD, RNFR/RNTO, MKD; never RETR, SITE CHMOD or MFMT."""


@dataclass(frozen=True)
class LoginThrottle:
    """How many failed logins an address may make in a time window before it is refused."""

    max_failures: int = 5
    window: float = 300.0


class CameraAuthorizer:
    """pyftpdlib's authorizer interface over the camera registry."""

    def __init__(
        self,
        cameras: CameraRegistry,
        home_of: Callable[[str], Path],
        throttle: LoginThrottle,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cameras = cameras
        self._home_of = home_of
        self._throttle = throttle
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        # scrypt needs 16 MB per check; done in one thread, that memory is reused instead of
        # staying behind in the malloc arena of every connection's thread.
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="camvault-login")
        self._decoy: str | None = None

    def _check(self, username: str, password: str) -> bool:
        """The password check, as slow for an unknown name as for a wrong password, so that the
        reply time does not tell which camera names exist."""
        if self.has_user(username):
            return self._cameras.check_password(username, password)
        if self._decoy is None:
            self._decoy = hash_secret(new_secret())
        verify_secret(password, self._decoy)
        return False

    def camera_name(self, username: str) -> str:
        """The registered spelling of the camera that logged in as ``username``."""
        return self._cameras.get(username).name

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        address = str(handler.remote_ip)
        if self._blocked(address):
            log.warning("refused login as %r from %s: too many failed logins", username, address)
            raise AuthenticationFailed("too many failed logins from your address; try again later")
        if self._checker.submit(self._check, username, password).result():
            return
        self._record_failure(address)
        log.warning("failed login as %r from %s", username, address)
        raise AuthenticationFailed("authentication failed")

    def close(self) -> None:
        """Stop the password-checking thread."""
        self._checker.shutdown(wait=True, cancel_futures=True)

    def _blocked(self, address: str) -> bool:
        with self._lock:
            failures = self._failures.get(address)
            if not failures:
                return False
            horizon = self._monotonic() - self._throttle.window
            while failures and failures[0] < horizon:
                failures.popleft()
            if not failures:
                del self._failures[address]
            return len(failures) >= self._throttle.max_failures

    def _record_failure(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, deque()).append(self._monotonic())

    def get_home_dir(self, username: str) -> str:
        return str(self._home_of(self.camera_name(username)))

    def has_user(self, username: str) -> bool:
        try:
            self._cameras.get(username)
        except UnknownCamera:
            return False
        return True

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        if perm not in CAMERA_PERMISSIONS:
            return False
        if path is None:
            return True
        home = Path(self.get_home_dir(username))
        return Path(path) == home or Path(path).is_relative_to(home)

    def get_perms(self, username: str) -> str:
        return CAMERA_PERMISSIONS

    def get_msg_login(self, username: str) -> str:
        return f"Welcome, camera {self.camera_name(username)}."

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."

    def impersonate_user(self, username: str, password: str) -> None:
        """Every camera's files belong to the gateway's own system user."""

    def terminate_impersonation(self, username: str) -> None:
        """Nothing to undo: see :meth:`impersonate_user`."""
