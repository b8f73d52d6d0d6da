"""The deployment the operator asks for, and the template parameters that follow from it. Pure."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remediator.facts import AccountId
from remediator.policy import PRESETS, Mode, Thresholds

TEMPLATES = Path(__file__).resolve().parent.parent / "stacksets"
CENTRAL_TEMPLATE = TEMPLATES / "central.yaml"
MEMBER_TEMPLATE = TEMPLATES / "member.yaml"

CisVersion = Literal["1.2", "1.4", "3.0", "5.0"]


class Deployment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    security_account_id: AccountId
    targets: tuple[str, ...] = ()
    """Root (r-...) or OU (ou-...) ids; empty means the organization's root."""
    home_region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    mode: Mode = Mode.DELETE
    cis: CisVersion | None = None
    max_key_age_days: int | None = Field(default=None, ge=1, le=3650)
    max_unused_days: int | None = Field(default=None, ge=1, le=3650)
    create_config_recorder: bool = False
    grace_days: int = Field(default=14, ge=0, le=365)
    warn_days_before: int = Field(default=0, ge=0, le=90)
    protected_user_path: str = Field(default="", pattern=r"^$|^/([A-Za-z0-9_+=,.@-]+/)+$")
    """Break-glass users: exempt centrally, and denied to the member role in every account."""
    security_role: str = "OrganizationAccountAccessRole"
    central_stack_name: str = "access-key-remediation"
    stackset_name: str = "access-key-remediation-member"
    management_stack_name: str = "access-key-remediation-member"
    rule_name_prefix: str = "akr-"
    member_role_name: str = "AccessKeyRemediationRole"
    remediator_role_name: str = "access-key-remediator"
    failure_tolerance_percentage: int = Field(default=10, ge=0, le=100)
    max_concurrent_percentage: int = Field(default=25, ge=1, le=100)

    @field_validator("targets")
    @classmethod
    def _targets_are_roots_or_ous(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for target in value:
            if not (target.startswith("r-") or target.startswith("ou-")):
                raise ValueError(f"{target!r} is neither a root id (r-...) nor an OU id (ou-...)")
        return value

    @property
    def thresholds(self) -> Thresholds:
        base = PRESETS[f"cis-{self.cis}"] if self.cis else Thresholds()
        return Thresholds(
            max_key_age_days=self.max_key_age_days or base.max_key_age_days,
            max_unused_days=self.max_unused_days or base.max_unused_days,
        )

    @property
    def code_bucket(self) -> str:
        return f"akr-code-{self.security_account_id}-{self.home_region}"


def central_parameters(deployment: Deployment, *, organization_id: str, code_key: str) -> dict[str, str]:
    thresholds = deployment.thresholds
    return {
        "OrganizationId": organization_id,
        "RuleNamePrefixes": deployment.rule_name_prefix,
        "MemberRoleName": deployment.member_role_name,
        "RemediatorRoleName": deployment.remediator_role_name,
        "HomeRegion": deployment.home_region,
        "Mode": deployment.mode.value,
        "MaxKeyAgeDays": str(thresholds.max_key_age_days),
        "MaxUnusedDays": str(thresholds.max_unused_days),
        "CodeBucket": deployment.code_bucket,
        "CodeKey": code_key,
        "ProtectedUserPath": deployment.protected_user_path,
        "GraceDays": str(deployment.grace_days),
        "WarnDaysBefore": str(deployment.warn_days_before),
    }


def member_parameters(deployment: Deployment, *, organization_id: str, bus_arn: str) -> dict[str, str]:
    thresholds = deployment.thresholds
    return {
        "SecurityAccountId": deployment.security_account_id,
        "OrganizationId": organization_id,
        "CentralEventBusArn": bus_arn,
        "RemediatorRoleName": deployment.remediator_role_name,
        "MemberRoleName": deployment.member_role_name,
        "RuleNamePrefix": deployment.rule_name_prefix,
        "MaxAccessKeyAge": str(thresholds.max_key_age_days),
        "MaxCredentialUsageAge": str(thresholds.max_unused_days),
        "CreateConfigRecorder": str(deployment.create_config_recorder).lower(),
        "ProtectedUserPath": deployment.protected_user_path,
    }
