"""The central Lambda: a Config compliance-change event in, per-key remediation and audit records out.

Wiring only: parse, hand over to the service, count, return. Bad input is answered, never retried.
"""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediator.composition import Runtime, build_runtime, in_lambda
from remediator.errors import EventRejectedError
from remediator.events import ComplianceType, parse_compliance_change
from remediator.run import RunResult
from remediator.settings import load_settings

logger = Logger(service="access-key-remediation")
metrics = Metrics(namespace="AccessKeyRemediation", service="access-key-remediation")
# The service and adapters log through the standard library; give them the same JSON output.
copy_config_to_registered_loggers(source_logger=logger, include={"remediator"})


def count(result: RunResult) -> None:
    summary = result.summary()
    metrics.add_metric("KeysDeactivated", MetricUnit.Count, summary["deactivated"])
    metrics.add_metric("KeysDeleted", MetricUnit.Count, summary["deleted"])
    metrics.add_metric("KeysExempted", MetricUnit.Count, summary["exempted"])
    metrics.add_metric("RemediationFailures", MetricUnit.Count, summary["failed"])
    metrics.add_metric("ExemptionsRejected", MetricUnit.Count, result.exemptions_rejected)
    # Keys held back as report by a cap of the day (alarmed) or by akr pause.
    metrics.add_metric("CircuitBreakerTripped", MetricUnit.Count, result.breaker_tripped)
    metrics.add_metric("KeysHeldByPause", MetricUnit.Count, result.paused)


@functools.cache
def runtime() -> Runtime:
    """Built once per execution environment: in Lambda's init phase (below), elsewhere on first use.
    Bad settings fail here, so a misconfigured function fails its init, before it takes an event."""
    return build_runtime(load_settings(), on_result=count)


if in_lambda():
    runtime()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    current = runtime()
    current.deadline.start(context.get_remaining_time_in_millis())
    try:
        change = parse_compliance_change(event, current.settings.rule_name_prefixes)
    except EventRejectedError as exc:
        metrics.add_metric("EventsRejected", MetricUnit.Count, 1)
        logger.error("event rejected", extra={"reason": str(exc)})
        return {"status": "rejected", "reason": str(exc)}
    detail = change.detail
    where = {
        "account_id": detail.aws_account_id,
        "user_id": detail.resource_id,
        "rule": detail.config_rule_name,
    }
    if change.compliance is not ComplianceType.NON_COMPLIANT:
        logger.info("compliance change acknowledged", extra={**where, "compliance": change.compliance.value})
        return {"status": "ignored", "compliance": change.compliance.value}
    logger.info("remediating user", extra=where)
    current.idempotency.register_lambda_context(context)
    try:
        return current.remediate_event(key=change.dedupe_key, event=change)
    except (IdempotencyPersistenceLayerError, IdempotencyAlreadyInProgressError) as exc:
        # The record of handled events could not be read or written, before or after the run, or holds the
        # event as in progress (another invocation, or one that died, until its timeout has passed): the
        # event is retried (a replay changes nothing more), and this attempt's failure is on the audit log.
        recorded = current.remediator.record_failure(
            detail.aws_account_id, label=change.id, step="idempotency", error=exc, user_id=detail.resource_id
        )
        metrics.add_metric("RemediationFailures", MetricUnit.Count, 1)
        logger.error("idempotency record failed", extra={**where, "error": str(exc), "audited": recorded})
        raise
