"""What `akr scan` prints (org_bootstrap.commands.scan_views), from a plan and a result built here: the
JSON rows and envelope, the CSV columns, the policy and totals lines."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime, timedelta

import pytest

from org_bootstrap.commands.options import ScanOutput
from org_bootstrap.commands.scan_views import (
    CSV_COLUMNS,
    csv_row,
    policy_line,
    row_dict,
    scan_envelope,
    show_scan,
    totals_line,
)
from org_bootstrap.deploy.observed import StackState
from org_bootstrap.review.scan import AccountScan, Row, ScanResult
from org_bootstrap.review.scan_plan import Overrides, ScanPlan, choose_policy
from remediator.decision import Action, Rule
from remediator.policy import Mode

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
ACCOUNT, OTHER = "222222222222", "333333333333"
WHERE = "the security account 111111111111 (eu-west-1)"
STACK = StackState(
    name="access-key-remediation",
    status="CREATE_COMPLETE",
    parameters={"Mode": "staged", "CisPreset": "cis-1.4", "GraceDays": "14", "WarnDaysBefore": "7"},
    outputs={"AuditTableName": "akr-audit", "StateTableName": "akr-state"},
)
NOW_ROW = Row(
    account_id=ACCOUNT,
    user_name="stale",
    access_key_id="AKIASTALE00000000001",
    status="Active",
    age_days=120,
    last_used_at=None,
    action=Action.DEACTIVATE,
    at=None,
    rules=(Rule.ROTATION, Rule.UNUSED),
    reason="created 120 days ago, limit 90; never used, created 120 days ago, limit 45",
)
LATER_ROW = Row(
    account_id=OTHER,
    user_name="soon",
    access_key_id="AKIASOON000000000001",
    status="Active",
    age_days=80,
    last_used_at=NOW - timedelta(days=1),
    action=Action.DEACTIVATE,
    at=NOW + timedelta(days=10, hours=3),
    rules=(Rule.ROTATION,),
    reason="created 90 days ago, limit 90",
)


def plan(overrides: Overrides = Overrides()) -> ScanPlan:  # noqa: B008  # frozen, never mutated
    return ScanPlan(
        caller="123456789012",
        organization_id="o-abcdef1234",
        accounts=(ACCOUNT, OTHER),
        policy=choose_policy(STACK, overrides, account_role="OrganizationAccountAccessRole", where=WHERE),
        account_role="OrganizationAccountAccessRole",
        now=NOW,
        within="30d",
        until=NOW + timedelta(days=30),
        account_names={ACCOUNT: "production", OTHER: "sandbox"},
    )


RESULT = ScanResult(
    (AccountScan(ACCOUNT, (NOW_ROW,), (), "credential report", 1), AccountScan(OTHER, (LATER_ROW,)))
)
FAILED = ScanResult(
    (
        AccountScan(ACCOUNT, (NOW_ROW,), (), "credential report", 1),
        AccountScan(OTHER, errors=("AccessDenied",)),
    )
)


def test_a_json_row_names_the_account_the_controls_and_a_stable_finding_id() -> None:
    row = row_dict(NOW_ROW, plan())
    assert row == {
        "account_id": ACCOUNT,
        "account_name": "production",
        "user_name": "stale",
        "access_key_id": "AKIASTALE00000000001",
        "status": "Active",
        "age_days": 120,
        "last_used_at": None,
        "action": "deactivate",
        "when": "now",
        "at": "2026-11-28T06:00:00Z",
        "rules": ["rotation", "unused"],
        # The deployed preset is CIS 1.4 (90/45): every rotation control, and both unused ones.
        "controls": [
            "CIS-1.2.0:1.4",
            "CIS-1.4.0:1.14",
            "CIS-3.0.0:1.14",
            "CIS-5.0.0:1.13",
            "SecurityHub:IAM.3",
            "CIS-1.2.0:1.3",
            "SecurityHub:IAM.8",
            "CIS-1.4.0:1.12",
            "CIS-3.0.0:1.12",
            "CIS-5.0.0:1.11",
            "SecurityHub:IAM.22",
        ],
        "finding_id": NOW_ROW.finding_id,
        "breaks_a_rule_now": True,
        "reason": "created 120 days ago, limit 90; never used, created 120 days ago, limit 45",
    }
    later = row_dict(LATER_ROW, plan())
    assert (later["when"], later["at"], later["last_used_at"], later["breaks_a_rule_now"]) == (
        "2026-12-08",
        "2026-12-08T09:00:00Z",
        "2026-11-27T06:00:00Z",
        False,
    )
    assert later["controls"] == [
        "CIS-1.2.0:1.4",
        "CIS-1.4.0:1.14",
        "CIS-3.0.0:1.14",
        "CIS-5.0.0:1.13",
        "SecurityHub:IAM.3",
    ]


def test_the_finding_id_depends_on_account_user_and_key_only() -> None:
    moved = dataclasses.replace(NOW_ROW, action=Action.DELETE, age_days=121, reason="other")
    assert moved.finding_id == NOW_ROW.finding_id
    assert dataclasses.replace(NOW_ROW, user_name="other").finding_id != NOW_ROW.finding_id
    assert dataclasses.replace(NOW_ROW, account_id=OTHER).finding_id != NOW_ROW.finding_id
    assert dataclasses.replace(NOW_ROW, access_key_id="AKIAOTHER00000000001").finding_id != (
        NOW_ROW.finding_id
    )


def test_the_csv_columns_and_a_line() -> None:
    assert CSV_COLUMNS == (
        "account_id",
        "account_name",
        "user_name",
        "access_key_id",
        "status",
        "age_days",
        "last_used_at",
        "action",
        "when",
        "at",
        "rules",
        "controls",
        "finding_id",
        "reason",
    )
    line = csv_row(LATER_ROW, plan())
    assert line == {
        "account_id": OTHER,
        "account_name": "sandbox",
        "user_name": "soon",
        "access_key_id": "AKIASOON000000000001",
        "status": "Active",
        "age_days": "80",
        "last_used_at": "2026-11-27T06:00:00Z",
        "action": "deactivate",
        "when": "2026-12-08",
        "at": "2026-12-08T09:00:00Z",
        "rules": "rotation",
        "controls": "CIS-1.2.0:1.4;CIS-1.4.0:1.14;CIS-3.0.0:1.14;CIS-5.0.0:1.13;SecurityHub:IAM.3",
        "finding_id": LATER_ROW.finding_id,
        "reason": "created 90 days ago, limit 90",
    }


def test_csv_output_is_a_header_and_the_rows_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    show_scan(plan(), RESULT, ScanOutput.CSV, region="eu-west-1")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert [r["user_name"] for r in csv.DictReader(io.StringIO(out))] == ["stale", "soon"]


def test_the_envelope_is_ok_when_every_account_was_read() -> None:
    payload = scan_envelope(plan(), RESULT)
    assert (payload["command"], payload["status"], payload["changed"]) == ("scan", "ok", False)
    assert "error" not in payload
    body = payload["result"]
    assert body["totals"] == {"delete": 0, "deactivate": 2, "report": 0, "exempt": 0, "warn": 0}
    assert (body["accounts_failed"], body["errors"]) == ([], 0)
    assert body["accounts"][0] == {
        "account_id": ACCOUNT,
        "account_name": "production",
        "nominated_by": "credential report",
        "users_read": 1,
        "rows": 1,
        "failed": False,
    }
    assert (body["within"], body["now"], body["until"], body["findings"]) == (
        "30d",
        "2026-11-28T06:00:00Z",
        "2026-12-28T06:00:00Z",
        1,
    )
    assert [r["user_name"] for r in body["rows"]] == ["stale", "soon"]


def test_the_envelope_is_an_error_when_an_account_failed() -> None:
    payload = scan_envelope(plan(), FAILED)
    assert (payload["status"], payload["error"]) == (
        "error",
        "1 of 2 account(s) could not be read completely",
    )
    assert payload["result"]["accounts_failed"] == [{"account_id": OTHER, "reasons": ["AccessDenied"]}]
    assert payload["result"]["errors"] == 1


def test_the_policy_line_says_where_the_policy_comes_from() -> None:
    chosen = plan().policy
    assert not chosen.previewed
    assert policy_line(chosen) == (
        f"Policy (deployed: the parameters of stack access-key-remediation in {WHERE}): mode staged, "
        "rotation after 90 days, unused after 45 days, deletion 14 days after deactivation, owners warned "
        "7 days before"
    )


def test_a_previewed_policy_is_never_labelled_deployed() -> None:
    previewed = plan(Overrides(mode=Mode.REPORT, max_unused_days=30)).policy
    assert previewed.previewed
    assert policy_line(previewed) == (
        # Report mode warns nobody: the deployed warning days do not apply.
        "Policy previewed with --mode report, --max-unused-days 30, not deployed: mode report, rotation "
        "after 90 days, unused after 30 days. Over deployed (the parameters of stack "
        f"access-key-remediation in {WHERE}): mode staged, rotation after 90 days, unused after 45 days, "
        "deletion 14 days after deactivation, owners warned 7 days before"
    )
    fields = previewed.as_dict()
    assert (fields["previewed"], fields["mode"], fields["base"]["mode"]) == (True, "report", "staged")


def test_the_totals_line() -> None:
    assert totals_line(FAILED) == (
        "Totals: 0 delete, 1 deactivate, 0 report, 0 exempt, 0 warn; 2 account(s) scanned, 1 failed, "
        "1 error(s). Nothing was changed."
    )
