"""`akr destroy`: survey, plan, and undo a deploy in the reverse order. The command line only renders.

Order: the guardrail SCP (detached, then deleted: deploy attached it last), the StackSet's stack
instances (by root or OU, stacks not retained), the StackSet, the management account's plain stack, the
central stack, the code bucket; last, and only when asked, the audit table that the central template
retains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import Aws, CliError, describe
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.footprint import Footprint
from org_bootstrap.deploy.guardrails import GuardrailsError, read_guardrails, remove_guardrails
from org_bootstrap.deploy.organization import read_stackset, security_session
from org_bootstrap.deploy.stacks import (
    POLL_SECONDS,
    Progress,
    delete_stack,
    operation_preferences,
    wait_operation,
)
from org_bootstrap.deploy.survey import survey
from org_bootstrap.deploy.teardown import DestroyPlan, plan_destroy

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

S3_DELETE_BATCH = 1000


@dataclass(frozen=True)
class PreparedDestroy:
    deployment: Deployment
    footprint: Footprint
    plan: DestroyPlan


def prepare(
    aws: Aws, deployment: Deployment, *, delete_audit_log: bool, progress: Progress
) -> PreparedDestroy:
    progress("reading the organization")
    footprint = survey(aws, deployment)
    # SCPs are managed from the management account; a delegated administrator leaves them as they are.
    guardrails, unread = None, ""
    if footprint.is_management:
        try:
            guardrails = read_guardrails(aws.organizations(), footprint.root_id)
        except GuardrailsError as exc:
            unread = str(exc)
    plan = plan_destroy(
        deployment,
        footprint,
        delete_audit_log=delete_audit_log,
        guardrails=guardrails,
        guardrails_unread=unread,
    )
    return PreparedDestroy(deployment=deployment, footprint=footprint, plan=plan)


def carry_out(
    aws: Aws, prepared: PreparedDestroy, progress: Progress, *, poll_seconds: float = POLL_SECONDS
) -> list[str]:
    """Carry out the plan; what was deleted, one line each."""
    deployment, plan = prepared.deployment, prepared.plan
    region = deployment.home_region
    cloudformation = aws.cloudformation(region=region)
    done: list[str] = []
    if plan.guardrails:
        # First: the StackSet execution role may change the member stacks anyway, but nobody else could
        # clean up by hand what a failed deletion leaves behind while the SCP holds.
        remove_guardrails(aws.organizations(), plan.guardrails, progress)
        done.append(f"guardrail SCP {plan.guardrails.policy_id}")
    if plan.instance_accounts:
        delete_instances(cloudformation, deployment, plan, progress=progress, poll_seconds=poll_seconds)
        done.append(f"stack instances in {len(plan.instance_accounts)} account(s)")
    if plan.stackset:
        delete_stackset(cloudformation, deployment.stackset_name, plan.call_as, progress)
        done.append(f"StackSet {deployment.stackset_name}")
    if plan.management_stack:
        delete_stack(cloudformation, deployment.management_stack_name, progress, poll_seconds)
        done.append(f"stack {deployment.management_stack_name} in the management account")
    security = security_session(aws, deployment, prepared.footprint.caller_account)
    if plan.central_stack:
        central = aws.cloudformation(security, region)
        delete_stack(central, deployment.central_stack_name, progress, poll_seconds)
        done.append(f"stack {deployment.central_stack_name} in the security account")
    if plan.bucket:
        empty_and_delete_bucket(
            aws.s3(security, region), deployment.code_bucket, progress, owner=deployment.security_account_id
        )
        done.append(f"bucket s3://{deployment.code_bucket}")
    if plan.audit_table:
        protected = any(
            t.deletion_protection for t in prepared.footprint.audit_tables if t.name == plan.audit_table
        )
        drop_table(aws.dynamodb(security, region), plan.audit_table, protected, progress, poll_seconds)
        done.append(f"audit table {plan.audit_table}")
    return done


def delete_instances(
    cloudformation: CloudFormationClient,
    deployment: Deployment,
    plan: DestroyPlan,
    *,
    progress: Progress,
    poll_seconds: float,
) -> None:
    """Delete the stack instances by root/OU (a service-managed StackSet takes no account list), wait, and
    refuse to go on while any instance is left: the StackSet cannot be deleted with instances."""
    name = deployment.stackset_name
    preferences = operation_preferences(
        deployment.failure_tolerance_percentage, deployment.max_concurrent_percentage
    )
    try:
        progress(f"deleting the stack instances of StackSet {name}")
        operation = cloudformation.delete_stack_instances(
            StackSetName=name,
            DeploymentTargets={"OrganizationalUnitIds": list(plan.targets)},
            Regions=list(plan.regions),
            OperationPreferences=preferences,
            RetainStacks=False,
            CallAs=plan.call_as,  # type: ignore[arg-type]
        )["OperationId"]
        status = wait_operation(
            cloudformation,
            name,
            operation,
            call_as=plan.call_as,
            progress=progress,
            poll_seconds=poll_seconds,
        )
        stackset = read_stackset(cloudformation, name, plan.call_as)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"StackSet {name}: {describe(exc)}") from exc
    remaining = stackset.instances if stackset else ()
    if remaining:
        left = "; ".join(
            f"{i.account_id} {i.region} {i.status}" + (f" ({i.reason})" if i.reason else "")
            for i in remaining
        )
        raise CliError(
            f"StackSet {name} still has {len(remaining)} stack instance(s) after deleting by "
            f"{', '.join(plan.targets)} (operation {status}): {left}. Nothing else was deleted; if they "
            "were deployed to other OUs, name those with --targets"
        )


def delete_stackset(
    cloudformation: CloudFormationClient, name: str, call_as: str, progress: Progress
) -> None:
    progress(f"deleting StackSet {name}")
    try:
        cloudformation.delete_stack_set(StackSetName=name, CallAs=call_as)  # type: ignore[arg-type]
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"StackSet {name}: {describe(exc)}") from exc


def empty_and_delete_bucket(s3: S3Client, bucket: str, progress: Progress, *, owner: str) -> None:
    """The bucket is versioned: every version and delete marker goes before the bucket can. Its policy goes
    first: it lets only the code writers delete objects, and whoever destroys may be another principal. Every
    call names the security account as the bucket's expected owner."""
    progress(f"emptying bucket {bucket}")
    try:
        s3.delete_bucket_policy(Bucket=bucket, ExpectedBucketOwner=owner)
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, ExpectedBucketOwner=owner)
        for page in pages:
            entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            objects: list[Any] = [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]
            for start in range(0, len(objects), S3_DELETE_BATCH):
                batch = objects[start : start + S3_DELETE_BATCH]
                errors = s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": batch, "Quiet": True}, ExpectedBucketOwner=owner
                ).get("Errors", [])
                if errors:
                    first = errors[0]
                    raise CliError(
                        f"cannot empty s3://{bucket}: {first.get('Key')}: {first.get('Code')} "
                        f"{first.get('Message', '')}".rstrip()
                    )
        progress(f"deleting bucket {bucket}")
        s3.delete_bucket(Bucket=bucket, ExpectedBucketOwner=owner)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot delete s3://{bucket}: {describe(exc)}") from exc


def drop_table(
    dynamodb: DynamoDBClient, table: str, protected: bool, progress: Progress, poll_seconds: float
) -> None:
    """Deletion protection off (the template turns it on), wait for the table to settle, delete it."""
    waiting: Any = {"Delay": max(1, round(poll_seconds)), "MaxAttempts": 120}
    try:
        if protected:
            progress(f"turning off deletion protection on {table}")
            dynamodb.update_table(TableName=table, DeletionProtectionEnabled=False)
            dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig=waiting)
        progress(f"deleting the audit table {table}")
        dynamodb.delete_table(TableName=table)
        dynamodb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig=waiting)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot delete the audit table {table}: {describe(exc)}") from exc
