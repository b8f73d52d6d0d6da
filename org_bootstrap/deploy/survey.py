"""Read-only survey of what akr has deployed: the organization, the StackSet, the management account's
stack, the central stack, the code bucket and the audit table. Nothing here changes AWS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import Aws, CliError, describe
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.footprint import AuditTable, Footprint
from org_bootstrap.deploy.organization import (
    ForeignBucketError,
    bucket_exists,
    footprint_of,
    read_organization,
    read_stack,
    read_stackset,
    security_session,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
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
            "bucket_exists": _ours(aws.s3(security, region), deployment),
            "audit_tables": _audit_tables(
                aws.dynamodb(security, region),
                central.outputs.get("AuditTableName") if central else None,
                prefix=f"{deployment.central_stack_name}-AuditTable-",
            ),
        }
    )


def _organization(aws: Aws) -> Footprint:
    view, _ = read_organization(aws)
    return footprint_of(view)


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


def _ours(s3: S3Client, deployment: Deployment) -> bool:
    """Whether the security account has the code bucket: one of that name owned by another account is not
    part of the deployment (never shown as ours, never emptied or deleted)."""
    try:
        return bucket_exists(s3, deployment.code_bucket, deployment.security_account_id)
    except ForeignBucketError:
        return False
