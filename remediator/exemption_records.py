"""Whether an exemption is the one its `exempt-add` audit record says was made. Pure.

An exemption item in the state table is only a claim: whoever can write the table could have written it.
`akr exempt add` writes the audit record first, then the exemption carrying that record's id. With
AKR_VERIFY_EXEMPTIONS the remediator honours an exemption only when that record is in the exemption's
account and agrees with it: the audit table's resource policy lets no one but the appending roles write
records, and none of them can change one afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from remediator.audit import AuditRecord, Outcome
from remediator.exemptions import Exemption, RejectedExemption

EXEMPT_ADD = "exempt-add"
"""The decision of the audit record that makes an exemption (akr exempt add, akr exempt relink)."""

FindRecord = Callable[[str, str], AuditRecord | None]
"""(account id, record id) -> the audit record, or None when there is none that parses."""
RevokedBy = Callable[[str, str], str | None]
"""(account id, exempt-add record id) -> the id of the exempt-remove record that revoked it, or None."""


def mismatch(
    exemption: Exemption, record: AuditRecord | None, *, max_days: int, revoked_by: str | None = None
) -> str | None:
    """Why `exemption` is not the one `record` (read under the exemption's account and record id) made, or
    was removed since (`revoked_by`: the exempt-remove record that says so); None when it is in force."""
    if exemption.record_id is None:
        return "it has no exempt-add audit record (made outside akr exempt add; akr exempt relink links one)"
    if record is None:
        return f"its exempt-add audit record {exemption.record_id} is not in account {exemption.account_id}"
    if record.decision != EXEMPT_ADD or record.outcome is not Outcome.DONE:
        return (
            f"audit record {record.record_id} is not a done exempt-add ({record.decision}, {record.outcome})"
        )
    differs = [
        name
        for name, mine, theirs in (
            ("account", exemption.account_id, record.account_id),
            ("user", exemption.user_name, record.user_name),
            ("key", exemption.access_key_id, record.access_key_id),
            ("owner", exemption.owner, record.owner),
            ("expiry", exemption.expires_at, record.expires_at),
        )
        if mine != theirs
    ]
    if differs:
        return f"its exempt-add audit record {record.record_id} has another {' and '.join(differs)}"
    if revoked_by is not None:
        return f"it was removed (exempt-remove audit record {revoked_by}) after its exempt-add record"
    if exemption.expires_at - record.recorded_at > timedelta(days=max_days):
        return (
            f"expires {exemption.expires_at:%Y-%m-%d}, more than {max_days} days after its exempt-add audit "
            f"record ({record.recorded_at:%Y-%m-%d})"
        )
    return None


def verify(
    exemptions: Iterable[Exemption], find: FindRecord, revoked: RevokedBy, *, now: datetime, max_days: int
) -> tuple[tuple[Exemption, ...], tuple[RejectedExemption, ...]]:
    """Split the exemptions into those their audit records prove and those they do not. Two reads per
    linked exemption in force, by key (an expired one covers nothing and is kept unread): bounded by the
    account's exemptions, never by its users or its history."""
    kept: list[Exemption] = []
    rejected: list[RejectedExemption] = []
    for exemption in exemptions:
        if now >= exemption.expires_at:
            kept.append(exemption)
            continue
        record = revoker = None
        if exemption.record_id:
            record = find(exemption.account_id, exemption.record_id)
            revoker = revoked(exemption.account_id, exemption.record_id) if record else None
        why = mismatch(exemption, record, max_days=max_days, revoked_by=revoker)
        if why is None:
            kept.append(exemption)
        else:
            rejected.append(RejectedExemption.of(exemption, why))
    return tuple(kept), tuple(rejected)
