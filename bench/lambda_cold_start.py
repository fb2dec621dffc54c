"""How long the processor Lambda's cold start takes before it touches its first object.

    .venv/bin/python bench/lambda_cold_start.py [--runs 10]

Each run is a fresh Python process, as a new Lambda container is. It measures, inside that
process: importing ``camvault.processor.lambda_handler``; the first invocation (an
``s3:TestEvent``, which is ignored, so this is building store, catalog and processor from the
environment: boto3 clients, no network call); and a second, warm invocation. As references in
the same run: a bare interpreter start (``python -c pass``, measured from outside) and importing
PyAV alone (the processor's largest dependency, needed to probe and thumbnail). Prints one JSON
object with the median, minimum and maximum of each, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# run as a script, bench/ is on sys.path but its parent (the package root) is not
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.procfs import cpu_model

CHILD = """
import json, sys, time
started = time.perf_counter()
from camvault.processor.lambda_handler import handler
imported = time.perf_counter()
event = {"Records": [{"messageId": "m", "eventSource": "aws:sqs",
                      "body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})}]}
handler(event, None)
first = time.perf_counter()
handler(event, None)
second = time.perf_counter()
sys.stderr.write(json.dumps({"import": imported - started, "first_call": first - imported,
                             "warm_call": second - first}) + "\\n")
"""
AV_ONLY = """
import json, sys, time
started = time.perf_counter()
import av
sys.stderr.write(json.dumps({"import_av": time.perf_counter() - started}) + "\\n")
"""
ENVIRONMENT = {
    "CAMVAULT_STORAGE_URL": "s3://bench-bucket/patrolcams",
    "CAMVAULT_STORAGE_ENDPOINT_URL": "http://127.0.0.1:9",
    "CAMVAULT_CATALOG_URL": "dynamodb://bench-events",
    "CAMVAULT_CATALOG_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def child(code: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CAMVAULT_"))}
    env.update(ENVIRONMENT)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    result: dict[str, float] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


def bare_start() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
    return time.perf_counter() - started


def summary(samples: list[float]) -> dict[str, float]:
    ms = [sample * 1000 for sample in samples]
    return {"median": round(statistics.median(ms), 1), "min": round(min(ms), 1), "max": round(max(ms), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"bare_interpreter": [], "import_av": []}
    for _ in range(args.runs):
        samples["bare_interpreter"].append(bare_start())
        for name, value in {**child(CHILD), **child(AV_ONLY)}.items():
            samples.setdefault(name, []).append(value)
    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "machine": f"{cpu_model()}, {os.cpu_count()} CPUs, {platform.machine()}",
        "load_average": os.getloadavg(),
        "runs": args.runs,
        "ms": {name: summary(values) for name, values in samples.items()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
