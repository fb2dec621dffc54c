"""schemathesis against the published OpenAPI document, signed in with a valid token: whatever
it generates (odd strings, huge numbers, missing fields) for every operation, no route answers
with a 5xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.openapi import from_url

from camvault.api.app import create_app
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.store.local import LocalStore
from tests.support.api import ADMIN, authenticator, event, served_http

pytestmark = pytest.mark.functional

EXAMPLES = 40  # per operation; the whole test stays well under a minute


def test_no_generated_request_gets_a_server_error(tmp_path: Path) -> None:
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    store = LocalStore(tmp_path / "objects")
    start = datetime(2024, 11, 3, tzinfo=UTC)
    for hour in range(30):
        clip = event("porch" if hour % 2 else "garage", start + timedelta(hours=hour), small=True)
        store.put(clip.key, b"clip bytes", content_type="video/mp4")
        catalog.put(clip)
    auth = authenticator(tmp_path / "accounts.db", attempts=1_000_000)
    try:
        with served_http(create_app(catalog, auth, store=store)) as base_url:
            schema = from_url(f"{base_url}/api/v1/openapi.json", headers=ADMIN)
            operations = [result.ok() for result in schema.get_all_operations()]
            assert len(operations) >= 8
            statuses: set[int] = set()
            for operation in operations:
                fuzz(operation.as_strategy(), statuses)
        assert {200, 400} <= statuses  # signed in for real, and odd input was both tried and refused
    finally:
        auth.close()
        catalog.close()


def fuzz(strategy: object, statuses: set[int]) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Case) -> None:
        response = case.call(headers=ADMIN)
        statuses.add(response.status_code)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"

    check()
