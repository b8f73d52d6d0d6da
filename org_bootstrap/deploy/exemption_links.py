"""Which exemptions in force carry no exempt-add audit record: made before `akr exempt add` linked them, or
written outside it. While any is left, akr deploy keeps the remediator's verification of exemptions off
(VerifyExemptions), so that the upgrade never stops honouring an exemption that protects a key."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import CliError, describe

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EXEMPTION_PREFIX = "exemption#"


def unlinked_exemptions(dynamodb: DynamoDBClient, table: str, *, now: datetime) -> tuple[str, ...]:
    """ "<account> <user or *>#<key or *>" of every exemption in force without a record id, sorted. A Scan
    (a deploy is rare, and the table is small): the exemptions of accounts outside the organization too."""
    found = []
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="begins_with(pk, :p) AND attribute_not_exists(record_id)",
        ExpressionAttributeValues={":p": {"S": EXEMPTION_PREFIX}},
        ProjectionExpression="pk, sk, expires_at",
        ConsistentRead=True,
    )
    try:
        for page in pages:
            for item in page["Items"]:
                expires = item.get("expires_at", {}).get("S", "")
                if _in_force(expires, now):
                    account = item["pk"]["S"].removeprefix(EXEMPTION_PREFIX)
                    found.append(f"{account} {item['sk']['S']}")
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read the exemptions in {table}: {describe(exc)}") from exc
    return tuple(sorted(found))


def _in_force(expires: str, now: datetime) -> bool:
    """An expiry that does not parse counts as in force: the plan names the item rather than pass it by."""
    try:
        moment = datetime.fromisoformat(expires)
    except ValueError:
        return True
    return moment.tzinfo is None or moment > now
