"""The demo end to end over a small organization: the real deploy, Config stand-in events through the
deployed forwarding rules, the real handlers in the local runtime, a lost event caught by the sweep.

The expectation table is written from the policy the demo deploys (90/90 days, delete mode, warnings 7
days ahead, break-glass users exempt), independently of the code: what each key must become.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from org_bootstrap.commands import demo as demo_cli
from org_bootstrap.commands.app import app
from org_bootstrap.demo.organization import REGION
from org_bootstrap.demo.readback import physical_id
from org_bootstrap.demo.run import DemoResult, KeyRow, running_demo
from org_bootstrap.deploy.deployment import Deployment
from remediator.archive_format import ARCHIVE_PREFIX, record_sha256
from remediator.audit import AuditRecord, Phase
from remediator.policy import Mode

pytestmark = pytest.mark.slow

# (user, key age in days) -> (decision, status afterwards). The svc-* users are random (--seed): checked
# by the rule below instead.
EXPECTED = {
    ("dev-fresh", 10): ("none", "Active"),
    ("ci-89-days", 89): ("warn", "Active"),  # due in a day: within the 7-day warning window
    ("ci-91-days", 91): ("delete", "deleted"),
    ("batch-never-used", 100): ("delete", "deleted"),
    ("two-keys", 120): ("delete", "deleted"),
    ("two-keys", 20): ("none", "Active"),
    ("inactive-old", 200): ("none", "Inactive"),
    ("idle-60-days", 70): ("none", "Active"),  # due in 20 days: not yet warned
    ("breakglass", 300): ("exempt", "Active"),
}
# The management account is in report (--management-account, a first deploy's default): reported, kept.
MANAGEMENT = {("mgmt-admin", 150): ("report", "Active")}


@dataclass(frozen=True)
class Ran:
    result: DemoResult
    iam: dict[str, dict[tuple[str, int], str]]
    """Account -> (user, key age in days) -> status, listed from IAM by this test after the run."""
    status: tuple[int, str]
    """`akr status --output json` against the demo: exit code and stdout."""


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    report = tmp_path_factory.mktemp("demo") / "report.html"
    with running_demo(
        members=2, seed=3, mode=Mode.DELETE, report_path=report, progress=lambda _: None
    ) as result:
        # Read here, while the server is up: another demo in this module starts a server of its own.
        org = result.organization
        status = CliRunner().invoke(
            app, ["status", "--security-account", org.security, "--endpoint-url", org.url, "--output", "json"]
        )
        yield Ran(result, _iam(result), (status.exit_code, status.stdout))


@pytest.fixture(scope="module")
def demo(ran: Ran) -> DemoResult:
    return ran.result


def _iam(result: DemoResult) -> dict[str, dict[tuple[str, int], str]]:
    now = datetime.now(UTC)
    state: dict[str, dict[tuple[str, int], str]] = {}
    for account in result.organization.everyone:
        iam = result.organization.accounts.session(account).client("iam")
        state[account] = {
            (user["UserName"], (now - key["CreateDate"]).days): key["Status"]
            for user in iam.list_users()["Users"]
            if not user["UserName"].startswith("svc-")
            for key in iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]
        }
    return state


def _by_case(rows: tuple[KeyRow, ...]) -> dict[str, dict[tuple[str, int], tuple[str, str]]]:
    cases: dict[str, dict[tuple[str, int], tuple[str, str]]] = defaultdict(dict)
    for row in rows:
        if not row.user_name.startswith("svc-"):
            cases[row.account_id][(row.user_name, row.age_days)] = (row.decision, row.status_after)
    return cases


def test_every_key_ends_as_the_policy_says(demo: DemoResult) -> None:
    cases = _by_case(demo.rows)
    org = demo.organization
    for member in org.members:
        assert cases[member] == EXPECTED, member
    assert cases[org.management] == MANAGEMENT
    assert org.security not in cases  # no users there
    assert demo.errors == 0
    assert not [i for i in demo.invocations if i.error]


def test_iam_holds_exactly_the_keys_the_policy_keeps(ran: Ran) -> None:
    org = ran.result.organization
    kept = {case: status for case, (_, status) in EXPECTED.items() if status != "deleted"}
    for member in org.members:
        assert ran.iam[member] == kept, member
    assert ran.iam[org.management] == {("mgmt-admin", 150): "Active"}
    assert ran.iam[org.security] == {}


def test_the_audit_log_says_why_and_what_started_each_decision(demo: DemoResult) -> None:
    by_user: dict[tuple[str, str], list[AuditRecord]] = defaultdict(list)
    for record in demo.records:
        by_user[record.account_id, record.user_name or ""].append(record)
    lost_account, lost_user, _ = demo.lost_event
    for member in demo.organization.members:
        warned = [r for r in by_user[member, "ci-89-days"] if r.decision == "warn"]
        assert [(r.trigger, r.planned_action, r.rule) for r in warned] == [("sweep", "delete", "")]
        assert warned[0].reason.startswith("within policy until ")
        exempt = [r for r in by_user[member, "breakglass"] if r.decision == "exempt"]
        assert exempt and all("(secops@example.com: break-glass user" in r.reason for r in exempt)
        assert {r.rule for r in exempt} == {"rotation,unused"}
        (deleted,) = [r for r in by_user[member, "ci-91-days"] if r.phase is Phase.OUTCOME]
        assert (deleted.decision, deleted.rule, deleted.outcome) == ("delete", "rotation", "done")
        assert deleted.reason == "created 91 days ago, limit 90"
        if (member, "ci-91-days") == (lost_account, lost_user):
            assert (deleted.trigger, deleted.event_id, deleted.config_rule_name) == ("sweep", None, None)
        else:
            assert deleted.trigger == "event"
            assert deleted.config_rule_name == "akr-access-keys-rotated"
            assert (deleted.role_session_name or "").startswith("akr-")
        assert not [r for r in by_user[member, "dev-fresh"] if r.decision != "none"]


def test_random_keys_are_removed_exactly_when_they_break_a_rule(demo: DemoResult) -> None:
    now = demo.records[-1].recorded_at
    for row in demo.rows:
        if not row.user_name.startswith("svc-"):
            continue
        idle = (now - row.last_used_at).days if row.last_used_at else row.age_days
        breaks = row.age_days > 90 or idle > 90  # whole days, so N and N+1 days are apart
        assert (row.status_after == "deleted") == breaks, row


def test_the_lost_event_is_caught_by_the_sweep(demo: DemoResult) -> None:
    account, user, rule = demo.lost_event
    assert account in demo.organization.members
    assert rule.startswith("akr-")
    rows = [r for r in demo.rows if r.account_id == account and r.user_name == user]
    # The user's violating key (a user may have a second, good one): deleted by the sweep.
    (violating,) = [r for r in rows if r.decision == "delete"]
    assert (violating.trigger, violating.status_after) == ("sweep", "deleted")
    assert demo.lost_event_caught


def test_the_audit_log_has_intent_before_outcome_for_every_deletion(demo: DemoResult) -> None:
    deleted = {r.access_key_id for r in demo.rows if r.status_after == "deleted"}
    for key in deleted:
        phases = [
            (r.phase, r.outcome) for r in demo.records if r.access_key_id == key and r.decision == "delete"
        ]
        assert phases[:2] == [(Phase.INTENT, "pending"), (Phase.OUTCOME, "done")], key
    mutated = {r.access_key_id for r in demo.records if r.phase is Phase.OUTCOME and r.decision == "delete"}
    assert mutated == deleted


def test_the_exemptions_are_audited_with_the_operator(demo: DemoResult) -> None:
    added = [r for r in demo.records if r.decision == "exempt-add"]
    assert {r.account_id for r in added} == set(demo.organization.members)
    assert all(r.user_name == "breakglass" and r.operator and r.trigger == "cli" for r in added)


def test_the_html_report_is_written(demo: DemoResult) -> None:
    assert demo.report_path is not None
    html = demo.report_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    for key in (r.access_key_id for r in demo.rows if r.decision == "delete"):
        assert key in html
    assert "http://" not in html and "https://" not in html


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    report = tmp_path_factory.mktemp("summary") / "r.html"
    result = CliRunner().invoke(
        app, ["demo", "--members", "1", "--seed", "5", "--json", "--html", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert report.is_file()
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_every_audit_record_is_archived_as_stored(ran: Ran) -> None:
    # The archiver, run from the audit table's stream after each step, has every record, with the hash of
    # the item as the table holds it now; nothing was altered, so every line is an INSERT.
    demo = ran.result
    org = demo.organization
    dynamodb = org.accounts.session(org.security).client("dynamodb")
    table = physical_id(org, Deployment(security_account_id=org.security, home_region=REGION), "AuditTable")
    stored = {
        (item["account_id"]["S"], item["record_id"]["S"]): record_sha256(item)
        for page in dynamodb.get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
    }
    archived = {(line.account_id, line.record_id): line.sha256 for line in demo.archive.lines}
    assert archived == stored
    assert len(stored) == len(demo.records)
    assert {line.event for line in demo.archive.lines} == {"INSERT"}
    assert demo.archive.prefix == ARCHIVE_PREFIX
    assert demo.archive.objects >= len({(line.day, line.account_id) for line in demo.archive.lines})
    archivers = [i for i in demo.invocations if i.handler == "remediator.archiver_handler.lambda_handler"]
    assert archivers and not [i for i in archivers if i.error or i.result["batchItemFailures"]]


def test_the_demo_ends_with_the_audit_log_verified_against_its_archive(ran: Ran) -> None:
    demo = ran.result
    verification = demo.verification
    assert verification.clean, verification.findings
    assert verification.records == len(demo.records) == verification.archived
    assert verification.lines == len(demo.archive.lines)


def test_json_summary_counts_decisions_and_errors(summary: dict[str, Any]) -> None:
    assert summary["errors"] == 0
    assert summary["keys"] == len(EXPECTED) + 3 + 1  # the cases, three svc users, the management user
    fixed = {"warn": 1, "exempt": 1, "report": 1}  # ci-89-days, breakglass, mgmt-admin; svc users random
    assert {k: summary["counts"].get(k, 0) for k in fixed} == fixed
    assert 4 <= summary["counts"]["delete"] <= 4 + 3  # the member's cases, svc
    assert summary["final_status"]["deleted"] == summary["counts"]["delete"]
    assert summary["invocations"]["remediator.sweep_handler"] == 1
    assert summary["invocations"]["remediator.worker_handler"] >= 1
    assert summary["lost_event"]["caught_by_the_sweep"] is True
    assert summary["archive"]["prefix"] == ARCHIVE_PREFIX
    assert summary["archive"]["records"] == summary["audit_records"]
    assert summary["invocations"]["remediator.archiver_handler"] >= 3  # after each of the three steps


def test_keep_running_prints_a_loopback_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_cli, "block", interrupted)
    result = CliRunner().invoke(
        app, ["demo", "--members", "1", "--keep-running", "--html", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0, result.output
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:" in result.stdout
    assert "Stopped." in result.stdout
    # Where the archive is, to look at it with the aws CLI while the demo keeps running.
    assert re.search(
        r"Audit archive: s3://access-key-remediation-auditarchivebucket-\w+/audit/ in\s+\d{12}", result.stdout
    )


def test_make_demo_runs_in_a_fresh_process_and_the_seed_decides(
    tmp_path: Path, summary: dict[str, Any]
) -> None:
    # What `make demo` runs, outside pytest: nothing set up by the test suite can help it. With the same
    # seed, the same keys, the same decisions, the same lost event, and the same account ids (moto's random
    # ids are seeded too).
    completed = subprocess.run(
        [sys.executable, "-m", "org_bootstrap", "demo", "--members", "1", "--seed", "5", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AKR_"))}
        | {"PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    fresh = json.loads(completed.stdout)
    assert (tmp_path / "akr-demo-report.html").is_file()

    def same(payload: dict[str, Any]) -> dict[str, Any]:
        # The archive bucket's name is CloudFormation's, generated from moto's random at a point that
        # depends on the order of the server's concurrent requests: the same seed gave names shifted by one
        # draw. It is compared by its stack-derived prefix; everything else must be equal.
        archive = {k: v for k, v in payload["archive"].items() if k != "bucket"}
        return {k: v for k, v in payload.items() if k != "report"} | {"archive": archive}

    assert same(fresh) == same(summary)
    for payload in (fresh, summary):
        assert payload["archive"]["bucket"].startswith("access-key-remediation-auditarchivebucket-")
    assert len(set(fresh["account_ids"])) == 3  # management, security, one member


def test_status_on_the_demo_is_green(ran: Ran) -> None:
    """The Config stand-in registers what the member stacks hold (their rules, a recorder): `akr status`
    finds every account covered, and exits 0."""
    org = ran.result.organization
    exit_code, stdout = ran.status
    assert exit_code == 0, stdout
    body = json.loads(stdout)["result"]
    assert body["counts"] == {"accounts": len(org.everyone), "covered": len(org.everyone), "with_problems": 0}


def test_the_table_fits_80_columns_with_every_key_whole(ran: Ran, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    demo_cli.render(ran.result, Console(file=out, width=80))
    text = out.getvalue()
    assert all(len(line) <= 80 for line in text.splitlines() if "│" in line)
    for row in ran.result.rows:
        assert row.access_key_id in text


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    with running_demo(
        members=1, seed=3, mode=Mode.STAGED, report_path=None, progress=lambda _: None
    ) as result:
        return result


def test_staged_counts_match_the_keys_final_states(staged: DemoResult) -> None:
    """A key deactivated by an event is decided again by the sweep (inactive: nothing more to do); its
    row still says deactivate, so that the counts add up to the keys' final states."""
    counts = staged.counts()
    final = Counter(row.status_after for row in staged.rows)
    deactivated_here = sum(
        1 for r in staged.rows if r.status_before == "Active" and r.status_after == "Inactive"
    )
    assert counts.get("deactivate", 0) == deactivated_here > 0
    assert counts.get("delete", 0) == final.get("deleted", 0) == 0
