"""In-memory implementations of the ports in remediator.ports, type-checked against them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from remediator.adapters.claims import CLAIM_TTL
from remediator.audit import AuditRecord
from remediator.credential_report import CredentialReport
from remediator.errors import PermanentError, TransientError
from remediator.exemptions import Exemption, RejectedExemption
from remediator.facts import KeyFacts, UserFacts
from remediator.lifecycle import KeyLifecycle
from remediator.ports import (
    AccountAccess,
    AuditLog,
    ExemptionRecords,
    ExemptionSource,
    KeyClaims,
    KeyJournal,
    LifecycleStore,
    MemberAccount,
    Notifier,
)


@dataclass
class FakeMember:
    account_id: str
    users_by_name: dict[str, UserFacts] = field(default_factory=dict)
    fail_on: dict[str, Exception] = field(default_factory=dict)
    """Operation name ("deactivate_key", "read_user", ...) -> the error it raises."""
    calls: list[str] = field(default_factory=list)
    role_session_name: str = "akr-test"
    vanished: set[str] = field(default_factory=set)
    """Keys someone else deletes between the read and the action."""

    def add(self, user: UserFacts) -> None:
        self.users_by_name[user.user_name] = user

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.fail_on:
            raise self.fail_on[operation]

    def resolve_user_name(self, user_id: str) -> str | None:
        self._call("resolve_user_name")
        return next((u.user_name for u in self.users_by_name.values() if u.user_id == user_id), None)

    def users(self) -> Iterator[tuple[str, str]]:
        self._call("users")
        for user in list(self.users_by_name.values()):
            yield user.user_name, user.user_id

    def read_user(self, user_name: str, user_id: str | None = None) -> UserFacts | None:
        self._call("read_user")
        return self.users_by_name.get(user_name)

    report: CredentialReport | None = None
    """What credential_report() answers; None: no report (the sweep lists the users instead)."""

    def credential_report(self) -> CredentialReport | None:
        self._call("credential_report")
        return self.report

    def _set_keys(self, user_name: str, keys: tuple[KeyFacts, ...]) -> None:
        self.users_by_name[user_name] = self.users_by_name[user_name].model_copy(update={"keys": keys})

    def _has(self, user_name: str, access_key_id: str) -> bool:
        if access_key_id in self.vanished:
            return False
        return any(k.access_key_id == access_key_id for k in self.users_by_name[user_name].keys)

    def deactivate_key(self, user_name: str, access_key_id: str) -> bool:
        self._call("deactivate_key")
        return self._set_status(user_name, access_key_id, "Inactive")

    def reactivate_key(self, user_name: str, access_key_id: str) -> bool:
        self._call("reactivate_key")
        return self._set_status(user_name, access_key_id, "Active")

    def _set_status(self, user_name: str, access_key_id: str, status: str) -> bool:
        if not self._has(user_name, access_key_id):
            return False
        keys = self.users_by_name[user_name].keys
        self._set_keys(
            user_name,
            tuple(
                k.model_copy(update={"status": status}) if k.access_key_id == access_key_id else k
                for k in keys
            ),
        )
        return True

    def delete_key(self, user_name: str, access_key_id: str) -> bool:
        self._call("delete_key")
        if not self._has(user_name, access_key_id):
            return False
        keys = self.users_by_name[user_name].keys
        self._set_keys(user_name, tuple(k for k in keys if k.access_key_id != access_key_id))
        return True


@dataclass
class FakeAccess:
    members: dict[str, FakeMember] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)

    forgotten: list[str] = field(default_factory=list)

    def open(self, account_id: str, *, region: str, label: str) -> FakeMember:
        if account_id in self.denied:
            raise PermanentError(f"sts:AssumeRole into {account_id}: AccessDenied")
        return self.members[account_id]

    def forget(self, account_id: str) -> None:
        self.forgotten.append(account_id)


@dataclass
class MemoryLifecycle:
    saved: dict[tuple[str, str], KeyLifecycle] = field(default_factory=dict)
    writes: int = 0
    fail: Exception | None = None

    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        return {key: lc for (account, key), lc in self.saved.items() if account == account_id}

    def save(self, lifecycle: KeyLifecycle) -> None:
        """As the state table: the stage and dates; the pending mark stays as it is."""
        if self.fail is not None:
            raise self.fail
        self.writes += 1
        slot = (lifecycle.account_id, lifecycle.access_key_id)
        known = self.saved.get(slot)
        self.saved[slot] = lifecycle.model_copy(update={"pending": known.pending if known else None})


@dataclass
class MemoryClaims:
    """Claims as the state table keeps them: one holder per (account, key), for an hour. The slots keep
    a third, empty part for the tests that set holders directly."""

    holders: dict[tuple[str, str, str], str] = field(default_factory=dict)
    clock: Callable[[], datetime] | None = None
    taken_at: dict[tuple[str, str, str], datetime] = field(default_factory=dict)

    finished: set[tuple[str, str, str]] = field(default_factory=set)

    def claim(
        self, account_id: str, access_key_id: str, action: str, *, owner: str, after_finished: bool = False
    ) -> bool:
        slot = (account_id, access_key_id, "")
        lapsed = (
            self.clock is not None
            and slot in self.taken_at
            and self.clock() - self.taken_at[slot] > CLAIM_TTL
        )
        if lapsed or (after_finished and slot in self.finished):
            self.holders.pop(slot, None)
        holder = self.holders.setdefault(slot, owner)
        if holder == owner:
            self.finished.discard(slot)
            if self.clock is not None:
                self.taken_at[slot] = self.clock()
        return holder == owner

    def finish(self, account_id: str, access_key_id: str, *, owner: str) -> None:
        slot = (account_id, access_key_id, "")
        if self.holders.get(slot) == owner:
            self.finished.add(slot)


@dataclass
class MemoryAuditLog:
    records: list[AuditRecord] = field(default_factory=list)
    fail: Exception | None = None
    journal: list[str] | None = None
    """When set, shared with a FakeMember's calls to check the order of audit writes and mutations."""

    def append(self, record: AuditRecord) -> None:
        if self.fail is not None:
            raise self.fail
        self.records.append(record)
        if self.journal is not None:
            self.journal.append(f"audit:{record.phase}")

    def find(self, account_id: str, record_id: str) -> AuditRecord | None:
        return next((r for r in self.records if (r.account_id, r.record_id) == (account_id, record_id)), None)

    def revoked_by(self, account_id: str, record_id: str) -> str | None:
        return next(
            (r.record_id for r in self.records if (r.account_id, r.revokes) == (account_id, record_id)), None
        )


@dataclass(frozen=True)
class Read:
    valid: tuple[Exemption, ...]
    rejected: tuple[RejectedExemption, ...]


@dataclass
class StaticExemptions:
    exemptions: list[Exemption] = field(default_factory=list)
    rejected: list[RejectedExemption] = field(default_factory=list)
    reads: int = 0

    def read(self, account_id: str) -> Read:
        self.reads += 1
        return Read(
            tuple(e for e in self.exemptions if e.account_id == account_id),
            tuple(r for r in self.rejected if r.account_id == account_id),
        )


@dataclass
class MemoryJournal:
    """The journal over the other fakes, all or nothing as the transactions are. `fail_begin` /
    `fail_settle`: the error the next calls raise (nothing written)."""

    audit: MemoryAuditLog
    claims: MemoryClaims
    lifecycle: MemoryLifecycle
    fail_begin: Exception | None = None
    fail_settle: Exception | None = None

    def begin(
        self, intent: AuditRecord, marked: KeyLifecycle, *, owner: str, after_finished: bool = False
    ) -> bool:
        if self.fail_begin is not None:
            raise self.fail_begin
        slot = (marked.account_id, marked.access_key_id)
        known = self.lifecycle.saved.get(slot)
        before = (dict(self.claims.holders), dict(self.claims.taken_at), set(self.claims.finished))
        claimed = self.claims.claim(
            marked.account_id,
            marked.access_key_id,
            intent.decision,
            owner=owner,
            after_finished=after_finished,
        )
        if not claimed:
            return False
        if known is not None and known.pending is not None and known.pending.owner != owner:
            self.claims.holders, self.claims.taken_at, self.claims.finished = before  # all or nothing
            raise TransientError(f"{marked.access_key_id} carries an open intent of another run")
        self.lifecycle.saved[slot] = (known or marked).model_copy(update={"pending": marked.pending})
        self.audit.append(intent)
        return True

    def settle(self, outcome: AuditRecord, settled: KeyLifecycle, *, owner: str) -> None:
        if self.fail_settle is not None:
            raise self.fail_settle
        slot = (settled.account_id, settled.access_key_id)
        known = self.lifecycle.saved.get(slot)
        if known is None or known.pending is None or known.pending.intent_id != outcome.intent_id:
            raise TransientError(f"the intent {outcome.intent_id} was settled by another run meanwhile")
        self.audit.append(outcome)
        self.lifecycle.saved[slot] = settled.model_copy(update={"pending": None})
        self.claims.finish(settled.account_id, settled.access_key_id, owner=owner)


@dataclass
class RecordingNotifier:
    batches: list[list[AuditRecord]] = field(default_factory=list)
    fail: Exception | None = None

    def notify(self, records: Sequence[AuditRecord]) -> None:
        if self.fail is not None:
            raise self.fail
        self.batches.append(list(records))


def _conforms(  # noqa: PLR0917
    member: FakeMember,
    access: FakeAccess,
    log: MemoryAuditLog,
    ex: StaticExemptions,
    n: RecordingNotifier,
    claims: MemoryClaims,
    lifecycle: MemoryLifecycle,
    journal: MemoryJournal,
) -> tuple[
    MemberAccount,
    AccountAccess,
    AuditLog,
    ExemptionRecords,
    ExemptionSource,
    Notifier,
    KeyClaims,
    LifecycleStore,
    KeyJournal,
]:
    """Never called: makes mypy prove that the fakes implement the ports."""
    return member, access, log, log, ex, n, claims, lifecycle, journal
