"""The ``camvault aws`` verbs from a person's point of view: plan prints or writes the template,
settings that cannot be deployed and a destroy without --yes stop with one line saying why."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest

from tests.support.cli import camvault, camvault_process, init_data
from tests.support.moto import MotoServer, unique_name

pytestmark = pytest.mark.functional


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return init_data(
        tmp_path / "site",
        {
            "storage.url": "s3://my-camvault/patrolcams",
            "catalog.url": "dynamodb://camvault",
            "aws.sites": "home,shop",
        },
    )


def test_plan_prints_the_template(config: Path) -> None:
    run = camvault("aws", "plan", "--config", config)
    assert run.code == 0, run.err
    template = json.loads(run.out)
    assert template["Resources"]["Bucket"]["Properties"]["BucketName"] == "my-camvault"
    assert {"GatewayUserHome", "GatewayUserShop"} <= set(template["Resources"])


def test_plan_writes_the_template_to_a_file(config: Path, tmp_path: Path) -> None:
    target = tmp_path / "stack.json"
    run = camvault("aws", "plan", "--output", target, "--config", config)
    assert run.code == 0 and run.out == ""
    assert json.loads(target.read_text())["AWSTemplateFormatVersion"] == "2010-09-09"
    assert str(target) in run.err


def test_plan_of_an_embedded_install_says_what_aws_needs(tmp_path: Path) -> None:
    config = init_data(tmp_path / "local")
    run = camvault("aws", "plan", "--config", config)
    assert run.code == 1 and run.out == ""
    assert run.err.startswith("camvault: error: [storage] url = 'file://objects': AWS deployment needs s3://")
    assert len(run.err.splitlines()) == 1


def test_destroy_needs_yes_and_says_what_it_keeps(config: Path) -> None:
    run = camvault("aws", "destroy", "--config", config)
    assert run.code == 1
    assert "keeps s3://my-camvault" in run.err and "--yes" in run.err
    assert len(run.err.splitlines()) == 1


def test_deploy_without_a_package_says_how_to_build_it(config: Path, tmp_path: Path) -> None:
    run = camvault("aws", "deploy", "--package", tmp_path / "missing.zip", "--config", config)
    assert run.code == 1
    assert "no Lambda package at" in run.err and "camvault aws package" in run.err


def test_deploy_without_a_region_says_where_to_set_it(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    package = tmp_path / "camvault-lambda.zip"
    package.write_bytes(b"PK")
    run = camvault("aws", "deploy", "--package", package, "--config", config)
    assert run.code == 1
    assert run.err == "camvault: error: no AWS region: set [storage] region in camvault.toml, or AWS_REGION\n"


@pytest.mark.filterwarnings("ignore:Tried to parse AWS.*not supported by moto:UserWarning")
def test_deploy_and_destroy_from_the_command_line(moto_server: MotoServer, tmp_path: Path) -> None:
    """The verbs as a person runs them, in a separate process whose AWS SDK talks to moto
    (``AWS_ENDPOINT_URL``); the credentials file lands beside the config file."""
    bucket = unique_name("cli").lower()
    config = init_data(
        tmp_path / "site",
        {
            "storage.url": f"s3://{bucket}/patrolcams",
            "storage.region": moto_server.region,
            "catalog.url": f"dynamodb://{unique_name('events')}",
            "aws.stack_name": unique_name("cli"),
            "aws.sites": "home",
        },
    )
    package = tmp_path / "camvault-lambda.zip"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("camvault/__init__.py", "")
    env = moto_server.environ()
    deployed = camvault_process("aws", "deploy", "--package", package, "--config", config, env=env)
    assert deployed.code == 0, deployed.err
    assert "is ready" in deployed.out and f"s3://{bucket}/patrolcams/" in deployed.out
    credentials = config.parent / "gateway-home.env"
    assert f"credentials in {credentials}" in deployed.out
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    destroyed = camvault_process("aws", "destroy", "--yes", "--config", config, env=env)
    assert destroyed.code == 0, destroyed.err
    assert "deleted" in destroyed.out and f"kept s3://{bucket}" in destroyed.out
    s3 = moto_server.client("s3")
    try:
        s3.delete_bucket(Bucket=bucket)
    finally:
        s3.close()
