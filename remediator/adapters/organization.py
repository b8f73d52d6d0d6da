"""The organization's accounts, read from the security account (a delegated administrator may call
ListAccounts), and the sweep queue they are handed to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import translate
from remediator.sweep import SweepMessage

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_sqs import SQSClient

SQS_BATCH = 10  # SendMessageBatch takes at most ten entries


def active_accounts(organizations: OrganizationsClient) -> list[str]:
    try:
        return [
            account["Id"]
            for page in organizations.get_paginator("list_accounts").paginate()
            for account in page["Accounts"]
            if account.get("Status") == "ACTIVE"
        ]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, "organizations:ListAccounts") from exc


def enqueue(sqs: SQSClient, queue_url: str, messages: Sequence[SweepMessage]) -> None:
    for start in range(0, len(messages), SQS_BATCH):
        batch = messages[start : start + SQS_BATCH]
        try:
            response = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "MessageBody": m.model_dump_json()} for i, m in enumerate(batch)],
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"sqs:SendMessageBatch to {queue_url}") from exc
        failed = response.get("Failed", [])
        if failed:
            raise translate(
                ClientError(
                    {
                        "Error": {
                            "Code": failed[0].get("Code", "Failed"),
                            "Message": failed[0].get("Message", ""),
                        }
                    },
                    "SendMessageBatch",
                ),
                f"sqs:SendMessageBatch to {queue_url}: {len(failed)} of {len(batch)} messages",
            )
