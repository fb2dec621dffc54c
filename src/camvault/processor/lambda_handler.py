"""The processor on AWS Lambda: ``camvault.processor.lambda_handler.handler``.

A thin shell around the one ``Processor.process`` every delivery path calls:

- the invocation is parsed by ``domain.events.parse_event`` (S3 direct, SQS batches, SNS,
  EventBridge, MinIO and Ceph shapes; ``s3:TestEvent`` ignored), and **every** record of every
  delivery is processed, in order;
- SQS batches answer ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}`` naming only
  the messages that failed (enable ``ReportBatchItemFailures`` on the event source mapping), so
  SQS redelivers just those and, after the queue's ``maxReceiveCount``, moves them to the
  dead-letter queue. A message fails when its body cannot be parsed, when it announces an object
  of another bucket, or when processing one of its records raises. An object that no longer
  exists, a derived object or a key outside the prefix is skipped, not failed: retrying would
  change nothing;
- a failure that no message id can name (a direct invocation, a message without ``messageId``)
  raises ``ProcessingFailed`` after every other record was processed, so Lambda retries the
  invocation (processing is idempotent) and finally hands it to the function's failure
  destination;
- one JSON line per record goes to stdout (CloudWatch Logs): request id, message id, bucket,
  key, status, event id, whether the entry was new, reason and duration. Keys and ids only,
  never object contents, metadata values or credentials.

Settings come from the environment (``CAMVAULT_STORAGE_URL``, ``CAMVAULT_CATALOG_URL``, other
``CAMVAULT_*``; ``CAMVAULT_CONFIG`` if a file is shipped). Store, catalog and processor are built
once per container, on the first invocation, by ``factory.build_processor_runtime``, and reused.
Importing this module loads what processing needs and nothing from FTP, HTTP or the CLI.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from camvault.domain.events import Delivery, EventParseError, ObjectCreated, parse_event
from camvault.processor.core import Processor

LAMBDA_SETTINGS = "CAMVAULT_STORAGE_URL and CAMVAULT_CATALOG_URL (or CAMVAULT_CONFIG)"
LogLine = dict[str, Any]
Log = Callable[[LogLine], None]


class ProcessingFailed(RuntimeError):
    """Some records of an invocation that SQS cannot retry one by one failed; retry it all."""


def json_lines(stream: TextIO | None = None) -> Log:
    """A log that writes each line as one JSON object (stdout by default)."""

    def log(line: LogLine) -> None:
        target = stream if stream is not None else sys.stdout
        target.write(json.dumps(line, sort_keys=True, default=str) + "\n")
        target.flush()

    return log


class LambdaProcessor:
    """Processes every record of one invocation and says which SQS messages failed."""

    def __init__(
        self,
        processor: Processor,
        *,
        bucket: str | None,
        log: Log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._processor = processor
        self._bucket = bucket
        self._log = log
        self._clock = clock

    def handle(self, event: object, request_id: str | None = None) -> dict[str, Any]:
        try:
            deliveries = parse_event(event)
        except EventParseError as exc:
            self._log({"level": "error", "request_id": request_id, "status": "rejected", "reason": str(exc)})
            raise ProcessingFailed(f"not a storage notification: {exc}") from None
        failed = [delivery for delivery in deliveries if not self._deliver(delivery, request_id)]
        unnamed = [delivery for delivery in failed if delivery.message_id is None]
        if unnamed:
            reasons = "; ".join(delivery.error or "a record failed" for delivery in unnamed)
            raise ProcessingFailed(f"{len(unnamed)} delivery(ies) failed, retry the invocation: {reasons}")
        return {"batchItemFailures": [{"itemIdentifier": delivery.message_id} for delivery in failed]}

    def _deliver(self, delivery: Delivery, request_id: str | None) -> bool:
        """Process every record of one delivery; False when any part failed."""
        base = {"request_id": request_id, "message_id": delivery.message_id}
        for reason in delivery.ignored:
            self._log({**base, "level": "info", "status": "ignored", "reason": reason})
        ok = delivery.error is None
        if not ok:
            self._log({**base, "level": "error", "status": "rejected", "reason": delivery.error})
        for record in delivery.records:
            ok = self._record(record, base) and ok
        return ok

    def _record(self, record: ObjectCreated, base: LogLine) -> bool:
        started = self._clock()
        line: LogLine = {**base, "bucket": record.bucket, "key": record.key, "event_name": record.event_name}
        if self._bucket is not None and record.bucket != self._bucket:
            reason = f"bucket {record.bucket!r} is not the configured bucket {self._bucket!r}"
            self._log({**line, "level": "error", "status": "failed", "reason": reason})
            return False
        try:
            outcome = self._processor.process(record.key)
        except Exception as exc:  # any failure leaves the message for SQS to redeliver
            self._log(
                {
                    **line,
                    "level": "error",
                    "status": "failed",
                    "reason": f"{type(exc).__name__}: {exc}",
                    "duration_ms": self._elapsed_ms(started),
                }
            )
            return False
        event = outcome.event
        self._log(
            {
                **line,
                "level": "warning" if outcome.status == "rejected" else "info",
                "status": outcome.status,
                "event_id": event.id if event else None,
                "new": outcome.new,
                "playable": event.playable if event else None,
                "reason": outcome.reason,
                "duration_ms": self._elapsed_ms(started),
            }
        )
        return True

    def _elapsed_ms(self, started: float) -> float:
        return round((self._clock() - started) * 1000, 1)


@cache
def _container() -> LambdaProcessor:
    """The processor of this Lambda container, built from the environment on first use.

    Cached for the life of the container (Lambda reuses it across invocations); a failure is
    not cached, so the next invocation tries again.
    """
    from camvault.config.loader import ConfigError, load_config
    from camvault.factory import build_processor_runtime

    try:
        config = load_config(None, os.environ, Path.cwd())
    except ConfigError as exc:
        raise ConfigError(f"{exc} (on Lambda: set {LAMBDA_SETTINGS} in the function's environment)") from None
    runtime = build_processor_runtime(config)
    return LambdaProcessor(runtime.processor, bucket=runtime.bucket, log=json_lines())


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """The Lambda entry point."""
    return _container().handle(event, getattr(context, "aws_request_id", None))
