"""What one clip costs the processor Lambda: duration, peak memory and AWS requests per clip.

    .venv/bin/python bench/lambda_processor.py [--clips 10] [--seconds 20]

Runs moto's server (S3, DynamoDB) as a separate process, uploads camera-like clips (1280x720,
15 fps, H.264) and hands the processor handler one SQS event per clip, as Lambda would, in a
fresh Python process whose peak RSS is the function's memory need. It counts the S3 and
DynamoDB calls the handler makes per clip (the cost model of docs/aws.md) and, as the reference
in the same run, times what the original system's handler did per clip: two DynamoDB PutItem
calls, no probe, no thumbnail. Prints one JSON object.

Moto answers on loopback, so S3 and DynamoDB latencies are lower than in AWS: durations here
are a floor for the I/O part and a fair measure of the CPU part (probe and thumbnail).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUCKET, PREFIX, TABLE, REGION = "bench-camvault", "patrolcams", "bench-events", "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (loopback moto)
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def clip_key(index: int) -> str:
    return f"{PREFIX}/backyard/2016-10-18/Hour-18/record/MDalarm_20161018_11{index:02d}06.mp4"


def prepare(endpoint: str, clips: int, seconds: float, folder: Path) -> int:
    """Bucket, table and ``clips`` uploaded clips; the clip size in bytes."""
    import boto3
    from tests.support.media import make_clip

    from camvault.catalog.dynamodb import create_table

    clip = make_clip(folder / "clip.mp4", seconds=seconds, width=1280, height=720, fps=15)
    session = boto3.session.Session(
        **{k.lower(): v for k, v in CREDENTIALS.items() if k != "AWS_DEFAULT_REGION"}
    )
    s3 = session.client("s3", endpoint_url=endpoint, region_name=REGION)
    ddb = session.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    create_table(ddb, TABLE)
    ddb.create_table(
        TableName="reference",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("camera_name", "event_ts")
        ],
        KeySchema=[
            {"AttributeName": "camera_name", "KeyType": "HASH"},
            {"AttributeName": "event_ts", "KeyType": "RANGE"},
        ],
    )
    data = clip.read_bytes()
    for index in range(clips):
        s3.put_object(
            Bucket=BUCKET,
            Key=clip_key(index),
            Body=data,
            ContentType="video/mp4",
            Metadata={"camera": "backyard", "capture-time": f"2016-10-18T18:{index:02d}:06.000+00:00"},
        )
    s3.close()
    ddb.close()
    return len(data)


def sqs_event(key: str, index: int) -> dict[str, Any]:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 0}},
    }
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "body": json.dumps({"Records": [record]}),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:bench",
            }
        ]
    }


def counted(client: Any, calls: Counter[str]) -> Any:
    """Count every API call a boto3 client makes (botocore's own event hook)."""
    service = client.meta.service_model.service_name

    def count(model: Any, **_: Any) -> None:
        calls[f"{service}:{model.name}"] += 1

    client.meta.events.register("before-call.*.*", count)
    return client


def count_transaction_items(client: Any, sizes: list[int]) -> None:
    """Record the approximate size (bytes of JSON) of each item a transaction writes."""

    def record(params: dict[str, Any], **_: Any) -> None:
        for write in params["TransactItems"]:
            for part in write.values():
                sizes.append(len(json.dumps(part.get("Item") or part.get("Key") or {})))

    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", record)


def measure(endpoint: str, clips: int) -> dict[str, Any]:
    """Runs in a fresh process: cold start, per-clip duration, peak memory, calls per clip."""
    started = time.perf_counter()
    from camvault.processor import lambda_handler

    import_s = time.perf_counter() - started
    from pathlib import Path as _Path

    from camvault.catalog.dynamodb import DynamoDBCatalog, make_dynamodb_client
    from camvault.config.loader import load_config
    from camvault.factory import processor_settings
    from camvault.processor.core import Processor
    from camvault.store.s3 import S3Store, make_s3_client

    env = {
        "CAMVAULT_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}",
        "CAMVAULT_CATALOG_URL": f"dynamodb://{TABLE}",
    }
    config = load_config(None, env, _Path.cwd())
    calls: Counter[str] = Counter()
    s3 = counted(make_s3_client(endpoint_url=endpoint, region=REGION, addressing_style="path"), calls)
    ddb = counted(make_dynamodb_client(endpoint_url=endpoint, region=REGION), calls)
    item_sizes: list[int] = []
    count_transaction_items(ddb, item_sizes)
    store = S3Store(BUCKET, client=s3)
    catalog = DynamoDBCatalog(ddb, TABLE, retention_days=30)
    processor = Processor(store, catalog, processor_settings(config), zone_of=lambda _name: None)
    lines: list[dict[str, Any]] = []
    function = lambda_handler.LambdaProcessor(processor, bucket=BUCKET, log=lines.append)
    durations = []
    for index in range(clips):
        begin = time.perf_counter()
        answer = function.handle(sqs_event(clip_key(index), index), f"r-{index}")
        durations.append(time.perf_counter() - begin)
        assert answer == {"batchItemFailures": []}, (answer, lines[-1])
        assert lines[-1]["status"] == "cataloged", lines[-1]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    calls_per_clip = {name: count / clips for name, count in sorted(calls.items())}
    # Each clip's thumbnail is announced too (.jpg under the prefix): one short, skipped invocation.
    derived = []
    for index in range(clips):
        thumbnail = clip_key(index).replace(".mp4", ".thumb.jpg")
        begin = time.perf_counter()
        function.handle(sqs_event(thumbnail, index), f"t-{index}")
        derived.append(time.perf_counter() - begin)
        assert lines[-1]["status"] != "cataloged", lines[-1]
    reference = original_handler(endpoint, clips)
    store.close()
    catalog.close()
    return {
        "import_s": round(import_s, 3),
        "first_clip_s": round(durations[0], 3),
        "warm_median_s": round(statistics.median(durations[1:] or durations), 3),
        "warm_max_s": round(max(durations[1:] or durations), 3),
        "peak_rss_mb": round(peak_mb, 1),
        "calls_per_clip": calls_per_clip,
        "transaction_items_per_clip": len(item_sizes) / clips,
        "largest_transaction_item_bytes": max(item_sizes),
        "thumbnail_notification_median_s": round(statistics.median(derived), 4),
        "reference_original_handler_median_s": round(statistics.median(reference), 4),
    }


def original_handler(endpoint: str, clips: int) -> list[float]:
    """The original system's per-clip work: parse the key, PutItem into two tables."""
    import boto3

    ddb = boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    timings = []
    for index in range(clips):
        begin = time.perf_counter()
        parts = clip_key(index).split("/")
        item = {
            "camera_name": {"S": parts[1]},
            "event_ts": {"S": str(int(time.time() * 1000) + index)},
            "object_key": {"S": clip_key(index)},
            "capture_date": {"S": parts[2]},
            "capture_hour": {"S": parts[3]},
        }
        ddb.put_item(TableName="reference", Item=item)
        ddb.put_item(TableName="reference", Item=item)
        timings.append(time.perf_counter() - begin)
    ddb.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each clip")
    parser.add_argument("--measure", metavar="ENDPOINT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.clips)))
        return
    port = free_port()
    env = {**os.environ, **CREDENTIALS}
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{endpoint}/moto-api/")
        os.environ.update(CREDENTIALS)
        with tempfile.TemporaryDirectory() as folder:
            size = prepare(endpoint, args.clips, args.seconds, Path(folder))
        child = subprocess.run(
            [sys.executable, __file__, "--clips", str(args.clips), "--measure", endpoint],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if child.returncode != 0:
            raise SystemExit(f"measuring failed:\n{child.stderr}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    result |= {
        "clips": args.clips,
        "clip": f"1280x720 15 fps H.264, {args.seconds:g} s, {size / 1e6:.2f} MB",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
