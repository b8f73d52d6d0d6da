"""What the demo reads back from its organization: the keys as IAM has them, the audit log, the
exemptions, and the central stack's resources."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from org_bootstrap.demo.organization import DemoOrganization
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.review.audit_verify import Verification, table_record, verify
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.archive_format import ARCHIVE_PREFIX, ArchiveLine, from_json_lines
from remediator.audit import AuditRecord
from remediator.exemptions import Exemption


class DemoError(RuntimeError):
    """The simulated organization could not be set up or read back (a deploy that failed, say)."""


def physical_id(org: DemoOrganization, deployment: Deployment, logical_id: str) -> str:
    cloudformation = org.accounts.client(org.security, "cloudformation")
    for page in cloudformation.get_paginator("list_stack_resources").paginate(
        StackName=deployment.central_stack_name
    ):
        for resource in page["StackResourceSummaries"]:
            if resource["LogicalResourceId"] == logical_id:
                return str(resource["PhysicalResourceId"])
    raise DemoError(f"the central stack has no {logical_id}")


def audit_log(org: DemoOrganization, deployment: Deployment) -> list[AuditRecord]:
    log = DynamoDBAuditLog(
        client=org.accounts.client(org.security, "dynamodb"),
        table_name=physical_id(org, deployment, "AuditTable"),
    )
    return [r for account in org.everyone for r in log.for_account(account, newest_first=False)]


@dataclass(frozen=True)
class Archive:
    """The audit archive as the demo left it."""

    bucket: str
    prefix: str
    objects: int
    lines: tuple[ArchiveLine, ...]


def archive_of(org: DemoOrganization, deployment: Deployment) -> Archive:
    bucket = physical_id(org, deployment, "AuditArchiveBucket")
    s3 = org.accounts.client(org.security, "s3")
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=ARCHIVE_PREFIX)
        for item in page.get("Contents", [])
    ]
    lines = [
        line for key in keys for line in from_json_lines(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    ]
    return Archive(bucket=bucket, prefix=ARCHIVE_PREFIX, objects=len(keys), lines=tuple(lines))


def exemptions_of(org: DemoOrganization, deployment: Deployment) -> list[Exemption]:
    table = DynamoDBExemptions(
        client=org.accounts.client(org.security, "dynamodb"),
        table_name=physical_id(org, deployment, "StateTable"),
    )
    return [e for account in org.members for e in table.for_account(account)]


@dataclass(frozen=True)
class IamKey:
    account_id: str
    user_name: str
    access_key_id: str
    created_at: datetime
    last_used_at: datetime | None
    status: str


def keys_now(org: DemoOrganization) -> dict[str, IamKey]:
    """Every access key of every account, as IAM has it now."""
    keys = {}
    for account in org.everyone:
        iam = org.accounts.client(account, "iam")
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                for key in iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]:
                    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
                    keys[key["AccessKeyId"]] = IamKey(
                        account,
                        user["UserName"],
                        key["AccessKeyId"],
                        key["CreateDate"],
                        used.get("LastUsedDate"),
                        key["Status"],
                    )
    return keys


def verification_of(org: DemoOrganization, deployment: Deployment, archive: Archive) -> Verification:
    """`akr audit verify`'s comparison over the whole demo: every record of the audit table against the
    archive. The demo's clock is simulated and the archiver has run after the last step, so no record is
    too recent to be archived (no lag)."""
    dynamodb = org.accounts.client(org.security, "dynamodb")
    table = physical_id(org, deployment, "AuditTable")
    records = [
        table_record(item)
        for account in org.everyone
        for page in dynamodb.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="account_id = :a",
            ExpressionAttributeValues={":a": {"S": account}},
        )
        for item in page["Items"]
    ]
    times = [r.recorded_at for r in records] + [line.approximate_time for line in archive.lines]
    times = times or [datetime.now(UTC)]
    since, until = min(times), max(times)
    return verify(records, archive.lines, since=since, until=until, now=until, lag=timedelta(0))
