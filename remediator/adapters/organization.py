"""The organization's accounts, read from the security account (a delegated administrator may call
ListAccounts), and the sweep queue they are handed to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import translate
from remediator.errors import RemediatorError
from remediator.sweep import SweepMessage

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_organizations.type_defs import AccountTypeDef
    from mypy_boto3_sqs import SQSClient

SQS_BATCH = 10  # SendMessageBatch takes at most ten entries
ACTIVE = "ACTIVE"


class NoActiveAccountsError(RemediatorError):
    """ListAccounts answered, but with no ACTIVE account: a sweep of nothing must not pass for a sweep."""


def account_state(account: AccountTypeDef) -> str:
    """The account's State, else its Status; "" when the answer carries neither.

    Organizations retires Account.Status on 9 September 2026 in favour of State (the botocore service
    model's documentation of Account.Status). botocore models State from 1.40.27 and drops the fields it
    does not model, so an older SDK shows Status only: that is what the fallback is for. The Lambda
    package carries its own SDK (org_bootstrap/deploy/lambda-sdk.txt), recent enough to model State."""
    return str(account.get("State") or account.get("Status") or "")


def active_accounts(organizations: OrganizationsClient) -> list[str]:
    """The ACTIVE accounts of the organization. None at all is an error that names what was listed: an
    organization always has its management account, so an empty answer means the states were not read
    (an SDK that models neither field) or not ACTIVE, and the sweep would otherwise pass in silence."""
    try:
        listed = [
            (account["Id"], account_state(account))
            for page in organizations.get_paginator("list_accounts").paginate()
            for account in page["Accounts"]
        ]
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, "organizations:ListAccounts") from exc
    active = [account_id for account_id, state in listed if state == ACTIVE]
    if not active:
        states = Counter(state or "no State or Status" for _, state in listed)
        seen = ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "none"
        raise NoActiveAccountsError(
            f"organizations:ListAccounts listed no ACTIVE account (accounts listed: {seen}): nothing swept"
        )
    return active


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
