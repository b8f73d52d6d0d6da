"""What `akr sweep --local --dry-run` runs the remediator over: the same service, in report mode, with
ports that read the central state and write nothing. The audit records are kept in memory (the counts
and the decisions are shown, and stored nowhere), a key's lifecycle is read but never saved, a claim is
always granted and never stored, and there is no notifier. IAM is not changed either: report mode
records and does nothing else (remediator.decision).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from remediator.adapters.exemption_table import DynamoDBExemptions
from remediator.adapters.lifecycle_table import DynamoDBLifecycle
from remediator.audit import AuditRecord
from remediator.errors import RemediatorError
from remediator.lifecycle import KeyLifecycle
from remediator.ports import AccountAccess
from remediator.service import Remediator
from remediator.settings import Settings


class KeptRecords:
    """An audit log in memory: what a real run would have appended."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def append(self, record: AuditRecord) -> None:
        with self._lock:
            self.records.append(record)


class ReadOnlyLifecycle:
    """The key lifecycles as stored, without their pending marks (an intent left open is the deployed
    runs' to settle, not a dry run's); what a run would save is dropped."""

    def __init__(self, store: DynamoDBLifecycle) -> None:
        self._store = store

    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        return {
            key: lifecycle.model_copy(update={"pending": None})
            for key, lifecycle in self._store.for_account(account_id).items()
        }

    def save(self, lifecycle: KeyLifecycle) -> None:
        pass


class NoClaims:
    """Every claim granted, none stored: a dry run changes no key, so it keeps no other run off one."""

    def claim(
        self, account_id: str, access_key_id: str, action: str, *, owner: str, after_finished: bool = False
    ) -> bool:
        return True


class NoJournal:
    """A dry run runs in report mode and sees no pending marks: nothing ever begins or settles a mutation.
    Should it, this refuses before IAM is called."""

    def begin(
        self, intent: AuditRecord, marked: KeyLifecycle, *, owner: str, after_finished: bool = False
    ) -> bool:
        raise DryRunError(f"a dry run changes nothing, yet {intent.decision} {marked.access_key_id} began")

    def settle(self, outcome: AuditRecord, settled: KeyLifecycle, *, owner: str) -> None:
        raise DryRunError(f"a dry run changes nothing, yet an outcome for {settled.access_key_id} came")


class DryRunError(RemediatorError):
    """A dry run was about to write or change something."""


def dry_run_remediator(
    settings: Settings,
    *,
    access: AccountAccess,
    exemptions: DynamoDBExemptions,
    lifecycle: DynamoDBLifecycle,
    kept: KeptRecords,
    clock: Callable[[], datetime],
) -> Remediator:
    return Remediator(
        policy=settings.policy,
        access=access,
        audit=kept,
        exemptions=exemptions,
        claims=NoClaims(),
        lifecycle=ReadOnlyLifecycle(lifecycle),
        journal=NoJournal(),
        clock=clock,
        notifier=None,
        home_region=settings.home_region,
        owner_tag_key=settings.owner_tag_key,
        report_only_accounts=settings.report_only_accounts,
    )
