"""What the organization looks like now, as far as a deployment is concerned. Pure data: the adapters in
org_bootstrap.deploy.organization fill it, the planner reads it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
ACTIVE = "ACTIVE"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Account(_Frozen):
    id: str
    name: str
    status: str
    """Organizations' State (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED, ...), its Status where the answer
    has no State; "" with neither (remediator.adapters.organization.account_state)."""


class StackState(_Frozen):
    name: str
    status: str
    parameters: dict[str, str] = {}
    template: str = ""
    outputs: dict[str, str] = {}

    @property
    def failed_terminally(self) -> bool:
        """A stack that can only be deleted and created again (never created successfully)."""
        return self.status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED")


class InstanceState(_Frozen):
    account_id: str
    region: str
    status: str
    """DetailedStatus (SUCCEEDED, FAILED, ...), or Status where the answer has none."""
    reason: str = ""
    sync: str = ""
    """Status: CURRENT, or OUTDATED / INOPERABLE for an instance the StackSet's last update did not reach."""


class BucketState(_Frozen):
    """The code bucket's protections as S3 reports them (all off for a bucket akr has not read)."""

    versioned: bool = False
    public_access_blocked: bool = False
    """All four public access block settings on."""
    policy: str = ""
    """The bucket policy's JSON; "" when it has none."""


class StackSetState(_Frozen):
    name: str
    template: str
    parameters: dict[str, str]
    auto_deployment: bool | None
    """None when the API did not report it (moto does not store it)."""
    instances: tuple[InstanceState, ...] = ()


class SigningProfile(_Frozen):
    """An AWS Signer signing profile of the security account, as GetSigningProfile reports it."""

    name: str
    version_arn: str
    """The profile's current version: what the code signing configuration allows, and what signs."""
    platform_id: str
    status: str


class Observed(_Frozen):
    caller_account: str
    management_account: str
    organization_id: str
    root_id: str
    delegated_admin: bool
    trusted_access: bool
    accounts: tuple[Account, ...]
    target_accounts: tuple[str, ...]
    """Accounts under the deployment's targets, the management account excluded (StackSets skip it)."""
    partition: str = "aws"
    """The caller's partition, from its ARN: every ARN the plan builds is in it."""
    bucket_exists: bool = False
    bucket: BucketState = BucketState()
    code_writer: str = ""
    """The principal ARN the deploy writes the code bucket's objects as (a role session's role)."""
    code_writer_exact: bool = True
    """False when the writer is a role whose path could not be read (iam:GetRole denied): its ARN is then
    without the path, and only an explicit --code-writer-arn can name it in the bucket policy."""
    code_uploaded: bool = False
    code_version: str = ""
    """The uploaded package's S3 version id ("" when not uploaded, or the bucket is not versioned)."""
    central_stack: StackState | None = None
    stackset: StackSetState | None = None
    management_stack: StackState | None = None
    signing_profile: SigningProfile | None = None
    """The signing profile the deploy signs the package with (--signing-profile, else the deployed one)."""
    unlinked_exemptions: tuple[str, ...] = ()
    """Exemptions in force without their exempt-add audit record ("<account> <user>#<key>"): while any is
    left, the remediator's verification of exemptions stays off."""

    @property
    def is_management(self) -> bool:
        return self.caller_account == self.management_account

    def account(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts if a.id == account_id), None)
