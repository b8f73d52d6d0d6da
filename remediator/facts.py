"""The IAM facts about one user, read live from the member account at decision time. Pure data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# ASCII digits only: pydantic's \d would also accept other scripts' digits.
AccountId = Annotated[str, Field(pattern=r"^[0-9]{12}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class KeyFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    access_key_id: str
    status: str
    """"Active" or "Inactive" (IAM's model also knows "Expired"), kept as a string on purpose."""
    created_at: AwareDatetime
    last_used_at: AwareDatetime | None = None
    """None when IAM reports the key as never used."""

    @property
    def is_active(self) -> bool:
        return self.status == "Active"

    @property
    def last_activity(self) -> datetime:
        """The mark the unused rule counts from: the last use, or the creation for a key never used."""
        return self.last_used_at or self.created_at


class UserFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    user_name: str
    user_id: str
    path: str = "/"
    keys: tuple[KeyFacts, ...] = ()
    tags: dict[str, str] = {}
