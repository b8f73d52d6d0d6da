"""`akr scan --output ocsf` and `--output sarif` validated against the schemas of their formats, vendored
in tests/schemas (versions and sources in its README): OCSF 1.5.0 Detection Finding with the cloud
profile, and SARIF 2.1.0. The rows cover every kind a scan gives: due now, due later, exempt, compliant
(--include-compliant), and an account that could not be read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft202012Validator

from org_bootstrap.commands.ocsf import findings
from org_bootstrap.commands.options import ScanOutput
from org_bootstrap.commands.sarif import sarif_log
from org_bootstrap.commands.scan_views import show_scan
from org_bootstrap.deploy.observed import StackState
from org_bootstrap.review.scan import AccountScan, Row, ScanResult
from org_bootstrap.review.scan_plan import Overrides, ScanPlan, choose_policy
from remediator.decision import Action, Rule

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
ACCOUNT, OTHER, BROKEN = "222222222222", "333333333333", "444444444444"
STACK = StackState(
    name="access-key-remediation",
    status="CREATE_COMPLETE",
    parameters={"Mode": "delete", "CisPreset": "cis-1.4"},
    outputs={"AuditTableName": "akr-audit", "StateTableName": "akr-state"},
)


def row(
    user: str, key: str, action: Action, *, at: datetime | None = None, rules: tuple[Rule, ...] = ()
) -> Row:
    return Row(
        account_id=ACCOUNT if user != "later" else OTHER,
        user_name=user,
        access_key_id=key,
        status="Active",
        age_days=120,
        last_used_at=NOW - timedelta(days=3) if user == "later" else None,
        action=action,
        at=at,
        rules=rules,
        reason=f"the reason of {user}",
    )


ROWS = (
    row("stale", "AKIASTALE00000000001", Action.DELETE, rules=(Rule.ROTATION, Rule.UNUSED)),
    row("later", "AKIALATER00000000001", Action.DELETE, at=NOW + timedelta(days=9), rules=(Rule.ROTATION,)),
    row("breakglass", "AKIABREAK00000000001", Action.EXEMPT, rules=(Rule.UNUSED,)),
    row("fresh", "AKIAFRESH00000000001", Action.NONE),
)
RESULT = ScanResult(
    (
        AccountScan(ACCOUNT, tuple(r for r in ROWS if r.account_id == ACCOUNT), (), "credential report", 3),
        AccountScan(OTHER, tuple(r for r in ROWS if r.account_id == OTHER), (), "credential report", 1),
        AccountScan(BROKEN, errors=("sts:AssumeRole into 444444444444: AccessDenied",)),
    )
)
PLAN = ScanPlan(
    caller="123456789012",
    organization_id="o-abcdef1234",
    accounts=(ACCOUNT, OTHER, BROKEN),
    policy=choose_policy(STACK, Overrides(), account_role="OrganizationAccountAccessRole", where="here"),
    account_role="OrganizationAccountAccessRole",
    now=NOW,
    within="30d",
    until=NOW + timedelta(days=30),
    account_names={ACCOUNT: "production"},
)


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text())
    return loaded


def test_every_ocsf_finding_is_a_valid_detection_finding() -> None:
    validator = Draft202012Validator(schema("ocsf-1.5.0-detection_finding-cloud.schema.json"))
    produced = findings(PLAN, RESULT, version="1.2.3", region="eu-west-1")
    assert len(produced) == len(ROWS)  # one per key
    for finding in produced:
        problems = sorted(validator.iter_errors(finding), key=str)
        assert not problems, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in problems]


def test_ocsf_findings_say_pass_or_fail_and_name_their_controls() -> None:
    by_user = {f["resources"][0]["owner"]["name"]: f for f in findings(PLAN, RESULT, version="1", region="r")}
    stale, later, exempt, fresh = (by_user[u] for u in ("stale", "later", "breakglass", "fresh"))
    assert [f["status_code"] for f in (stale, later, exempt, fresh)] == ["FAIL", "FAIL", "FAIL", "PASS"]
    assert [f["severity"] for f in (stale, later, exempt, fresh)] == [
        "Medium",
        "Low",
        "Informational",
        "Informational",
    ]
    assert (stale["class_uid"], stale["type_uid"], stale["metadata"]["version"]) == (2004, 200401, "1.5.0")
    assert stale["finding_info"]["uid"] == ROWS[0].finding_id
    assert stale["cloud"]["account"] == {
        "uid": ACCOUNT,
        "name": "production",
        "type": "AWS Account",
        "type_id": 10,
    }
    assert stale["unmapped"]["compliance"]["AWS Security Hub"] == ["IAM.3", "IAM.8", "IAM.22"]
    assert exempt["unmapped"]["controls"] == [
        "CIS-1.2.0:1.3",
        "SecurityHub:IAM.8",
        "CIS-1.4.0:1.12",
        "CIS-3.0.0:1.12",
        "CIS-5.0.0:1.11",
        "SecurityHub:IAM.22",
    ]
    # A key that passes answers for both rules.
    assert "SecurityHub:IAM.3" in fresh["finding_info"]["types"]
    assert "SecurityHub:IAM.22" in fresh["finding_info"]["types"]


def test_the_sarif_log_is_valid_sarif_2_1_0() -> None:
    log = sarif_log(PLAN, RESULT, version="1.2.3")
    problems = sorted(Draft4Validator(schema("sarif-2.1.0-rtm.5.schema.json")).iter_errors(log), key=str)
    assert not problems, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in problems]


def test_sarif_results_per_rule_with_levels_suppressions_and_passes() -> None:
    (run,) = sarif_log(PLAN, RESULT, version="1.2.3")["runs"]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["rotation", "unused"]
    assert run["tool"]["driver"]["rules"][1]["properties"]["tags"][-1] == "SecurityHub:IAM.22"
    seen = [
        (r["properties"]["user_name"], r["ruleId"], r["kind"], r["level"], "suppressions" in r)
        for r in run["results"]
    ]
    assert seen == [  # the scan's order: due now first, then by account, user and key
        ("breakglass", "unused", "fail", "error", True),
        ("fresh", "rotation", "pass", "none", False),
        ("fresh", "unused", "pass", "none", False),
        ("stale", "rotation", "fail", "error", False),
        ("stale", "unused", "fail", "error", False),
        ("later", "rotation", "fail", "warning", False),
    ]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"] == (
        "444444444444: sts:AssumeRole into 444444444444: AccessDenied"
    )


@pytest.mark.parametrize("output", [ScanOutput.OCSF, ScanOutput.SARIF])
def test_the_machine_formats_are_json_on_stdout_and_failures_on_stderr(
    output: ScanOutput, capsys: pytest.CaptureFixture[str]
) -> None:
    show_scan(PLAN, RESULT, output, region="eu-west-1")
    captured = capsys.readouterr()
    json.loads(captured.out)
    assert "444444444444 could not be read" in captured.err
