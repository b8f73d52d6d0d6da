"""The reactivation watcher function: one forwarded `UpdateAccessKey Status=Active` call, checked against
the audit log (remediator.reactivation_watch). It changes nothing anywhere.

Wiring only. An explained call is logged; an unexplained one is logged as an error and counted in
UnexplainedReactivations, whose alarm (UnexplainedReactivationAlarm) notifies the operators. A malformed
event is answered, never retried, and counted as unexplained too: a call that cannot be checked is not
explained. So is a call whose records could not be read (after the client's own retries): the alarm fires
and the log line names the call, rather than Lambda retrying twice and then dropping the event.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.sessions import RETRIES
from remediator.composition import in_lambda
from remediator.errors import EventRejectedError, RemediatorError
from remediator.reactivation_watch import explanation, load_watch_settings, parse_reactivation, window

logger = Logger(service="access-key-remediation")
metrics = Metrics(namespace="AccessKeyRemediation", service="access-key-remediation")
UNEXPLAINED = "UnexplainedReactivations"


@functools.cache
def runtime() -> DynamoDBAuditLog:
    """Built once per execution environment: in Lambda's init phase (below), elsewhere on first use."""
    settings = load_watch_settings()
    client = boto3.Session().client("dynamodb", config=RETRIES)
    return DynamoDBAuditLog(client=client, table_name=settings.audit_table)


if in_lambda():
    runtime()


def check(event: Any, audit: DynamoDBAuditLog) -> dict[str, Any]:
    """The verdict on one event: explained (with the record), unexplained, or rejected."""
    try:
        call = parse_reactivation(event)
    except EventRejectedError as exc:
        metrics.add_metric(UNEXPLAINED, MetricUnit.Count, 1)
        logger.error("reactivation event rejected, counted as unexplained", extra={"reason": str(exc)})
        return {"status": "rejected", "reason": str(exc)}
    low, high = window(call.detail.event_time)
    try:
        records = audit.for_key_between(call.access_key_id, low, high)
    except RemediatorError as exc:
        metrics.add_metric(UNEXPLAINED, MetricUnit.Count, 1)
        logger.error(
            "audit log unreadable, reactivation counted as unexplained",
            extra={**call.summary(), "error": str(exc)},
        )
        return {"status": "unchecked", "error": str(exc), **call.summary()}
    found = explanation(call, records)
    if found is None:
        metrics.add_metric(UNEXPLAINED, MetricUnit.Count, 1)
        logger.error("key made active without an akr undo record", extra=call.summary())
        return {"status": "unexplained", **call.summary()}
    metrics.add_metric(UNEXPLAINED, MetricUnit.Count, 0)
    logger.info(
        "key made active by akr undo",
        extra={**call.summary(), "record_id": found.record_id, "operator": found.operator},
    )
    return {"status": "explained", "record_id": found.record_id}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return check(event, runtime())
