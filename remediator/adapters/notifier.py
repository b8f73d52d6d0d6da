"""Notifications of actions taken (and failed), to the central SNS topic."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import translate
from remediator.audit import AuditRecord

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

# About 1 KB per record as JSON: well under SNS's 256 KB per message.
PER_MESSAGE = 100
_FIELDS = (
    "account_id",
    "user_name",
    "owner",
    "access_key_id",
    "due_at",
    "planned_action",
    "decision",
    "outcome",
    "rule",
    "reason",
    "error",
)


class SnsNotifier:
    def __init__(self, *, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def notify(self, records: Sequence[AuditRecord]) -> None:
        # SNS messages are at most 256 KB: a large account's run goes out in several.
        for start in range(0, len(records), PER_MESSAGE):
            self._publish(records[start : start + PER_MESSAGE])

    def _publish(self, records: Sequence[AuditRecord]) -> None:
        account = records[0].account_id
        counts = Counter(
            "warned" if r.decision == "warn" else "failed" if r.outcome == "failed" else "done"
            for r in records
        )
        summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
        body = [r.model_dump(mode="json", include=set(_FIELDS)) for r in records]
        try:
            self._client.publish(
                TopicArn=self._topic_arn,
                Subject=f"Access key remediation in {account}: {summary}"[:100],
                Message=json.dumps({"account_id": account, "actions": body}, indent=2),
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"sns:Publish to {self._topic_arn}") from exc
