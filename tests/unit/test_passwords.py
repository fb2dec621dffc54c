"""Secrets are stored only as salted scrypt hashes and checked in constant time."""

from __future__ import annotations

import pytest

from camvault.accounts.passwords import hash_secret, new_secret, verify_secret

pytestmark = pytest.mark.unit


def test_hash_verifies_only_the_same_secret() -> None:
    stored = hash_secret("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert "correct horse" not in stored
    assert verify_secret("correct horse", stored)
    assert not verify_secret("correct hors", stored)
    assert not verify_secret("", stored)


def test_same_secret_hashes_differently_each_time() -> None:
    assert hash_secret("s3cret") != hash_secret("s3cret")


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$1$2$3", "bcrypt$x$y$z$a$b", "scrypt$a$b$c$d$e"])
def test_malformed_stored_values_never_verify(stored: str) -> None:
    assert not verify_secret("anything", stored)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty password"):
        hash_secret("")


def test_new_secrets_are_long_and_unique() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(s) >= 24 for s in secrets)
