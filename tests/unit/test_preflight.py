"""The pre-flight's verdicts (org_bootstrap.deploy.preflight): what would fail, in words, from the facts
read in each account. Pure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from org_bootstrap.deploy.coverage import Recorder
from org_bootstrap.deploy.preflight import (
    CentralFacts,
    MemberFacts,
    Preflight,
    central_problems,
    describe_preflight,
    grants_list_accounts,
    member_problems,
)

ACCOUNT = "333333333333"
SECURITY = "222222222222"
REGION = "eu-west-1"
IAM_ONLY = {"allSupported": False, "resourceTypes": ["AWS::IAM::User"]}
RECORDING = Recorder(name="default", recording_group=IAM_ONLY, recording=True)


def problems(facts: MemberFacts, *, create_recorder: bool = False) -> list[str]:
    return member_problems(facts, home_region=REGION, create_recorder=create_recorder)


def test_an_account_that_records_iam_users_and_has_none_of_the_names_is_ready() -> None:
    assert problems(MemberFacts(account_id=ACCOUNT, recorders=(RECORDING,))) == []


@pytest.mark.parametrize(
    ("recorders", "detail"),
    [
        ((), f"no Config recorder in {REGION}"),
        (
            (Recorder(name="default", recording_group={"allSupported": True}),),
            f"Config recorder default does not record AWS::IAM::User in {REGION}",
        ),
        (
            (RECORDING.model_copy(update={"recording": False}),),
            f"Config recorder default is stopped in {REGION}",
        ),
        (
            (Recorder(name="securityhub", recording_group=IAM_ONLY, recording=True, service_linked=True),),
            f"no Config recorder in {REGION}",
        ),
    ],
    ids=["none", "not IAM users", "stopped", "only a service-linked one"],
)
def test_a_recorder_that_does_not_record_iam_users_here_is_a_problem(
    recorders: tuple[Recorder, ...], detail: str
) -> None:
    assert problems(MemberFacts(account_id=ACCOUNT, recorders=recorders)) == [
        f"account {ACCOUNT}: {detail}; record AWS::IAM::User there (or, where there is no recorder, deploy "
        "with --create-config-recorder)"
    ]


def test_a_recorder_in_another_region_is_named_with_the_way_out() -> None:
    facts = MemberFacts(account_id=ACCOUNT, recording_elsewhere=("us-east-1",))
    assert problems(facts) == [
        f"account {ACCOUNT}: no Config recorder in {REGION}; it records AWS::IAM::User in us-east-1: deploy "
        "with that --home-region"
    ]


def test_creating_a_recorder_where_one_exists_is_a_problem_but_not_beside_a_service_linked_one() -> None:
    assert problems(MemberFacts(account_id=ACCOUNT, recorders=(RECORDING,)), create_recorder=True) == [
        f"account {ACCOUNT}: Config recorder default exists in {REGION}, and there can be only one per "
        "account and region: deploy with --no-create-config-recorder (it must record AWS::IAM::User)"
    ]
    linked = Recorder(name="securityhub", recording_group={}, service_linked=True)
    assert problems(MemberFacts(account_id=ACCOUNT, recorders=(linked,)), create_recorder=True) == []
    assert problems(MemberFacts(account_id=ACCOUNT), create_recorder=True) == []


def test_every_name_that_exists_already_is_a_problem() -> None:
    facts = MemberFacts(
        account_id=ACCOUNT,
        recorders=(RECORDING,),
        existing=("IAM role AccessKeyRemediationRole", "Config rule akr-access-keys-rotated"),
    )
    assert problems(facts) == [
        f"account {ACCOUNT}: IAM role AccessKeyRemediationRole exists already; the member stack cannot "
        "create it",
        f"account {ACCOUNT}: Config rule akr-access-keys-rotated exists already; the member stack cannot "
        "create it",
    ]


def test_the_central_problems() -> None:
    assert central_problems(CentralFacts(), security_account=SECURITY) == []
    # Not known (the caller may not read the delegations): said as not checked, not held against the plan.
    assert central_problems(CentralFacts(sweep_can_list=None), security_account=SECURITY) == []
    found = central_problems(
        CentralFacts(existing=("event bus access-key-remediation",), sweep_can_list=False),
        security_account=SECURITY,
    )
    assert found[0] == (
        f"the security account {SECURITY}: event bus access-key-remediation exists already; the central "
        "stack cannot create it"
    )
    assert found[1].startswith(
        f"the security account {SECURITY} may not list the organization's accounts, so the sweep would fail "
        f"every day: make it a delegated administrator (aws organizations register-delegated-administrator "
        f"--account-id {SECURITY} "
    )


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(
    principal: Any, action: Any = "organizations:ListAccounts", effect: str = "Allow"
) -> dict[str, Any]:
    return {"Effect": effect, "Principal": {"AWS": principal}, "Action": action, "Resource": "*"}


@pytest.mark.parametrize(
    ("document", "granted"),
    [
        (policy(allow(SECURITY)), True),
        (policy(allow(f"arn:aws:iam::{SECURITY}:root")), True),
        (policy(allow([f"arn:aws:iam::{SECURITY}:role/access-key-sweep", "444444444444"])), True),
        (policy(allow(SECURITY, ["organizations:Describe*", "organizations:List*"])), True),
        (policy(allow(SECURITY, "organizations:DescribeOrganization")), False),
        (policy(allow("444444444444")), False),
        (policy(allow(SECURITY), allow(SECURITY, "organizations:*", "Deny")), False),
        ("not json", False),
        (None, False),
    ],
    ids=[
        "account id",
        "root",
        "a role in it",
        "a wildcard",
        "another action",
        "another account",
        "denied",
        "malformed",
        "none",
    ],
)
def test_the_resource_policy_grants_list_accounts(document: str | None, granted: bool) -> None:
    assert grants_list_accounts(document, SECURITY) is granted


def test_the_plan_lines() -> None:
    assert describe_preflight(Preflight(problems=("a", "b"), unchecked=("c",))) == [
        "Problem: a",
        "Problem: b",
        "Not checked: c",
    ]
