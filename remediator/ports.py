"""What the service needs from the outside world. Adapters implement these over boto3; tests use fakes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from remediator.audit import AuditRecord
from remediator.credential_report import CredentialReport
from remediator.exemptions import Exemption, RejectedExemption
from remediator.facts import UserFacts
from remediator.lifecycle import KeyLifecycle


class MemberAccount(Protocol):
    """IAM (and Config, for lookups) in one member account, reached through the member role."""

    @property
    def account_id(self) -> str: ...

    @property
    def role_session_name(self) -> str: ...

    def resolve_user_name(self, user_id: str) -> str | None:
        """The name of the user with this unique id, or None when no such user exists."""
        ...

    def users(self) -> Iterator[tuple[str, str]]:
        """Every (user name, user id) of the account, all pages."""
        ...

    def read_user(self, user_name: str, user_id: str | None = None) -> UserFacts | None:
        """Live facts about the user's keys, path and tags, or None when the user no longer exists (or,
        given `user_id`, the name now belongs to another user)."""
        ...

    def credential_report(self) -> CredentialReport | None:
        """The account's credential report, or None when IAM cannot give one now."""
        ...

    def deactivate_key(self, user_name: str, access_key_id: str) -> bool:
        """True when deactivated; False when the key no longer exists."""
        ...

    def reactivate_key(self, user_name: str, access_key_id: str) -> bool:
        """Undo: True when active again; False when the key no longer exists."""
        ...

    def delete_key(self, user_name: str, access_key_id: str) -> bool:
        """True when deleted; False when the key was already gone."""
        ...


class AccountAccess(Protocol):
    def open(self, account_id: str, *, region: str, label: str) -> MemberAccount:
        """Assume the member role in `account_id`; `label` goes into the role session name."""
        ...

    def forget(self, account_id: str) -> None:
        """Drop cached credentials for the account (after a permanent failure: they may be revoked)."""
        ...


class KeyClaims(Protocol):
    def claim(
        self, account_id: str, access_key_id: str, action: str, *, owner: str, after_finished: bool = False
    ) -> bool:
        """Take the short-lived right to act on a key, whatever the action. False when another run holds
        it; the same owner (a retry of the same event) may take it again. `after_finished`: also take it
        from a run that has finished acting (an operator's undo need not wait for the claim to lapse)."""
        ...


class KeyJournal(Protocol):
    """The write-ahead journal of mutations: a claim, the key's pending mark and the audit records move
    together, so that an intent without its outcome always leaves a mark that the next holder of the key
    finds and settles from IAM. Each call is all or nothing."""

    def begin(
        self, intent: AuditRecord, marked: KeyLifecycle, *, owner: str, after_finished: bool = False
    ) -> bool:
        """Claim the key for `owner` (as KeyClaims.claim), set the pending mark that `marked` carries on the
        key's lifecycle, and append `intent`. False when another run holds the claim: nothing is written.
        A retry of a call whose reply was lost finds its own writes and succeeds."""
        ...

    def settle(self, outcome: AuditRecord, settled: KeyLifecycle, *, owner: str) -> None:
        """Append `outcome` and write `settled` (the lifecycle with its pending mark cleared and its stage
        moved), and mark the claim finished: it still keeps other runs off until it lapses (a run that read
        the key before the action would otherwise act again on what it read), but an operator's undo may
        take it (`after_finished`). Only the mark of `outcome.intent_id` is cleared."""
        ...


class AuditLog(Protocol):
    def append(self, record: AuditRecord) -> None:
        """Store one record durably, or raise. Never overwrites."""
        ...


class ExemptionRecords(Protocol):
    def find(self, account_id: str, record_id: str) -> AuditRecord | None:
        """The audit record with this id in the account, read consistently; None when there is none, or
        it does not parse."""
        ...

    def revoked_by(self, account_id: str, record_id: str) -> str | None:
        """The id of the account's exempt-remove record that revokes the exempt-add `record_id`, or None."""
        ...


class ExemptionsRead(Protocol):
    @property
    def valid(self) -> Sequence[Exemption]:
        """Every exemption item that parses, expired ones included."""
        ...

    @property
    def rejected(self) -> Sequence[RejectedExemption]:
        """The items that do not parse, with the reason."""
        ...


class ExemptionSource(Protocol):
    def read(self, account_id: str) -> ExemptionsRead: ...


class AccountStateSource(Protocol):
    def read(self, account_id: str) -> tuple[ExemptionsRead, dict[str, KeyLifecycle]]:
        """The account's exemptions and its key lifecycles (AccessKeyId -> lifecycle) in one read, the
        lifecycles read consistently: what ExemptionSource.read and LifecycleStore.for_account answer."""
        ...


class LifecycleStore(Protocol):
    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        """AccessKeyId -> lifecycle, for every key this service has seen in the account."""
        ...

    def save(self, lifecycle: KeyLifecycle) -> None:
        """Write the key's stage and dates; its pending mark is the journal's and is left as it is."""
        ...


class Notifier(Protocol):
    def notify(self, records: Sequence[AuditRecord]) -> None:
        """Tell people about the actions taken (and failed) in one run. Best effort."""
        ...
