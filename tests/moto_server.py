"""A moto server on 127.0.0.1 for the command line, with an organization laid out as a real one is:
a management account, and a security account plus members in an OU. moto answers every account
through the one endpoint and tells them apart by the credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from org_bootstrap.demo.organization import STACKSETS_PRINCIPAL, moto_server, record_iam_users
from org_bootstrap.demo.simulation import session_in
from remediator.adapters.sessions import shared_models_session

__all__ = ["REGION", "ServerOrganization", "build_organization", "moto_server"]

REGION = "eu-west-1"


@dataclass(frozen=True)
class ServerOrganization:
    url: str
    management: str
    security: str
    members: tuple[str, ...]
    root_id: str
    workloads_ou: str
    organization_id: str

    def session(self, account_id: str) -> boto3.Session:
        """A session in `account_id` through OrganizationAccountAccessRole, as an operator would have."""
        if account_id == self.management:
            return shared_models_session(region_name=REGION)
        return session_in(account_id, self.client("sts"))

    def client(self, service: str, account_id: str | None = None) -> Any:
        # A new client each time (a test may hook or stub it), from models parsed once.
        session = self.session(account_id) if account_id else shared_models_session(region_name=REGION)
        return session.client(service, endpoint_url=self.url)  # type: ignore[call-overload]


def build_organization(url: str, members: int = 2, trusted_access: bool = True) -> ServerOrganization:
    """Accounts land in an OU called Workloads (targeting the root would make moto deploy the StackSet
    into the management account too, which AWS never does; the Stubber tests cover root targets)."""
    organizations = boto3.client("organizations", region_name=REGION, endpoint_url=url)
    sts = boto3.client("sts", region_name=REGION, endpoint_url=url)
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    ids = []
    for name in ("security", *(f"member-{i}" for i in range(1, members + 1))):
        account = organizations.create_account(Email=f"{name}@example.com", AccountName=name)
        account_id = account["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ou)
        ids.append(account_id)
    if trusted_access:
        # moto has no cloudformation:ActivateOrganizationsAccess; the Organizations API stands in here,
        # and a Stubber test covers the call deploy makes.
        organizations.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    # What akr deploy's pre-flight asks of a real organization: the security account may list the accounts
    # (a delegated administrator, here for GuardDuty), and every account records IAM users in Config.
    organizations.register_delegated_administrator(
        AccountId=ids[0], ServicePrincipal="guardduty.amazonaws.com"
    )
    management = organization["MasterAccountId"]
    for account_id in (management, *ids):
        session = (
            boto3.Session(region_name=REGION) if account_id == management else session_in(account_id, sts)
        )
        record_iam_users(session.client("config", endpoint_url=url))
    return ServerOrganization(
        url=url,
        management=organization["MasterAccountId"],
        security=ids[0],
        members=tuple(ids[1:]),
        root_id=root,
        workloads_ou=ou,
        organization_id=organization["Id"],
    )
