"""The live suite's own AWS calls, beside the `akr` commands it runs: force a Config evaluation in a member
account, read the central stack's outputs, and remove what `akr destroy` keeps on purpose.

Run as a separate process (`python -m tests.live.aws_calls ...`) with the environment the test run was
started with: the test process itself holds only the fake credentials of tests/conftest.py, so nothing in
it can reach AWS by mistake. Prints one JSON value."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import boto3
from botocore.exceptions import ClientError

KEY_DELETION_DAYS = 7
"""The shortest wait KMS allows before it deletes a key."""


def session_in(account_id: str, role: str, region: str) -> boto3.Session:
    """The caller's own session when it is in `account_id`, else one through `role`."""
    base = boto3.Session(region_name=region)
    identity = base.client("sts").get_caller_identity()
    if identity["Account"] == account_id:
        return base
    partition = identity["Arn"].split(":")[1]
    credentials = base.client("sts").assume_role(
        RoleArn=f"arn:{partition}:iam::{account_id}:role/{role}", RoleSessionName="akr-live-test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def credentials(_arguments: argparse.Namespace) -> Any:
    """Whether credentials can be found, without calling AWS."""
    return boto3.Session().get_credentials() is not None


def evaluate(arguments: argparse.Namespace) -> Any:
    """StartConfigRulesEvaluation of the rules in the member account: Config evaluates them now, not at
    their next period. Re-evaluating within 4 hours of the last evaluation changes nothing (the rule
    pages say so)."""
    config = session_in(arguments.account, arguments.role, arguments.region).client("config")
    config.start_config_rules_evaluation(ConfigRuleNames=arguments.rules.split(","))
    return arguments.rules.split(",")


def outputs(arguments: argparse.Namespace) -> Any:
    cloudformation = session_in(arguments.account, arguments.role, arguments.region).client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=arguments.stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def cleanup(arguments: argparse.Namespace) -> Any:
    """What the central template retains when its stack is deleted, once akr destroy has run: the state
    table, the remediator's and the worker's log groups, and the key (scheduled for deletion)."""
    session = session_in(arguments.account, arguments.role, arguments.region)
    dynamodb, logs, kms = session.client("dynamodb"), session.client("logs"), session.client("kms")
    steps: list[tuple[str, Callable[[], object]]] = [
        (f"table {arguments.state_table}", partial(dynamodb.delete_table, TableName=arguments.state_table)),
        *(
            (f"log group {group}", partial(logs.delete_log_group, logGroupName=group))
            for group in arguments.log_groups.split(",")
        ),
        (
            f"key {arguments.key}",
            partial(kms.schedule_key_deletion, KeyId=arguments.key, PendingWindowInDays=KEY_DELETION_DAYS),
        ),
    ]
    removed = []
    for name, remove in steps:
        try:
            remove()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in (
                "ResourceNotFoundException",
                "NotFoundException",
            ):
                raise
            continue
        removed.append(name)
    return removed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.live.aws_calls")
    commands = parser.add_subparsers(required=True)
    commands.add_parser("credentials").set_defaults(run=credentials)
    for name, run in (("evaluate", evaluate), ("outputs", outputs), ("cleanup", cleanup)):
        command = commands.add_parser(name)
        command.set_defaults(run=run)
        command.add_argument("--account", required=True)
        command.add_argument("--role", required=True)
        command.add_argument("--region", required=True)
    commands.choices["evaluate"].add_argument("--rules", required=True)
    commands.choices["outputs"].add_argument("--stack", required=True)
    for option in ("--state-table", "--log-groups", "--key"):
        commands.choices["cleanup"].add_argument(option, required=True)
    arguments = parser.parse_args(argv)
    sys.stdout.write(json.dumps(arguments.run(arguments)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
