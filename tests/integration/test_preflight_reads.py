"""What the pre-flight reads (org_bootstrap.deploy.readiness), on moto: a member account is read through its
role with a session policy that allows exactly the calls made. moto does not enforce session policies, so
the calls are recorded and compared with the policy. Where moto lacks the API (Organizations'
DescribeResourcePolicy) a Stubber answers, checked against the service model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.demo.organization import record_iam_users
from org_bootstrap.demo.simulation import REGION, MotoOrganization
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.observed import Observed
from org_bootstrap.deploy.readiness import MEMBER_READS, MEMBER_SESSION_POLICY, read_members, sweep_can_list

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_organizations import OrganizationsClient


class RecordingAws(Aws):
    """Records every call made through the sessions it assumes, and the session policy they got."""

    def __init__(self) -> None:
        super().__init__(region=REGION)
        self.calls: set[str] = set()
        self.policies: set[str | None] = set()

    def reader(self, session_policy: str) -> Aws:
        self.session_policy = session_policy
        return self

    def assume(
        self, account_id: str, role_name: str, *, from_session: boto3.Session | None = None
    ) -> boto3.Session:
        self.policies.add(self.session_policy)
        session = super().assume(account_id, role_name, from_session=from_session)

        def record(model: OperationModel, **_: Any) -> None:
            self.calls.add(f"{model.service_model.signing_name}:{model.name}")

        session.events.register("before-call", record)
        return session


@pytest.fixture
def observed(org: MotoOrganization) -> Observed:
    return Observed(
        caller_account=org.management,
        management_account=org.management,
        organization_id="o-abcdefghij",
        root_id="r-ab12",
        delegated_admin=False,
        trusted_access=True,
        accounts=(),
        target_accounts=org.members,
    )


def test_a_member_is_read_with_exactly_the_reads_its_session_policy_allows(
    org: MotoOrganization, observed: Observed
) -> None:
    # No recorder in the home region, one in us-east-1: every read of the pre-flight is made.
    member = org.members[0]
    record_iam_users(org.session(member).client("config", region_name="us-east-1"))
    aws = RecordingAws()
    deployment = Deployment(security_account_id=org.security, home_region=REGION)
    (facts,) = read_members(aws, deployment, observed, [member], lambda _message: None)
    assert (facts.unreachable, facts.recorders, facts.recording_elsewhere, facts.existing) == (
        "",
        (),
        ("us-east-1",),
        (),
    )
    assert aws.policies == {MEMBER_SESSION_POLICY}
    assert aws.calls == set(MEMBER_READS)
    (statement,) = json.loads(MEMBER_SESSION_POLICY)["Statement"]
    assert statement == {"Effect": "Allow", "Action": list(MEMBER_READS), "Resource": "*"}
    assert all(action.split(":")[1].startswith(("Describe", "Get", "List")) for action in MEMBER_READS)


@pytest.fixture
def organizations() -> Iterator[tuple[OrganizationsClient, Stubber]]:
    client: OrganizationsClient = boto3.Session(region_name=REGION).client("organizations")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


SECURITY = "222222222222"


def test_a_delegated_administrator_may_list(organizations: tuple[OrganizationsClient, Stubber]) -> None:
    client, stub = organizations
    stub.add_response(
        "list_delegated_services_for_account",
        {"DelegatedServices": [{"ServicePrincipal": "guardduty.amazonaws.com"}]},
        {"AccountId": SECURITY},
    )
    assert sweep_can_list(client, SECURITY) is True


@pytest.mark.parametrize(
    ("content", "allowed"),
    [
        (
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{SECURITY}:root"},
                        "Action": ["organizations:ListAccounts", "organizations:DescribeOrganization"],
                        "Resource": "*",
                    }
                ],
            },
            True,
        ),
        (None, False),
    ],
    ids=["the resource policy grants it", "no resource policy"],
)
def test_otherwise_the_resource_policy_decides(
    organizations: tuple[OrganizationsClient, Stubber], content: dict[str, Any] | None, allowed: bool
) -> None:
    client, stub = organizations
    stub.add_client_error(
        "list_delegated_services_for_account",
        "AccountNotRegisteredException",
        "The provided account is not a registered delegated administrator for your organization.",
        expected_params={"AccountId": SECURITY},
    )
    if content is None:
        stub.add_client_error(
            "describe_resource_policy", "ResourcePolicyNotFoundException", "No resource policy"
        )
    else:
        stub.add_response(
            "describe_resource_policy",
            {
                "ResourcePolicy": {
                    "ResourcePolicySummary": {"Id": "rp-abcd1234"},
                    "Content": json.dumps(content),
                }
            },
        )
    assert sweep_can_list(client, SECURITY) is allowed


def test_a_caller_that_may_not_read_the_delegations_gets_a_clear_error(
    organizations: tuple[OrganizationsClient, Stubber],
) -> None:
    # read_central_facts turns it into a "Not checked" line: the deploy is not refused for it.
    client, stub = organizations
    stub.add_client_error(
        "list_delegated_services_for_account",
        "AccessDeniedException",
        "not allowed",
        expected_params={"AccountId": SECURITY},
    )
    with pytest.raises(CliError) as raised:
        sweep_can_list(client, SECURITY)
    assert str(raised.value) == (
        f"cannot read the delegated services of account {SECURITY}: AccessDeniedException: not allowed"
    )
