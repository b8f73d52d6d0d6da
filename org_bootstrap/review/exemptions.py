"""`akr exempt`: central exemptions with a reason, an owner and a required expiry, every change audited.

Validation is pure (parse_expiry, check_account); then the adapters of the central state table
(remediator.adapters.exemption_table) and of the audit table, reached through the security account.
An exemption is made by its audit record: the exempt-add record first, then the exemption carrying that
record's id, which the remediator checks it against (remediator.exemption_records). A removal is done
first and then audited; when its record cannot be written, the command says that it is not audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.aws import describe as describe_error
from org_bootstrap.deploy.central import central_clients, read_central, settings_from
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.organization import OrganizationView, read_organization
from org_bootstrap.review.undo import caller_identity
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.audit import AuditRecord, Outcome, Phase, Trigger, new_record_id
from remediator.errors import RemediatorError
from remediator.exemption_records import EXEMPT_ADD
from remediator.exemptions import ANY_USER, Exemption
from remediator.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

DEFAULT_MAX_DAYS = 90
ADD = EXEMPT_ADD
REMOVE = "exempt-remove"
_DAYS = re.compile(r"^([0-9]{1,5})d$")


def parse_expiry(text: str, *, now: datetime, max_days: int) -> datetime:
    """ "30d" (from now), a date "2026-12-31" (its start, 00:00 UTC) or an ISO time with a zone; in the
    future and at most `max_days` from now. Pure; a CliError names what is wrong."""
    if max_days < 1:
        raise CliError(f"--max-days must be at least 1, not {max_days}")
    value = text.strip()
    days = _DAYS.match(value)
    expires = now + timedelta(days=int(days.group(1))) if days else _parse_moment(value)
    if expires <= now:
        raise CliError(
            f"the expiry {expires:%Y-%m-%d %H:%M} UTC is in the past: an exemption must expire in the future"
        )
    horizon = now + timedelta(days=max_days)
    if expires > horizon:
        raise CliError(
            f"the expiry {expires:%Y-%m-%d %H:%M} UTC is beyond the maximum horizon of {max_days} days "
            f"({horizon:%Y-%m-%d %H:%M} UTC); ask for a shorter exemption or raise --max-days"
        )
    return expires


def _parse_moment(value: str) -> datetime:
    malformed = CliError(
        f"malformed expiry {value!r}: give a number of days (30d), a date (2026-12-31) or an ISO time "
        "with a zone (2026-12-31T12:00:00+00:00)"
    )
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise malformed from exc
    if moment.tzinfo is None:
        raise malformed
    return moment.astimezone(UTC)


def require_administrator(view: OrganizationView) -> None:
    """Only the management account or a delegated administrator reads the organization's accounts."""
    if not view.administers:
        raise CliError(
            f"this is account {view.caller}: run akr exempt from the management account {view.management} "
            "or from a delegated administrator for CloudFormation StackSets"
        )


def check_horizon(store: Store, max_days: int) -> None:
    """The remediator honours no exemption further than the deployed MaxExemptionDays from its making."""
    deployed = store.settings.max_exemption_days
    if max_days > deployed:
        raise CliError(
            f"--max-days {max_days} is beyond the deployed MaxExemptionDays of {deployed}: the remediator "
            "would not honour such an exemption"
        )


def check_account(view: OrganizationView, account_id: str) -> None:
    """The account must be an ACTIVE account of the organization. Pure."""
    require_administrator(view)
    known = {account.id: account for account in view.accounts}
    if account_id not in known:
        raise CliError(f"account {account_id} is not an account of the organization {view.organization_id}")
    status = known[account_id].status
    if status != "ACTIVE":
        raise CliError(f"account {account_id} is {status}, not ACTIVE: it cannot have exemptions")


def member_iam(aws: Aws, caller: str, account_id: str, account_role: str) -> IAMClient:
    """IAM of the exempt user's account: the caller's own credentials there, else through the role."""
    if account_id == caller:
        return aws.iam()
    return aws.iam(aws.assume(account_id, account_role))


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "NoSuchEntity"


def check_exists(iam: IAMClient, exemption: Exemption) -> None:
    """The exempt user (and key) exist: an exemption for a misspelt name would exempt nothing, and say
    nothing. A CliError names what is missing and how to exempt it anyway (--allow-missing)."""
    where = exemption.account_id
    anyway = "check the name, or pass --allow-missing to exempt it before it exists"
    call = "iam:GetUser"
    try:
        if exemption.user_name != ANY_USER:
            iam.get_user(UserName=exemption.user_name)
        if exemption.access_key_id is None:
            return
        if exemption.user_name == ANY_USER:
            call = "iam:GetAccessKeyLastUsed"
            iam.get_access_key_last_used(AccessKeyId=exemption.access_key_id)
            return
        call = "iam:ListAccessKeys"
        keys = {
            key["AccessKeyId"]
            for page in iam.get_paginator("list_access_keys").paginate(UserName=exemption.user_name)
            for key in page["AccessKeyMetadata"]
        }
    except ClientError as exc:
        if _missing(exc):
            what = (
                f"user {exemption.user_name}" if call == "iam:GetUser" else f"key {exemption.access_key_id}"
            )
            raise CliError(f"there is no {what} in {where}: {anyway}") from exc
        raise CliError(
            f"cannot check that the user exists ({call} in {where}): {describe_error(exc)}"
        ) from exc
    except BotoCoreError as exc:
        raise CliError(
            f"cannot check that the user exists ({call} in {where}): {describe_error(exc)}"
        ) from exc
    if exemption.access_key_id not in keys:
        raise CliError(
            f"user {exemption.user_name} in {where} has no key {exemption.access_key_id}: {anyway}"
        )


def state(exemption: Exemption, now: datetime) -> str:
    return "active" if now < exemption.expires_at else "expired"


def describe(exemption: Exemption) -> str:
    """ "user ci" / "every user" / "key AKIA... of ci", in account A."""
    who = "every user" if exemption.user_name == ANY_USER else f"user {exemption.user_name}"
    if exemption.access_key_id:
        who = f"key {exemption.access_key_id} of {who}"
    return f"{who} in {exemption.account_id}"


@dataclass(frozen=True)
class Store:
    """The central tables through the security account, and who is asking."""

    exemptions: DynamoDBExemptions
    audit: DynamoDBAuditLog
    settings: Settings
    operator: str
    organization: OrganizationView


def open_store(aws: Aws, deployment: Deployment) -> Store:
    """Read-only: the caller, the organization, the central stack and its tables."""
    caller = caller_identity(aws)
    view, _ = read_organization(aws)
    require_administrator(view)
    central = read_central(aws, deployment, caller.account_id)
    settings = settings_from(central.stack, account_role="unused")
    dynamodb = central_clients(aws, central).dynamodb
    return Store(
        exemptions=DynamoDBExemptions(client=dynamodb, table_name=settings.state_table),
        audit=DynamoDBAuditLog(client=dynamodb, table_name=settings.audit_table),
        settings=settings,
        operator=caller.arn,
        organization=view,
    )


def new_exemption(
    *,
    account_id: str,
    user_name: str,
    access_key_id: str | None,
    reason: str,
    owner: str,
    expires_at: datetime,
    created_at: datetime | None = None,
) -> Exemption:
    try:
        return Exemption(
            account_id=account_id,
            user_name=user_name,
            access_key_id=access_key_id or None,
            reason=reason,
            owner=owner,
            expires_at=expires_at,
            created_at=created_at,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CliError(f"invalid exemption: {problems}") from exc


def audit_record(store: Store, exemption: Exemption, decision: str, *, now: datetime) -> AuditRecord:
    verb = "exempted" if decision == ADD else "exemption removed for"
    return AuditRecord(
        record_id=new_record_id(now),
        account_id=exemption.account_id,
        user_name=exemption.user_name,
        owner=exemption.owner,
        access_key_id=exemption.access_key_id,
        decision=decision,
        mode=store.settings.mode,
        reason=(
            f"{verb} {describe(exemption)}: reason {exemption.reason!r}, owner {exemption.owner}, "
            f"expires {exemption.expires_at.isoformat()}"
        ),
        thresholds=store.settings.thresholds,
        operator=store.operator,
        trigger=Trigger.CLI,
        phase=Phase.OUTCOME,
        outcome=Outcome.DONE,
        recorded_at=now,
        expires_at=exemption.expires_at,
        revokes=exemption.record_id if decision == REMOVE else None,
    )


def _audit(store: Store, record: AuditRecord, done: str) -> None:
    try:
        store.audit.append(record)
    except RemediatorError as exc:
        raise CliError(
            f"NOT AUDITED: {done}, but its audit record could not be written to "
            f"{store.settings.audit_table}: {exc}. Record the change by hand, or undo it"
        ) from exc


def add(store: Store, exemption: Exemption, *, now: datetime) -> AuditRecord:
    """Write the exempt-add audit record, then the exemption naming it; returns the record. Without its
    record no exemption is written; a record without its exemption exempts nothing."""
    record = audit_record(store, exemption, ADD, now=now)
    try:
        store.audit.append(record)
    except RemediatorError as exc:
        raise CliError(
            f"nothing was exempted: the exempt-add audit record could not be written to "
            f"{store.settings.audit_table}: {exc}"
        ) from exc
    try:
        store.exemptions.put(exemption.model_copy(update={"record_id": record.record_id}))
    except RemediatorError as exc:
        raise CliError(
            f"nothing was exempted: the exempt-add audit record {record.record_id} was written, but the "
            f"exemption was not: {exc}. Run akr exempt add again"
        ) from exc
    return record


def unlinked(store: Store, *, account_id: str | None, now: datetime) -> list[Exemption]:
    """The exemptions in force that carry no exempt-add record, of one account or of every account."""
    return [
        e for e in list_all(store, account_id=account_id, include_expired=False, now=now) if not e.record_id
    ]


def relink_problem(store: Store, exemption: Exemption, now: datetime) -> str | None:
    """Why the exemption cannot be linked to a record made now: the remediator would not honour it."""
    horizon = store.settings.max_exemption_days
    if exemption.expires_at - now > timedelta(days=horizon):
        return (
            f"the exemption of {describe(exemption)} expires {exemption.expires_at:%Y-%m-%d}, more than the "
            f"deployed MaxExemptionDays of {horizon} from now: remove it and add a shorter one"
        )
    return None


def relink(store: Store, exemption: Exemption, *, now: datetime) -> AuditRecord:
    """Write an exempt-add record for an exemption made without one (its owner, expiry and reason, and the
    operator who vouches for it), then link the exemption to it; returns the record."""
    problem = relink_problem(store, exemption, now)
    if problem:
        raise CliError(problem)
    record = audit_record(store, exemption, ADD, now=now)
    record = record.model_copy(
        update={"reason": f"relinked an exemption made without its record: {record.reason}"}
    )
    try:
        store.audit.append(record)
    except RemediatorError as exc:
        raise CliError(
            f"the exemption of {describe(exemption)} was not linked: its exempt-add audit record could not "
            f"be written: {exc}"
        ) from exc
    try:
        linked = store.exemptions.link(exemption, record.record_id)
    except RemediatorError as exc:
        raise CliError(
            f"the exempt-add audit record {record.record_id} was written, but the exemption of "
            f"{describe(exemption)} was not linked to it: {exc}"
        ) from exc
    if not linked:
        raise CliError(
            f"the exemption of {describe(exemption)} was changed or removed meanwhile: it was not linked "
            f"(audit record {record.record_id} links nothing)"
        )
    return record


def find(store: Store, account_id: str, user_name: str, access_key_id: str | None) -> Exemption:
    """The exemption with exactly that user and key (None: the whole user), or a CliError."""
    for exemption in listed(store, account_id):
        if exemption.user_name == user_name and exemption.access_key_id == (access_key_id or None):
            return exemption
    key = f" and key {access_key_id}" if access_key_id else " (all keys)"
    raise CliError(f"no exemption in {account_id} for user {user_name}{key}")


def remove(store: Store, exemption: Exemption, *, now: datetime) -> AuditRecord:
    """Delete the exemption, then write its audit record; returns the record."""
    try:
        deleted = store.exemptions.delete(exemption.account_id, exemption.user_name, exemption.access_key_id)
    except RemediatorError as exc:
        raise CliError(f"the exemption was not removed: {exc}") from exc
    if not deleted:
        raise CliError(f"the exemption of {describe(exemption)} was removed meanwhile by someone else")
    record = audit_record(store, exemption, REMOVE, now=now)
    _audit(store, record, f"the exemption of {describe(exemption)} was removed")
    return record


def listed(store: Store, account_id: str) -> list[Exemption]:
    try:
        return store.exemptions.for_account(account_id)
    except RemediatorError as exc:
        raise CliError(str(exc)) from exc


def list_all(
    store: Store, *, account_id: str | None, include_expired: bool, now: datetime
) -> list[Exemption]:
    """The exemptions of one account or of every account of the organization, sorted by account, user,
    key; expired ones only with include_expired."""
    accounts = [account_id] if account_id else sorted(a.id for a in store.organization.accounts)
    found = [e for account in accounts for e in listed(store, account)]
    if not include_expired:
        found = [e for e in found if state(e, now) == "active"]
    return sorted(found, key=lambda e: (e.account_id, e.user_name, e.access_key_id or ""))
