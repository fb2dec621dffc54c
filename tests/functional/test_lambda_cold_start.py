"""The processor Lambda's cold start: a fresh interpreter imports the handler, builds its runtime
from the environment alone (as on Lambda) and processes one SQS message, without ever importing
the web, FTP or CLI parts. The import time itself is measured by bench/lambda_cold_start.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from camvault.catalog.dynamodb import DynamoDBCatalog, create_table
from camvault.config.loader import ConfigError
from camvault.domain.keys import event_id_for_key
from camvault.domain.notifications import object_created_notification
from camvault.processor.lambda_handler import handler
from camvault.store.s3 import S3Store
from tests.support.media import make_clip
from tests.support.moto import MotoServer, unique_name
from tests.support.seaweed import SeaweedServer

pytestmark = pytest.mark.functional

NOT_FOR_PROCESSING = ["fastapi", "uvicorn", "pyftpdlib", "camvault.cli", "starlette", "camvault.api"]
INVOKE = """
import json, sys
from camvault.processor.lambda_handler import handler
heavy = json.loads(sys.argv[2])
loaded_by_import = [name for name in heavy if name in sys.modules]

class Context:
    aws_request_id = "cold-1"

answer = handler(json.loads(sys.argv[1]), Context())
loaded_by_call = [name for name in heavy if name in sys.modules]
print(json.dumps({"answer": answer, "import": loaded_by_import, "call": loaded_by_call}))
"""


@pytest.fixture
def table(moto_server: MotoServer) -> Iterator[str]:
    name = unique_name("cold")
    admin = moto_server.client("dynamodb")
    create_table(admin, name)
    yield name
    admin.delete_table(TableName=name)
    admin.close()


def lambda_environment(
    seaweed: SeaweedServer, moto_server: MotoServer, table: str, prefix: str
) -> dict[str, str]:
    """Only what a Lambda function gets: its variables and credentials, nothing of this machine's
    AWS or camvault settings. moto accepts any credentials, so the store's serve both."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CAMVAULT_"))}
    env.update(
        {
            "CAMVAULT_STORAGE_URL": f"s3://{seaweed.bucket}/{prefix}",
            "CAMVAULT_STORAGE_ENDPOINT_URL": seaweed.endpoint_url,
            "CAMVAULT_STORAGE_REGION": seaweed.region,
            "CAMVAULT_CATALOG_URL": f"dynamodb://{table}",
            "CAMVAULT_CATALOG_ENDPOINT_URL": moto_server.endpoint_url,
            "AWS_ACCESS_KEY_ID": seaweed.access_key,
            "AWS_SECRET_ACCESS_KEY": seaweed.secret_key,
            "AWS_DEFAULT_REGION": seaweed.region,
        }
    )
    return env


def test_a_fresh_container_processes_a_message_without_web_ftp_or_cli(
    seaweed: SeaweedServer, moto_server: MotoServer, table: str, tmp_path: Path
) -> None:
    prefix = unique_name("cold")
    key = f"{prefix}/porch/2024-03-10/Hour-09/record/clip.mp4"
    store = S3Store(seaweed.bucket, client=seaweed.client())
    try:
        store.put(key, make_clip(tmp_path / "clip.mp4").read_bytes(), content_type="video/mp4")
        notice = object_created_notification(
            bucket=seaweed.bucket, key=key, size=1, etag=None, event_time=datetime(2024, 3, 10, 9, tzinfo=UTC)
        )
        message = {"messageId": "m-1", "body": json.dumps(notice), "eventSource": "aws:sqs"}

        done = subprocess.run(
            [
                sys.executable,
                "-c",
                INVOKE,
                json.dumps({"Records": [message]}),
                json.dumps(NOT_FOR_PROCESSING),
            ],
            env=lambda_environment(seaweed, moto_server, table, prefix),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        for info in list(store.list(prefix + "/")):
            store.delete(info.key)
        store.close()

    assert done.returncode == 0, done.stderr
    *log_lines, result_line = done.stdout.strip().splitlines()
    result = json.loads(result_line)
    assert result == {"answer": {"batchItemFailures": []}, "import": [], "call": []}
    [line] = [json.loads(text) for text in log_lines]
    assert (line["request_id"], line["key"], line["status"], line["new"]) == (
        "cold-1",
        key,
        "cataloged",
        True,
    )
    with DynamoDBCatalog(moto_server.client("dynamodb"), table) as catalog:
        stored = catalog.get(event_id_for_key(key))
    assert stored is not None
    assert stored.playable is True


def test_a_container_without_settings_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CAMVAULT_CONFIG", "CAMVAULT_STORAGE_URL", "CAMVAULT_CATALOG_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError, match=r"no configuration.*on Lambda: set CAMVAULT_STORAGE_URL"):
        handler({"Records": []}, None)
