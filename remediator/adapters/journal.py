"""The write-ahead journal of mutations (remediator.ports.KeyJournal) over both central tables, one
TransactWriteItems per step so that the claim, the key's pending mark and the audit record are written
all together or not at all.

A lost reply: botocore retries a transaction with the same ClientRequestToken, which DynamoDB answers as
the first call for ten minutes; where that does not hold (the token expired, or a stand-in that ignores
it), the retry is cancelled on its own writes, and the cancellation reasons show the record already
stored: success, not an error.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html

With `caps` (the remediator's journal, not the operator's undo), the intent's transaction also checks that
no pause is in force and counts the mutation against the account's and the organization's caps of the
day (remediator.breaker, remediator.adapters.breaker_table): a counted mutation always has its intent,
and a replayed transaction finds its intent before it could count again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.audit_table import append_params, same_record, stored
from remediator.adapters.breaker_table import count_of, count_params, day_of, not_paused_params, pause_of
from remediator.adapters.claims import CLAIM_TTL, claim_params, finish_params
from remediator.adapters.failures import error_code, translate
from remediator.adapters.lifecycle_table import mark_params, settle_params
from remediator.audit import AuditRecord
from remediator.breaker import ORGANIZATION, Caps, HeldBackError, Scope, capped, paused
from remediator.errors import TransientError
from remediator.lifecycle import KeyLifecycle

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FAILED_CONDITION = "ConditionalCheckFailed"
CONFLICT = "TransactionConflict"
CONFLICT_ATTEMPTS = 4
"""Every intent transaction touches the organization's counter: concurrent runs conflict on it now and
then (TransactionConflict: nothing was applied), and the transaction is simply tried again."""
_PASSED = (None, "None")


class DynamoDBJournal:
    def __init__(
        self,
        *,
        client: DynamoDBClient,
        audit_table: str,
        state_table: str,
        clock: Callable[[], datetime],
        claim_ttl: timedelta = CLAIM_TTL,
        caps: Caps | None = None,
    ) -> None:
        self._client = client
        self._audit = audit_table
        self._state = state_table
        self._clock = clock
        self._ttl = claim_ttl
        self._caps = caps

    def begin(
        self, intent: AuditRecord, marked: KeyLifecycle, *, owner: str, after_finished: bool = False
    ) -> bool:
        key = marked.access_key_id
        action = intent.decision
        now = self._clock()
        claim = claim_params(marked.account_id, key, action, owner, now, self._ttl, after_finished)
        items = [
            {"Put": {"TableName": self._state, **claim}},
            {"Update": {"TableName": self._state, **mark_params(marked, owner=owner)}},
            {"Put": {"TableName": self._audit, **append_params(intent)}},
        ]
        if self._caps is not None:
            items += [
                {"ConditionCheck": {"TableName": self._state, **not_paused_params()}},
                {
                    "Update": {
                        "TableName": self._state,
                        **count_params(marked.account_id, now, self._caps.per_account),
                    }
                },
                {"Update": {"TableName": self._state, **count_params(ORGANIZATION, now, self._caps.per_day)}},
            ]
        doing = f"dynamodb:TransactWriteItems claim and intent on {key}"
        for _ in range(CONFLICT_ATTEMPTS):
            reasons = self._transact(items, doing, intent)
            if reasons is None or not any(r.get("Code") == CONFLICT for r in reasons):
                break
        if reasons is None:
            return True
        claim_reason, mark_reason, intent_reason = reasons[:3]
        if _failed(intent_reason) and same_record(intent_reason.get("Item"), intent):
            return True  # applied before its reply was lost (and counted then, not again)
        if _failed(claim_reason) and not _failed(intent_reason):
            return False  # another run holds the key (and the mark, if any, is that run's)
        if _failed(mark_reason):
            raise TransientError(
                f"{doing}: the key carries an open intent of another run; it is settled first"
            )
        if self._caps is not None:
            self._held_back(reasons[3:], marked.account_id, now, self._caps)
        raise TransientError(f"{doing}: cancelled ({_codes(reasons)})")

    @staticmethod
    def _held_back(reasons: list[dict[str, Any]], account_id: str, now: datetime, caps: Caps) -> None:
        """Raise HeldBackError when the pause or a cap cancelled the transaction."""
        pause_reason, account_reason, organization_reason = reasons
        if _failed(pause_reason):
            raise HeldBackError(paused(pause_of(pause_reason.get("Item"))))
        day = day_of(now)
        for scope, reason, cap in (
            (Scope.ACCOUNT, account_reason, caps.per_account),
            (Scope.ORGANIZATION, organization_reason, caps.per_day),
        ):
            if _failed(reason):
                count = count_of(reason.get("Item"))
                raise HeldBackError(capped(scope, account_id=account_id, day=day, count=count, cap=cap))

    def settle(self, outcome: AuditRecord, settled: KeyLifecycle, *, owner: str) -> None:
        key = settled.access_key_id
        intent_id = outcome.intent_id
        if intent_id is None:
            raise ValueError("an outcome without its intent cannot settle a mark")
        items = [
            {"Put": {"TableName": self._audit, **append_params(outcome)}},
            {"Update": {"TableName": self._state, **settle_params(settled, intent_id=intent_id)}},
            {"Update": {"TableName": self._state, **finish_params(settled.account_id, key, owner)}},
        ]
        doing = f"dynamodb:TransactWriteItems outcome of {key}"
        reasons = self._transact(items, doing, outcome)
        if reasons is None:
            return
        outcome_reason, mark_reason, claim_reason = reasons
        if _failed(outcome_reason) and same_record(outcome_reason.get("Item"), outcome):
            return  # applied before its reply was lost
        if _failed(claim_reason) and not _failed(outcome_reason) and not _failed(mark_reason):
            # The claim lapsed and another run took it: nothing of ours to mark finished.
            retried = self._transact(items[:2], doing, outcome)
            if retried is None:
                return
            reasons = retried
            outcome_reason, mark_reason = retried
            if _failed(outcome_reason) and same_record(outcome_reason.get("Item"), outcome):
                return
        if _failed(mark_reason) and not _failed(outcome_reason):
            raise TransientError(f"{doing}: the intent {intent_id} was settled by another run meanwhile")
        raise TransientError(f"{doing}: cancelled ({_codes(reasons)})")

    def _transact(
        self, items: list[dict[str, Any]], doing: str, record: AuditRecord
    ) -> list[dict[str, Any]] | None:
        """None when the transaction was applied; its cancellation reasons (one per item) when not. When
        no attempt was answered (unavailable, retries spent), `record` found in the audit table means the
        transaction was applied all the same: it is all or nothing."""
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                if stored(self._client, self._audit, record):
                    return None
                raise translate(exc, doing) from exc
            reasons: list[dict[str, Any]] = [dict(r) for r in exc.response.get("CancellationReasons", [])]
            if len(reasons) != len(items):
                raise translate(exc, doing) from exc
            return reasons
        except BotoCoreError as exc:
            if stored(self._client, self._audit, record):
                return None
            raise translate(exc, doing) from exc
        return None


def _failed(reason: dict[str, Any]) -> bool:
    return reason.get("Code") == FAILED_CONDITION


def _codes(reasons: Sequence[dict[str, Any]]) -> str:
    return ", ".join(str(reason.get("Code") or "None") for reason in reasons)
