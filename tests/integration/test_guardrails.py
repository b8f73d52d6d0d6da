"""The guardrail SCP in AWS Organizations: created, attached, updated, left alone and removed, against moto;
and, with botocore's Stubber, the calls where moto is more lenient than AWS (it attaches a policy twice
and attaches an SCP to a root whose SCP policy type is disabled, both of which AWS refuses:
DuplicatePolicyAttachmentException, PolicyTypeNotEnabledException)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from org_bootstrap.aws import Aws
from org_bootstrap.deploy.apply import guardrails_for
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.footprint import Footprint
from org_bootstrap.deploy.guardrails import (
    GuardrailsError,
    apply_guardrails,
    read_guardrails,
    remove_guardrails,
)
from org_bootstrap.deploy.guardrails_plan import (
    OWNER_TAG,
    POLICY_NAME,
    SCP,
    GuardrailsState,
    describe_guardrails,
    plan_guardrails,
    policy_content,
)
from org_bootstrap.deploy.observed import Account
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.deploy.teardown import describe_destroy, plan_destroy
from tests.unit.test_deploy_plan import MEMBERS, deployment, fresh, plan

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient

REGION = "us-east-1"
SECURITY = "222222222222"


def said(_: str) -> None:
    """Progress lines are not what these tests look at."""


@pytest.fixture
def organizations() -> Iterator[OrganizationsClient]:
    with mock_aws():
        client = boto3.client("organizations", region_name=REGION)
        client.create_organization(FeatureSet="ALL")
        yield client


def root_of(organizations: OrganizationsClient) -> str:
    return organizations.list_roots()["Roots"][0]["Id"]


def ou_in(organizations: OrganizationsClient, name: str) -> str:
    return organizations.create_organizational_unit(ParentId=root_of(organizations), Name=name)[
        "OrganizationalUnit"
    ]["Id"]


def deploy_guardrails(organizations: OrganizationsClient, targets: tuple[str, ...]) -> list[str]:
    """What `akr deploy --attach-guardrails` does with them: read, plan, apply; the plan's lines."""
    root = root_of(organizations)
    state = read_guardrails(organizations, root)
    plan = plan_guardrails(state, asked=True, targets=targets, root_id=root)
    if not plan.changes_nothing:
        apply_guardrails(organizations, plan, state, said)
    return plan.lines()


def ours(organizations: OrganizationsClient) -> GuardrailsState:
    return read_guardrails(organizations, root_of(organizations))


def test_a_first_deploy_enables_scps_creates_the_policy_and_attaches_it_to_the_targets(
    organizations: OrganizationsClient,
) -> None:
    workloads = ou_in(organizations, "Workloads")
    lines = deploy_guardrails(organizations, (workloads,))
    state = ours(organizations)
    assert state.scp_enabled
    assert state.ours
    assert json.loads(state.content) == json.loads(policy_content())
    assert state.attached_to == (workloads,)
    assert lines[0].startswith(f"Would enable service control policies on root {root_of(organizations)}")
    assert lines[1].startswith(f"Would create the guardrail SCP {POLICY_NAME}")
    assert lines[2].startswith(
        f"Would attach the guardrail SCP to {workloads}: member-account administrators"
    )


def test_a_second_deploy_changes_nothing_and_says_the_scp_stays_attached(
    organizations: OrganizationsClient,
) -> None:
    workloads = ou_in(organizations, "Workloads")
    deploy_guardrails(organizations, (workloads,))
    before = ours(organizations)
    lines = deploy_guardrails(organizations, (workloads,))
    assert ours(organizations) == before
    assert lines == [f"The guardrail SCP stays attached to {workloads} (unchanged)"]


def test_a_changed_policy_file_updates_the_policy_in_place(organizations: OrganizationsClient) -> None:
    workloads = ou_in(organizations, "Workloads")
    deploy_guardrails(organizations, (workloads,))
    first = ours(organizations)
    organizations.update_policy(PolicyId=first.policy_id, Content='{"Version":"2012-10-17","Statement":[]}')
    lines = deploy_guardrails(organizations, (workloads,))
    after = ours(organizations)
    assert after.policy_id == first.policy_id
    assert json.loads(after.content) == json.loads(policy_content())
    assert lines == [
        f"Would update the guardrail SCP {POLICY_NAME} to stacksets/guardrails-scp.json",
        f"The guardrail SCP stays attached to {workloads} (its new content applies at once)",
    ]


def test_a_new_target_gets_it_and_an_old_one_keeps_it(organizations: OrganizationsClient) -> None:
    old, new = ou_in(organizations, "Old"), ou_in(organizations, "New")
    deploy_guardrails(organizations, (old,))
    lines = deploy_guardrails(organizations, (new,))
    assert set(ours(organizations).attached_to) == {old, new}
    assert lines[-1] == f"The guardrail SCP is also attached to {old}, not a target now: left as it is"


def test_without_the_option_an_attached_scp_stays_and_the_plan_says_so(
    organizations: OrganizationsClient,
) -> None:
    workloads = ou_in(organizations, "Workloads")
    deploy_guardrails(organizations, (workloads,))
    plan = plan_guardrails(
        ours(organizations), asked=False, targets=(workloads,), root_id=root_of(organizations)
    )
    assert plan.changes_nothing
    assert plan.lines() == [
        f"The guardrail SCP {POLICY_NAME} stays attached to {workloads} (unchanged; akr destroy detaches "
        "and deletes it)"
    ]


def test_a_policy_of_that_name_without_the_tag_is_refused_and_left_alone(
    organizations: OrganizationsClient,
) -> None:
    workloads = ou_in(organizations, "Workloads")
    theirs = organizations.create_policy(
        Content='{"Version":"2012-10-17","Statement":[]}', Description="", Name=POLICY_NAME, Type=SCP
    )["Policy"]["PolicySummary"]["Id"]
    with pytest.raises(PlanError) as refused:
        deploy_guardrails(organizations, (workloads,))
    assert str(refused.value) == (
        f"an SCP named {POLICY_NAME} ({theirs}) exists without the tag managed-by=access-key-remediation: "
        "akr did not create it and will not change it; rename it, or tag it if it is akr's"
    )
    state = ours(organizations)
    remove_guardrails(organizations, state, said)
    assert organizations.describe_policy(PolicyId=theirs)["Policy"]["Content"] == (
        '{"Version":"2012-10-17","Statement":[]}'
    )
    assert not state.scp_enabled  # nothing was enabled either


def footprint(organizations: OrganizationsClient) -> Footprint:
    return Footprint(
        caller_account="123456789012",
        management_account="123456789012",
        organization_id="o-abcdefghij",
        delegated_admin=False,
        root_id=root_of(organizations),
        accounts=(Account(id=SECURITY, name="Security", status="ACTIVE"),),
    )


def test_destroy_detaches_and_deletes_only_the_policy_it_created(organizations: OrganizationsClient) -> None:
    workloads = ou_in(organizations, "Workloads")
    deploy_guardrails(organizations, (workloads,))
    state = ours(organizations)
    deployment = Deployment(security_account_id=SECURITY, home_region="eu-west-1")
    plan = plan_destroy(deployment, footprint(organizations), delete_audit_log=False, guardrails=state)
    assert describe_destroy(plan, deployment, footprint(organizations))[0] == (
        f"Would detach the guardrail SCP {POLICY_NAME} ({state.policy_id}) from {workloads} and delete it "
        "(service control policies stay enabled on the root)"
    )
    assert plan.guardrails is not None
    remove_guardrails(organizations, plan.guardrails, said)
    names = [p["Name"] for p in organizations.list_policies(Filter=SCP)["Policies"]]
    assert POLICY_NAME not in names
    assert "FullAWSAccess" in names


def test_destroy_plan_leaves_a_foreign_policy_of_that_name(organizations: OrganizationsClient) -> None:
    theirs = organizations.create_policy(
        Content='{"Version":"2012-10-17","Statement":[]}', Description="", Name=POLICY_NAME, Type=SCP
    )["Policy"]["PolicySummary"]["Id"]
    deployment = Deployment(security_account_id=SECURITY, home_region="eu-west-1")
    plan = plan_destroy(
        deployment, footprint(organizations), delete_audit_log=False, guardrails=ours(organizations)
    )
    assert plan.guardrails is None
    assert plan.deletes_nothing
    assert describe_destroy(plan, deployment, footprint(organizations))[0] == (
        f"Would leave the SCP {POLICY_NAME} ({theirs}) alone: it lacks akr's tag, so akr did not create it"
    )


# -- where moto is lenient: the exact calls, against the real service model ------------------------------


def test_scps_are_enabled_before_the_policy_is_attached_and_nothing_is_attached_twice() -> None:
    """moto attaches to a root whose SCP type is disabled, and attaches twice; AWS refuses both, so the
    order and the skip of what is attached are checked call by call."""
    client = boto3.client("organizations", region_name=REGION)
    root, old, new = "r-ab12", "ou-ab12-11111111", "ou-ab12-22222222"
    state = GuardrailsState(scp_enabled=False)
    plan = plan_guardrails(state, asked=True, targets=(old, new), root_id=root)
    with Stubber(client) as stub:
        stub.add_response("enable_policy_type", {"Root": {"Id": root}}, {"RootId": root, "PolicyType": SCP})
        # Enabling is asynchronous: the attach waits until the root lists SCPs as enabled.
        for status in ("PENDING_ENABLE", "ENABLED"):
            stub.add_response(
                "list_roots", {"Roots": [{"Id": root, "PolicyTypes": [{"Type": SCP, "Status": status}]}]}
            )
        stub.add_response(
            "create_policy",
            {"Policy": {"PolicySummary": {"Id": "p-abcdefgh"}}},
            {
                "Content": policy_content(),
                "Description": ANY,
                "Name": POLICY_NAME,
                "Type": SCP,
                "Tags": [OWNER_TAG],
            },
        )
        for target in (old, new):
            stub.add_response("attach_policy", {}, {"PolicyId": "p-abcdefgh", "TargetId": target})
        assert apply_guardrails(client, plan, state, said, poll_seconds=0) == "p-abcdefgh"
        stub.assert_no_pending_responses()
    attached = GuardrailsState(
        scp_enabled=True, policy_id="p-abcdefgh", ours=True, content=policy_content(), attached_to=(old,)
    )
    again = plan_guardrails(attached, asked=True, targets=(old, new), root_id=root)
    with Stubber(client) as stub:
        stub.add_response("attach_policy", {}, {"PolicyId": "p-abcdefgh", "TargetId": new})
        apply_guardrails(client, again, attached, said)
        stub.assert_no_pending_responses()


def test_a_delegated_administrator_is_refused_before_anything_is_read() -> None:
    """SCPs are created and attached from the management account; Organizations is not called at all."""
    observed = fresh(caller_account=MEMBERS[0], delegated_admin=True)
    desired = deployment(attach_guardrails=True)
    with pytest.raises(PlanError) as refused:
        guardrails_for(
            Aws(region=REGION, endpoint_url="http://127.0.0.1:1"), desired, observed, plan(desired, observed)
        )
    assert str(refused.value) == (
        f"--attach-guardrails runs from the management account {observed.management_account}: service "
        "control policies are created and attached there"
    )
    assert guardrails_for(Aws(region=REGION), deployment(), observed, plan(deployment(), observed)) == (
        None,
        None,
    )


def test_without_the_option_a_foreign_policy_of_that_name_is_neither_refused_nor_mentioned(
    organizations: OrganizationsClient,
) -> None:
    organizations.create_policy(
        Content='{"Version":"2012-10-17","Statement":[]}', Description="", Name=POLICY_NAME, Type=SCP
    )
    plan = plan_guardrails(ours(organizations), asked=False, targets=("r-ab12",), root_id="r-ab12")
    assert (plan.changes_nothing, plan.lines()) == (True, [])


@dataclass
class DeniedAws(Aws):
    """The management account, whose principal may not read the organization's policies."""

    denied: OrganizationsClient = field(
        default_factory=lambda: boto3.Session(region_name=REGION).client("organizations")
    )

    def organizations(self, session: boto3.Session | None = None) -> OrganizationsClient:
        return self.denied


def test_policies_that_cannot_be_read_stop_only_a_deploy_that_asks_for_guardrails() -> None:
    observed = fresh()
    aws = DeniedAws(region=REGION)
    with Stubber(aws.denied) as stub:
        stub.add_client_error("list_roots", "AccessDeniedException", "not authorized")
        assert guardrails_for(aws, deployment(), observed, plan(deployment(), observed)) == (None, None)
        stub.add_client_error("list_roots", "AccessDeniedException", "not authorized")
        desired = deployment(attach_guardrails=True)
        with pytest.raises(GuardrailsError) as refused:
            guardrails_for(aws, desired, observed, plan(desired, observed))
    assert str(refused.value) == (
        "cannot read the service control policies: AccessDeniedException: not authorized"
    )


def test_destroy_says_to_look_by_hand_when_the_policies_cannot_be_read(
    organizations: OrganizationsClient,
) -> None:
    deployment_ = Deployment(security_account_id=SECURITY, home_region="eu-west-1")
    why = "cannot read the service control policies: AccessDeniedException: not authorized"
    plan_ = plan_destroy(deployment_, footprint(organizations), delete_audit_log=False, guardrails_unread=why)
    assert describe_destroy(plan_, deployment_, footprint(organizations))[0] == (
        f"Would leave the guardrail SCP {POLICY_NAME}, if there is one: {why}; detach and delete it by hand "
        "(aws organizations detach-policy, delete-policy)"
    )


def test_scps_that_stay_pending_stop_before_the_policy_is_created(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("org_bootstrap.deploy.guardrails.ENABLE_ATTEMPTS", 2)
    client = boto3.client("organizations", region_name=REGION)
    state = GuardrailsState(scp_enabled=False)
    plan_ = plan_guardrails(state, asked=True, targets=("r-ab12",), root_id="r-ab12")
    with Stubber(client) as stub:
        stub.add_response(
            "enable_policy_type", {"Root": {"Id": "r-ab12"}}, {"RootId": "r-ab12", "PolicyType": SCP}
        )
        for _ in range(2):
            stub.add_response(
                "list_roots",
                {"Roots": [{"Id": "r-ab12", "PolicyTypes": [{"Type": SCP, "Status": "PENDING_ENABLE"}]}]},
            )
        with pytest.raises(GuardrailsError) as stopped:
            apply_guardrails(client, plan_, state, said, poll_seconds=0)
        stub.assert_no_pending_responses()  # and no create_policy: the stub would have refused it
    assert str(stopped.value) == (
        "service control policies are still not enabled on r-ab12 after 0 seconds: run akr deploy "
        "--attach-guardrails again"
    )


def test_status_says_where_the_scp_stands(organizations: OrganizationsClient) -> None:
    root = root_of(organizations)
    assert describe_guardrails(ours(organizations)) == (
        f"No guardrail SCP {POLICY_NAME}: akr deploy --attach-guardrails attaches one"
    )
    deploy_guardrails(organizations, (root,))
    state = ours(organizations)
    assert describe_guardrails(state) == f"Guardrail SCP {POLICY_NAME} ({state.policy_id}) attached to {root}"
    organizations.update_policy(PolicyId=state.policy_id, Content='{"Version":"2012-10-17","Statement":[]}')
    assert describe_guardrails(ours(organizations)) == (
        f"Guardrail SCP {POLICY_NAME} ({state.policy_id}) attached to {root}; it differs from "
        "stacksets/guardrails-scp.json (--attach-guardrails updates it)"
    )
    foreign = GuardrailsState(scp_enabled=True, policy_id="p-12345678")
    assert describe_guardrails(foreign) == f"The SCP {POLICY_NAME} (p-12345678) lacks akr's tag: not akr's"
