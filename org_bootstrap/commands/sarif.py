"""`akr scan --output sarif`: the scan as one SARIF 2.1.0 log, for code-scanning dashboards and CI.

The two rules (rotation, unused) are the tool's rules, each tagged with the controls it answers for.
Each key gives one result per rule it breaks (kind fail; level error when due now, warning when due
within the horizon); an exempt key's results carry the exemption as an external suppression; with
--include-compliant a key within policy gives one result per rule of kind pass. The location is the
IAM user's ARN, a logical location. partialFingerprints hold Row.finding_id, stable across runs.
tests/unit/test_scan_formats.py validates the output against the SARIF 2.1.0 JSON Schema (tests/schemas).
"""

from __future__ import annotations

from typing import Any

from org_bootstrap.commands.ocsf import controls_of
from org_bootstrap.commands.render import iso
from org_bootstrap.review.controls import ALL_RULES, controls_for, limit_of
from org_bootstrap.review.scan import Row, ScanResult
from org_bootstrap.review.scan_plan import ScanPlan
from remediator.decision import Action, Rule

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_DESCRIPTIONS = {
    Rule.ROTATION: ("AccessKeyRotation", "An active access key is older than {days} days."),
    Rule.UNUSED: ("AccessKeyUnused", "An active access key has not been used for {days} days."),
}


def _rule(rule: Rule, plan: ScanPlan) -> dict[str, Any]:
    thresholds = plan.policy.policy.thresholds
    name, text = _DESCRIPTIONS[rule]
    controls = controls_for((rule,), thresholds)
    return {
        "id": rule.value,
        "name": name,
        "shortDescription": {"text": text.format(days=limit_of(rule, thresholds))},
        "help": {
            "text": "Rotate the key: create a new one, move its users to it, then deactivate and delete "
            "the old one. Or exempt it, with a reason, an owner and an expiry (akr exempt add)."
        },
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": [control.label for control in controls]},
    }


def _level(row: Row) -> str:
    if not row.rules:
        return "none"
    return "error" if row.at is None else "warning"


def _result(row: Row, rule: Rule, index: int, plan: ScanPlan) -> dict[str, Any]:
    user_arn = f"arn:aws:iam::{row.account_id}:user/{row.user_name}"
    result: dict[str, Any] = {
        "ruleId": rule.value,
        "ruleIndex": index,
        "kind": "pass" if not row.rules else "fail",
        "level": _level(row),
        "message": {"text": f"{row.access_key_id} of {row.user_name} in {row.account_id}: {row.reason}"},
        "locations": [
            {
                "logicalLocations": [
                    {"fullyQualifiedName": user_arn, "name": row.access_key_id, "kind": "resource"}
                ]
            }
        ],
        "partialFingerprints": {"findingId/v1": row.finding_id},
        "properties": {
            "account_id": row.account_id,
            "account_name": plan.account_names.get(row.account_id, ""),
            "user_name": row.user_name,
            "access_key_id": row.access_key_id,
            "action": row.action.value,
            "at": iso(row.at or plan.now),
            "controls": [control.label for control in controls_of(row, plan) if control.rule is rule],
        },
    }
    if row.action is Action.EXEMPT:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": row.reason}]
    return result


def sarif_log(plan: ScanPlan, result: ScanResult, *, version: str) -> dict[str, Any]:
    rules = list(ALL_RULES)
    results = [
        _result(row, rule, rules.index(rule), plan)
        for row in result.rows
        for rule in (row.rules or ALL_RULES)
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "akr",
                        "fullName": "access-key-remediation scan",
                        "version": version,
                        "rules": [_rule(rule, plan) for rule in rules],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not result.failed,
                        "startTimeUtc": iso(plan.now),
                        "toolExecutionNotifications": [
                            {"level": "error", "message": {"text": f"{scanned.account_id}: {reason}"}}
                            for scanned in result.failed
                            for reason in scanned.errors
                        ],
                    }
                ],
                "results": results,
            }
        ],
    }
