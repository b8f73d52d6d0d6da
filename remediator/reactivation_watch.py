"""The reactivation watch: CloudTrail's `UpdateAccessKey` with `Status=Active` made by the member role or by
a session named `akr-*`, checked against the audit log's `reactivate` records of `akr undo`. Pure.

A key made active again by our role or under our session names is explained only by an undo's record: the
same account, key and user, the same session name, recorded within MATCH_WINDOW of CloudTrail's eventTime.
The remediator's own log cannot vouch for the remediator, so nothing it writes but those records counts:
the member role never reactivates (remediator/permissions.py MODE_ACTIONS), `akr undo` enters through the
operator's --account-role and records its session name (remediator/undo.py).

The event, as CloudTrail hands it to EventBridge ("AWS API Call via CloudTrail", source aws.iam):
https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-iam.html; the userIdentity of a role session
(its `arn` ends with the session name; `sessionContext.sessionIssuer` is the role):
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html
The sample in tests/events/cloudtrail_update_access_key_active.json has the whole shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from remediator.audit import AuditRecord, Phase
from remediator.decision import Action
from remediator.errors import EventRejectedError
from remediator.facts import AccountId
from remediator.settings import load_environment

MATCH_WINDOW = timedelta(minutes=15)
"""How far an undo's record may lie from CloudTrail's eventTime. The intent is written just before the
call and the outcome just after, but with the clock of the machine akr runs on, which may be off by
minutes; CloudTrail's eventTime is AWS's. Wide enough for a skewed laptop, narrow enough that an old undo
does not explain a later reactivation of the same key."""

SESSION_PREFIX = "akr-"
"""remediator/adapters/sessions.py role_session_name: every session akr or the remediator opens."""

MEMBER_ROLE = "AccessKeyRemediationRole"
"""The member role's fixed name (stacksets/member.yaml). `akr undo` never acts through it, and the remediator,
which does, may append audit records: a `reactivate` record it wrote itself must not explain its own call."""


class WatchSettings(BaseModel):
    """The watcher's environment (stacksets/central.yaml ReactivationWatchFunction)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    audit_table: str = Field(min_length=3, max_length=255)


def load_watch_settings(environ: Mapping[str, str] | None = None) -> WatchSettings:
    return load_environment(WatchSettings, environ)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class SessionIssuer(_Model):
    arn: str
    user_name: str | None = None


class SessionContext(_Model):
    session_issuer: SessionIssuer | None = None


class UserIdentity(_Model):
    type: str
    arn: str
    account_id: AccountId
    session_context: SessionContext | None = None


class UpdateAccessKeyParameters(_Model):
    access_key_id: str = Field(pattern=r"^[A-Z0-9]{16,128}$")
    status: Literal["Active"]
    user_name: str | None = None
    """Absent when the caller names no user (IAM then takes the caller's own; a role session has none)."""


class UpdateAccessKeyCall(_Model):
    event_source: Literal["iam.amazonaws.com"]
    event_name: Literal["UpdateAccessKey"]
    event_time: AwareDatetime
    event_id: str = Field(alias="eventID")
    recipient_account_id: AccountId
    user_identity: UserIdentity
    request_parameters: UpdateAccessKeyParameters
    error_code: str | None = None
    """Set on a call IAM refused (AccessDenied in a mode without UpdateAccessKey): an attempt, alarmed too."""


class KeyReactivationEvent(EventBridgeModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    source: Literal["aws.iam"]
    detail_type: Literal["AWS API Call via CloudTrail"] = Field(alias="detail-type")
    account: AccountId | None = None  # type: ignore[assignment]  # checked below, as the remediator's events
    resources: list[str] = Field(default_factory=list)
    detail: UpdateAccessKeyCall

    @model_validator(mode="after")
    def _not_forged(self) -> KeyReactivationEvent:
        if not self.account:
            raise ValueError(
                "the envelope account is missing: EventBridge always sets it, so this event did not come "
                "through the bus"
            )
        if self.account != self.detail.recipient_account_id:
            raise ValueError(
                f"envelope account {self.account} differs from detail.recipientAccountId "
                f"{self.detail.recipient_account_id}"
            )
        return self

    @property
    def account_id(self) -> str:
        return self.detail.recipient_account_id

    @property
    def access_key_id(self) -> str:
        return self.detail.request_parameters.access_key_id

    @property
    def session_name(self) -> str | None:
        """The role session's name: the last part of an assumed-role ARN; None for another identity."""
        arn = self.detail.user_identity.arn
        if ":assumed-role/" not in arn:
            return None
        return arn.rsplit("/", 1)[1]

    @property
    def issuer_role(self) -> str | None:
        issuer = self.detail.user_identity.session_context
        return issuer.session_issuer.arn if issuer and issuer.session_issuer else None

    @property
    def by_member_role(self) -> bool:
        role = self.issuer_role
        return role is not None and role.rsplit("/", 1)[-1] == MEMBER_ROLE

    def summary(self) -> dict[str, Any]:
        """What the log line says about the call."""
        call = self.detail
        return {
            "account_id": self.account_id,
            "access_key_id": self.access_key_id,
            "user_name": call.request_parameters.user_name,
            "caller": call.user_identity.arn,
            "role": self.issuer_role,
            "event_time": call.event_time.isoformat(),
            "cloudtrail_event_id": call.event_id,
            "error_code": call.error_code,
        }


def parse_reactivation(raw: Any) -> KeyReactivationEvent:
    """Validate a raw event; raise EventRejectedError with every problem found, before any AWS call."""
    if not isinstance(raw, dict):
        raise EventRejectedError(f"event rejected: expected a JSON object, got {type(raw).__name__}")
    try:
        return parse(event=raw, model=KeyReactivationEvent)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}".lstrip(": ")
            for e in exc.errors(include_url=False)
        ]
        raise EventRejectedError(f"event rejected: {'; '.join(problems)}") from exc


def window(event_time: datetime) -> tuple[datetime, datetime]:
    """The recorded_at range an explaining record must fall in."""
    return event_time - MATCH_WINDOW, event_time + MATCH_WINDOW


def explains(record: AuditRecord, event: KeyReactivationEvent) -> bool:
    """Whether `record` is the undo that made this call: a `reactivate` intent or outcome of the same
    account, key and user, under the same session name, within MATCH_WINDOW."""
    low, high = window(event.detail.event_time)
    named = event.detail.request_parameters.user_name
    return (
        record.decision == Action.REACTIVATE.value
        and record.phase in (Phase.INTENT, Phase.OUTCOME)
        and record.account_id == event.account_id
        and record.access_key_id == event.access_key_id
        and (named is None or record.user_name == named)
        and record.role_session_name is not None
        and record.role_session_name == event.session_name
        and low <= record.recorded_at <= high
    )


def explanation(event: KeyReactivationEvent, records: Iterable[AuditRecord]) -> AuditRecord | None:
    """The first record that explains the call, or None: an unexplained reactivation. A call by the member
    role is never explained (MEMBER_ROLE)."""
    if event.by_member_role:
        return None
    return next((record for record in records if explains(record, event)), None)
