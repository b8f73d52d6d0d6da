"""The demo's stand-ins behave as AWS does, no more: moto (in process) with the patches of
org_bootstrap.demo.standins.moto_patches, and the local runtime's SQS and schedule events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from org_bootstrap.demo.simulation import session_in
from org_bootstrap.demo.standins import LocalRuntime, delegated_list_accounts, faithful_delivery

REGION = "eu-west-1"
RuleState = Literal["ENABLED", "DISABLED"]
FUNCTION = f"arn:aws:lambda:{REGION}:222222222222:function:remediator"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def _session(account_id: str) -> boto3.Session:
    return session_in(account_id, boto3.client("sts"), region=REGION)


def _received(receiver: boto3.Session) -> list[dict[str, Any]]:
    sqs = receiver.client("sqs")
    url = sqs.get_queue_url(QueueName="inbox")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def _forwarding(
    sender: boto3.Session,
    receiver: boto3.Session,
    *,
    role: bool,
    state: RuleState = "ENABLED",
    target: str = "sqs",
) -> None:
    """A rule in the sender that forwards to the receiver's bus, and a rule there with a queue or a Lambda
    function as its target."""
    if target == "sqs":
        sqs = receiver.client("sqs")
        target_arn = sqs.get_queue_attributes(
            QueueUrl=sqs.create_queue(QueueName="inbox")["QueueUrl"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
    else:
        target_arn = FUNCTION
    central = receiver.client("events")
    bus_arn = central.create_event_bus(Name="central")["EventBusArn"]
    central.put_rule(Name="tap", EventBusName="central", EventPattern=json.dumps({"source": ["test.app"]}))
    central.put_targets(Rule="tap", EventBusName="central", Targets=[{"Id": "t", "Arn": target_arn}])
    events = sender.client("events")
    events.put_rule(Name="forward", EventPattern=json.dumps({"source": ["test.app"]}), State=state)
    forward: dict[str, Any] = {"Id": "bus", "Arn": bus_arn}
    if role:
        forward["RoleArn"] = "arn:aws:iam::111111111111:role/forwarder"
    events.put_targets(Rule="forward", Targets=[forward])  # type: ignore[list-item]


def _put(sender: boto3.Session) -> None:
    sender.client("events").put_events(
        Entries=[{"Source": "test.app", "DetailType": "t", "Detail": "{}", "Resources": ["arn:aws:x:::y"]}]
    )


def test_a_forwarded_event_keeps_the_senders_account_and_resources(aws: None) -> None:
    sender, receiver = _session("111111111111"), _session("222222222222")
    _forwarding(sender, receiver, role=True, target="lambda")
    runtime = LocalRuntime(security=receiver, region=REGION)
    with faithful_delivery(runtime):
        _put(sender)
    ((arn, _, event),) = runtime.pending
    assert (arn, event["account"], event["resources"]) == (FUNCTION, "111111111111", ["arn:aws:x:::y"])


def test_without_the_patch_moto_loses_the_account_and_resources(aws: None) -> None:
    # Why the patch exists; if moto ever keeps them, this fails and the patch can go.
    sender, receiver = _session("111111111111"), _session("222222222222")
    _forwarding(sender, receiver, role=True)
    _put(sender)
    (event,) = _received(receiver)
    assert ("account" in event, event["resources"]) == (False, [])


@pytest.mark.parametrize(("role", "state"), [(False, "ENABLED"), (True, "DISABLED")])
def test_no_delivery_without_a_role_or_through_a_disabled_rule(
    aws: None, role: bool, state: RuleState
) -> None:
    sender, receiver = _session("111111111111"), _session("222222222222")
    _forwarding(sender, receiver, role=role, state=state, target="lambda")
    runtime = LocalRuntime(security=receiver, region=REGION)
    with faithful_delivery(runtime):
        _put(sender)
    assert runtime.pending == ()


def test_a_lambda_target_is_queued_for_the_runtime(aws: None) -> None:
    session = _session("111111111111")
    events = session.client("events")
    function = f"arn:aws:lambda:{REGION}:111111111111:function:f"
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["test.app"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "f", "Arn": function}])
    runtime = LocalRuntime(security=session, region=REGION)
    with faithful_delivery(runtime):
        _put(session)
    ((arn, trigger, event),) = runtime.pending
    assert (arn, trigger.endswith(":rule/r"), event["account"]) == (function, True, "111111111111")
    assert isinstance(event["time"], str) and event["time"].endswith("Z")
    assert "ingestion-time" not in event


def test_list_accounts_answers_the_delegated_administrator_only(aws: None) -> None:
    organizations = boto3.client("organizations")
    organizations.create_organization(FeatureSet="ALL")
    admin, other = (
        organizations.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"][
            "AccountId"
        ]
        for name in ("security", "workload")
    )
    organizations.register_delegated_administrator(
        AccountId=admin, ServicePrincipal="guardduty.amazonaws.com"
    )
    with delegated_list_accounts():
        listed = _session(admin).client("organizations").list_accounts()["Accounts"]
        assert {a["Id"] for a in listed} >= {admin, other}
        with pytest.raises(ClientError) as refused:
            _session(other).client("organizations").list_accounts()
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
