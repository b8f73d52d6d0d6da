"""The reactivation watch in the templates: member.yaml's ReactivationForwardingRule (in the region IAM's
CloudTrail events reach EventBridge in), central.yaml's ReactivationRule, the watcher function and its role.

moto never delivers CloudTrail events to EventBridge (docs/aws-compatibility.md): the patterns are tried by
putting the sample event of tests/events/ on moto buses, as in test_event_patterns.py; the watcher itself
runs against moto DynamoDB in tests/functional/test_reactivation_watch.py."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from remediator.adapters.audit_table import BY_ACCESS_KEY
from remediator.reactivation_watch import load_watch_settings
from tests.fixtures import load_event
from tests.stacksets.cfn import ACCOUNT_ID, REGION, SECURITY_ACCOUNT_ID, Stack
from tests.stacksets.test_central_template import grants

GLOBAL = "us-east-1"
HOME_ELSEWHERE = {"HomeRegion": REGION}
"""The StackSet's parameters when the home region is not us-east-1: both instances get them."""


def central() -> Stack:
    return Stack("central", account_id=SECURITY_ACCOUNT_ID)


def test_the_home_stack_elsewhere_has_no_reactivation_rule_and_the_us_east_1_stack_has_only_it() -> None:
    home = Stack("member", HOME_ELSEWHERE)
    assert "ReactivationForwardingRule" not in home.resources
    assert {"MemberRole", "ForwarderRole", "ForwardingRule", "AccessKeysRotatedRule"} <= set(home.resources)
    # The StackSet's second instance, with every parameter the same, in the events' region.
    extra = Stack(
        "member", {**HOME_ELSEWHERE, "Mode": "staged", "CreateConfigRecorder": "true"}, region=GLOBAL
    )
    assert set(extra.resources) == {"ReactivationForwardingRule"}
    assert set(extra.outputs) == {"ReactivationForwardingRuleArn"}
    (target,) = extra.resources["ReactivationForwardingRule"]["Properties"]["Targets"]
    # The forwarder role of the home stack, by its fixed name: the only principal the central bus admits.
    assert target == {
        "Id": "central-bus",
        "Arn": extra.parameters["CentralEventBusArn"],
        "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/AccessKeyRemediationForwarder",
    }
    # ... which trusts exactly the two forwarding rules of its account.
    (trust,) = home.resources["ForwarderRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"]["aws:SourceArn"] == [
        home.resolve({"Fn::GetAtt": ["ForwardingRule", "Arn"]}),
        extra.resolve({"Fn::GetAtt": ["ReactivationForwardingRule", "Arn"]}),
    ]


def test_a_home_stack_in_us_east_1_holds_everything_and_the_rule_uses_its_forwarder_role() -> None:
    for overrides in ({}, {"HomeRegion": GLOBAL}):  # a plain stack, or the StackSet's only instance
        stack = Stack("member", overrides, region=GLOBAL)
        assert {"MemberRole", "ForwarderRole", "ForwardingRule", "ReactivationForwardingRule"} <= set(
            stack.resources
        )
        (target,) = stack.resources["ReactivationForwardingRule"]["Properties"]["Targets"]
        assert target["RoleArn"] == stack.resolve({"Fn::GetAtt": ["ForwarderRole", "Arn"]})


# -- the patterns, on moto buses -------------------------------------------------------------------

PATTERNS: dict[str, dict[str, Any]] = {
    "member": Stack("member", region=GLOBAL).resources["ReactivationForwardingRule"]["Properties"][
        "EventPattern"
    ],
    "central": central().resources["ReactivationRule"]["Properties"]["EventPattern"],
}
BOTH = set(PATTERNS)


def by(role: str, session: str) -> Callable[[dict[str, Any]], None]:
    def edit(event: dict[str, Any]) -> None:
        identity = event["detail"]["userIdentity"]
        identity["arn"] = f"arn:aws:sts::{event['account']}:assumed-role/{role}/{session}"
        issuer = identity["sessionContext"]["sessionIssuer"]
        issuer["arn"], issuer["userName"] = f"arn:aws:iam::{event['account']}:role/{role}", role

    return edit


def setting(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(event: dict[str, Any]) -> None:
        target = event
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


CASES: dict[str, tuple[Callable[[dict[str, Any]], None] | None, set[str]]] = {
    "the member role": (None, BOTH),
    "the member role under another session name": (by("AccessKeyRemediationRole", "i-am-not-akr"), BOTH),
    "akr undo through the operator's role": (
        by("OrganizationAccountAccessRole", "akr-undo-AKIAEXAMPLE"),
        BOTH,
    ),
    "another role, another session name": (by("OrganizationAccountAccessRole", "alice"), set()),
    "a role whose name merely starts like ours": (by("AccessKeyRemediationRoleX", "alice"), set()),
    "akr- inside a session name": (by("Admin", "not-akr-undo"), set()),
    "deactivation": (setting("detail", "requestParameters", "status", value="Inactive"), set()),
    "another call": (setting("detail", "eventName", value="DeleteAccessKey"), set()),
    "another source": (setting("source", value="akr.test"), set()),
    "a refused attempt": (setting("detail", "errorCode", value="AccessDenied"), BOTH),
}


@pytest.fixture(scope="module")
def queues() -> Iterator[tuple[Any, Any, dict[str, str]]]:
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        urls = {}
        for name, pattern in PATTERNS.items():
            events.create_event_bus(Name=f"reactivations-{name}")
            url = sqs.create_queue(QueueName=f"reactivations-{name}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            bus = f"reactivations-{name}"
            events.put_rule(Name="under-test", EventBusName=bus, EventPattern=json.dumps(pattern))
            events.put_targets(Rule="under-test", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
            urls[name] = url
        yield events, sqs, urls


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_rules_forward_only_keys_made_active_by_our_role_or_session_names(
    queues: tuple[Any, Any, dict[str, str]], case: str
) -> None:
    events, sqs, urls = queues
    edit, expected = CASES[case]
    event = load_event("cloudtrail_update_access_key_active")
    if edit is not None:
        edit(event)
    matched = set()
    for name, url in urls.items():
        entry = {
            "EventBusName": f"reactivations-{name}",
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
        }
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if messages:
            matched.add(name)
    assert matched == expected


def test_the_member_and_central_patterns_are_the_same() -> None:
    # A member admin who widens their own rule floods nothing through the central one.
    assert PATTERNS["member"] == PATTERNS["central"]


# -- the central side --------------------------------------------------------------------------------


def test_the_central_rule_sends_them_to_the_watcher_with_retries_and_dead_letters() -> None:
    stack = central()
    rule = stack.resources["ReactivationRule"]["Properties"]
    assert rule["EventBusName"] == stack.resolve({"Fn::GetAtt": ["EventBus", "Name"]})
    (target,) = rule["Targets"]
    assert target == {
        "Id": "reactivation-watch",
        "Arn": stack.resolve({"Fn::GetAtt": ["ReactivationWatchFunction", "Arn"]}),
        "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
        "DeadLetterConfig": {"Arn": stack.resolve({"Fn::GetAtt": ["DeadLetterQueue", "Arn"]})},
    }
    permission = stack.resources["ReactivationWatchInvokePermission"]["Properties"]
    assert permission == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": stack.resolve({"Ref": "ReactivationWatchFunction"}),
        "Principal": "events.amazonaws.com",
        "SourceArn": stack.outputs["ReactivationRuleArn"],
    }


def test_the_watcher_role_may_query_the_key_index_and_write_its_log_only() -> None:
    stack = central()
    table = stack.resolve({"Fn::GetAtt": ["AuditTable", "Arn"]})
    group = stack.outputs["ReactivationWatchLogGroupName"]
    log = f"arn:aws:logs:{REGION}:{SECURITY_ACCOUNT_ID}:log-group:{group}"
    # DynamoDBAuditLog.for_key_between, the only call the watcher makes (tests/functional: the calls).
    assert grants(stack, "ReactivationWatchRole") == {
        ("dynamodb:Query", f"{table}/index/{BY_ACCESS_KEY}", "{}"),
        ("logs:CreateLogStream", f"{log}:log-stream:*", "{}"),
        ("logs:PutLogEvents", f"{log}:log-stream:*", "{}"),
    }
    trust = stack.resources["ReactivationWatchRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    functions = stack.of_type("AWS::Lambda::Function")
    role = stack.resolve({"Fn::GetAtt": ["ReactivationWatchRole", "Arn"]})
    assert [k for k, f in functions.items() if f["Properties"]["Role"] == role] == [
        "ReactivationWatchFunction"
    ]


def test_the_watcher_function_matches_the_code_contract() -> None:
    stack = central()
    function = stack.resources["ReactivationWatchFunction"]["Properties"]
    module, handler = function["Handler"].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), handler))
    variables = function["Environment"]["Variables"]
    settings = load_watch_settings({k: v for k, v in variables.items() if k.startswith("AKR_")})
    assert settings.audit_table == stack.outputs["AuditTableName"]
    alarm = stack.resources["UnexplainedReactivationAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        variables["POWERTOOLS_METRICS_NAMESPACE"],
        "UnexplainedReactivations",
    )
    assert alarm["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]
    assert alarm["AlarmActions"] == [stack.outputs["NotificationTopicArn"]]
