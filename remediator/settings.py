"""The remediator's configuration: one frozen model read from AKR_* environment variables.

A plain pydantic model filled from the environment, rather than pydantic-settings: that package costs
about 20 ms of Lambda cold start (docs/performance.md) for what is a dictionary comprehension here.
Unknown AKR_* names are errors, so a misspelt setting fails at start-up instead of being ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from remediator.errors import ConfigurationError
from remediator.exemptions import DEFAULT_MAX_EXEMPTION_DAYS
from remediator.policy import PRESETS, Mode, Policy, Thresholds

Preset = Literal["cis-1.2", "cis-1.4", "cis-3.0", "cis-5.0"]


PREFIX = "AKR_"
ModelT = TypeVar("ModelT", bound=BaseModel)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # IAM role names are ASCII; spelt out because a Unicode \w costs 15 ms of cold start to compile.
    member_role_name: str = Field(default="AccessKeyRemediationRole", pattern=r"^[A-Za-z0-9_+=,.@-]{1,64}$")
    audit_table: str = Field(min_length=3, max_length=255)
    state_table: str = Field(min_length=3, max_length=255)
    mode: Mode = Mode.DELETE
    cis_preset: Preset | None = None
    max_key_age_days: int | None = Field(default=None, ge=1, le=3650)
    """Overrides the preset's rotation limit. Without either, 90."""
    max_unused_days: int | None = Field(default=None, ge=1, le=3650)
    """Overrides the preset's unused limit. Without either, 90."""
    grace_days: int = Field(default=14, ge=0, le=365)
    warn_days_before: int = Field(default=0, ge=0, le=90)
    """Warn owners this many days before a key breaks a rule (the sweep sends it); 0 is off."""
    rule_name_prefixes: tuple[str, ...] = ("akr-",)
    """Comma-separated. Events from Config rules whose names start otherwise are rejected."""
    owner_tag_key: str = "owner"
    opt_out_tag_key: str | None = None
    """Off by default: a member account could otherwise exempt its own users."""
    protected_user_path: str | None = Field(default=None, pattern=r"^/([A-Za-z0-9_+=,.@-]+/)+$")
    """Users under this path are exempt (the member role's optional Deny protects the same path)."""
    notification_topic_arn: str | None = None
    home_region: str | None = None
    """Where member accounts record AWS::IAM::User in Config; defaults to the event's region."""
    idempotency_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    max_exemption_days: int = Field(default=DEFAULT_MAX_EXEMPTION_DAYS, ge=1, le=3650)
    """An exemption whose expiry is further than this from when it was made is not honoured."""
    verify_exemptions: bool = False
    """Honour an exemption only with its exempt-add audit record (remediator.exemption_records). Off in
    stacks that may hold exemptions made before the records were linked: akr deploy turns it on once
    none is left (akr exempt relink)."""
    sweep_queue_url: str | None = None
    """The sweep function's queue (one message per account); only the sweep function needs it."""
    tracing: bool = False

    @field_validator("rule_name_prefixes", mode="before")
    @classmethod
    def _split_prefixes(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, tuple | list) and not value:
            raise ValueError("at least one rule name prefix is required")
        return value

    @field_validator(
        "opt_out_tag_key",
        "notification_topic_arn",
        "home_region",
        "cis_preset",
        "protected_user_path",
        "sweep_queue_url",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def thresholds(self) -> Thresholds:
        base = PRESETS[self.cis_preset] if self.cis_preset else Thresholds()
        return Thresholds(
            max_key_age_days=self.max_key_age_days or base.max_key_age_days,
            max_unused_days=self.max_unused_days or base.max_unused_days,
        )

    @property
    def policy(self) -> Policy:
        return Policy(
            thresholds=self.thresholds,
            mode=self.mode,
            grace_days=self.grace_days,
            warn_days_before=self.warn_days_before,
            opt_out_tag_key=self.opt_out_tag_key,
            protected_user_path=self.protected_user_path,
        )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment once; an invalid configuration fails here, at start-up, with every problem."""
    return load_environment(Settings, environ)


def load_environment(model: type[ModelT], environ: Mapping[str, str] | None = None) -> ModelT:
    """A function's settings model from its AKR_* variables (each function has its own model)."""
    environ = os.environ if environ is None else environ
    values = {
        name[len(PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.upper().startswith(PREFIX)
    }
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"AKR_{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from exc
