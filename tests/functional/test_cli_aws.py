"""The ``camvault aws`` verbs from a person's point of view: plan prints or writes the template,
settings that cannot be deployed and a destroy without --yes stop with one line saying why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import camvault, init_data

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
