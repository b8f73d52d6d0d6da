"""Central exemptions: who is exempt, why, by whom, and until when; and which exemption items the
remediator cannot use, with the reason. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from remediator.facts import AccountId, Text

ANY_USER = "*"
DEFAULT_MAX_EXEMPTION_DAYS = 365
"""No exemption outlives a yearly review (AKR_MAX_EXEMPTION_DAYS)."""
CLOCK_SKEW = timedelta(minutes=5)


class Exemption(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: AccountId
    user_name: Text
    """A user name, or "*" for every user of the account."""
    access_key_id: str | None = None
    """One key of the user, or None for all of them."""
    reason: Text
    owner: Text
    expires_at: AwareDatetime
    created_at: AwareDatetime | None = None
    """When it was made; None on items written before this was recorded."""
    record_id: str | None = None
    """The id of the exempt-add audit record that made it (remediator.exemption_records); None on items
    written before exemptions carried it, or outside akr exempt."""

    def covers(self, *, account_id: str, user_name: str, access_key_id: str, now: datetime) -> bool:
        """True when this exemption is in force for that key at `now`; an expired one covers nothing."""
        return (
            now < self.expires_at
            and self.account_id == account_id
            and self.user_name in (ANY_USER, user_name)
            and self.access_key_id in (None, access_key_id)
        )

    @property
    def item(self) -> str:
        """How the state table names it: "<user or *>#<key or *>"."""
        return f"{self.user_name}#{self.access_key_id or '*'}"


class RejectedExemption(BaseModel):
    """An exemption item that is not honoured. Never silently dropped: the decisions on the keys it
    names say so, and the run counts it (ExemptionsRejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    item: str
    """The item's sort key in the state table, "<user or *>#<key or *>"."""
    owner: str | None = None
    why: str

    def names(self, *, user_name: str, access_key_id: str) -> bool:
        """Whether the item, as far as its sort key tells, is about this key."""
        user, _, key = self.item.partition("#")
        return user in (ANY_USER, user_name) and key in ("*", "", access_key_id)

    @classmethod
    def of(cls, exemption: Exemption, why: str) -> RejectedExemption:
        return cls(account_id=exemption.account_id, item=exemption.item, owner=exemption.owner, why=why)

    def note(self) -> str:
        by = f" by {self.owner}" if self.owner else ""
        return f"exemption {self.item}{by} ignored: {self.why}"


def screen(
    exemptions: Iterable[Exemption], *, now: datetime, max_days: int
) -> tuple[tuple[Exemption, ...], tuple[RejectedExemption, ...]]:
    """Split the parsed exemptions into those the remediator honours and those it rejects: an expiry more
    than `max_days` after the exemption was made (an item without its making time is measured from now,
    which every exemption made within the horizon passes), or a making time in the future."""
    horizon = timedelta(days=max_days)
    kept: list[Exemption] = []
    rejected: list[RejectedExemption] = []
    for exemption in exemptions:
        made = exemption.created_at or now
        why = None
        if made > now + CLOCK_SKEW:
            why = f"made in the future ({made:%Y-%m-%d %H:%M} UTC)"
        elif exemption.expires_at - made > horizon:
            why = (
                f"expires {exemption.expires_at:%Y-%m-%d}, more than {max_days} days after it was made "
                f"({made:%Y-%m-%d})"
            )
        if why is None:
            kept.append(exemption)
        else:
            rejected.append(RejectedExemption.of(exemption, why))
    return tuple(kept), tuple(rejected)
