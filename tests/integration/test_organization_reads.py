"""What the command line reads from Organizations, checked by botocore's Stubber against the real service
model where moto answers otherwise than AWS: accounts that carry State without Status (Organizations
retires Status on 9 September 2026; moto still sends both), and lists that come in more than one page
(moto answers them in one)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from org_bootstrap.aws import Aws
from org_bootstrap.deploy.observed import STACKSETS_PRINCIPAL, Account
from org_bootstrap.deploy.organization import read_organization, trusted_access

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_sts import STSClient

REGION = "eu-west-1"
MANAGEMENT = "111111111111"
DELEGATED = "999999999999"
ORGANIZATION = "o-abcdefghij"


@dataclass
class StubbedAws(Aws):
    """The management account, with an Organizations client answered by a Stubber."""

    stubbed: OrganizationsClient = field(
        default_factory=lambda: boto3.Session(region_name=REGION).client("organizations")
    )

    caller: str = MANAGEMENT

    def caller_account(self) -> str:
        return self.caller

    def partition(self) -> str:
        return "aws"

    def organizations(self, session: boto3.Session | None = None) -> OrganizationsClient:
        return self.stubbed


@pytest.fixture
def aws() -> Iterator[tuple[StubbedAws, Stubber]]:
    aws = StubbedAws(region=REGION)
    with Stubber(aws.stubbed) as stub:
        yield aws, stub
        stub.assert_no_pending_responses()


def organization_described(stub: Stubber) -> None:
    stub.add_response(
        "describe_organization",
        {"Organization": {"Id": ORGANIZATION, "MasterAccountId": MANAGEMENT, "FeatureSet": "ALL"}},
    )


def account(account_id: str, name: str, **states: str) -> dict[str, Any]:
    return {
        "Id": account_id,
        "Arn": f"arn:aws:organizations::{MANAGEMENT}:account/{ORGANIZATION}/{account_id}",
        "Email": f"{name}@example.com",
        "Name": name,
        **states,
        "JoinedMethod": "CREATED",
        "JoinedTimestamp": datetime(2025, 1, 1, tzinfo=UTC),
    }


def test_accounts_are_read_by_state_with_status_as_the_fallback(aws: tuple[StubbedAws, Stubber]) -> None:
    client, stub = aws
    organization_described(stub)
    stub.add_response("list_roots", {"Roots": [{"Id": "r-ab12", "Name": "Root"}]})
    stub.add_response(
        "list_accounts",
        {
            "Accounts": [
                account(MANAGEMENT, "management", State="ACTIVE"),
                account("222222222222", "security", State="ACTIVE", Status="ACTIVE"),
                account("333333333333", "old-sdk", Status="SUSPENDED"),
                account("444444444444", "closing", State="PENDING_CLOSURE", Status="ACTIVE"),
            ]
        },
    )
    view, _ = read_organization(client)
    assert view.accounts == (
        Account(id=MANAGEMENT, name="management", status="ACTIVE"),
        Account(id="222222222222", name="security", status="ACTIVE"),
        Account(id="333333333333", name="old-sdk", status="SUSPENDED"),
        Account(id="444444444444", name="closing", status="PENDING_CLOSURE"),
    )


def test_trusted_access_is_found_on_a_later_page(aws: tuple[StubbedAws, Stubber]) -> None:
    client, stub = aws

    def enabled(principal: str) -> dict[str, Any]:
        return {"ServicePrincipal": principal, "DateEnabled": datetime(2025, 1, 1, tzinfo=UTC)}

    stub.add_response(
        "list_aws_service_access_for_organization",
        {"EnabledServicePrincipals": [enabled("config.amazonaws.com")], "NextToken": "page-2"},
        {},
    )
    stub.add_response(
        "list_aws_service_access_for_organization",
        {"EnabledServicePrincipals": [enabled(STACKSETS_PRINCIPAL)]},
        {"NextToken": "page-2"},
    )
    assert trusted_access(client.organizations()) is True


def test_a_delegated_administrator_is_found_on_a_later_page(aws: tuple[StubbedAws, Stubber]) -> None:
    client, stub = aws
    client.caller = DELEGATED
    organization_described(stub)

    def admin(account_id: str) -> dict[str, Any]:
        return {"Id": account_id, "Name": account_id, "Email": f"{account_id}@example.com"}

    stub.add_response(
        "list_delegated_administrators",
        {"DelegatedAdministrators": [admin("555555555555")], "NextToken": "page-2"},
        {"ServicePrincipal": STACKSETS_PRINCIPAL},
    )
    stub.add_response(
        "list_delegated_administrators",
        {"DelegatedAdministrators": [admin(DELEGATED)]},
        {"ServicePrincipal": STACKSETS_PRINCIPAL, "NextToken": "page-2"},
    )
    stub.add_response("list_roots", {"Roots": [{"Id": "r-ab12", "Name": "Root"}]})
    stub.add_response("list_accounts", {"Accounts": [account(DELEGATED, "delegated", State="ACTIVE")]})
    view, _ = read_organization(client)
    assert (view.delegated_admin, view.administers, view.root_id) == (True, True, "r-ab12")


@dataclass
class ChinaAws(Aws):
    """A caller in the aws-cn partition, its STS answered by a Stubber."""

    stubbed_sts: STSClient = field(
        default_factory=lambda: boto3.Session(region_name="cn-north-1").client("sts")
    )

    def sts(self, session: boto3.Session | None = None) -> STSClient:
        return self.stubbed_sts

    def probe_sts(self) -> STSClient:
        return self.stubbed_sts


def test_the_partition_comes_from_the_callers_arn_and_names_the_roles_akr_assumes() -> None:
    aws = ChinaAws(region="cn-north-1")
    with Stubber(aws.stubbed_sts) as stub:
        stub.add_response(
            "get_caller_identity",
            {"UserId": "AIDAEXAMPLE", "Account": MANAGEMENT, "Arn": f"arn:aws-cn:iam::{MANAGEMENT}:user/ops"},
        )
        stub.add_response(
            "assume_role",
            {
                "Credentials": {
                    "AccessKeyId": "ASIAIOSFODNN7EXAMPLE",
                    "SecretAccessKey": "secret",
                    "SessionToken": "token",
                    "Expiration": datetime(2030, 1, 1, tzinfo=UTC),
                }
            },
            {
                "RoleArn": "arn:aws-cn:iam::222222222222:role/OrganizationAccountAccessRole",
                "RoleSessionName": "akr-cli",
            },
        )
        # Asked once: the identity is read once per command.
        assert (aws.partition(), aws.caller_account(), aws.partition()) == ("aws-cn", MANAGEMENT, "aws-cn")
        aws.assume("222222222222", "OrganizationAccountAccessRole")
        stub.assert_no_pending_responses()
