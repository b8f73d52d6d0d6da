"""Read-only observation of the organization and of what is deployed in it. Nothing here changes AWS."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import Aws, CliError, describe
from org_bootstrap.deploy.code_bucket import code_writer, read_bucket
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.exemption_links import unlinked_exemptions
from org_bootstrap.deploy.footprint import Footprint
from org_bootstrap.deploy.observed import (
    STACKSETS_PRINCIPAL,
    Account,
    BucketState,
    InstanceState,
    Observed,
    StackSetState,
    StackState,
)
from remediator.adapters.organization import account_state

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_s3 import S3Client


def security_session(aws: Aws, deployment: Deployment, caller: str) -> boto3.Session:
    """The security account itself when the command runs there, else through the security role."""
    if caller == deployment.security_account_id:
        return aws.base
    return aws.assume(deployment.security_account_id, deployment.security_role)


@dataclass(frozen=True)
class OrganizationView:
    """Who calls, and the organization as far as the caller may read it."""

    caller: str
    management: str
    organization_id: str
    delegated_admin: bool
    root_id: str = ""
    accounts: tuple[Account, ...] = ()
    partition: str = "aws"
    """The caller's (aws, aws-cn, aws-us-gov): the organization's accounts are all in it."""

    @property
    def administers(self) -> bool:
        """The management account or a delegated StackSets administrator: the only ones that go on."""
        return self.caller == self.management or self.delegated_admin


def read_organization(aws: Aws) -> tuple[OrganizationView, OrganizationsClient]:
    """The organization, read from the caller's account. A member account gets only the first facts
    (it may not read the rest); the commands' planners turn that into their refusal."""
    caller, partition = aws.caller_account(), aws.partition()
    organizations = aws.organizations()
    try:
        organization = organizations.describe_organization()["Organization"]
        management = organization["MasterAccountId"]
        view = OrganizationView(
            caller=caller,
            management=management,
            organization_id=organization["Id"],
            delegated_admin=caller != management and _is_delegated_admin(organizations, caller),
            partition=partition,
        )
        if not view.administers:
            return view, organizations
        root_id = next(
            r["Id"] for page in organizations.get_paginator("list_roots").paginate() for r in page["Roots"]
        )
        accounts = tuple(
            Account(id=a["Id"], name=a.get("Name", ""), status=account_state(a))
            for page in organizations.get_paginator("list_accounts").paginate()
            for a in page["Accounts"]
        )
    except organizations.exceptions.AWSOrganizationsNotInUseException as exc:
        raise CliError(f"account {caller} is not in an organization") from exc
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read the organization from account {caller}: {describe(exc)}") from exc
    return replace(view, root_id=root_id, accounts=accounts), organizations


def footprint_of(view: OrganizationView) -> Footprint:
    """The organization's part of a footprint, from what read_organization saw."""
    return Footprint(
        caller_account=view.caller,
        management_account=view.management,
        organization_id=view.organization_id,
        delegated_admin=view.delegated_admin,
        root_id=view.root_id,
        accounts=view.accounts,
        partition=view.partition,
    )


def check_member(view: OrganizationView, account_id: str) -> None:
    """The account must be one of the organization's (any status: a closed account has a history)."""
    if account_id not in {account.id for account in view.accounts}:
        raise CliError(f"account {account_id} is not an account of the organization {view.organization_id}")


def observe(aws: Aws, deployment: Deployment, *, code_key: str) -> Observed:
    view, organizations = read_organization(aws)
    observed = Observed(
        caller_account=view.caller,
        management_account=view.management,
        organization_id=view.organization_id,
        root_id=view.root_id,
        delegated_admin=view.delegated_admin,
        trusted_access=False,
        accounts=view.accounts,
        target_accounts=(),
        partition=view.partition,
    )
    if not view.administers:
        return observed  # the planner turns this into the refusal
    try:
        trusted = trusted_access(organizations)
        targets = deployment.targets or (view.root_id,)
        under = {a for t in targets for a in _accounts_under(organizations, t)}
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read the organization from account {view.caller}: {describe(exc)}") from exc
    observed = observed.model_copy(
        update={"trusted_access": trusted, "target_accounts": tuple(sorted(under - {view.management}))}
    )
    if observed.account(deployment.security_account_id) is None:
        return observed  # the planner reports it; nothing more can be read there
    security = security_session(aws, deployment, view.caller)
    region = deployment.home_region
    s3 = aws.s3(security, region)
    owner = deployment.security_account_id
    bucket = bucket_exists(s3, deployment.code_bucket, owner)
    writer, exact = code_writer(aws, deployment, view.caller, security)
    version = _object_version(s3, deployment.code_bucket, code_key, owner) if bucket else None
    call_as = "SELF" if observed.is_management else "DELEGATED_ADMIN"
    central = read_stack(aws.cloudformation(security, region), deployment.central_stack_name)
    state_table = central.outputs.get("StateTableName") if central else None
    return observed.model_copy(
        update={
            "bucket_exists": bucket,
            "bucket": read_bucket(s3, deployment.code_bucket, owner) if bucket else BucketState(),
            "code_writer": writer,
            "code_writer_exact": exact,
            "code_uploaded": version is not None,
            "code_version": version or "",
            "central_stack": central,
            "unlinked_exemptions": (
                unlinked_exemptions(aws.dynamodb(security, region), state_table, now=datetime.now(UTC))
                if state_table
                else ()
            ),
            "stackset": read_stackset(aws.cloudformation(region=region), deployment.stackset_name, call_as),
            "management_stack": (
                read_stack(aws.cloudformation(region=region), deployment.management_stack_name)
                if observed.is_management
                else None
            ),
        }
    )


def _is_delegated_admin(organizations: OrganizationsClient, caller: str) -> bool:
    pages = organizations.get_paginator("list_delegated_administrators").paginate(
        ServicePrincipal=STACKSETS_PRINCIPAL
    )
    try:
        return any(admin["Id"] == caller for page in pages for admin in page["DelegatedAdministrators"])
    except ClientError:
        return False  # a member account may not even list them: it is not one


def trusted_access(organizations: OrganizationsClient) -> bool:
    """Whether the StackSets principal is among the trusted services. The list pages: with many trusted
    services it can be on page two or later (NextToken in the Organizations service model)."""
    pages = organizations.get_paginator("list_aws_service_access_for_organization").paginate()
    try:
        return any(
            p["ServicePrincipal"] == STACKSETS_PRINCIPAL
            for page in pages
            for p in page["EnabledServicePrincipals"]
        )
    except ClientError:
        return False


def _accounts_under(organizations: OrganizationsClient, parent: str) -> set[str]:
    found: set[str] = set()
    pending = [parent]
    while pending:
        current = pending.pop()
        accounts = organizations.get_paginator("list_accounts_for_parent")
        for account_page in accounts.paginate(ParentId=current):
            found.update(a["Id"] for a in account_page["Accounts"])
        units = organizations.get_paginator("list_organizational_units_for_parent")
        for unit_page in units.paginate(ParentId=current):
            pending.extend(ou["Id"] for ou in unit_page["OrganizationalUnits"])
    return found


_MISSING = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")
_NOT_OWNER = ("403", "AccessDenied", "Forbidden")


class ForeignBucketError(CliError):
    """The code bucket's name is taken by a bucket the security account does not own."""


def bucket_exists(s3: S3Client, bucket: str, owner: str) -> bool:
    """Whether the security account `owner` has the bucket. The name is predictable, so a bucket of that
    name may be someone else's: S3 answers 403 when ExpectedBucketOwner is not the owner, and that bucket
    is never used (whoever owns it could swap the remediator's code before CloudFormation reads it).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html"""
    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in _MISSING:
            return False
        if code in _NOT_OWNER:
            raise ForeignBucketError(
                f"bucket {bucket} exists but the security account {owner} does not own it (or may not "
                "read it): akr stores the remediator's code only in a bucket of the security account, "
                "since the bucket's owner could replace the code; nothing was uploaded"
            ) from exc
        raise CliError(f"cannot read bucket {bucket}: {describe(exc)}") from exc
    return True


def _object_version(s3: S3Client, bucket: str, key: str, owner: str) -> str | None:
    """The object's current version id; "" in a bucket without versioning; None when there is no object."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=owner)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            return None
        raise CliError(f"cannot read s3://{bucket}/{key}: {describe(exc)}") from exc
    version = head.get("VersionId", "")
    return "" if version == "null" else version


def read_stack(cloudformation: CloudFormationClient, name: str) -> StackState | None:
    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in describe(exc):
            return None
        raise CliError(f"cannot read stack {name}: {describe(exc)}") from exc
    if stack["StackStatus"] == "DELETE_COMPLETE":
        return None
    body = cloudformation.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    return StackState(
        name=name,
        status=stack["StackStatus"],
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        template=body if isinstance(body, str) else "",
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
    )


def read_stackset(cloudformation: CloudFormationClient, name: str, call_as: str) -> StackSetState | None:
    try:
        stackset = cloudformation.describe_stack_set(StackSetName=name, CallAs=call_as)["StackSet"]  # type: ignore[arg-type]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "StackSetNotFoundException":
            return None
        raise CliError(f"cannot read StackSet {name}: {describe(exc)}") from exc
    if stackset.get("Status") == "DELETED":
        return None
    instances = tuple(
        InstanceState(
            account_id=i["Account"],
            region=i["Region"],
            status=str(i.get("StackInstanceStatus", {}).get("DetailedStatus", i.get("Status", ""))),
            reason=i.get("StatusReason", ""),
            sync=str(i.get("Status", "")),
        )
        for page in cloudformation.get_paginator("list_stack_instances").paginate(
            StackSetName=name,
            CallAs=call_as,  # type: ignore[arg-type]
        )
        for i in page["Summaries"]
    )
    auto = stackset.get("AutoDeployment")
    return StackSetState(
        name=name,
        template=stackset.get("TemplateBody", ""),
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stackset.get("Parameters", [])},
        auto_deployment=None if auto is None else bool(auto.get("Enabled")),
        instances=instances,
    )
