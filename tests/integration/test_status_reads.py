"""What `akr status` reads of the reactivation forwarding rule (org_bootstrap.deploy.status.read_account),
on moto: one DescribeRule and one ListTargetsByRule in us-east-1 per account, read-only, with each target's
role; none in the management account, whose plain stack is in the home region only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

from org_bootstrap.aws import Aws
from org_bootstrap.demo.simulation import REGION, MotoOrganization
from org_bootstrap.deploy.coverage import ForwardingRule
from org_bootstrap.deploy.deployment import FORWARDER_ROLE_NAME, Deployment
from org_bootstrap.deploy.footprint import Footprint
from org_bootstrap.deploy.observed import Account, InstanceState, StackSetState
from org_bootstrap.deploy.status import read_account

if TYPE_CHECKING:
    from botocore.model import OperationModel

RULE = "akr-forward-key-reactivations"
ROLE = "OrganizationAccountAccessRole"


class RecordingAws(Aws):
    """Records (region, operation) of every EventBridge call, in the base session and those assumed."""

    def __init__(self) -> None:
        super().__init__(region=REGION)
        self.calls: list[tuple[str, str]] = []
        self._record(self.base)  # the caller's own account (the management account) is read with it

    def _record(self, session: boto3.Session) -> boto3.Session:
        def record(model: OperationModel, context: dict[str, Any], **_: Any) -> None:
            region = context.get("client_region", "")
            self.calls.append((region, model.name))

        session.events.register("before-call.events", record)
        return session

    def assume(
        self, account_id: str, role_name: str, *, from_session: boto3.Session | None = None
    ) -> boto3.Session:
        return self._record(super().assume(account_id, role_name, from_session=from_session))


def footprint(org: MotoOrganization) -> Footprint:
    instances = tuple(
        InstanceState(account_id=org.members[0], region=region, status="SUCCEEDED", sync="CURRENT")
        for region in (REGION, "us-east-1")
    )
    return Footprint(
        caller_account=org.management,
        management_account=org.management,
        organization_id="o-abcdefghij",
        delegated_admin=False,
        stackset=StackSetState(
            name="access-key-remediation-member",
            template="",
            parameters={},
            instances=instances,
            auto_deployment=True,
        ),
    )


def test_a_member_is_read_in_us_east_1_with_one_describe_and_one_list(org: MotoOrganization) -> None:
    member = org.members[0]
    deployment = Deployment(security_account_id=org.security, home_region=REGION)
    bus = f"arn:aws:events:{REGION}:{org.security}:event-bus/access-key-remediation"
    role = f"arn:aws:iam::{member}:role/{FORWARDER_ROLE_NAME}"
    events = org.session(member).client("events", region_name="us-east-1")
    events.put_rule(Name=RULE, EventPattern='{"source": ["aws.iam"]}', State="DISABLED")
    events.put_targets(Rule=RULE, Targets=[{"Id": "central-bus", "Arn": bus, "RoleArn": role}])
    aws = RecordingAws()
    facts = read_account(
        aws, deployment, footprint(org), Account(id=member, name="m", status="ACTIVE"), account_role=ROLE
    )
    assert facts.reactivation_rule == ForwardingRule(state="DISABLED", target_arns=(bus,), role_arns=(role,))
    assert (facts.events_stack_status, facts.events_stack_sync, facts.management) == (
        "SUCCEEDED",
        "CURRENT",
        False,
    )
    assert [call for call in aws.calls if call[0] == "us-east-1"] == [
        ("us-east-1", "DescribeRule"),
        ("us-east-1", "ListTargetsByRule"),
    ]


def test_a_missing_rule_costs_one_describe(org: MotoOrganization) -> None:
    member = org.members[0]
    aws = RecordingAws()
    deployment = Deployment(security_account_id=org.security, home_region=REGION)
    facts = read_account(
        aws, deployment, footprint(org), Account(id=member, name="m", status="ACTIVE"), account_role=ROLE
    )
    assert facts.unreachable == ""
    assert facts.reactivation_rule is None
    assert [call for call in aws.calls if call[0] == "us-east-1"] == [("us-east-1", "DescribeRule")]


def test_the_management_account_is_not_read_in_us_east_1(org: MotoOrganization) -> None:
    aws = RecordingAws()
    deployment = Deployment(security_account_id=org.security, home_region=REGION)
    management = Account(id=org.management, name="management", status="ACTIVE")
    facts = read_account(aws, deployment, footprint(org), management, account_role=ROLE)
    assert facts.management is True
    assert facts.events_stack_status is None
    # Its forwarding rule in the home region (missing here: no ListTargetsByRule), nothing in us-east-1.
    assert aws.calls == [(REGION, "DescribeRule")]
