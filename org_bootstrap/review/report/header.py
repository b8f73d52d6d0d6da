"""The report's header lines that say what the window's records stand on: the policy in force, and the
verification of the window against the audit archive (org_bootstrap.review.audit_verify). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from org_bootstrap.review.audit_verify import Verification, summary_line
from remediator.audit import AuditRecord


def policies(records: Sequence[AuditRecord]) -> list[str]:
    """The modes and limits in force in the records read, newest first: one line when the policy did
    not change in the window."""
    seen: dict[tuple[str, int, int], datetime] = {}
    for record in records:
        key = (record.mode.value, record.thresholds.max_key_age_days, record.thresholds.max_unused_days)
        seen[key] = max(seen.get(key, record.recorded_at), record.recorded_at)
    ordered = sorted(seen.items(), key=lambda item: item[1], reverse=True)
    return [
        f"Policy in force{' (latest)' if n == 0 and len(ordered) > 1 else ''}: mode {mode}, rotation "
        f"after {age} days, unused after {unused} days."
        for n, ((mode, age, unused), _) in enumerate(ordered)
    ]


@dataclass(frozen=True)
class ArchiveCheck:
    """The window's verification against the archive, or why there is none (no archive yet, access
    refused, a malformed line)."""

    verification: Verification | None = None
    reason: str | None = None

    @property
    def state(self) -> str:
        """clean, findings or not-verified: the header line's class."""
        if self.verification is None:
            return "not-verified"
        return "clean" if self.verification.clean else "findings"

    @property
    def line(self) -> str:
        if self.verification is None:
            return f"Archive verification: not verified: {self.reason or 'no verification was made'}."
        advice = "" if self.verification.clean else "; akr audit verify over the same window lists them"
        return f"Archive verification: {summary_line(self.verification)}{advice}."
