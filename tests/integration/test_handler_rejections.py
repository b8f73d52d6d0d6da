"""Bad input is answered with a reason, counted, never retried, and costs no AWS call.

No moto here: every endpoint points at a closed port on loopback, so any AWS call would raise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediator import handler
from tests.fixtures import load_event
from tests.integration.lambda_context import FakeLambdaContext


@pytest.fixture(autouse=True)
def unreachable_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AKR_AUDIT_TABLE", "akr-audit")
    monkeypatch.setenv("AKR_STATE_TABLE", "akr-state")
    handler.runtime.cache_clear()
    yield
    handler.runtime.cache_clear()


def invoke(event: Any) -> dict[str, Any]:
    return cast(dict[str, Any], handler.lambda_handler(event, cast(LambdaContext, FakeLambdaContext())))


def forged() -> dict[str, Any]:
    event = load_event("config_noncompliant_rotated")
    event["account"] = "999999999999"
    return event


def without_account() -> dict[str, Any]:
    event = load_event("config_noncompliant_rotated")
    del event["account"]
    return event


def rule_of_another_account() -> dict[str, Any]:
    """Our prefix, but the rule ARN of another account: not a rule the member stack made for this one."""
    event = load_event("config_noncompliant_rotated")
    event["detail"]["configRuleARN"] = "arn:aws:config:eu-west-1:999999999999:config-rule/config-rule-abc123"
    return event


def unknown_rule() -> dict[str, Any]:
    event = load_event("config_noncompliant_rotated")
    event["detail"]["configRuleName"] = "someone-elses-rule"
    return event


def wrong_resource() -> dict[str, Any]:
    event = load_event("config_noncompliant_rotated")
    event["detail"]["resourceType"] = "AWS::IAM::Role"
    return event


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            forged,
            "event rejected: envelope account 999999999999 differs from detail.awsAccountId 222222222222",
        ),
        (
            unknown_rule,
            "event rejected: Config rule 'someone-elses-rule' matches none of the configured prefixes akr-",
        ),
        (wrong_resource, "event rejected: detail.resourceType: Input should be 'AWS::IAM::User'"),
        (
            without_account,
            "event rejected: the envelope account is missing: EventBridge always sets it, so this event "
            "did not come through the bus",
        ),
        (
            rule_of_another_account,
            "event rejected: detail: configRuleARN belongs to account 999999999999, detail.awsAccountId is "
            "222222222222",
        ),
    ],
)
def test_rejected_without_aws_call(make: Any, reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke(make()) == {"status": "rejected", "reason": reason}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["EventsRejected"] for m in metrics] == [[1.0]]


def test_not_applicable_is_acknowledged_without_aws_call() -> None:
    assert invoke(load_event("config_not_applicable_rotated")) == {
        "status": "ignored",
        "compliance": "NOT_APPLICABLE",
    }


def test_garbage_is_rejected() -> None:
    assert invoke({"hello": "world"})["status"] == "rejected"
