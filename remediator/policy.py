"""What the organization's policy is: thresholds, CIS presets and the remediation mode. Pure."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Mode(StrEnum):
    REPORT = "report"
    """Audit only; nothing in IAM changes."""
    DEACTIVATE = "deactivate"
    DELETE = "delete"
    STAGED = "staged"
    """Deactivate now; the sweep deletes after the grace period if the key is still inactive."""


class Thresholds(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_key_age_days: int = Field(default=90, ge=1, le=3650)
    max_unused_days: int = Field(default=90, ge=1, le=3650)


# CIS v1.2.0: 1.3 (unused, 90 days) and 1.4 (rotation, 90 days). From v1.4.0 on the unused limit is
# 45 days (1.12 in v1.4.0 and v3.0.0, 1.11 in v5.0.0); rotation stays at 90 days.
PRESETS: dict[str, Thresholds] = {
    "cis-1.2": Thresholds(max_key_age_days=90, max_unused_days=90),
    "cis-1.4": Thresholds(max_key_age_days=90, max_unused_days=45),
    "cis-3.0": Thresholds(max_key_age_days=90, max_unused_days=45),
    "cis-5.0": Thresholds(max_key_age_days=90, max_unused_days=45),
}


class Policy(BaseModel):
    """Everything `decide` needs besides the facts, the exemptions and the clock."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    thresholds: Thresholds = Thresholds()
    mode: Mode = Mode.DELETE
    grace_days: int = Field(default=14, ge=0, le=365)
    warn_days_before: int = Field(default=0, ge=0, le=90)
    """Warn the owner this many days before a key breaks a rule; 0 turns warnings off."""
    opt_out_tag_key: str | None = None
    """A user tag that exempts the user when its value is "true". None (the default) turns it off."""
    protected_user_path: str | None = None
    """Users under this IAM path (break-glass users) are exempt; the member role also denies acting on
    them, so this turns a daily AccessDenied into an audited exemption."""
