"""The sweep worker: reconciles one account per SQS message with the same core as the event path.

Partial batch failure reporting: an account that fails is the only message retried (and, after the
queue's receive limit, dead-lettered); the others in the batch complete. A malformed message is rejected
with a reason and not retried.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from remediator.adapters.sessions import load_member_models
from remediator.composition import build_remediator, in_lambda
from remediator.deadline import Deadline
from remediator.errors import RemediatorError
from remediator.run import RunResult
from remediator.service import Remediator
from remediator.settings import Settings, load_settings
from remediator.sweep import SweepMessage

logger = Logger(service="access-key-remediation")
metrics = Metrics(namespace="AccessKeyRemediation", service="access-key-remediation")


class AccountSweepFailedError(RemediatorError):
    """Some of the account could not be reconciled; the message is retried."""


def count(result: RunResult) -> None:
    summary = result.summary()
    metrics.add_metric("KeysDeactivated", MetricUnit.Count, summary["deactivated"])
    metrics.add_metric("KeysDeleted", MetricUnit.Count, summary["deleted"])
    metrics.add_metric("KeysExempted", MetricUnit.Count, summary["exempted"])
    metrics.add_metric("KeysWarned", MetricUnit.Count, summary["warned"])
    metrics.add_metric("RemediationFailures", MetricUnit.Count, summary["failed"])
    metrics.add_metric("ExemptionsRejected", MetricUnit.Count, result.exemptions_rejected)
    # Keys held back as report by a cap of the day (alarmed) or by akr pause.
    metrics.add_metric("CircuitBreakerTripped", MetricUnit.Count, result.breaker_tripped)
    metrics.add_metric("KeysHeldByPause", MetricUnit.Count, result.paused)


@functools.cache
def runtime() -> tuple[Settings, Remediator, Deadline]:
    """Built once per execution environment: in Lambda's init phase (below), elsewhere on first use."""
    settings = load_settings()
    deadline = Deadline()
    session = boto3.Session()
    load_member_models(session.region_name)
    return settings, build_remediator(settings, session, on_result=count, deadline=deadline), deadline


if in_lambda():
    runtime()


def sweep_one(record: SQSRecord, remediator: Remediator, region: str) -> dict[str, Any]:
    try:
        message = SweepMessage.model_validate_json(record.body)
    except ValidationError as exc:
        # Never succeeds on retry: reject, count and drop it rather than loop through the queue.
        metrics.add_metric("SweepMessagesRejected", MetricUnit.Count, 1)
        logger.error("sweep message rejected", extra={"message_id": record.message_id, "reason": str(exc)})
        return {"status": "rejected"}
    result = remediator.sweep_account(message.account_id, region=region, label=message.label)
    if result.failures:
        raise AccountSweepFailedError(
            f"{result.failures} failure(s) in {message.account_id}: "
            + "; ".join(sorted({r.reason for r in result.records if r.outcome == "failed"}))
        )
    return {"status": "swept", "account_id": message.account_id, "summary": result.summary()}


def handle_batch(
    event: dict[str, Any], context: LambdaContext | None, remediator: Remediator, region: str
) -> dict[str, Any]:
    """The batch with its failed messages listed (batchItemFailures), for the SQS event source."""
    response = process_partial_response(
        event=event,
        record_handler=lambda record: sweep_one(record, remediator, region),
        processor=BatchProcessor(event_type=EventType.SQS),
        context=context,
    )
    return dict(response)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, remediator, deadline = runtime()
    # Every message of the batch shares the invocation's time: one that cannot finish in time stops,
    # records why and is retried; the messages after it are not started (reported as failed, retried).
    deadline.start(context.get_remaining_time_in_millis())
    region = settings.home_region or os.environ.get("AWS_REGION") or "us-east-1"
    return handle_batch(event, context, remediator, region)
