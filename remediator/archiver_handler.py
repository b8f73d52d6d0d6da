"""The archiver function: the audit table's stream, in batches, to the archive bucket (remediator.archiver).

Wiring only. Partial batch failure reporting: the records of a group whose object could not be written
are the batch's failures (their sequence numbers), so Lambda retries from the first of them; a MODIFY or
REMOVE counts in AuditRecordsAltered, whose alarm says that someone rewrote the append-only table.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediator.adapters.sessions import RETRIES
from remediator.archiver import (
    ArchiverSettings,
    ArchiveWriteError,
    S3Archive,
    archive_batch,
    load_archiver_settings,
)
from remediator.composition import in_lambda

logger = Logger(service="access-key-remediation")
metrics = Metrics(namespace="AccessKeyRemediation", service="access-key-remediation")


@functools.cache
def runtime() -> tuple[ArchiverSettings, S3Archive]:
    """Built once per execution environment: in Lambda's init phase (below), elsewhere on first use."""
    settings = load_archiver_settings()
    client = boto3.Session().client("s3", config=RETRIES)
    return settings, S3Archive(
        client=client, bucket=settings.archive_bucket, owner=settings.archive_bucket_owner
    )


if in_lambda():
    runtime()


def handle_batch(event: dict[str, Any], context: LambdaContext | None, archive: S3Archive) -> dict[str, Any]:
    """The batch with the records of its unwritten objects listed (batchItemFailures)."""
    # The raw records, not Powertools' deserialized images: the archive keeps what DynamoDB stored.
    outcome = archive_batch(event.get("Records", []), archive.put)
    for line in outcome.altered:
        logger.warning(
            "audit record altered",
            extra={"event": line.event, "account_id": line.account_id, "record_id": line.record_id},
        )
    metrics.add_metric("AuditRecordsAltered", MetricUnit.Count, len(outcome.altered))
    metrics.add_metric("AuditRecordsArchived", MetricUnit.Count, sum(outcome.written.values()))
    for key, lines in outcome.written.items():
        logger.info("archived", extra={"key": key, "lines": lines})

    def check(record: DynamoDBRecord) -> None:
        reason = outcome.failed.get(str(record.dynamodb.sequence_number if record.dynamodb else ""))
        if reason is not None:
            raise ArchiveWriteError(reason)

    response = process_partial_response(
        event=event,
        record_handler=check,
        processor=BatchProcessor(event_type=EventType.DynamoDBStreams),
        context=context,
    )
    return dict(response)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _, archive = runtime()
    return handle_batch(event, context, archive)
