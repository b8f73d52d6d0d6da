"""A first deploy, end to end, in a real sandbox organization: akr deploy in report mode, a Config
evaluation forced in a member account, its event in the central audit table, akr scan, akr status, and
akr destroy with everything it keeps removed too. Opt-in: tests/live/conftest.py, docs/live-testing.md.

The steps run in file order and share one deployment (module fixtures). The thresholds are 1 day, so that a
key left unused for two days (AKR_LIVE_STALE_USER, prepared beforehand) breaks the unused rule now; report
mode changes nothing in IAM. Whatever fails, the deployment is destroyed at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.live.conftest import Live

pytestmark = pytest.mark.live

STACK = "access-key-remediation"
RULES = ("akr-access-keys-rotated", "akr-iam-user-unused-credentials-check")
POLL_SECONDS = 60


@dataclass
class Deployed:
    live: Live
    payload: dict[str, Any]
    outputs: dict[str, str]
    destroyed: dict[str, Any] = field(default_factory=dict)

    @property
    def security(self) -> tuple[str, ...]:
        return ("--security-account", self.live.security_account)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(arg for target in self.live.targets for arg in ("--targets", target))

    def destroy(self) -> dict[str, Any]:
        if not self.destroyed:
            table = self.payload["result"]["audit_table"]
            code, self.destroyed = self.live.akr(
                "destroy",
                *self.security,
                *self.targets,
                "--delete-audit-log",
                "--yes-delete-audit-log",
                table,
                "--yes",
            )
            assert code == 0, self.destroyed
            self.live.aws(
                "cleanup",
                "--account",
                self.live.security_account,
                *self.live.entered,
                "--state-table",
                self.outputs["StateTableName"],
                "--log-groups",
                f"{self.outputs['RemediatorLogGroupName']},{self.outputs['WorkerLogGroupName']}",
                "--key",
                self.outputs["KeyArn"],
            )
        return self.destroyed


@pytest.fixture(scope="module")
def deployed(live: Live) -> Iterator[Deployed]:
    security = ("--security-account", live.security_account)
    targets = tuple(arg for target in live.targets for arg in ("--targets", target))
    # A sandbox without akr: a deployment already there would be updated, and then destroyed, by this suite.
    code, before = live.akr("destroy", *security, *targets, "--dry-run")
    assert (code, before["status"]) == (0, "ok"), (
        f"akr is deployed in this organization already: {before['plan']}"
    )
    options = ["--mode", "report", "--max-key-age-days", "1", "--max-unused-days", "1"]
    if live.create_recorder:
        options.append("--create-config-recorder")
    code, payload = live.akr("deploy", *security, *targets, "--home-region", live.region, *options, "--yes")
    if code != 0:
        # Take down what the failed deploy made (the audit table stays: see docs/live-testing.md).
        live.akr("destroy", *security, *targets, "--yes")
        pytest.fail(f"akr deploy failed: {payload}")
    outputs = live.aws("outputs", "--account", live.security_account, *live.entered, "--stack", STACK)
    deployment = Deployed(live=live, payload=payload, outputs=outputs)
    yield deployment
    deployment.destroy()  # when a step before failed; otherwise test_destroy has done it


def test_the_deploy_covers_the_member_account(deployed: Deployed) -> None:
    result = deployed.payload["result"]
    assert deployed.payload["status"] == "ok"
    assert deployed.live.member_account in result["accounts_covered"]
    assert result["accounts_failed"] == []


def test_a_forced_evaluation_reaches_the_audit_table(deployed: Deployed) -> None:
    live = deployed.live
    live.aws("evaluate", "--account", live.member_account, *live.entered, "--rules", ",".join(RULES))
    deadline = time.monotonic() + live.event_minutes * 60
    while True:
        code, audit = live.akr(
            "audit",
            *deployed.security,
            "--account",
            live.member_account,
            "--user",
            live.stale_user,
            "--since",
            "1d",
        )
        assert code == 0, audit
        records = [r for r in audit["result"]["records"] if r["trigger"] == "event"]
        if records or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    assert records, f"no event for {live.stale_user} in {live.event_minutes} minutes"
    assert {r["decision"] for r in records} == {"report"}  # report mode: recorded, nothing done
    assert {r["mode"] for r in records} == {"report"}


def test_scan_shows_the_stale_key_as_reported(deployed: Deployed) -> None:
    code, scan = deployed.live.akr("scan", *deployed.security)
    assert code == 0, scan
    rows = [r for r in scan["result"]["rows"] if r["user_name"] == deployed.live.stale_user]
    assert rows, f"akr scan lists no key of {deployed.live.stale_user}"
    assert {(r["action"], r["when"]) for r in rows if r["status"] == "Active"} == {("report", "now")}


def test_status_finds_the_member_account_covered(deployed: Deployed) -> None:
    _code, status = deployed.live.akr("status", *deployed.security)
    result = status["result"]
    assert result["central"]["ok"] is True, result["central"]
    (member,) = [a for a in result["accounts"] if a["account_id"] == deployed.live.member_account]
    assert member["covered"] is True, member["problems"]


def test_destroy_leaves_nothing_behind(deployed: Deployed) -> None:
    destroyed = deployed.destroy()
    assert destroyed["status"] == "ok"
    code, after = deployed.live.akr("destroy", *deployed.security, *deployed.targets, "--dry-run")
    assert (code, after["status"]) == (0, "ok"), after["plan"]
