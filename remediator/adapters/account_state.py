"""An account's exemptions and key lifecycles in one request (remediator.ports.AccountStateSource).

The two live in partitions of their own in the state table ("exemption#<account>", "key#<account>"), and a
Query reads one partition. A PartiQL SELECT whose WHERE names the partition key with equality, joined by
OR, reads both partitions without scanning the table, in one ExecuteStatement:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.select.html
The items are those a Query of each partition returns, so nothing changes in the table: a deployment keeps
its items as they are, and every exemption item is read and parsed exactly as before.

The read is consistent, as the lifecycles need (a mark set a moment ago must be seen). A response holds at
most 1 MB; NextToken pages on, and a page may come back empty with a NextToken (read to the end).
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExecuteStatement.html
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.exemption_table import ExemptionsRead, exemption_pk, parse_exemptions
from remediator.adapters.failures import translate
from remediator.adapters.lifecycle_table import lifecycle_pk, parse_lifecycles
from remediator.lifecycle import KeyLifecycle

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
"""DynamoDB's table names: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html"""


class DynamoDBAccountState:
    def __init__(self, *, client: DynamoDBClient, table_name: str) -> None:
        if not TABLE_NAME.fullmatch(table_name):
            raise ValueError(f"not a DynamoDB table name: {table_name!r}")
        self._client = client
        # The name is checked above (it cannot close the quotes); the values go in as parameters.
        self._statement = f'SELECT * FROM "{table_name}" WHERE "pk" = ? OR "pk" = ?'  # noqa: S608

    def read(self, account_id: str) -> tuple[ExemptionsRead, dict[str, KeyLifecycle]]:
        exemptions, lifecycles = exemption_pk(account_id), lifecycle_pk(account_id)
        request: dict[str, Any] = {
            "Statement": self._statement,
            "Parameters": [{"S": exemptions}, {"S": lifecycles}],
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        try:
            while True:
                page = self._client.execute_statement(**request)
                items += page.get("Items", [])
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(
                exc, f"dynamodb:ExecuteStatement exemptions and key lifecycles of {account_id}"
            ) from exc
        found = parse_lifecycles(i for i in items if i["pk"].get("S") == lifecycles)
        return parse_exemptions(account_id, (i for i in items if i["pk"].get("S") == exemptions)), found
