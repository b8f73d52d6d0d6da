"""The deployment the operator asks for, and the template parameters that follow from it. Pure.

The policy options (mode, thresholds, grace and warning days, protected path, Config recorder) are None when
the operator did not give them: "keep what is deployed". `resolve_policy` fills them in from the deployed
stacks' parameters, and only where nothing is deployed from the defaults of a first deploy."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from org_bootstrap.deploy.bucket_policy import BucketPolicyError, check_writer
from org_bootstrap.deploy.regions import global_events_region
from remediator.facts import AccountId
from remediator.policy import PRESETS, Mode, Thresholds

TEMPLATES = Path(__file__).resolve().parents[2] / "stacksets"
CENTRAL_TEMPLATE = TEMPLATES / "central.yaml"
MEMBER_TEMPLATE = TEMPLATES / "member.yaml"

FORWARDER_ROLE_NAME = "AccessKeyRemediationForwarder"
"""The member stacks' forwarder role (the templates' ForwarderRoleName default): the bus admits only it."""
CisVersion = Literal["1.2", "1.4", "3.0", "5.0"]


class ManagementAccount(StrEnum):
    """What the remediator does in the organization's management account, where SCPs do not apply."""

    OFF = "off"
    """No member stack there; never swept."""
    REPORT = "report"
    """A read-only member role (the member template in mode report); its keys are reported, never changed."""
    ENFORCE = "enforce"
    """As in every account: the deployed mode. Needs a protected path (break-glass users out of reach)."""


PROTECTED_PATH_PATTERN = r"^$|^/([A-Za-z0-9_+=,.@-]+/)+$"
MIN_CAP, MAX_CAP = 1, 10000
"""The circuit breaker's caps: the central template's MaxActionsPerAccount / MaxActionsPerDay pattern."""
T = TypeVar("T")


class Deployment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    security_account_id: AccountId
    targets: tuple[str, ...] = ()
    """Root (r-...) or OU (ou-...) ids; empty means the organization's root."""
    home_region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    # The policy: None keeps what is deployed (the defaults of DeploymentPolicy on a first deploy).
    mode: Mode | None = None
    cis: CisVersion | None = None
    max_key_age_days: int | None = Field(default=None, ge=1, le=3650)
    max_unused_days: int | None = Field(default=None, ge=1, le=3650)
    create_config_recorder: bool | None = None
    grace_days: int | None = Field(default=None, ge=0, le=365)
    warn_days_before: int | None = Field(default=None, ge=0, le=90)
    protected_user_path: str | None = Field(default=None, pattern=PROTECTED_PATH_PATTERN)
    """Break-glass users: exempt centrally, and denied to the member role in every account."""
    reserved_concurrency: int | None = Field(default=None, ge=0, le=1000)
    """The remediator's reserved concurrency (the worker's and the sweep's come with it); 0: none."""
    management_account: ManagementAccount | None = None
    """None keeps what is deployed; a first deploy gets REPORT (plan.management_choice)."""
    max_actions_per_account: int | None = Field(default=None, ge=MIN_CAP, le=MAX_CAP)
    max_actions_per_day: int | None = Field(default=None, ge=MIN_CAP, le=MAX_CAP)
    """The circuit breaker's caps (remediator/breaker.py); None keeps what is deployed."""
    signing_profile: str | None = Field(default=None, pattern=r"^$|^[A-Za-z0-9_]{2,64}$")
    """The AWS Signer profile that signs the package (code_signing.py); None keeps what is deployed, ""
    turns signing off."""
    snapstart: bool | None = None
    """Lambda SnapStart for the central functions; None keeps what is deployed, a first deploy gets off."""
    code_writer_arns: tuple[str, ...] = ()
    """The principals the code bucket's policy lets write objects; empty: those its policy names, else the
    principal the deploy writes as (bucket_policy.py)."""
    attach_guardrails: bool = False
    """Create (or update) the guardrail SCP and attach it to the targets (deploy/guardrails.py)."""
    security_role: str = "OrganizationAccountAccessRole"
    account_role: str = "OrganizationAccountAccessRole"
    """The role the pre-flight looks into the target accounts through (read-only: a session policy)."""
    central_stack_name: str = "access-key-remediation"
    stackset_name: str = "access-key-remediation-member"
    management_stack_name: str = "access-key-remediation-member"
    rule_name_prefix: str = "akr-"
    member_role_name: str = "AccessKeyRemediationRole"
    remediator_role_name: str = "access-key-remediator"
    failure_tolerance_percentage: int = Field(default=100, ge=0, le=100)
    """Every account is tried and each failure is reported with its reason (the pre-flight has caught the
    foreseeable ones): one account's failure says nothing about the others', and a lower percentage rounds
    down to 0 in an organization of fewer accounts than it divides (10% of 9), so that the first failure
    would stop the operation in every account after it (stacks.operation_preferences)."""
    max_concurrent_percentage: int = Field(default=25, ge=1, le=100)

    @field_validator("targets")
    @classmethod
    def _targets_are_roots_or_ous(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for target in value:
            if not (target.startswith("r-") or target.startswith("ou-")):
                raise ValueError(f"{target!r} is neither a root id (r-...) nor an OU id (ou-...)")
        return value

    @field_validator("code_writer_arns")
    @classmethod
    def _writers_are_principals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            try:
                check_writer(arn)
            except BucketPolicyError as exc:
                raise ValueError(f"--code-writer-arn: {exc}") from None
        return value

    @property
    def code_bucket(self) -> str:
        return f"akr-code-{self.security_account_id}-{self.home_region}"


class DeploymentPolicy(BaseModel):
    """The policy a deploy sends to the stacks: every value known. The defaults are a first deploy's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Mode = Mode.DELETE
    thresholds: Thresholds = Thresholds()
    """One source for the member Config rules and the central remediator: they must agree."""
    grace_days: int = Field(default=14, ge=0, le=365)
    warn_days_before: int = Field(default=0, ge=0, le=90)
    protected_user_path: str = Field(default="", pattern=PROTECTED_PATH_PATTERN)
    create_config_recorder: bool = False
    reserved_concurrency: int = Field(default=0, ge=0, le=1000)
    """0: nothing reserved (the template's empty ReservedConcurrency)."""
    max_actions_per_account: int = Field(default=30, ge=MIN_CAP, le=MAX_CAP)
    """Key actions per member account per UTC day (docs/reliability.md, "Circuit breaker")."""
    max_actions_per_day: int = Field(default=300, ge=MIN_CAP, le=MAX_CAP)
    """Key actions in the whole organization per UTC day."""


class PolicyError(ValueError):
    """A deployed parameter akr cannot keep (it is not a value akr could have deployed)."""


Parameters = Mapping[str, str]
CAP_PER_ACCOUNT, CAP_PER_DAY = "MaxActionsPerAccount", "MaxActionsPerDay"
"""The central parameters of the circuit breaker's caps: a stack deployed before it has neither."""


def resolve_policy(
    deployment: Deployment, *, central: Parameters | None, member: Parameters | None
) -> DeploymentPolicy:
    """Each value from the operator's option; else from what is deployed (`central`: the central stack's
    parameters, `member`: the StackSet's, or the management stack's); else the first deploy's default.

    A deployed value is read only when its option is not given, so that an option can replace a deployed
    value akr cannot read."""
    central = central or {}
    member = member or {}
    defaults = DeploymentPolicy()
    preset = PRESETS[f"cis-{deployment.cis}"] if deployment.cis else None
    max_key_age_days = deployment.max_key_age_days or (preset.max_key_age_days if preset else None)
    max_unused_days = deployment.max_unused_days or (preset.max_unused_days if preset else None)
    if not (max_key_age_days and max_unused_days):
        deployed = _deployed_thresholds(central, member)
        max_key_age_days = max_key_age_days or deployed.max_key_age_days
        max_unused_days = max_unused_days or deployed.max_unused_days
    values = {
        # The central stack's mode decides what the remediator does; the member stacks' (their role's
        # rights) stands in only where no central stack is deployed.
        "mode": _given(
            deployment.mode, lambda: _text(central, "Mode") or _text(member, "Mode"), defaults.mode
        ),
        "thresholds": Thresholds(max_key_age_days=max_key_age_days, max_unused_days=max_unused_days),
        "grace_days": _given(
            deployment.grace_days, lambda: _number(central, "GraceDays"), defaults.grace_days
        ),
        "warn_days_before": _given(
            deployment.warn_days_before, lambda: _number(central, "WarnDaysBefore"), defaults.warn_days_before
        ),
        "protected_user_path": _given(
            deployment.protected_user_path,
            # The central stack's value, even when empty: both stacks must have the same.
            lambda: central.get("ProtectedUserPath", member.get("ProtectedUserPath")),
            defaults.protected_user_path,
        ),
        "reserved_concurrency": _given(
            deployment.reserved_concurrency,
            lambda: _number(central, "ReservedConcurrency"),
            defaults.reserved_concurrency,
        ),
        "max_actions_per_account": _given(
            deployment.max_actions_per_account,
            lambda: _number(central, CAP_PER_ACCOUNT),
            defaults.max_actions_per_account,
        ),
        "max_actions_per_day": _given(
            deployment.max_actions_per_day,
            lambda: _number(central, CAP_PER_DAY),
            defaults.max_actions_per_day,
        ),
        "create_config_recorder": _given(
            deployment.create_config_recorder,
            lambda: _flag(member, "CreateConfigRecorder"),
            defaults.create_config_recorder,
        ),
    }
    try:
        return DeploymentPolicy.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PolicyError(
            f"cannot keep the deployed policy ({problems}): give the option explicitly"
        ) from exc


def _deployed_thresholds(central: Parameters, member: Parameters) -> Thresholds:
    """What the deployed remediator applies (its explicit values over its CIS preset over 90/90), as
    remediator.settings computes it; without a central stack, the member Config rules' values."""
    if central:
        preset = _text(central, "CisPreset")
        if preset is not None and preset not in PRESETS:
            raise PolicyError(f"cannot keep the deployed CisPreset {preset!r}: give --cis or the limits")
        base = PRESETS[preset] if preset else Thresholds()
        return Thresholds(
            max_key_age_days=_number(central, "MaxKeyAgeDays") or base.max_key_age_days,
            max_unused_days=_number(central, "MaxUnusedDays") or base.max_unused_days,
        )
    defaults = Thresholds()
    return Thresholds(
        max_key_age_days=_number(member, "MaxAccessKeyAge") or defaults.max_key_age_days,
        max_unused_days=_number(member, "MaxCredentialUsageAge") or defaults.max_unused_days,
    )


def _given(option: T | None, deployed: Callable[[], T | str | None], default: T) -> T | str:
    """The option when given; else the deployed value when there is one; else the default."""
    if option is not None:
        return option
    value = deployed()
    return default if value is None else value


def _text(parameters: Parameters, name: str) -> str | None:
    """The deployed value; None when the parameter is absent or empty (the template's "not set")."""
    value = parameters.get(name, "")
    return value or None


def _number(parameters: Parameters, name: str) -> int | None:
    value = _text(parameters, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise PolicyError(f"cannot keep the deployed {name} {value!r}: it is not a number") from None


def _flag(parameters: Parameters, name: str) -> bool | None:
    value = _text(parameters, name)
    return None if value is None else value.lower() == "true"


def central_parameters(
    deployment: Deployment,
    policy: DeploymentPolicy,
    *,
    organization_id: str,
    code_key: str,
    code_sha256: str,
    partition: str,
    verify_exemptions: bool,
    management_account: str,
    management_mode: ManagementAccount,
    code_version: str = "",
) -> dict[str, str]:
    """`code_version`: the S3 version id of the package (its upload's, or the object's when uploaded
    before), so that the functions get exactly those bytes even if the key is written again.
    `code_sha256`: the package's SHA-256 as Lambda reports it (code_check.lambda_sha256).
    `management_mode`: what the remediator does in `management_account` (deploy/management.py)."""
    thresholds = policy.thresholds
    return {
        "OrganizationId": organization_id,
        "RuleNamePrefixes": deployment.rule_name_prefix,
        "MemberRoleName": deployment.member_role_name,
        "RemediatorRoleName": deployment.remediator_role_name,
        "HomeRegion": deployment.home_region,
        "Mode": policy.mode.value,
        "MaxKeyAgeDays": str(thresholds.max_key_age_days),
        "MaxUnusedDays": str(thresholds.max_unused_days),
        "CodeBucket": deployment.code_bucket,
        "CodeKey": code_key,
        "CodeObjectVersion": code_version,
        "CodeSha256": code_sha256,
        "ProtectedUserPath": policy.protected_user_path,
        "GraceDays": str(policy.grace_days),
        "WarnDaysBefore": str(policy.warn_days_before),
        "ReservedConcurrency": str(policy.reserved_concurrency or ""),
        # akr's commands reach the security account through this role: the audit table's resource policy
        # lets it append (akr exempt, undo and sweep write audit records), besides the remediator.
        "AuditWriterRoleArns": operator_role_arn(deployment, partition),
        "VerifyExemptions": str(verify_exemptions).lower(),
        "ManagementAccountId": management_account,
        "ManagementAccountMode": management_mode.value,
        CAP_PER_ACCOUNT: str(policy.max_actions_per_account),
        CAP_PER_DAY: str(policy.max_actions_per_day),
    }


SETTINGS_DIGEST = "SettingsDigest"
UNSETTLED = frozenset({SETTINGS_DIGEST, "CodeObjectVersion"})
"""Left out of the digest: itself, and the S3 version id (a new upload of the same bytes is not a change;
CodeSha256 is the code)."""


def settings_digest(template: str, parameters: Parameters) -> str:
    """The SHA-256 of the template and of the parameters (those the stack keeps included): what names the
    published version with SnapStart on, so that any change of code or settings publishes a new one."""
    settled = {name: value for name, value in parameters.items() if name not in UNSETTLED}
    text = json.dumps({"template": template, "parameters": settled}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def operator_role_arn(deployment: Deployment, partition: str) -> str:
    """The role akr's operators act as in the security account (--security-role)."""
    return f"arn:{partition}:iam::{deployment.security_account_id}:role/{deployment.security_role}"


def member_parameters(
    deployment: Deployment, policy: DeploymentPolicy, *, organization_id: str, bus_arn: str
) -> dict[str, str]:
    thresholds = policy.thresholds
    return {
        "SecurityAccountId": deployment.security_account_id,
        "OrganizationId": organization_id,
        "CentralEventBusArn": bus_arn,
        "RemediatorRoleName": deployment.remediator_role_name,
        "MemberRoleName": deployment.member_role_name,
        # The member role holds the key actions of this mode only (remediator/permissions.py).
        "Mode": policy.mode.value,
        "RuleNamePrefix": deployment.rule_name_prefix,
        "MaxAccessKeyAge": str(thresholds.max_key_age_days),
        "MaxCredentialUsageAge": str(thresholds.max_unused_days),
        "CreateConfigRecorder": str(policy.create_config_recorder).lower(),
        "ProtectedUserPath": policy.protected_user_path,
        # Everything in the home region's stack; the reactivation forwarding rule where IAM's events arrive.
        "HomeRegion": deployment.home_region,
        "GlobalEventsRegion": global_events_region(deployment.home_region),
    }


_PARAMETER = re.compile(r"([A-Za-z0-9]+)\s*:")


def template_parameters(template: str) -> frozenset[str]:
    """The names under the top-level Parameters of a YAML template (akr's own templates: block style)."""
    names: set[str] = set()
    inside, indent = False, -1
    for line in template.splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        level = len(line) - len(stripped)
        if level == 0:
            inside, indent = stripped.split("#")[0].rstrip() == "Parameters:", -1
            continue
        if inside:
            indent = level if indent < 0 else indent
            found = _PARAMETER.fullmatch(stripped.split("#")[0].rstrip())
            if level == indent and found:
                names.add(found.group(1))
    return frozenset(names)
