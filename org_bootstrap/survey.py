"""Read-only survey of what akr has deployed: the organization, the StackSet, the management account's
stack, the central stack, the code bucket and the audit table. Nothing here changes AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import Aws, CliError, describe
from org_bootstrap.deployment import Deployment
from org_bootstrap.footprint import AuditTable, Footprint
from org_bootstrap.observed import STACKSETS_PRINCIPAL, Account
from org_bootstrap.organization import read_stack, read_stackset, security_session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_s3 import S3Client


def survey(aws: Aws, deployment: Deployment) -> Footprint:
    """The organization first; the stacks and storage only where the caller may go on (see
    footprint.require_administrator, which turns an early return into the refusal)."""
    footprint = _organization(aws)
    if not (footprint.is_management or footprint.delegated_admin):
        return footprint
    if footprint.account(deployment.security_account_id) is None:
        return footprint
    region = deployment.home_region
    cloudformation = aws.cloudformation(region=region)
    security = security_session(aws, deployment, footprint.caller_account)
    central = read_stack(aws.cloudformation(security, region), deployment.central_stack_name)
    return footprint.model_copy(
        update={
            "stackset": read_stackset(cloudformation, deployment.stackset_name, footprint.call_as),
            "management_stack": (
                read_stack(cloudformation, deployment.management_stack_name)
                if footprint.is_management
                else None
            ),
            "central_stack": central,
            "bucket_exists": _bucket_exists(aws.s3(security, region), deployment.code_bucket),
            "audit_tables": _audit_tables(
                aws.dynamodb(security, region),
                central.outputs.get("AuditTableName") if central else None,
                prefix=f"{deployment.central_stack_name}-AuditTable-",
            ),
        }
    )


def _organization(aws: Aws) -> Footprint:
    caller = aws.caller_account()
    organizations = aws.organizations()
    try:
        organization = organizations.describe_organization()["Organization"]
        management = organization["MasterAccountId"]
        delegated = caller != management and _is_delegated_admin(organizations, caller)
        footprint = Footprint(
            caller_account=caller,
            management_account=management,
            organization_id=organization["Id"],
            delegated_admin=delegated,
        )
        if caller != management and not delegated:
            return footprint  # a member account may not read the rest
        accounts = tuple(
            Account(id=a["Id"], name=a["Name"], status=str(a["Status"]))
            for page in organizations.get_paginator("list_accounts").paginate()
            for a in page["Accounts"]
        )
        root_id = organizations.list_roots()["Roots"][0]["Id"]
    except organizations.exceptions.AWSOrganizationsNotInUseException as exc:
        raise CliError(f"account {caller} is not in an organization") from exc
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read the organization from account {caller}: {describe(exc)}") from exc
    return footprint.model_copy(update={"accounts": accounts, "root_id": root_id})


def _is_delegated_admin(organizations: OrganizationsClient, caller: str) -> bool:
    try:
        admins = organizations.list_delegated_administrators(ServicePrincipal=STACKSETS_PRINCIPAL)
    except ClientError:
        return False  # a member account may not even list them: it is not one
    return any(admin["Id"] == caller for admin in admins["DelegatedAdministrators"])


def _bucket_exists(s3: S3Client, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise CliError(f"cannot read bucket {bucket}: {describe(exc)}") from exc
    return True


def _audit_tables(dynamodb: DynamoDBClient, named: str | None, *, prefix: str) -> tuple[AuditTable, ...]:
    """The table the central stack names; once the stack is gone (DeletionPolicy Retain kept the table),
    the tables whose CloudFormation-generated name starts with `prefix`."""
    try:
        if named:
            names = [named]
        else:
            pages = dynamodb.get_paginator("list_tables").paginate()
            names = sorted(n for page in pages for n in page["TableNames"] if n.startswith(prefix))
        return tuple(t for t in (_table(dynamodb, n) for n in names) if t is not None)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read the audit table: {describe(exc)}") from exc


def _table(dynamodb: DynamoDBClient, name: str) -> AuditTable | None:
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        return None
    return AuditTable(name=name, deletion_protection=bool(table.get("DeletionProtectionEnabled")))
