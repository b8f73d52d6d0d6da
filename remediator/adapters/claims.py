"""Short-lived claims on keys, in the state table: pk "claim#<account>", sk "<key>" (one holder per key,
whatever it means to do: an undo and a staged deletion must not pass each other either).

Both managed rules usually flag a user in the same evaluation, so two events for the same user arrive
together and two Lambdas would act on the same key. The first to claim the key acts; the other records
that it stood aside. A claim lapses after its TTL (DynamoDB deletes expired items lazily, so the
condition checks the time itself), and the run that holds it may take it again on a retry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

# Longer than any run (the worker's timeout is ten minutes), short enough that an operator's undo right
# after a deactivation waits minutes, not an hour.
CLAIM_TTL = timedelta(minutes=15)


def claim_params(  # noqa: PLR0917
    account_id: str,
    access_key_id: str,
    action: str,
    owner: str,
    now: datetime,
    ttl: timedelta,
    after_finished: bool,
) -> dict[str, Any]:
    """The conditional put that takes a claim (PutItem's parameters, or a transaction's Put)."""
    condition = "attribute_not_exists(pk) OR #owner = :owner OR #expiration < :now"
    values: dict[str, AttributeValueTypeDef] = {
        ":owner": {"S": owner},
        ":now": {"N": str(int(now.timestamp()))},
    }
    names = {"#owner": "owner", "#expiration": "expiration"}
    if after_finished:
        condition += " OR #state = :finished"
        values[":finished"] = {"S": "finished"}
        names["#state"] = "state"
    return {
        "Item": {
            "pk": {"S": f"claim#{account_id}"},
            "sk": {"S": access_key_id},
            "owner": {"S": owner},
            "action": {"S": action},
            "state": {"S": "acting"},
            "expiration": {"N": str(int((now + ttl).timestamp()))},
        },
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def finish_params(account_id: str, access_key_id: str, owner: str) -> dict[str, Any]:
    """The update that marks a claim finished, only while `owner` holds it."""
    return {
        "Key": {"pk": {"S": f"claim#{account_id}"}, "sk": {"S": access_key_id}},
        "UpdateExpression": "SET #state = :finished",
        "ConditionExpression": "#owner = :owner",
        "ExpressionAttributeNames": {"#state": "state", "#owner": "owner"},
        "ExpressionAttributeValues": {":finished": {"S": "finished"}, ":owner": {"S": owner}},
    }


class DynamoDBClaims:
    def __init__(
        self,
        *,
        client: DynamoDBClient,
        table_name: str,
        clock: Callable[[], datetime],
        ttl: timedelta = CLAIM_TTL,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._ttl = ttl

    def claim(
        self, account_id: str, access_key_id: str, action: str, *, owner: str, after_finished: bool = False
    ) -> bool:
        params = claim_params(
            account_id, access_key_id, action, owner, self._clock(), self._ttl, after_finished
        )
        try:
            self._client.put_item(TableName=self._table, **params)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise translate(exc, f"dynamodb:PutItem claim on {access_key_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"dynamodb:PutItem claim on {access_key_id}") from exc
        return True
