"""A change of mode changes the member role's rights: the plan says so in words, and `akr deploy` updates
the central and the member stacks in the order that never leaves the remediator trying an action its role
lacks, nor holding one its mode does not need (org_bootstrap/deploy/rights.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

import org_bootstrap.deploy.apply as apply_module
from org_bootstrap.aws import Aws
from org_bootstrap.deploy.apply import Prepared, carry_out
from org_bootstrap.deploy.code_check import lambda_sha256
from org_bootstrap.deploy.deployment import (
    SETTINGS_DIGEST,
    Deployment,
    ManagementAccount,
    central_parameters,
    member_parameters,
    resolve_policy,
)
from org_bootstrap.deploy.lambda_zip import Artifact
from org_bootstrap.deploy.observed import Account, InstanceState, Observed, StackSetState, StackState
from org_bootstrap.deploy.plan import Change, plan_deploy
from org_bootstrap.deploy.plan_lines import describe
from org_bootstrap.deploy.preflight import Preflight
from org_bootstrap.deploy.rights import Order, rights_change
from remediator.policy import Mode
from tests.fixtures import secured_bucket

MANAGEMENT, SECURITY, MEMBER = "111111111111", "222222222222", "333333333333"
REGION = "eu-west-1"
BUS_ARN = f"arn:aws:events:{REGION}:{SECURITY}:event-bus/access-key-remediation"
CODE_KEY = "remediator/0123456789abcdef0123.zip"
CODE_SHA256 = lambda_sha256("0" * 64)
CENTRAL = (
    "# dynamodb:PartiQLSelect\n"
    "Parameters:\n  Mode:\n    Type: String\n  ForwarderRoleName:\n    Type: String\n"
)
MEMBER_TEMPLATE = "Parameters:\n  Mode:\n    Type: String\n"


def deployed(mode: Mode | None) -> Observed:
    """An organization deployed in `mode`; None: member stacks of a template without the Mode parameter."""
    # The management account in enforce (it follows the members), which needs a protected path.
    desired = Deployment(
        security_account_id=SECURITY,
        home_region=REGION,
        mode=mode or Mode.DELETE,
        protected_user_path="/break-glass/",
    )
    policy = resolve_policy(desired, central=None, member=None)
    member = member_parameters(desired, policy, organization_id="o-abcdefghij", bus_arn=BUS_ARN)
    if mode is None:
        del member["Mode"]
    central = central_parameters(
        desired,
        policy,
        organization_id="o-abcdefghij",
        code_key=CODE_KEY,
        code_sha256=CODE_SHA256,
        partition="aws",
        verify_exemptions=True,
        management_account=MANAGEMENT,
        management_mode=ManagementAccount.ENFORCE,
    )
    central[SETTINGS_DIGEST] = ""  # SnapStart off
    return Observed(
        caller_account=MANAGEMENT,
        management_account=MANAGEMENT,
        organization_id="o-abcdefghij",
        root_id="r-ab12",
        delegated_admin=False,
        trusted_access=True,
        accounts=tuple(Account(id=a, name=a, status="ACTIVE") for a in (MANAGEMENT, SECURITY, MEMBER)),
        target_accounts=(SECURITY, MEMBER),
        **secured_bucket(SECURITY, REGION),
        code_uploaded=True,
        central_stack=StackState(
            name="access-key-remediation", status="UPDATE_COMPLETE", parameters=central, template=CENTRAL
        ),
        stackset=StackSetState(
            name="access-key-remediation-member",
            template=MEMBER_TEMPLATE,
            parameters=member,
            auto_deployment=True,
            # The home region's, and us-east-1's with the reactivation forwarding rule.
            instances=tuple(
                InstanceState(account_id=a, region=r, status="SUCCEEDED")
                for r in (REGION, "us-east-1")
                for a in (SECURITY, MEMBER)
            ),
        ),
        management_stack=StackState(
            name="access-key-remediation-member",
            status="UPDATE_COMPLETE",
            parameters=member,
            template=MEMBER_TEMPLATE,
        ),
    )


def planned(deployed_mode: Mode | None, asked: Mode) -> tuple[Deployment, Observed, Prepared]:
    desired = Deployment(security_account_id=SECURITY, home_region=REGION, mode=asked)
    observed = deployed(deployed_mode)
    plan = plan_deploy(
        desired,
        observed,
        code_key=CODE_KEY,
        code_sha256=CODE_SHA256,
        central_template=CENTRAL,
        member_template=MEMBER_TEMPLATE,
    )
    artifact = Artifact(path=Path("unused.zip"), sha256="0" * 64)
    return desired, observed, Prepared(desired, artifact, observed, plan, preflight=Preflight())


@pytest.mark.parametrize(
    ("old", "new", "order"),
    [
        (Mode.REPORT, Mode.DEACTIVATE, Order.MEMBERS_FIRST),
        (Mode.REPORT, Mode.DELETE, Order.MEMBERS_FIRST),
        (Mode.REPORT, Mode.STAGED, Order.MEMBERS_FIRST),
        (Mode.DEACTIVATE, Mode.STAGED, Order.MEMBERS_FIRST),
        (Mode.DELETE, Mode.STAGED, Order.MEMBERS_FIRST),
        (Mode.STAGED, Mode.REPORT, Order.CENTRAL_FIRST),
        (Mode.STAGED, Mode.DELETE, Order.CENTRAL_FIRST),
        (Mode.STAGED, Mode.DEACTIVATE, Order.CENTRAL_FIRST),
        (Mode.DELETE, Mode.REPORT, Order.CENTRAL_FIRST),
        (Mode.DEACTIVATE, Mode.REPORT, Order.CENTRAL_FIRST),
        (Mode.DEACTIVATE, Mode.DELETE, Order.MEMBERS_WIDENED_FIRST),
        (Mode.DELETE, Mode.DEACTIVATE, Order.MEMBERS_WIDENED_FIRST),
        (None, Mode.DELETE, Order.CENTRAL_FIRST),
        (None, Mode.REPORT, Order.CENTRAL_FIRST),
        (None, Mode.STAGED, None),
    ],
)
def test_each_change_of_rights_has_its_order(old: Mode | None, new: Mode, order: Order | None) -> None:
    members = deployed(old).stackset
    assert members is not None
    change = rights_change(members.parameters, new)
    assert (change.order if change else None) == order
    assert rights_change(members.parameters, old or Mode.STAGED) is None
    assert rights_change(None, new) is None  # a first deploy: no role to change


def test_an_upgrade_from_a_member_role_with_every_right_says_what_it_loses() -> None:
    desired, observed, prepared = planned(None, Mode.DELETE)
    lines = describe(prepared.plan, desired, observed)
    # The mode stays delete: the central stack has nothing to change, the member stacks lose a right.
    assert prepared.plan.central is Change.NONE
    assert lines[0].startswith("Would update StackSet access-key-remediation-member")
    assert lines[0].endswith("Mode (not set) -> delete")
    assert lines[-1] == (
        "The member role in every account holds every key action (its template predates the member Mode "
        "parameter); mode delete needs iam:DeleteAccessKey: the central stack is updated first, then the "
        "member stacks remove iam:UpdateAccessKey"
    )


def test_trading_one_right_for_another_grants_both_first_in_the_plan() -> None:
    desired, observed, prepared = planned(Mode.DEACTIVATE, Mode.DELETE)
    lines = describe(prepared.plan, desired, observed)
    assert lines[:4] == [
        "Would first update StackSet access-key-remediation-member and stack access-key-remediation-member "
        "with Mode staged, for the member role to hold both key actions meanwhile",
        f"Would update stack access-key-remediation in the security account {SECURITY}: "
        "Mode deactivate -> delete",
        "Would update StackSet access-key-remediation-member (service-managed, automatic deployment) for "
        f"r-ab12 in {REGION}, us-east-1: Mode deactivate -> delete",
        f"Would update stack access-key-remediation-member in the management account {MANAGEMENT}: "
        "Mode deactivate -> delete",
    ]
    assert lines[4] == (
        "The member role in every account holds iam:UpdateAccessKey; mode delete needs iam:DeleteAccessKey: "
        "the member stacks first get both (staged), then the central stack changes mode, then the member "
        "stacks remove iam:UpdateAccessKey"
    )


class NoAws(Aws):
    """carry_out's clients are never used here: the stack functions are recorded instead."""

    def assume(self, account_id: str, role_name: str, *, from_session: boto3.Session | None = None) -> Any:
        return boto3.Session(region_name=REGION)

    def cloudformation(self, session: boto3.Session | None = None, region: str | None = None) -> Any:
        return "security" if session is not None else "management"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (Mode.REPORT, Mode.DELETE, ["stackset delete", "management delete", "central delete"]),
        (Mode.DELETE, Mode.REPORT, ["central report", "stackset report", "management report"]),
        (
            Mode.DEACTIVATE,
            Mode.DELETE,
            [
                "stackset staged",
                "management staged",
                "central delete",
                "stackset delete",
                "management delete",
            ],
        ),
        (None, Mode.DELETE, ["central delete", "stackset delete", "management delete"]),
    ],
)
def test_deploy_updates_the_stacks_in_the_order_the_rights_need(
    monkeypatch: pytest.MonkeyPatch, old: Mode | None, new: Mode, expected: list[str]
) -> None:
    calls: list[str] = []

    def stack(
        client: str, name: str, *, change: Change, parameters: dict[str, str], **_: Any
    ) -> dict[str, str]:
        calls.append(f"{'central' if client == 'security' else 'management'} {parameters['Mode']}")
        return {}

    def stackset(_client: str, _name: str, *, parameters: dict[str, str], **_: Any) -> None:
        calls.append(f"stackset {parameters['Mode']}")

    monkeypatch.setattr(apply_module, "apply_stack", stack)
    monkeypatch.setattr(apply_module, "apply_stackset", stackset)
    monkeypatch.setattr(apply_module, "read_stackset", lambda *_args: None)
    # The central template goes through S3 (template_store.py); its upload and read-back are tested there.
    monkeypatch.setattr(apply_module, "store_template", lambda *_args: None)
    monkeypatch.setattr(apply_module, "check_running", lambda *_args: None)
    monkeypatch.setattr(
        apply_module, "check_code", lambda *_args: None
    )  # tests/integration/test_code_check.py
    _, _, prepared = planned(old, new)
    carry_out(NoAws(region=REGION), prepared, lambda _message: None, poll_seconds=0)
    assert calls == expected
