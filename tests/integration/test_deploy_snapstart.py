"""`akr deploy --snapstart / --no-snapstart`: the plan, its words, and the parameters CloudFormation gets.

The stacks are those of the real templates; CloudFormation is a botocore Stubber (moto ignores SnapStart and
aliases: tests/stacksets/test_snapstart.py covers what the template does with the parameter).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber

from org_bootstrap.deploy.code_check import lambda_sha256
from org_bootstrap.deploy.deployment import SETTINGS_DIGEST, Deployment
from org_bootstrap.deploy.observed import Observed
from org_bootstrap.deploy.plan import Change, Plan, plan_deploy
from org_bootstrap.deploy.plan_lines import describe
from org_bootstrap.deploy.snapstart import SNAPSTART, SNAPSTART_OFF, SNAPSTART_ON, template_defaults
from org_bootstrap.deploy.stacks import apply_stack
from remediator.policy import Mode
from tests.integration.test_stackset_calls import (
    BUS_ARN,
    CENTRAL_BODY,
    CENTRAL_STACK,
    MEMBER_BODY,
    REGION,
    SECURITY,
    cloudformation,
    observed,
    stacks,
    up_to_date,
)
from tests.stacksets.cfn import load

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

CODE_SHA256 = lambda_sha256("0" * 64)
CENTRAL_UPDATE = f"Would update stack {CENTRAL_STACK} in the security account {SECURITY}"


def deployment(**changes: Any) -> Deployment:
    return Deployment.model_validate({"security_account_id": SECURITY, "home_region": REGION, **changes})


def plan(desired: Deployment, seen: Observed) -> Plan:
    return plan_deploy(
        desired,
        seen,
        code_key="remediator/0123456789abcdef0123.zip",
        code_sha256=CODE_SHA256,
        central_template=CENTRAL_BODY,
        member_template=MEMBER_BODY,
    )


def deployed_by(done: Plan) -> Observed:
    """What CloudFormation reports after `done` was deployed: every parameter, defaults included."""
    seen = up_to_date(done)
    assert seen.central_stack is not None
    reported = {**template_defaults(CENTRAL_BODY), **done.central_parameters}
    return seen.model_copy(
        update={"central_stack": seen.central_stack.model_copy(update={"parameters": reported})}
    )


def deployed_with(snapstart: bool | None) -> Observed:
    return deployed_by(plan(deployment(snapstart=snapstart), observed()))


@pytest.fixture
def cfn() -> Iterator[tuple[CloudFormationClient, Stubber]]:
    client = cloudformation()
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_update(stub: Stubber, result: Plan) -> None:
    """UpdateStack with the plan's values, and UsePreviousValue for what the plan keeps."""
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in result.central_parameters.items()]
    kept = [{"ParameterKey": k, "UsePreviousValue": True} for k in result.central_diff.kept]
    stub.add_response(
        "update_stack",
        {"StackId": "id"},
        {
            "StackName": CENTRAL_STACK,
            "TemplateBody": CENTRAL_BODY,
            "Parameters": sorted(given + kept, key=lambda p: str(p["ParameterKey"])),
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
        },
    )
    stub.add_response("describe_stacks", stacks(CENTRAL_STACK, "UPDATE_COMPLETE", {"EventBusArn": BUS_ARN}))


def apply(client: CloudFormationClient, result: Plan) -> None:
    apply_stack(
        client,
        CENTRAL_STACK,
        change=result.central,
        template=CENTRAL_BODY,
        parameters=result.central_parameters,
        kept=result.central_diff.kept,
        progress=lambda _message: None,
        poll_seconds=0,
    )


def test_turning_snapstart_on_says_what_changes_and_sends_it_with_a_digest(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    client, stub = cfn
    before = deployed_with(None)
    result = plan(deployment(snapstart=True), before)
    assert result.central is Change.UPDATE
    assert result.central_parameters[SNAPSTART] == "true"
    digest = result.central_parameters[SETTINGS_DIGEST]
    assert re.fullmatch(r"[0-9a-f]{64}", digest), digest  # a SHA-256, hex
    assert SNAPSTART not in result.central_diff.kept
    lines = describe(result, deployment(snapstart=True), before)
    (update,) = [line for line in lines if line.startswith(CENTRAL_UPDATE)]
    assert update == f"{CENTRAL_UPDATE}: SnapStart false -> true, a new published version (SnapStart)"
    assert SNAPSTART_ON in lines and SNAPSTART_OFF not in lines
    assert "aliases instead of the functions" in SNAPSTART_ON
    expect_update(stub, result)
    apply(client, result)


def test_turning_snapstart_off_sends_it_and_names_no_version(
    cfn: tuple[CloudFormationClient, Stubber],
) -> None:
    client, stub = cfn
    before = deployed_with(True)
    result = plan(deployment(snapstart=False), before)
    assert result.central is Change.UPDATE
    assert (result.central_parameters[SNAPSTART], result.central_parameters[SETTINGS_DIGEST]) == ("false", "")
    lines = describe(result, deployment(snapstart=False), before)
    (update,) = [line for line in lines if line.startswith(CENTRAL_UPDATE)]
    assert update == f"{CENTRAL_UPDATE}: SnapStart true -> false"
    assert SNAPSTART_OFF in lines and SNAPSTART_ON not in lines
    assert "go back to the functions" in SNAPSTART_OFF
    expect_update(stub, result)
    apply(client, result)


@pytest.mark.parametrize("on", [True, False])
def test_left_out_the_deployed_choice_is_kept(on: bool, cfn: tuple[CloudFormationClient, Stubber]) -> None:
    client, stub = cfn
    before = deployed_with(on)
    # Nothing asked: nothing to change, SnapStart included.
    assert plan(deployment(), before).central is Change.NONE
    assert plan(deployment(snapstart=on), before).central is Change.NONE
    # Another change: SnapStart goes with UsePreviousValue, and stays out of the plan's words.
    result = plan(deployment(mode=Mode.REPORT), before)
    assert result.central is Change.UPDATE
    assert SNAPSTART not in result.central_parameters
    assert SNAPSTART in result.central_diff.kept
    # With SnapStart on, the new mode reaches the alias through a new version; off, nothing is named.
    assert bool(result.central_parameters[SETTINGS_DIGEST]) is on
    lines = describe(result, deployment(mode=Mode.REPORT), before)
    assert SNAPSTART_ON not in lines and SNAPSTART_OFF not in lines
    expect_update(stub, result)
    apply(client, result)


def test_a_first_deploy_with_snapstart_creates_it_on_and_a_second_changes_nothing() -> None:
    first = plan(deployment(snapstart=True), observed())
    assert first.central is Change.CREATE
    assert first.central_parameters[SNAPSTART] == "true"
    assert len(first.central_parameters[SETTINGS_DIGEST]) == 64
    assert SNAPSTART_ON in describe(first, deployment(snapstart=True), observed())
    # The digest covers the template's defaults, as the stack will report them: a deploy that changes
    # nothing publishes nothing.
    assert plan(deployment(), deployed_by(first)).central is Change.NONE
    # Without the option a first deploy gets the template's default, off, and says nothing of SnapStart.
    plain = plan(deployment(), observed())
    assert SNAPSTART not in plain.central_parameters
    assert plain.central_parameters[SETTINGS_DIGEST] == ""
    assert SNAPSTART_ON not in describe(plain, deployment(), observed())


@pytest.mark.parametrize("name", ["central", "member"])
def test_the_defaults_are_read_as_cloudformation_reads_the_templates(name: str) -> None:
    body = CENTRAL_BODY if name == "central" else MEMBER_BODY
    parsed = load(name)["Parameters"]
    expected = {n: str(p["Default"]) for n, p in parsed.items() if "Default" in p}
    assert template_defaults(body) == expected
    assert template_defaults(CENTRAL_BODY)[SNAPSTART] == "false"
