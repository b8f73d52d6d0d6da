"""Central exemptions: who is exempt, why, by whom, and until when. Pure."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from remediator.facts import AccountId, Text

ANY_USER = "*"


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

    def covers(self, *, account_id: str, user_name: str, access_key_id: str, now: datetime) -> bool:
        """True when this exemption is in force for that key at `now`; an expired one covers nothing."""
        return (
            now < self.expires_at
            and self.account_id == account_id
            and self.user_name in (ANY_USER, user_name)
            and self.access_key_id in (None, access_key_id)
        )
