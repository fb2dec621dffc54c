"""Pure parts of the spool side of the gateway: upload ids and the Prometheus exposition."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from camvault.gateway.metrics import GatewayFigures, prometheus_text
from camvault.gateway.spool import Arrival, upload_id
from camvault.workqueue import QueueStats

pytestmark = pytest.mark.unit

FIGURES = GatewayFigures(
    outbox_depth=3,
    outbox_bytes=4096,
    outbox_failed=1,
    oldest_pending_age_s=12.5,
    last_error='StoreError: cannot store "a\\b"\nsecond line',
    uploads_per_second=0.25,
    uploaded=10,
    rejected=2,
    ignored=4,
    aborted=1,
    refusal=None,
)


def samples(text: str) -> dict[str, str]:
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))


def test_every_figure_is_a_sample_with_help_and_type() -> None:
    text = prometheus_text(FIGURES)
    values = samples(text)
    assert values["camvault_gateway_outbox_depth"] == "3"
    assert values["camvault_gateway_outbox_bytes"] == "4096"
    assert values["camvault_gateway_outbox_failed"] == "1"
    assert values["camvault_gateway_oldest_pending_age_seconds"] == "12.5"
    assert values["camvault_gateway_uploads_per_second"] == "0.25"
    assert values["camvault_gateway_uploads_total"] == "10"
    assert values["camvault_gateway_rejected_uploads_total"] == "2"
    assert values["camvault_gateway_ignored_uploads_total"] == "4"
    assert values["camvault_gateway_aborted_uploads_total"] == "1"
    assert values["camvault_gateway_accepting_uploads"] == "1"
    for name in values:
        base = name.split("{")[0]
        assert f"# HELP {base} " in text and f"# TYPE {base} " in text
    assert text.endswith("\n")


def test_the_last_error_is_an_escaped_label_on_one_line() -> None:
    text = prometheus_text(FIGURES)
    (line,) = [line for line in text.splitlines() if line.startswith("camvault_gateway_last_error_info")]
    assert (
        line
        == 'camvault_gateway_last_error_info{error="StoreError: cannot store \\"a\\\\b\\"\\nsecond line"} 1'
    )


def test_a_refusal_shows_as_not_accepting_and_no_error_as_no_label() -> None:
    refusing = GatewayFigures(**{**FIGURES.__dict__, "refusal": "spool full", "last_error": None})
    text = prometheus_text(refusing)
    assert samples(text)["camvault_gateway_accepting_uploads"] == "0"
    assert "last_error" not in text


def test_processor_figures_are_added_when_given() -> None:
    stats = QueueStats(pending=7, failed=2, oldest_pending=None, last_error=None, counters={})
    values = samples(prometheus_text(FIGURES, stats))
    assert (values["camvault_processor_pending"], values["camvault_processor_failed"]) == ("7", "2")


def test_an_arrival_always_gets_the_same_id_and_another_arrival_another() -> None:
    arrival = Arrival("porch", "record/a.mp4", datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    same_instant = Arrival(
        "porch", "record/a.mp4", datetime(2025, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    )
    assert upload_id(arrival) == upload_id(same_instant)
    assert re.fullmatch(r"[0-9a-f]{32}", upload_id(arrival))
    others = {
        Arrival("garage", "record/a.mp4", arrival.received),
        Arrival("porch", "record/b.mp4", arrival.received),
        Arrival("porch", "record/a.mp4", arrival.received + timedelta(microseconds=1)),
    }
    assert len({upload_id(other) for other in others} | {upload_id(arrival)}) == 4
