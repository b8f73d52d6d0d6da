"""The pure parts of `akr sweep` and `akr undo`: the settings made from the central stack, the plan lines,
the run id, the undo refusals, the JSON envelope, and the option checks made before any AWS call."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from org_bootstrap.aws import CliError
from org_bootstrap.commands.app import app
from org_bootstrap.commands.sweep_views import local_envelope
from org_bootstrap.deploy.central import settings_from
from org_bootstrap.deploy.observed import StackState
from org_bootstrap.review.local_sweep import COUNTS, AccountResult
from org_bootstrap.review.sweep import (
    SELF_SKIPPED,
    LocalSweep,
    describe_local,
    label_of,
    new_run_id,
    sweep_log_groups,
)
from org_bootstrap.review.undo import UndoPlan, refusal
from remediator.lifecycle import KeyLifecycle, Stage
from remediator.policy import Mode, Thresholds
from remediator.sweep import SweepMessage

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
OUTPUTS = {
    "AuditTableName": "access-key-remediation-AuditTable-ABC",
    "StateTableName": "access-key-remediation-StateTable-DEF",
    "NotificationTopicArn": "arn:aws:sns:eu-west-1:111111111111:akr",
    "SweepFunctionName": "access-key-remediation-SweepFunction-GHI",
}
# What akr deploy passes, plus the template's defaults as DescribeStacks reports them.
PARAMETERS = {
    "Mode": "staged",
    "CisPreset": "",
    "MaxKeyAgeDays": "90",
    "MaxUnusedDays": "45",
    "GraceDays": "14",
    "ProtectedUserPath": "/break-glass/",
    "WarnDaysBefore": "",
    "OwnerTagKey": "owner",
    "OptOutTagKey": "",
    "HomeRegion": "eu-west-1",
    "MemberRoleName": "AccessKeyRemediationRole",
}


def stack(**parameters: str) -> StackState:
    return StackState(
        name="access-key-remediation",
        status="UPDATE_COMPLETE",
        parameters=PARAMETERS | parameters,
        outputs=OUTPUTS,
    )


# -- settings ----------------------------------------------------------------------------------------


def test_settings_are_the_deployed_ones_entered_through_the_account_role() -> None:
    settings = settings_from(stack(), account_role="OrganizationAccountAccessRole")
    assert settings.member_role_name == "OrganizationAccountAccessRole"
    assert (settings.audit_table, settings.state_table) == (
        OUTPUTS["AuditTableName"],
        OUTPUTS["StateTableName"],
    )
    assert settings.notification_topic_arn == OUTPUTS["NotificationTopicArn"]
    assert settings.mode is Mode.STAGED
    assert settings.thresholds == Thresholds(max_key_age_days=90, max_unused_days=45)
    assert (settings.grace_days, settings.warn_days_before) == (14, 0)
    assert (settings.protected_user_path, settings.opt_out_tag_key) == ("/break-glass/", None)
    assert settings.home_region == "eu-west-1"


def test_a_preset_and_warnings_come_from_the_parameters() -> None:
    settings = settings_from(
        stack(CisPreset="cis-1.4", MaxKeyAgeDays="", MaxUnusedDays="", WarnDaysBefore="7"), account_role="R"
    )
    assert settings.thresholds == Thresholds(max_key_age_days=90, max_unused_days=45)
    assert settings.warn_days_before == 7


def test_parameters_missing_from_an_older_stack_take_the_defaults() -> None:
    older = StackState(
        name="access-key-remediation", status="CREATE_COMPLETE", parameters={}, outputs=OUTPUTS
    )
    settings = settings_from(older, account_role="R")
    assert (settings.mode, settings.grace_days, settings.warn_days_before) == (Mode.DELETE, 14, 0)


def test_mode_overrides_and_a_dry_run_tells_nobody() -> None:
    assert settings_from(stack(), account_role="R", mode=Mode.DELETE).mode is Mode.DELETE
    quiet = settings_from(stack(WarnDaysBefore="7"), account_role="R", mode=Mode.REPORT, quiet=True)
    assert (quiet.mode, quiet.warn_days_before, quiet.notification_topic_arn) == (Mode.REPORT, 0, None)


def test_parameters_that_make_no_valid_settings_are_one_error() -> None:
    with pytest.raises(CliError) as raised:
        settings_from(stack(GraceDays="400"), account_role="R")
    assert str(raised.value) == (
        "the parameters of stack access-key-remediation make no valid settings: "
        "grace_days: Input should be less than or equal to 365"
    )


# -- plan lines, run ids -----------------------------------------------------------------------------


def plan(*, dry_run: bool = False, mode: Mode | None = None, **parameters: str) -> LocalSweep:
    settings = settings_from(
        stack(**parameters),
        account_role="OrganizationAccountAccessRole",
        mode=Mode.REPORT if dry_run else mode,
        quiet=dry_run,
    )
    return LocalSweep(
        run_id="cli-20261128T060000.000000Z",
        settings=settings,
        region="eu-west-1",
        security_account="111111111111",
        account_role="OrganizationAccountAccessRole",
        accounts=("111111111111", "222222222222"),
        skipped=(("123456789012", SELF_SKIPPED),),
        dry_run=dry_run,
    )


def test_the_plan_says_what_happens_to_which_accounts() -> None:
    assert describe_local(plan(WarnDaysBefore="7"), concurrency=8) == [
        "Would sweep 2 account(s) from this machine, 8 at a time, in mode staged: violating keys are "
        "deactivated, and deleted 14 day(s) later if still inactive",
        "Rules: rotation after 90 days, unused after 45 days; owners warned 7 days before",
        "Would enter each account through the role OrganizationAccountAccessRole, and record every "
        "decision in access-key-remediation-AuditTable-ABC in the security account 111111111111",
        f"Would skip 123456789012: {SELF_SKIPPED}",
    ]
    assert plan().changes_iam


@pytest.mark.parametrize(
    ("mode", "effect"),
    [
        (Mode.REPORT, "violating keys are only recorded, nothing in IAM changes"),
        (Mode.DEACTIVATE, "violating keys are deactivated"),
        (Mode.DELETE, "violating keys are deleted"),
    ],
)
def test_the_plan_names_the_effect_of_each_mode(mode: Mode, effect: str) -> None:
    first = describe_local(plan(mode=mode), concurrency=1)[0]
    assert first.endswith(f"in mode {mode.value}: {effect}")


def test_a_dry_run_is_report_mode_and_says_so() -> None:
    dry = plan(dry_run=True, WarnDaysBefore="7")
    lines = describe_local(dry, concurrency=4)
    assert "in mode report: violating keys are only recorded" in lines[0]
    assert lines[1] == "Rules: rotation after 90 days, unused after 45 days"
    assert (
        "Dry run: mode report, and nothing is written: no audit record, no key lifecycle, no claim, no "
        "notification; the decisions are only shown here"
    ) in lines
    assert not dry.changes_iam


def test_the_run_id_is_one_the_deployed_sweep_accepts_with_the_same_label() -> None:
    run_id = new_run_id(datetime(2026, 11, 28, 6, 0, 0, 123456, tzinfo=UTC))
    assert run_id == "cli-20261128T060000.123456Z"
    assert SweepMessage(account_id="222222222222", run_id=run_id).label == label_of(run_id)


# -- undo --------------------------------------------------------------------------------------------


def lifecycle(stage: Stage, **dates: datetime) -> KeyLifecycle:
    return KeyLifecycle(
        account_id="222222222222",
        access_key_id="AKIABATCH0000000001",
        user_name="batch",
        stage=stage,
        updated_at=NOW,
    ).model_copy(update=dates)


@pytest.mark.parametrize(
    ("known", "reason"),
    [
        (None, "AKIABATCH0000000001 in 222222222222 was not deactivated by this service"),
        (lifecycle(Stage.WARNED), "AKIABATCH0000000001 in 222222222222 was not deactivated by this service"),
        (
            lifecycle(Stage.DETECTED),
            "AKIABATCH0000000001 in 222222222222 was not deactivated by this service",
        ),
        (
            lifecycle(Stage.DELETED, deleted_at=NOW - timedelta(days=2)),
            "AKIABATCH0000000001 in 222222222222 was deleted on 2026-11-26; it cannot come back",
        ),
        (
            lifecycle(Stage.REACTIVATED, reactivated_at=NOW - timedelta(days=1)),
            "AKIABATCH0000000001 in 222222222222 was made active again on 2026-11-27",
        ),
    ],
)
def test_undo_refusals_say_why(known: KeyLifecycle | None, reason: str) -> None:
    assert refusal("222222222222", "AKIABATCH0000000001", known) == reason


def test_the_undo_plan_line() -> None:
    undo = UndoPlan(
        account_id="222222222222",
        access_key_id="AKIABATCH0000000001",
        user_name="batch",
        deactivated_at=NOW - timedelta(days=3),
        grace_ends=NOW + timedelta(days=11),
        operator="arn:aws:sts::123456789012:assumed-role/Admin/jo",
        region="eu-west-1",
        settings=settings_from(stack(), account_role="R"),
    )
    assert (
        undo.line
        == "Would reactivate AKIABATCH0000000001 of batch in 222222222222, deactivated on 2026-11-25"
    )


# -- the JSON envelope -------------------------------------------------------------------------------


def test_the_envelope_is_an_error_when_an_account_failed() -> None:
    quiet = dict.fromkeys(COUNTS, 0)
    results = [
        AccountResult("111111111111", quiet | {"deactivated": 2}),
        AccountResult(
            "222222222222",
            quiet | {"failed": 1},
            ("member role could not be assumed: sts:AssumeRole into 222222222222: AccessDenied",),
        ),
    ]
    payload = local_envelope(plan(), results, ["line"], seconds=1.23456)
    assert (payload["command"], payload["status"], payload["changed"]) == ("sweep", "error", True)
    assert payload["error"] == "1 of 2 account(s) failed"
    assert payload["result"]["totals"] == quiet | {
        "deactivated": 2,
        "failed": 1,
        "accounts": 2,
        "accounts_failed": 1,
    }
    assert payload["result"]["seconds"] == 1.235
    assert payload["result"]["skipped"] == [{"account_id": "123456789012", "reason": SELF_SKIPPED}]
    assert payload["result"]["accounts"][1]["errors"] == list(results[1].errors)


# -- option checks before any AWS call ---------------------------------------------------------------


@pytest.mark.parametrize("option", [["--mode", "report"], ["--dry-run"]])
def test_mode_and_dry_run_need_local(option: list[str]) -> None:
    result = CliRunner().invoke(
        app, ["sweep", "--security-account", "111111111111", *option, "--output", "json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "command": "sweep",
        "status": "error",
        "error": "--mode and --dry-run go with --local: the deployed sweep has its mode",
    }


def test_the_log_groups_come_from_the_stack_and_from_its_name_before_it_had_them() -> None:
    outputs = {
        "SweepLogGroupName": "/aws/lambda/akr-sweep",
        "WorkerLogGroupName": "/aws/lambda/akr-worker-51af3dc0",
    }
    current = StackState(name="akr", status="UPDATE_COMPLETE", outputs=outputs)
    assert sweep_log_groups(current) == ("/aws/lambda/akr-sweep", "/aws/lambda/akr-worker-51af3dc0")
    older = StackState(name="akr", status="UPDATE_COMPLETE", outputs={"AuditTableName": "t"})
    assert sweep_log_groups(older) == ("/aws/lambda/akr-sweep", "/aws/lambda/akr-worker")
