"""``camvault aws plan|deploy|destroy|package``: one command from camvault.toml to a running stack.

``plan`` prints (or writes) the CloudFormation template; ``package`` builds the Lambda zip;
``deploy`` uploads it and applies the template with a change set; ``destroy`` removes the stack
but keeps the bucket of clips. AWS credentials and region come from the usual AWS chain
(``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``…, ``AWS_REGION``) or ``[storage] region``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from camvault.aws.deploy import AwsClients, Deployer, DeployError
from camvault.aws.package import PLATFORMS, PackageError, build_package
from camvault.aws.stack import StackSettings, stack_settings
from camvault.aws.template import build_template
from camvault.cli.errors import CliError
from camvault.config.loader import Config, ConfigError, load_config


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    aws = verbs.add_parser(
        "aws",
        help="deploy to AWS: plan, package, deploy, destroy",
        description="Run camvault on AWS: S3, SQS, Lambda, DynamoDB and an HTTP API (see docs/aws.md).",
    )
    steps = aws.add_subparsers(dest="aws_verb", metavar="STEP", required=True)
    plan = steps.add_parser("plan", parents=[common], help="print the CloudFormation template")
    plan.add_argument("--output", metavar="FILE", type=Path, help="write the template to FILE instead")
    plan.set_defaults(handler=cmd_plan)
    package = steps.add_parser(
        "package", parents=[common], help="build the Lambda package (zip) with manylinux wheels"
    )
    package.add_argument("--arch", choices=sorted(PLATFORMS), help="CPU (default: [aws] architecture)")
    package.add_argument("--output", metavar="ZIP", type=Path, help="default: dist/camvault-lambda-ARCH.zip")
    package.set_defaults(plain_handler=cmd_package)
    deploy = steps.add_parser("deploy", parents=[common], help="create or update the stack")
    deploy.add_argument("--package", metavar="ZIP", type=Path, help="default: dist/camvault-lambda-ARCH.zip")
    deploy.add_argument(
        "--credentials-dir",
        metavar="DIR",
        type=Path,
        help="where new gateway credentials are written (default: the config file's folder)",
    )
    deploy.set_defaults(handler=cmd_deploy)
    destroy = steps.add_parser("destroy", parents=[common], help="delete the stack (the bucket is kept)")
    destroy.add_argument("--yes", action="store_true", help="really delete")
    destroy.set_defaults(handler=cmd_destroy)


def cmd_plan(args: argparse.Namespace, config: Config) -> int:
    text = json.dumps(build_template(stack_settings(config)), indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote the template to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def default_package(architecture: str) -> Path:
    return Path("dist") / f"camvault-lambda-{architecture}.zip"


def cmd_package(args: argparse.Namespace) -> int:
    architecture = args.arch
    if architecture is None:
        architecture = load_config(args.config, os.environ, Path.cwd()).settings.aws.architecture
    output = args.output or default_package(architecture)
    print(f"building the Lambda package for {architecture}", file=sys.stderr)
    try:
        package = build_package(architecture, output, say=lambda line: print(f"  {line}", file=sys.stderr))
    except PackageError as exc:
        raise CliError(str(exc)) from None
    for line in package.report():
        print(line)
    problems = package.over_limits()
    if problems:
        raise CliError(f"{'; '.join(problems)}: the package is too big for Lambda")
    return 0


def open_clients(config: Config) -> AwsClients:
    """CloudFormation, S3 and IAM clients in the stack's region, from the usual AWS chain."""
    try:
        import boto3
    except ImportError:
        raise CliError("`camvault aws` needs boto3: pip install 'camvault[aws]'") from None
    session = boto3.session.Session(region_name=config.settings.storage.region or None)
    if not session.region_name:
        raise ConfigError("no AWS region: set [storage] region in camvault.toml, or AWS_REGION")
    return AwsClients(session.client("cloudformation"), session.client("s3"), session.client("iam"))


def cmd_deploy(args: argparse.Namespace, config: Config) -> int:
    stack = stack_settings(config)
    package = args.package or default_package(stack.architecture)
    if not package.is_file():
        raise CliError(f"no Lambda package at {package}: build it with `camvault aws package`")
    credentials = args.credentials_dir or config.base_dir
    clients = open_clients(config)
    try:
        outputs = Deployer(clients, out=sys.stdout).deploy(stack, build_template(stack), package, credentials)
    except DeployError as exc:
        raise CliError(str(exc)) from None
    finally:
        clients.close()
    _summary(stack, outputs)
    return 0


def _summary(stack: StackSettings, outputs: dict[str, str]) -> None:
    print(f"stack {stack.stack_name} is ready:")
    print(f"  gateways upload to  s3://{stack.bucket}/{stack.prefix}/")
    print(f"  catalog             dynamodb://{outputs.get('TableName', stack.table)}")
    print(f"  API                 {outputs.get('ApiUrl', '?')}api/v1/events  (requests signed with SigV4)")
    print(f"  dead letters        {outputs.get('DeadLetterQueueUrl', '?')}")


def cmd_destroy(args: argparse.Namespace, config: Config) -> int:
    stack = stack_settings(config)
    if not args.yes:
        raise CliError(
            f"this deletes stack {stack.stack_name} (functions, queues, catalog table {stack.table}, "
            f"gateway users) but keeps s3://{stack.bucket}; run again with --yes to do it"
        )
    clients = open_clients(config)
    try:
        Deployer(clients, out=sys.stdout).destroy(stack)
    except DeployError as exc:
        raise CliError(str(exc)) from None
    finally:
        clients.close()
    return 0
