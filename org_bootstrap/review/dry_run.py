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
    """The key lifecycles as stored; what a run would save is dropped."""

    def __init__(self, store: DynamoDBLifecycle) -> None:
        self._store = store

    def for_account(self, account_id: str) -> dict[str, KeyLifecycle]:
        return self._store.for_account(account_id)

    def save(self, lifecycle: KeyLifecycle) -> None:
        pass


class NoClaims:
    """Every claim granted, none stored: a dry run changes no key, so it keeps no other run off one."""

    def claim(
        self, account_id: str, access_key_id: str, action: str, *, owner: str, after_finished: bool = False
    ) -> bool:
        return True

    def finish(self, account_id: str, access_key_id: str, *, owner: str) -> None:
        pass


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
        clock=clock,
        notifier=None,
        home_region=settings.home_region,
        owner_tag_key=settings.owner_tag_key,
    )
