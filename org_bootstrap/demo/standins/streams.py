"""Lambda's DynamoDB stream poller, for the local runtime (org_bootstrap.demo.standins): moto records a
table's stream, but a stream event source mapping makes it try Docker on every write (and drop the records
when it cannot), so the runtime detaches those mappings and reads the stream itself."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient


def lambda_record(record: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record as Lambda's event source passes it: the time in epoch seconds (boto3 parses it
    into a datetime), the stream's ARN and region added.
    https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html"""
    data = dict(record["dynamodb"])
    when = data.get("ApproximateCreationDateTime")
    if isinstance(when, datetime):
        data["ApproximateCreationDateTime"] = int(when.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": data,
        "eventSourceARN": stream_arn,
    }


def read_stream(
    client: DynamoDBStreamsClient, stream_arn: str, region: str, after: Mapping[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """(shard id, record) for every record of every shard past `after` (shard id -> the last sequence
    number processed), in order, each as Lambda would deliver it."""
    records: list[tuple[str, dict[str, Any]]] = []
    for shard in client.describe_stream(StreamArn=stream_arn)["StreamDescription"].get("Shards", []):
        shard_id = shard["ShardId"]
        if shard_id in after:
            iterator = client.get_shard_iterator(
                StreamArn=stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=after[shard_id],
            )["ShardIterator"]
        else:
            iterator = client.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=1000)
            batch = page.get("Records", [])
            records += [(shard_id, lambda_record(dict(r), stream_arn, region)) for r in batch]
            if not batch:
                break
            iterator = page.get("NextShardIterator", "")
    return records
