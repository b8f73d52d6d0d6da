"""`akr scan` end to end: the exact rows against an expectation written from the rules, each output format,
a policy override, a horizon, an exemption that lapses within it, --account, and a refusal in a region
where the deployment is not."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from typer.testing import Result

from tests.e2e.akr import as_json
from tests.e2e.scan.scene import Calls, Scene, deployed_rows, rows_of
from tests.moto_server import REGION

pytestmark = pytest.mark.slow


def test_the_scan_lists_exactly_the_keys_acted_on_now_or_within_30_days(
    scene: Scene, scanned: tuple[Result, Calls, dict[str, Any], dict[str, Any]]
) -> None:
    result = scanned[0]
    assert result.exit_code == 0, result.output
    assert rows_of(result) == deployed_rows(scene)


def test_the_json_envelope_names_the_policy_the_totals_and_each_account(
    scene: Scene, scanned: tuple[Result, Calls, dict[str, Any], dict[str, Any]]
) -> None:
    organization = scene.organization
    payload = as_json(scanned[0])
    assert (payload["command"], payload["status"], payload["changed"]) == ("scan", "ok", False)
    body = payload["result"]
    deployed = {
        "mode": "staged",
        "max_key_age_days": 90,
        "max_unused_days": 45,
        "grace_days": 14,
        "warn_days_before": 0,
        "protected_user_path": None,
        "opt_out_tag_key": None,
    }
    assert body["policy"] == {
        "source": "deployed",
        "note": f"the parameters of stack access-key-remediation in the security account "
        f"{organization.security} ({REGION})",
        "overrides": {},
        "previewed": False,
        **deployed,
        "base": deployed,
    }
    assert body["totals"] == {"delete": 1, "deactivate": 5, "report": 0, "exempt": 1, "warn": 0}
    assert (body["accounts_failed"], body["errors"], body["within"]) == ([], 0, "30d")
    accounts = {a["account_id"]: a for a in body["accounts"]}
    assert set(accounts) == {*organization.members, organization.security, organization.management}
    assert {a["nominated_by"] for a in accounts.values()} == {"credential report"}
    first, second = organization.members
    # The report nominates the users with a key due within the horizon, and staged mode adds the user
    # of the deactivated key: stale, idle, soon, quiet; exempt and staged; mgmt-admin.
    assert (accounts[first]["users_read"], accounts[second]["users_read"]) == (4, 2)
    assert accounts[organization.management]["users_read"] == 1
    stale = next(r for r in body["rows"] if r["user_name"] == "stale")
    assert stale == {
        "account_id": first,
        "account_name": "member-1",
        "user_name": "stale",
        "access_key_id": scene.keys["stale"].key_id,
        "status": "Active",
        "age_days": 120,
        "last_used_at": None,
        "action": "deactivate",
        "when": "now",
        "at": body["now"],
        "rules": ["rotation", "unused"],
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
        "finding_id": stale["finding_id"],
        "breaks_a_rule_now": True,
        "reason": "created 120 days ago, limit 90; never used, created 120 days ago, limit 45",
    }
    soon = next(r for r in body["rows"] if r["user_name"] == "soon")
    due = scene.keys["soon"].created + timedelta(days=90)
    assert (soon["at"], soon["rules"], soon["reason"], soon["age_days"]) == (
        due.isoformat().replace("+00:00", "Z"),
        ["rotation"],
        "created 90 days ago, limit 90",
        80,
    )
    staged = next(r for r in body["rows"] if r["user_name"] == "staged")
    assert (staged["status"], staged["rules"]) == ("Inactive", [])
    deactivated_on = f"{scene.now - timedelta(days=10):%Y-%m-%d}"
    assert (
        staged["reason"]
        == f"deactivated by this service on {deactivated_on}; the 14-day grace period has passed"
    )
    exempt = next(r for r in body["rows"] if r["user_name"] == "exempt")
    assert "(secops: vaulted break-glass key)" in exempt["reason"]


def test_the_table_shows_the_policy_the_rows_and_the_totals(scene: Scene) -> None:
    result = scene.scan("--output", "table")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(
        f"Policy (deployed: the parameters of stack access-key-remediation in the security account "
        f"{scene.organization.security} ({REGION})): mode staged, rotation after 90 days, unused after 45 "
        "days, deletion 14 days after deactivation\n"
    )
    assert "Keys acted on now or by" in out
    for name in ("stale", "idle", "exempt", "mgmt-admin", "staged", "soon", "quiet"):
        assert scene.keys[name].key_id in out
    assert out.rstrip().endswith(
        "Totals: 1 delete, 5 deactivate, 0 report, 1 exempt, 0 warn; 4 account(s) scanned, 0 failed, "
        "0 error(s). Nothing was changed."
    )


def test_csv_has_a_header_and_one_line_per_row(scene: Scene) -> None:
    result = scene.scan("--output", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "account_id,account_name,user_name,access_key_id,status,age_days,last_used_at,action,when,at,rules,"
        "controls,finding_id,reason"
    )
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [
        (r["account_id"], r["user_name"], r["access_key_id"], r["action"], r["when"]) for r in records
    ] == (deployed_rows(scene))
    stale = next(r for r in records if r["user_name"] == "stale")
    assert (stale["rules"], stale["last_used_at"], stale["age_days"]) == ("rotation;unused", "", "120")


# -- previews ------------------------------------------------------------------------------------------


def test_a_mode_override_previews_report_mode(scene: Scene) -> None:
    result = scene.scan("--mode", "report", "--output", "json")
    assert result.exit_code == 0, result.output
    body = as_json(result)["result"]
    assert (body["policy"]["mode"], body["policy"]["overrides"]) == ("report", {"--mode": "report"})
    # Report mode records and touches nothing: the staged deletion does not happen either.
    expected = [
        (a, u, k, "report" if action == "deactivate" else action, when)
        for a, u, k, action, when in deployed_rows(scene)
        if u != "staged"
    ]
    assert rows_of(result) == expected
    assert body["totals"] == {"delete": 0, "deactivate": 0, "report": 5, "exempt": 1, "warn": 0}


def test_a_longer_horizon_adds_the_keys_due_within_it(scene: Scene) -> None:
    result = scene.scan("--within", "41d", "--output", "json")
    assert rows_of(result) == deployed_rows(scene, within_days=41)


def test_an_exemption_that_expires_within_the_horizon_shows_what_happens_when_it_does(scene: Scene) -> None:
    # Exempted for 60 days when the scene was set up: beyond 30 days exempt, within 61 acted on then.
    result = scene.scan("--within", "61d", "--output", "json")
    assert result.exit_code == 0, result.output
    exempt = next(r for r in as_json(result)["result"]["rows"] if r["user_name"] == "exempt")
    expiry = datetime.fromisoformat(exempt["at"])
    assert timedelta(days=60) <= expiry - scene.now < timedelta(days=60, minutes=5)
    assert (exempt["action"], exempt["when"]) == ("deactivate", f"{expiry:%Y-%m-%d}")
    assert exempt["reason"].endswith(
        f"exempt until {expiry:%Y-%m-%d %H:%M} UTC (secops: vaulted break-glass key)"
    )


def test_only_the_accounts_asked_for(scene: Scene) -> None:
    first = scene.organization.members[0]
    result = scene.scan("--account", first, "--accounts", first, "--output", "json")  # the old name too
    assert rows_of(result) == [row for row in deployed_rows(scene) if row[0] == first]
    assert [a["account_id"] for a in as_json(result)["result"]["accounts"]] == [first]


def test_in_another_region_than_the_deployment_the_scan_refuses_and_names_the_region(scene: Scene) -> None:
    # The defaults, without the central exemptions, would show the exempt key as deleted now, exit 0.
    result = scene.scan("--home-region", "us-east-1", "--output", "json")
    assert result.exit_code == 1
    assert as_json(result)["error"] == (
        f"no stack access-key-remediation in the security account {scene.organization.security} "
        "(us-east-1), but there is one in eu-west-1: the deployment's home region; pass --home-region "
        "eu-west-1"
    )


# -- failures ------------------------------------------------------------------------------------------
