"""The two sides `akr audit verify` compares, read for one window: the audit table's items in attribute-value
form (a low-level Query: the hash is over the stored values, remediator.archive_format) and the archive's
lines, every version of every object under the window's day prefixes.

The archive is the central stack's output AuditArchiveBucketName, in the security account. Every object
version is read, not only the latest: a retried batch writes its key again (the same lines), and a version
put over an object to hide a line still leaves the first one under Object Lock. Objects that the
lifecycle moved to Glacier Instant Retrieval are read with a plain GetObject, no restore
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-glacier).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from org_bootstrap.aws import Aws, describe
from org_bootstrap.deploy.central import Central, read_central
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.review.audit_query import AuditQuery, days, plan_queries, query_arguments
from org_bootstrap.review.audit_verify import TableRecord, Verification, table_record, verify
from org_bootstrap.review.undo import caller_identity
from remediator.archive_format import ARCHIVE_PREFIX, ArchiveLine, day_prefix

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

ARCHIVE_OUTPUT = "AuditArchiveBucketName"
CONCURRENCY = 8
"""Objects (and table partitions) read at once."""
PAGE_SIZE = 500

Progress = Callable[[str, int, int], None]
"""(what is being read, done, total)."""


class VerifyError(Exception):
    """The verification could not be made (no archive, access refused, a malformed line): not a finding,
    and not a clean result."""


@dataclass(frozen=True)
class Evidence:
    """The table and the archive of one deployment, through the security account."""

    central: Central
    dynamodb: DynamoDBClient
    table: str
    s3: S3Client
    bucket: str
    owner: str
    """The security account: every S3 call names it as the expected bucket owner."""
    operator: str
    """The caller's ARN, for the audit records of a backfill."""


def no_archive(central: Central) -> str:
    return (
        f"the central stack {central.stack.name} has no output {ARCHIVE_OUTPUT}: this deployment has no "
        "audit archive yet, so the audit log cannot be verified; run akr deploy with this version of akr"
    )


def open_evidence(aws: Aws, deployment: Deployment) -> Evidence:
    """The deployed table and archive, or a CliError (no central stack) or a VerifyError (no archive)."""
    caller = caller_identity(aws)
    central = read_central(aws, deployment, caller.account_id)
    bucket = central.stack.outputs.get(ARCHIVE_OUTPUT)
    if not bucket:
        raise VerifyError(no_archive(central))
    return Evidence(
        central=central,
        dynamodb=aws.dynamodb(central.security, central.region),
        table=central.stack.outputs["AuditTableName"],
        s3=aws.s3(central.security, central.region),
        bucket=bucket,
        owner=deployment.security_account_id,
        operator=caller.arn,
    )


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    accounts: tuple[str, ...] = ()
    """Only these accounts; none: every account."""

    def queries(self) -> list[AuditQuery]:
        if not self.accounts:
            return [AuditQuery(since=self.since, until=self.until, newest_first=False)]
        return [
            AuditQuery(since=self.since, until=self.until, account_id=account, newest_first=False)
            for account in self.accounts
        ]

    def holds(self, record_id: str) -> bool:
        bounds = self.queries()[0]
        return bounds.lowest_record_id <= record_id <= bounds.highest_record_id

    def prefixes(self) -> list[str]:
        """The archive prefixes of the window: one per day, or per day and account."""
        listed = days(self.since, self.until, newest_first=False)
        return [
            day_prefix(ARCHIVE_PREFIX, day, account)
            for day in listed
            for account in (self.accounts or (None,))
        ]


def read_table(
    client: DynamoDBClient, table: str, window: Window, on_progress: Progress | None = None
) -> list[TableRecord]:
    """Every record of the window, as stored: by day through the by_day index, or per account from the
    table itself."""
    planned = [(query, key_query) for query in window.queries() for key_query in plan_queries(query)]

    def read(planned_query: tuple[AuditQuery, Any]) -> list[TableRecord]:
        query, key_query = planned_query
        arguments = query_arguments(table, key_query, query, page_size=PAGE_SIZE)
        pages = client.get_paginator("query").paginate(**arguments)
        return [table_record(item) for page in pages for item in page["Items"]]

    records: list[TableRecord] = []
    try:
        with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="akr-verify") as pool:
            for done, found in enumerate(pool.map(read, planned), start=1):
                records.extend(found)
                if on_progress is not None:
                    on_progress("reading the audit table", done, len(planned))
    except (ClientError, BotoCoreError) as exc:
        raise VerifyError(f"dynamodb:Query on {table}: {describe(exc)}") from exc
    return records


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str

    def name(self, bucket: str) -> str:
        return f"s3://{bucket}/{self.key} (version {self.version_id})"


def _versions(client: S3Client, bucket: str, owner: str, prefix: str) -> Iterator[ObjectVersion]:
    pages = client.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix=prefix, ExpectedBucketOwner=owner
    )
    for page in pages:
        for version in page.get("Versions", []):
            yield ObjectVersion(version["Key"], version.get("VersionId") or "null")


def parse_object(body: bytes, where: str) -> list[ArchiveLine]:
    """The lines of one object, or a VerifyError naming the object, the line and the field. Pure."""
    lines = []
    for number, text in enumerate(body.splitlines(), start=1):
        if not text.strip():
            continue
        try:
            lines.append(ArchiveLine.model_validate_json(text))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(map(str, first["loc"])) or "the line"
            raise VerifyError(
                f"{where} holds a malformed archive line (line {number}, {field}: {first['msg']})"
            ) from exc
    return lines


def read_archive(
    client: S3Client,
    bucket: str,
    owner: str,
    window: Window,
    on_progress: Progress | None = None,
    *,
    concurrency: int = CONCURRENCY,
) -> list[ArchiveLine]:
    """Every line of the window's records, from every version of every object of the window's days."""
    doing = f"s3:ListObjectVersions on {bucket}"
    try:
        versions = [v for prefix in window.prefixes() for v in _versions(client, bucket, owner, prefix)]
        doing = f"s3:GetObject from {bucket}"

        def read(version: ObjectVersion) -> list[ArchiveLine]:
            body = client.get_object(
                Bucket=bucket, Key=version.key, VersionId=version.version_id, ExpectedBucketOwner=owner
            )["Body"].read()
            return parse_object(body, version.name(bucket))

        lines: list[ArchiveLine] = []
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="akr-archive") as pool:
            for done, found in enumerate(pool.map(read, versions), start=1):
                lines.extend(line for line in found if window.holds(line.record_id))
                if on_progress is not None:
                    on_progress("reading the archive", done, len(versions))
    except (ClientError, BotoCoreError) as exc:
        raise VerifyError(f"{doing}: {describe(exc)}") from exc
    return lines


def verify_window(
    evidence: Evidence,
    window: Window,
    *,
    clock: Callable[[], datetime],
    on_progress: Progress | None = None,
) -> tuple[Verification, list[TableRecord]]:
    """Read both sides of the window and compare them (as of after the reads); the table's records too,
    for a backfill. A VerifyError when either side cannot be read."""
    records = read_table(evidence.dynamodb, evidence.table, window, on_progress)
    lines = read_archive(evidence.s3, evidence.bucket, evidence.owner, window, on_progress)
    return verify(records, lines, since=window.since, until=window.until, now=clock()), records
