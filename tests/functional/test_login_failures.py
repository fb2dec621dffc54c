"""Failed logins counted in the accounts file: every authenticator (every process) that opens the
same file shares the count, a restart keeps it, and the table stays bounded. Real SQLite; the
clock is the only thing moved by hand."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from camvault.accounts.auth_base import Authenticator, Throttled
from camvault.accounts.failures import LoginFailures
from camvault.accounts.schema import open_accounts
from camvault.accounts.throttle import FailureLog, LoginThrottle, MemoryFailures
from camvault.config.loader import load_config
from camvault.factory import open_auth
from tests.support.api import ADMIN_SECRET, authenticator
from tests.support.cli import init_data
from tests.support.timing import Clock

pytestmark = pytest.mark.functional

ATTEMPTS = 3
WINDOW = timedelta(minutes=10)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def open_pair(accounts: Path, clock: Clock) -> tuple[Authenticator, Authenticator]:
    """Two authenticators over one accounts file, as two worker processes have."""
    return (
        authenticator(accounts, clock=clock, attempts=ATTEMPTS, window=WINDOW),
        authenticator(accounts, clock=clock, attempts=ATTEMPTS, window=WINDOW),
    )


@pytest.fixture
def pair(tmp_path: Path, clock: Clock) -> Iterator[tuple[Authenticator, Authenticator]]:
    first, second = open_pair(tmp_path / "accounts.db", clock)
    yield first, second
    first.close()
    second.close()


def rows(accounts: Path) -> int:
    with closing(sqlite3.connect(accounts)) as db:
        return int(db.execute("SELECT COUNT(*) FROM login_failures").fetchone()[0])


def test_failures_through_one_authenticator_throttle_the_other(
    pair: tuple[Authenticator, Authenticator],
) -> None:
    first, second = pair
    for _ in range(ATTEMPTS):
        assert first.login("admin", "guess", "203.0.113.1") is None
    with pytest.raises(Throttled) as refused:
        second.login("admin", ADMIN_SECRET, "203.0.113.1")  # even the right password
    assert refused.value.retry_after_s == WINDOW.total_seconds()
    with pytest.raises(Throttled):  # the user, from another address
        second.login("ADMIN", ADMIN_SECRET, "198.51.100.2")
    with pytest.raises(Throttled):  # the address, for another user
        second.login("bob", "whatever", "203.0.113.1")
    with pytest.raises(Throttled):  # the address, guessing Bearer tokens
        second.bearer("guess", "203.0.113.1")
    assert second.bearer(ADMIN_SECRET, "192.0.2.3") == "admin"  # others are not held up


def test_failures_spread_over_both_count_together_and_the_window_slides(
    pair: tuple[Authenticator, Authenticator], clock: Clock
) -> None:
    first, second = pair
    start = clock.now
    for seconds, auth in ((0, first), (100, second), (200, first)):
        clock.now = start + timedelta(seconds=seconds)
        assert auth.login("alice", "guess", f"203.0.113.{seconds // 100}") is None
    clock.now = start + timedelta(seconds=250)
    with pytest.raises(Throttled) as refused:
        second.login("alice", "guess", "192.0.2.9")
    assert refused.value.retry_after_s == 350  # the failure at 0 s leaves the window at 600 s
    clock.now = start + timedelta(seconds=600)
    assert first.login("alice", "guess", "192.0.2.9") is None  # one left the window: one more try
    with pytest.raises(Throttled) as again:
        second.login("alice", "guess", "192.0.2.10")
    assert again.value.retry_after_s == 100  # now the failure at 100 s is the oldest that counts


def test_the_count_survives_reopening_the_accounts_file(tmp_path: Path, clock: Clock) -> None:
    first, second = open_pair(tmp_path / "accounts.db", clock)
    for _ in range(ATTEMPTS):
        assert first.login("admin", "guess", "203.0.113.1") is None
    first.close()
    second.close()
    reopened = authenticator(tmp_path / "accounts.db", clock=clock, attempts=ATTEMPTS, window=WINDOW)
    try:
        with pytest.raises(Throttled):
            reopened.login("admin", ADMIN_SECRET, "203.0.113.1")
        clock.now += WINDOW
        assert reopened.login("admin", ADMIN_SECRET, "203.0.113.1") is not None
    finally:
        reopened.close()


def test_the_configured_authenticator_counts_in_the_accounts_file(tmp_path: Path) -> None:
    config = load_config(str(init_data(tmp_path / "data", {"auth.login_attempts": 2})), {}, tmp_path)
    first, second = open_auth(config), open_auth(config)
    try:
        for _ in range(2):
            assert first.login("admin", "guess", "203.0.113.1") is None
        with pytest.raises(Throttled):
            second.login("admin", "guess", "198.51.100.2")
    finally:
        first.close()
        second.close()


def test_failures_that_left_the_window_are_deleted(
    pair: tuple[Authenticator, Authenticator], clock: Clock, tmp_path: Path
) -> None:
    first, _ = pair
    for number in range(5):
        assert first.login(f"user{number}", "guess", f"203.0.113.{number}") is None
    assert rows(tmp_path / "accounts.db") == 10  # one per address, one per user name
    clock.now += WINDOW
    assert first.login("carol", "guess", "192.0.2.1") is None
    assert rows(tmp_path / "accounts.db") == 2  # only the new failure's


def test_the_table_is_bounded_under_a_flood_of_failures(tmp_path: Path) -> None:
    db = open_accounts(tmp_path / "accounts.db")
    try:
        failures = LoginFailures(db, threading.Lock(), max_rows=50)
        for second in range(100):
            failures.add([("address", f"203.0.113.{second}")], 1_000_000.0 + second, 0.0)
        assert rows(tmp_path / "accounts.db") == 50
        assert failures.recent(("address", "203.0.113.99"), 0.0, 5) == [1_000_099.0]  # newest kept
        assert failures.recent(("address", "203.0.113.0"), 0.0, 5) == []  # oldest dropped
    finally:
        db.close()


@pytest.mark.parametrize("kind", ["memory", "accounts file"])
def test_both_failure_logs_follow_the_same_window(kind: str, tmp_path: Path, clock: Clock) -> None:
    db = open_accounts(tmp_path / "accounts.db")
    log: FailureLog = MemoryFailures() if kind == "memory" else LoginFailures(db, threading.Lock())
    throttle = LoginThrottle(2, timedelta(seconds=60), clock, log)
    try:
        throttle.failed("203.0.113.1", "Alice")
        clock.now += timedelta(seconds=30)
        throttle.failed("198.51.100.2", "alice")
        with pytest.raises(Throttled) as refused:
            throttle.check("192.0.2.3", "ALICE")
        assert refused.value.retry_after_s == 30
        throttle.check("203.0.113.1", None)  # one failure per address: not yet
        clock.now += timedelta(seconds=30)  # the first failure is exactly a window old: gone
        throttle.check("192.0.2.3", "alice")
    finally:
        db.close()
