"""The sweep's unit of work: one message per account, from the sweep function to the worker. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from remediator.facts import AccountId


class SweepMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: AccountId
    run_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@+=-]+$")
    """One sweep's id, shared by its messages; goes into the role session names and the audit."""

    @property
    def label(self) -> str:
        return f"sweep-{self.run_id}"


def sweep_messages(accounts: Iterable[str], run_id: str) -> list[SweepMessage]:
    """One message per account, each account once, in a stable order."""
    return [SweepMessage(account_id=account, run_id=run_id) for account in sorted(set(accounts))]
