"""cfn-lint, AWS's template linter, finds no error and no warning in the generated template, for
one site and several, on both architectures, in the regions camvault documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from camvault.aws.stack import stack_settings
from camvault.aws.template import build_template
from camvault.config.loader import load_config

pytestmark = pytest.mark.functional


@pytest.mark.parametrize(("sites", "architecture"), [("home", "arm64"), ("home,shop,cabin", "x86_64")])
def test_template_passes_cfn_lint(sites: str, architecture: str) -> None:
    from cfnlint.api import ManualArgs, lint

    env = {
        "CAMVAULT_STORAGE_URL": "s3://my-camvault/patrolcams",
        "CAMVAULT_CATALOG_URL": "dynamodb://camvault",
        "CAMVAULT_AWS_SITES": sites,
        "CAMVAULT_AWS_ARCHITECTURE": architecture,
    }
    template = build_template(stack_settings(load_config(None, env, Path("/nonexistent"))))
    matches = lint(
        json.dumps(template, indent=2),
        config=ManualArgs(regions=["us-east-1", "eu-west-1", "ap-southeast-2"]),
    )
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


def test_cfn_lint_catches_a_broken_template() -> None:
    """The check above can fail: a table without its key attribute is reported."""
    from cfnlint.api import ManualArgs, lint

    env = {
        "CAMVAULT_STORAGE_URL": "s3://my-camvault/patrolcams",
        "CAMVAULT_CATALOG_URL": "dynamodb://camvault",
    }
    template = build_template(stack_settings(load_config(None, env, Path("/nonexistent"))))
    del template["Resources"]["CatalogTable"]["Properties"]["KeySchema"]
    assert lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
