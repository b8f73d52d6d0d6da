"""`akr scan --output ocsf`: one OCSF 1.5.0 Detection Finding (class 2004, with the cloud profile) per
key, as the scanners security teams already run emit them, for a SIEM or a data lake to ingest.

A key over a limit now is status_code FAIL, severity Medium; one due within the horizon, Low; one
exempt, Informational (FAIL: it breaks the rule, the exemption holds it off); with --include-compliant a
key within policy is PASS, Informational. finding_info.uid is stable across runs (Row.finding_id): a
re-run updates the same finding. The controls the key answers for are in unmapped.compliance, keyed by
standard, as Prowler's OCSF output has them. tests/unit/test_scan_formats.py validates the output
against the class's JSON Schema (tests/schemas).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from org_bootstrap.commands.render import iso
from org_bootstrap.review.controls import ALL_RULES, Control, controls_for
from org_bootstrap.review.scan import Row, ScanResult
from org_bootstrap.review.scan_plan import ScanPlan
from remediator.decision import Action

OCSF_VERSION = "1.5.0"
DETECTION_FINDING = 2004
FINDINGS_CATEGORY = 2
CREATE = 1
AWS_ACCOUNT = 10
"""account.type_id for an AWS account."""
_SEVERITY = {1: "Informational", 2: "Low", 3: "Medium"}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def controls_of(row: Row, plan: ScanPlan) -> tuple[Control, ...]:
    """The controls the row answers for: the rules it breaks, or both rules for a key that passes."""
    return controls_for(row.rules or ALL_RULES, plan.policy.policy.thresholds)


def compliance(controls: tuple[Control, ...]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for control in controls:
        grouped[control.standard].append(control.control_id)
    return dict(grouped)


def _severity(row: Row) -> int:
    if row.action in (Action.NONE, Action.EXEMPT):
        return 1
    return 3 if row.at is None else 2


def _title(row: Row) -> str:
    if not row.rules:
        return f"Access key {row.access_key_id} is within policy"
    rules = " and ".join(rule.value for rule in row.rules)
    when = "now" if row.at is None else f"from {iso(row.at)}"
    return f"Access key {row.access_key_id} breaks the {rules} rule(s) {when}"


def _account(row: Row, plan: ScanPlan) -> dict[str, Any]:
    account: dict[str, Any] = {"uid": row.account_id, "type": "AWS Account", "type_id": AWS_ACCOUNT}
    name = plan.account_names.get(row.account_id)
    if name:
        account["name"] = name
    return account


def finding(row: Row, plan: ScanPlan, *, version: str, region: str) -> dict[str, Any]:
    severity = _severity(row)
    controls = controls_of(row, plan)
    account = _account(row, plan)
    passes = not row.rules
    return {
        "activity_id": CREATE,
        "activity_name": "Create",
        "category_uid": FINDINGS_CATEGORY,
        "category_name": "Findings",
        "class_uid": DETECTION_FINDING,
        "class_name": "Detection Finding",
        "type_uid": DETECTION_FINDING * 100 + CREATE,
        "type_name": "Detection Finding: Create",
        "severity_id": severity,
        "severity": _SEVERITY[severity],
        "status_id": 1,
        "status": "New",
        "status_code": "PASS" if passes else "FAIL",
        "status_detail": row.reason,
        "time": _ms(plan.now),
        "message": _title(row),
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": ["cloud"],
            "product": {"name": "akr", "vendor_name": "access-key-remediation", "version": version},
            "event_code": ",".join(rule.value for rule in row.rules) or "compliant",
        },
        "finding_info": {
            "uid": row.finding_id,
            "title": _title(row),
            "desc": row.reason,
            "types": [control.label for control in controls],
            "created_time": _ms(plan.now),
        },
        "cloud": {"provider": "AWS", "region": region, "account": account},
        "resources": [
            {
                "uid": row.access_key_id,
                "name": row.access_key_id,
                "type": "AwsIamAccessKey",
                "owner": {"name": row.user_name, "account": account},
                "data": {
                    "status": row.status,
                    "age_days": row.age_days,
                    "last_used_at": iso(row.last_used_at) if row.last_used_at else None,
                },
            }
        ],
        "remediation": {"desc": _remedy(row)},
        "unmapped": {
            "action": row.action.value,
            "at": iso(row.at or plan.now),
            "rules": [rule.value for rule in row.rules],
            "controls": [control.label for control in controls],
            "compliance": compliance(controls),
        },
    }


def _remedy(row: Row) -> str:
    if not row.rules:
        return "Nothing to do: the key is within policy."
    if row.action is Action.EXEMPT:
        return "Exempt: rotate the key before the exemption expires, or renew the exemption with a reason."
    return f"Rotate the key (create a new one, move its users to it) before akr acts: {row.action.value}."


def findings(plan: ScanPlan, result: ScanResult, *, version: str, region: str) -> list[dict[str, Any]]:
    return [finding(row, plan, version=version, region=region) for row in result.rows]
