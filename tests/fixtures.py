"""Shared test data: the event fixtures in tests/events/ and small builders."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from org_bootstrap.deploy.bucket_policy import desired_policy
from org_bootstrap.deploy.observed import BucketState

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """A fresh, mutable copy of a whole EventBridge envelope from tests/events/<name>.json."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return copy.deepcopy(event)


def retarget(event: dict[str, Any], *, account_id: str, user_id: str, rule_name: str | None = None) -> None:
    """Point an event at another account and user, consistently in every place the event names them."""
    detail = event["detail"]
    event["account"] = account_id
    detail["awsAccountId"] = account_id
    detail["resourceId"] = user_id
    arn = detail["configRuleARN"].split(":")
    arn[4] = account_id
    detail["configRuleARN"] = ":".join(arn)
    for result in ("newEvaluationResult", "oldEvaluationResult"):
        if result in detail:
            qualifier = detail[result]["evaluationResultIdentifier"]["evaluationResultQualifier"]
            qualifier["resourceId"] = user_id
            if rule_name:
                qualifier["configRuleName"] = rule_name
    if rule_name:
        detail["configRuleName"] = rule_name


def secured_bucket(security: str, region: str, *, partition: str = "aws") -> dict[str, Any]:
    """The Observed fields of a code bucket that a deploy from the management account left behind: its
    writer the security role, versioned, closed to the public, with akr's policy."""
    writer = f"arn:{partition}:iam::{security}:role/OrganizationAccountAccessRole"
    policy = desired_policy("", f"akr-code-{security}-{region}", partition, (writer,))
    return {
        "bucket_exists": True,
        "bucket": BucketState(versioned=True, public_access_blocked=True, policy=policy),
        "code_writer": writer,
    }
