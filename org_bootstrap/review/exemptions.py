"""`akr exempt`: central exemptions with a reason, an owner and a required expiry, every change audited.

Validation is pure (parse_expiry, check_account); then the adapters of the central state table
(remediator.adapters.exemption_table) and of the audit table, reached through the security account.
An exemption is made by its audit record: the exempt-add record first, then the exemption carrying that
record's id, which the remediator checks it against (remediator.exemption_records). A removal too is
recorded first: its exempt-remove record revokes the exempt-add record, then the item is deleted. An
exemption replaced by a new one for the same user and key is revoked the same way once the new one is in
place, so that the old item put back is not honoured; protection never lapses in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.deploy.central import central_clients, read_central, settings_from
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.organization import OrganizationView, read_organization
from org_bootstrap.review.exemption_checks import require_administrator
from org_bootstrap.review.undo import caller_identity
from remediator.adapters.audit_table import DynamoDBAuditLog
from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.audit import AuditRecord, Outcome, Phase, Trigger, new_record_id
from remediator.errors import RemediatorError
from remediator.exemption_records import EXEMPT_ADD
from remediator.exemptions import ANY_USER, Exemption
from remediator.settings import Settings

if TYPE_CHECKING:
    pass

DEFAULT_MAX_DAYS = 90
ADD = EXEMPT_ADD
REMOVE = "exempt-remove"


def check_horizon(store: Store, max_days: int) -> None:
    """The remediator honours no exemption further than the deployed MaxExemptionDays from its making."""
    deployed = store.settings.max_exemption_days
    if max_days > deployed:
        raise CliError(
            f"--max-days {max_days} is beyond the deployed MaxExemptionDays of {deployed}: the remediator "
            "would not honour such an exemption"
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


def audit_record(
    store: Store, exemption: Exemption, decision: str, *, now: datetime, replaced_by: str | None = None
) -> AuditRecord:
    """`replaced_by`: for the removal of an exemption that a new exempt-add record replaced."""
    verb = "exempted" if decision == ADD else "exemption removed for"
    if replaced_by is not None:
        verb = f"exemption replaced (by exempt-add record {replaced_by}) for"
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
    record no exemption is written; a record without its exemption exempts nothing. An exemption it
    replaces (same user and key) is revoked afterwards (_revoke_replaced)."""
    replaced = _same_target(store, exemption)
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
    if replaced is not None and replaced.record_id and replaced.record_id != record.record_id:
        _revoke_replaced(store, replaced, record, now=now)
    return record


def _same_target(store: Store, exemption: Exemption) -> Exemption | None:
    """The exemption in the table for exactly the same user and key, which a put replaces."""
    return next(
        (
            e
            for e in listed(store, exemption.account_id)
            if e.user_name == exemption.user_name and e.access_key_id == exemption.access_key_id
        ),
        None,
    )


def _revoke_replaced(store: Store, replaced: Exemption, record: AuditRecord, *, now: datetime) -> None:
    """After the new exemption is in place: an exempt-remove record revoking the replaced one's exempt-add
    record, so that the old item put back is not honoured. Written after the put, never before, so that a
    failure never leaves the user without the protection it had."""
    removal = audit_record(store, replaced, REMOVE, now=now, replaced_by=record.record_id)
    _audit(
        store,
        removal,
        f"the exemption of {describe(replaced)} was replaced (exempt-add record {replaced.record_id} is not "
        "revoked)",
    )


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
    """Write the exempt-remove record (it revokes the exempt-add record), then delete the exemption;
    returns the record. Without its record nothing is removed."""
    record = audit_record(store, exemption, REMOVE, now=now)
    try:
        store.audit.append(record)
    except RemediatorError as exc:
        raise CliError(
            f"nothing was removed: the exempt-remove audit record could not be written to "
            f"{store.settings.audit_table}: {exc}"
        ) from exc
    try:
        deleted = store.exemptions.delete(exemption.account_id, exemption.user_name, exemption.access_key_id)
    except RemediatorError as exc:
        raise CliError(
            f"the exempt-remove audit record {record.record_id} was written, but the exemption of "
            f"{describe(exemption)} was not deleted: {exc}. With exemption verification the remediator no "
            "longer honours it; run akr exempt remove again"
        ) from exc
    if not deleted:
        raise CliError(
            f"the exemption of {describe(exemption)} was removed meanwhile by someone else; audit record "
            f"{record.record_id} records its removal"
        )
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
