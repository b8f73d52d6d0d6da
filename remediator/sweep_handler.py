"""The sweep function: on its schedule, one SQS message per active account of the organization.

Wiring only. The accounts come from Organizations ListAccounts, which the security account may call as a
delegated administrator of the organization (docs/templates/central.md).
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from remediator.adapters.organization import NoActiveAccountsError, active_accounts, enqueue
from remediator.adapters.sessions import RETRIES
from remediator.composition import in_lambda
from remediator.errors import ConfigurationError
from remediator.settings import Settings, load_settings
from remediator.sweep import sweep_messages

logger = Logger(service="access-key-remediation")
metrics = Metrics(namespace="AccessKeyRemediation", service="access-key-remediation")


@functools.cache
def settings() -> Settings:
    """Read once per execution environment: in Lambda's init phase (below), elsewhere on first use."""
    loaded = load_settings()
    if not loaded.sweep_queue_url:
        raise ConfigurationError("invalid configuration: AKR_SWEEP_QUEUE_URL is required by the sweep")
    return loaded


if in_lambda():
    settings()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    current = settings()
    session = boto3.Session()
    try:
        accounts = active_accounts(session.client("organizations", config=RETRIES))
    except NoActiveAccountsError:
        # Its own metric and alarm (SweepFoundNoAccountsAlarm): the function's error alone does not say
        # that every account went unswept.
        metrics.add_metric("SweepFoundNoAccounts", MetricUnit.Count, 1)
        raise
    # The scheduled event's id names the run; a hand-started sweep (akr sweep) passes its own.
    run_id = str(event.get("run_id") or event.get("id") or context.aws_request_id)
    # The management account under --management-account off has no member role to enter.
    messages = sweep_messages((a for a in accounts if a not in current.unswept_accounts), run_id)
    enqueue(session.client("sqs", config=RETRIES), str(current.sweep_queue_url), messages)
    metrics.add_metric("AccountsQueued", MetricUnit.Count, len(messages))
    logger.info("sweep started", extra={"run_id": run_id, "accounts": len(messages)})
    return {"status": "queued", "run_id": run_id, "accounts": len(messages)}
