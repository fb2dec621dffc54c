"""Login throttling: a sliding window of failures per client address and per user name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from camvault.accounts.throttle import LoginThrottle, Throttled

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_the_window_slides_and_says_how_long_to_wait() -> None:
    clock = Clock()
    throttle = LoginThrottle(3, timedelta(seconds=60), clock)
    for seconds in (0, 10, 20):
        clock.now = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        throttle.check("203.0.113.1", "alice")
        throttle.failed("203.0.113.1", "alice")
    with pytest.raises(Throttled) as refused:
        throttle.check("203.0.113.1", "alice")
    assert refused.value.retry_after_s == 40  # the first failure leaves the window at 60 s
    clock.now += timedelta(seconds=40)
    throttle.check("203.0.113.1", "alice")  # one failure has left: one more try allowed
    throttle.failed("203.0.113.1", "alice")
    with pytest.raises(Throttled) as again:
        throttle.check("203.0.113.1", "alice")
    assert again.value.retry_after_s == 10


def test_addresses_and_user_names_are_counted_separately_and_ignore_case() -> None:
    throttle = LoginThrottle(2, timedelta(minutes=1), Clock())
    throttle.failed("203.0.113.1", "Alice")
    throttle.failed("198.51.100.2", "alice")
    with pytest.raises(Throttled):
        throttle.check("192.0.2.3", "ALICE")
    throttle.check("203.0.113.1", "bob")
    throttle.failed("203.0.113.1", None)  # a wrong Bearer token: the address only
    with pytest.raises(Throttled):
        throttle.check("203.0.113.1", "bob")
