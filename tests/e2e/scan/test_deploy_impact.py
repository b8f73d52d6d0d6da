"""`akr deploy`'s plan counts the keys a new mode or limit would act on at once, with akr scan's runner,
on the scanned organization (tests/e2e/scan/conftest.py: deployed in staged mode, CIS 1.4, 90/45 days, the
management account in report). Every deploy here is a --dry-run: the organization is only read.

What the rules say of the scene's keys in the accounts the deployment acts in (the Workloads OU's three; not
the management account, in report): "stale" (120 days old) breaks the age limit and "idle" (unused for 50
days) the unused limit of 45, or of 30 and 31; every other key is within both, exempt, or inactive."""

from __future__ import annotations

import pytest

from tests.e2e.akr import as_json, deploy
from tests.e2e.scan.scene import Scene

pytestmark = pytest.mark.slow

HOW = (
    "counted just now by a read-only scan (akr scan's: each account's credential report, those users read "
    "live through the account role, the central exemptions)"
)


def plan_of(scene: Scene, *options: str) -> list[str]:
    result = deploy(scene.organization, *options, "--dry-run", "--output", "json")
    assert result.exit_code == 0, result.output
    lines: list[str] = as_json(result)["plan"]
    return lines


def counted(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("The new policy", "How many keys"))]


def test_a_new_mode_is_counted_and_the_scan_changes_nothing(scene: Scene) -> None:
    before = {"iam": scene.iam_state(), "tables": scene.table_items()}
    lines = plan_of(scene, "--mode", "delete")
    assert counted(lines) == [
        "The new policy (mode delete, limits 90 days of age, 45 unused) would act on 2 key(s) at once "
        "(2 deleted) in 1 of the 3 account(s) it acts in; all of them on the first day, within the circuit "
        f"breaker's caps (30 per account, 300 a day): {HOW}; akr scan --mode delete --max-key-age-days 90 "
        "--max-unused-days 45 lists them"
    ]
    assert {"iam": scene.iam_state(), "tables": scene.table_items()} == before


@pytest.mark.parametrize("days", ["30", "31"])
def test_a_new_unused_limit_at_or_above_the_floor_is_counted(scene: Scene, days: str) -> None:
    assert counted(plan_of(scene, "--max-unused-days", days)) == [
        f"The new policy (mode staged, limits 90 days of age, {days} unused) would act on 2 key(s) at once "
        "(2 deactivated) in 1 of the 3 account(s) it acts in; all of them on the first day, within the "
        f"circuit breaker's caps (30 per account, 300 a day): {HOW}; akr scan --mode staged "
        f"--max-key-age-days 90 --max-unused-days {days} lists them"
    ]


def test_29_days_needs_i_know_and_then_the_plan_says_so(scene: Scene) -> None:
    refused = deploy(scene.organization, "--max-unused-days", "29", "--dry-run", "--output", "json")
    assert refused.exit_code == 1
    floor = (
        "--max-unused-days 29 is below the 30-day floor: every key unused for more than 29 day(s) in the "
        "organization would be acted on, and keys that young are most likely in use"
    )
    assert as_json(refused)["error"] == f"{floor}; pass --i-know to deploy it anyway"
    lines = plan_of(scene, "--max-unused-days", "29", "--i-know")
    assert lines[-1] == f"{floor} (deployed anyway: --i-know)"
    assert len(counted(lines)) == 1


def test_the_circuit_breaker_share_of_the_figure(scene: Scene) -> None:
    lines = plan_of(scene, "--mode", "delete", "--max-actions-per-account", "1")
    assert counted(lines)[0].startswith(
        "The new policy (mode delete, limits 90 days of age, 45 unused) would act on 2 key(s) at once "
        "(2 deleted) in 1 of the 3 account(s) it acts in; the circuit breaker (1 per account, 300 a day) "
        "lets 1 through on the first day and holds 1 back to the following days: "
    )


def test_skip_scan_says_what_was_not_counted_and_how_to_count_it(scene: Scene) -> None:
    assert counted(plan_of(scene, "--mode", "delete", "--skip-scan")) == [
        "How many keys the new policy would act on at once was not counted (--skip-scan): akr scan --mode "
        "delete --max-key-age-days 90 --max-unused-days 45 counts them"
    ]


def test_no_change_of_mode_or_limits_scans_nothing(scene: Scene) -> None:
    assert counted(plan_of(scene, "--grace-days", "10")) == []
