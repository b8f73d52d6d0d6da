"""The composition root: builds the real dependencies from the settings. Nothing else constructs them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from remediator.adapters.account_state import DynamoDBAccountState
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.claims import DynamoDBClaims
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.adapters.journal import DynamoDBJournal
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.adapters.notifier import SnsNotifier
from remediator.adapters.sessions import RETRIES, AssumedRoleAccess, load_member_models, member_session
from remediator.deadline import Deadline
from remediator.events import ComplianceChangeEvent
from remediator.run import RunResult
from remediator.service import Remediator
from remediator.settings import Settings
from remediator.undo import Undo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sts import STSClient

IDEMPOTENCY_PK = "idempotency#remediator"


def utc_now() -> datetime:
    return datetime.now(UTC)


def in_lambda() -> bool:
    """Whether this process is a Lambda execution environment: Lambda sets AWS_LAMBDA_FUNCTION_NAME (a
    reserved variable) before the init phase runs the handler module.
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime

    The handlers build what every invocation needs at import when this is true: the init phase runs the
    module's code once per execution environment, on a full vCPU, while an invocation of a small function
    gets a fraction of one, so the same work costs the first event less there.
    https://docs.aws.amazon.com/lambda/latest/operatorguide/static-initialization.html
    Outside Lambda (the tests, the command line, the demo's runtime before it sets the variable) the
    handlers build it on first use."""
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    remediator: Remediator
    idempotency: IdempotencyConfig
    remediate_event: Callable[..., dict[str, Any]]
    """remediate_event(key=<dedupe key>, event=<event>): runs at most once per key within the TTL."""
    deadline: Deadline
    """The invocation's deadline: started by the handler with the context's remaining time."""


def build_remediator(
    settings: Settings,
    session: boto3.Session,
    *,
    clock: Callable[[], datetime] = utc_now,
    session_factory: Callable[..., boto3.Session] = member_session,
    on_result: Callable[[RunResult], None] | None = None,
    dynamodb: DynamoDBClient | None = None,
    audit_dynamodb: DynamoDBClient | None = None,
    sns: SNSClient | None = None,
    sts: STSClient | None = None,
    endpoint_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: Deadline | None = None,
) -> Remediator:
    """In the Lambda every client comes from `session`. The command line runs the same service with the
    central clients (DynamoDB, SNS) of the security account, its operator's STS, and `endpoint_url`;
    `session_factory` makes the member-account sessions (tests pass one that counts calls).

    The audit log has a DynamoDB client of its own (`audit_dynamodb`; made from `session` unless the caller
    gives `dynamodb`, which then serves both): botocore's retry quota is per client, and a throttled state
    table must not use up the retries of the failure record."""
    deadline = deadline or Deadline()
    if dynamodb is None:
        dynamodb = deadline.bound(session.client("dynamodb", config=RETRIES))
        audit_dynamodb = audit_dynamodb or deadline.bound(session.client("dynamodb", config=RETRIES))
    audit_dynamodb = audit_dynamodb or dynamodb
    notifier = None
    if settings.notification_topic_arn:
        notifier = SnsNotifier(
            client=sns or deadline.bound(session.client("sns", config=RETRIES)),
            topic_arn=settings.notification_topic_arn,
        )
    return Remediator(
        policy=settings.policy,
        access=_access(settings, session, clock, session_factory, sts, endpoint_url, sleep, deadline),
        audit=DynamoDBAuditLog(client=audit_dynamodb, table_name=settings.audit_table),
        exemptions=DynamoDBExemptions(client=dynamodb, table_name=settings.state_table),
        account_state=DynamoDBAccountState(client=dynamodb, table_name=settings.state_table),
        claims=DynamoDBClaims(client=dynamodb, table_name=settings.state_table, clock=clock),
        lifecycle=DynamoDBLifecycle(client=dynamodb, table_name=settings.state_table),
        journal=DynamoDBJournal(
            client=dynamodb,
            audit_table=settings.audit_table,
            state_table=settings.state_table,
            clock=clock,
            caps=settings.caps,
        ),
        clock=clock,
        notifier=notifier,
        home_region=settings.home_region,
        owner_tag_key=settings.owner_tag_key,
        on_result=on_result,
        deadline=deadline,
        max_exemption_days=settings.max_exemption_days,
        report_only_accounts=settings.report_only_accounts,
        exemption_records=(
            DynamoDBAuditLog(client=audit_dynamodb, table_name=settings.audit_table)
            if settings.verify_exemptions
            else None
        ),
    )


def _access(  # noqa: PLR0917
    settings: Settings,
    session: boto3.Session,
    clock: Callable[[], datetime],
    session_factory: Callable[..., boto3.Session],
    sts: STSClient | None,
    endpoint_url: str | None,
    sleep: Callable[[float], None],
    deadline: Deadline | None = None,
) -> AssumedRoleAccess:
    return AssumedRoleAccess(
        session=session,
        role_name=settings.member_role_name,
        clock=clock,
        sts=sts,
        session_factory=session_factory,
        sleep=sleep,
        endpoint_url=endpoint_url,
        deadline=deadline,
    )


def build_undo(
    settings: Settings,
    session: boto3.Session,
    *,
    clock: Callable[[], datetime] = utc_now,
    dynamodb: DynamoDBClient | None = None,
    sts: STSClient | None = None,
    endpoint_url: str | None = None,
) -> Undo:
    """Undo with the deployed adapters: the central tables, and the member account through the role."""
    dynamodb = dynamodb or session.client("dynamodb", config=RETRIES)
    return Undo(
        policy=settings.policy,
        access=_access(settings, session, clock, member_session, sts, endpoint_url, time.sleep),
        lifecycle=DynamoDBLifecycle(client=dynamodb, table_name=settings.state_table),
        journal=DynamoDBJournal(
            client=dynamodb, audit_table=settings.audit_table, state_table=settings.state_table, clock=clock
        ),
        clock=clock,
    )


def build_runtime(
    settings: Settings,
    session: boto3.Session | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    on_result: Callable[[RunResult], None] | None = None,
    session_factory: Callable[..., boto3.Session] = member_session,
    deadline: Deadline | None = None,
) -> Runtime:
    session = session or boto3.Session()
    deadline = deadline or Deadline()
    # The member accounts' clients are made per assumed role; their models are parsed now, not by the
    # first event.
    load_member_models(session.region_name)
    # One DynamoDB client for the state table: the exemptions, the claims, the lifecycles, the journal and
    # the idempotency records; the audit log has its own (build_remediator).
    dynamodb = deadline.bound(session.client("dynamodb", config=RETRIES))
    # on_result runs inside the idempotent call, so a replayed event is not counted twice.
    remediator = build_remediator(
        settings,
        session,
        clock=clock,
        session_factory=session_factory,
        on_result=on_result,
        dynamodb=dynamodb,
        audit_dynamodb=deadline.bound(session.client("dynamodb", config=RETRIES)),
        sts=deadline.bound(session.client("sts", config=RETRIES)),
        deadline=deadline,
    )
    config = IdempotencyConfig(
        expires_after_seconds=settings.idempotency_ttl_seconds, raise_on_no_idempotency_key=True
    )
    store = DynamoDBPersistenceLayer(
        table_name=settings.state_table,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=IDEMPOTENCY_PK,
        boto3_client=dynamodb,
    )

    def remediate(*, key: dict[str, str], event: ComplianceChangeEvent) -> dict[str, Any]:
        result = remediator.remediate_event(event)
        return {
            "status": "processed",
            "account_id": event.detail.aws_account_id,
            "user_id": event.detail.resource_id,
            "summary": result.summary(),
        }

    if settings.tracing:
        # Imported only when asked for: aws-xray-sdk is an optional extra, absent from the default zip.
        from aws_lambda_powertools import Tracer  # noqa: PLC0415

        remediate = Tracer().capture_method(remediate)
    guarded = idempotent_function(data_keyword_argument="key", persistence_store=store, config=config)(
        remediate
    )
    return Runtime(
        settings=settings,
        remediator=remediator,
        idempotency=config,
        remediate_event=guarded,
        deadline=deadline,
    )
