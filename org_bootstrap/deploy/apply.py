"""`akr deploy`: package, observe, plan, and carry out the plan. The command line only renders."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import Aws, CliError, describe
from org_bootstrap.deploy.central import regions_with_central
from org_bootstrap.deploy.code_bucket import secure_bucket
from org_bootstrap.deploy.code_check import check_code, lambda_sha256
from org_bootstrap.deploy.code_signing import needs_signing, wanted_profile
from org_bootstrap.deploy.deployment import CENTRAL_TEMPLATE, MEMBER_TEMPLATE, Deployment, ManagementAccount
from org_bootstrap.deploy.guardrails import GuardrailsError, apply_guardrails, read_guardrails
from org_bootstrap.deploy.guardrails_plan import GuardrailsPlan, GuardrailsState, plan_guardrails
from org_bootstrap.deploy.lambda_zip import Artifact, Target, build_lambda_zip
from org_bootstrap.deploy.observed import InstanceState, Observed
from org_bootstrap.deploy.organization import observe, read_stackset, security_session
from org_bootstrap.deploy.plan import Change, Plan, PlanError, plan_deploy
from org_bootstrap.deploy.preflight import Preflight
from org_bootstrap.deploy.readiness import check_readiness
from org_bootstrap.deploy.rights import BOTH_RIGHTS_MODE, Order
from org_bootstrap.deploy.signing_job import read_profile, sign_package
from org_bootstrap.deploy.stacks import POLL_SECONDS, Progress, apply_stack, apply_stackset, delete_stack
from org_bootstrap.deploy.template_store import check_running, store_template, template_key, template_url

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient


@dataclass(frozen=True)
class Prepared:
    """Everything known before the first change: the package, the organization, the plan and what would
    fail if it were carried out now."""

    deployment: Deployment
    artifact: Artifact
    observed: Observed
    plan: Plan
    elsewhere: tuple[str, ...] = ()
    """Other regions where the security account has the central stack: a deployment in another home
    region (looked for only when the home region has none)."""
    preflight: Preflight = field(default_factory=Preflight)
    guardrails: GuardrailsPlan | None = None
    """None where the command cannot read the organization's SCPs (a delegated administrator)."""
    guardrails_state: GuardrailsState | None = None

    @property
    def changes_nothing(self) -> bool:
        return self.plan.changes_nothing and (self.guardrails is None or self.guardrails.changes_nothing)


@dataclass(frozen=True)
class Outcome:
    outputs: dict[str, str]
    instances: tuple[InstanceState, ...]
    management_covered: bool


LAMBDA_TARGET = Target()


def prepare(
    aws: Aws,
    deployment: Deployment,
    progress: Progress,
    *,
    target: Target | None = LAMBDA_TARGET,
    look_elsewhere: bool = True,
    package_cache: Path | None = None,
) -> Prepared:
    """Package, observe, plan. `look_elsewhere`: without a central stack in the home region, look for one
    in the other regions (one call per region; the demo's brand-new organization has none).
    `package_cache`: where packages built before are kept by their inputs (build_lambda_zip)."""
    progress("building the remediator package")
    artifact = build_lambda_zip(Path(tempfile.mkdtemp(prefix="akr-build-")), target, cache=package_cache)
    progress("reading the organization")
    observed = observe(aws, deployment, code_key=artifact.key)
    profile = wanted_profile(deployment.signing_profile, observed.central_stack)
    if profile:
        progress(f"reading signing profile {profile}")
        security = security_session(aws, deployment, observed.caller_account)
        signing = read_profile(aws.signer(security, deployment.home_region), profile)
        observed = observed.model_copy(update={"signing_profile": signing})
    plan = plan_deploy(
        deployment,
        observed,
        code_key=artifact.key,
        code_sha256=lambda_sha256(artifact.sha256),
        central_template=CENTRAL_TEMPLATE.read_text(),
        member_template=MEMBER_TEMPLATE.read_text(),
    )
    elsewhere: tuple[str, ...] = ()
    if look_elsewhere and observed.central_stack is None:
        progress("looking for a deployment in the other regions")
        elsewhere = regions_with_central(aws, deployment, observed.caller_account)
    state, guardrails = guardrails_for(aws, deployment, observed, plan)
    progress("checking what the plan needs (the pre-flight)")
    preflight = check_readiness(aws, deployment, observed, plan, progress)
    return Prepared(
        deployment=deployment,
        artifact=artifact,
        observed=observed,
        plan=plan,
        elsewhere=elsewhere,
        preflight=preflight,
        guardrails=guardrails,
        guardrails_state=state,
    )


def guardrails_for(
    aws: Aws, deployment: Deployment, observed: Observed, plan: Plan
) -> tuple[GuardrailsState | None, GuardrailsPlan | None]:
    """Read from the management account only, where SCPs are managed; there the plan also says when a
    guardrail SCP from an earlier deploy stays attached. Without --attach-guardrails, SCPs that cannot be
    read (a principal without the Organizations policy reads) leave the deploy as it was before."""
    if not observed.is_management:
        if deployment.attach_guardrails:
            raise PlanError(
                "--attach-guardrails runs from the management account "
                f"{observed.management_account}: service control policies are created and attached there"
            )
        return None, None
    try:
        state = read_guardrails(aws.organizations(), observed.root_id)
    except GuardrailsError:
        if deployment.attach_guardrails:
            raise
        return None, None
    return state, plan_guardrails(
        state, asked=deployment.attach_guardrails, targets=plan.targets, root_id=observed.root_id
    )


def carry_out(
    aws: Aws, prepared: Prepared, progress: Progress, *, poll_seconds: float = POLL_SECONDS
) -> Outcome:
    deployment, observed, plan = prepared.deployment, prepared.observed, prepared.plan
    if prepared.preflight.problems:
        raise CliError(refusal(prepared.preflight))
    region = deployment.home_region
    if plan.enable_trusted_access:
        progress("enabling trusted access for CloudFormation StackSets")
        try:
            aws.cloudformation(region=region).activate_organizations_access()
        except (ClientError, BotoCoreError) as exc:
            raise CliError(f"cannot enable trusted access: {describe(exc)}") from exc
    security = security_session(aws, deployment, observed.caller_account)
    version = _upload(aws, prepared, security, progress)
    central_parameters = plan.central_parameters
    if version is not None:
        # The version id of exactly the bytes just uploaded: what the functions get.
        central_parameters = {**central_parameters, "CodeObjectVersion": version}
    if needs_signing(central_parameters):
        central_parameters = _sign(aws, prepared, security, central_parameters, progress, poll_seconds)
    central_template = CENTRAL_TEMPLATE.read_text()
    url = _store_central_template(aws, prepared, security, central_template, progress)
    central_cloudformation = aws.cloudformation(security, region)
    central = partial(
        _apply_central,
        central_cloudformation,
        deployment.central_stack_name,
        change=plan.central,
        template=central_template,
        template_url=url,
        lambda_client=aws.lambda_(security, region),
        code_sha256=central_parameters["CodeSha256"],
        parameters=central_parameters,
        progress=progress,
        kept=plan.central_diff.kept,
        poll_seconds=poll_seconds,
    )
    members = partial(_apply_members, aws, prepared, progress, poll_seconds=poll_seconds)
    if plan.management_first:
        # The management account's role gains a key action before the remediator may use it there.
        _apply_management(aws, prepared, progress, plan.management_parameters, poll_seconds=poll_seconds)
    # The order that keeps the member role's rights safe while the mode changes (deploy/rights.py).
    if plan.order is Order.CENTRAL_FIRST:
        outputs = central()
        members(plan.member_parameters)
    elif plan.order is Order.MEMBERS_FIRST:
        members(plan.member_parameters)
        outputs = central()
    else:
        progress(f"giving the member role both key actions (Mode {BOTH_RIGHTS_MODE.value}) first")
        members({**plan.member_parameters, "Mode": BOTH_RIGHTS_MODE.value}, interim=True)
        outputs = central()
        members(plan.member_parameters)
    if plan.management is Change.DELETE:
        # After the central stack: the remediator no longer enters the management account.
        delete_stack(
            aws.cloudformation(region=region), deployment.management_stack_name, progress, poll_seconds
        )
    guardrails, state = prepared.guardrails, prepared.guardrails_state
    if guardrails is not None and state is not None and not guardrails.changes_nothing:
        # Last: the member stacks are in place before their edits are denied to all but StackSets.
        apply_guardrails(aws.organizations(), guardrails, state, progress)
    cloudformation = aws.cloudformation(region=region)
    stackset = read_stackset(cloudformation, deployment.stackset_name, plan.call_as)
    return Outcome(
        outputs=outputs,
        instances=stackset.instances if stackset else (),
        management_covered=plan.management is not None
        and plan.management_choice.mode is not ManagementAccount.OFF,
    )


def _apply_central(
    cloudformation: CloudFormationClient,
    name: str,
    *,
    change: Change,
    template: str,
    template_url: str,
    lambda_client: LambdaClient,
    code_sha256: str,
    **kwargs: Any,
) -> dict[str, str]:
    """Apply the central stack; when it changed, check that it runs the uploaded template and that its
    functions (and the versions behind its aliases) run the package built: a mismatch stops the deploy
    before anything after the central stack changes."""
    outputs = apply_stack(
        cloudformation, name, change=change, template=template, template_url=template_url, **kwargs
    )
    if change is Change.NONE:
        return outputs
    try:
        if template_url:
            check_running(cloudformation, name, template)
        check_code(cloudformation, lambda_client, name, code_sha256)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"stack {name}: cannot read back what it runs: {describe(exc)}") from exc
    return outputs


def _store_central_template(
    aws: Aws, prepared: Prepared, security: boto3.Session, body: str, progress: Progress
) -> str:
    """Upload the central template when the stack is to change; its HTTPS address ("" when unchanged)."""
    deployment, plan = prepared.deployment, prepared.plan
    if plan.central is Change.NONE:
        return ""
    bucket, owner = deployment.code_bucket, deployment.security_account_id
    key = template_key("central", body)
    progress(f"uploading {key}")
    try:
        store_template(aws.s3(security, deployment.home_region), bucket, owner, key, body)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot store the central template in s3://{bucket}: {describe(exc)}") from exc
    return template_url(bucket, key, region=deployment.home_region, partition=prepared.observed.partition)


def _apply_members(
    aws: Aws,
    prepared: Prepared,
    progress: Progress,
    parameters: dict[str, str],
    *,
    interim: bool = False,
    poll_seconds: float,
) -> None:
    """The StackSet, then the management account's stack. `interim`: a step before the central stack's
    update, on the stacks being updated only (what is created comes with the final step)."""
    deployment, plan = prepared.deployment, prepared.plan
    region = deployment.home_region
    member_template = MEMBER_TEMPLATE.read_text()
    cloudformation = aws.cloudformation(region=region)
    if not interim or plan.stackset is Change.UPDATE:
        apply_stackset(
            cloudformation,
            deployment.stackset_name,
            change=plan.stackset,
            template=member_template,
            parameters=parameters,
            targets=plan.targets,
            regions=plan.coverage.regions or (region,),
            call_as=plan.call_as,
            missing_accounts=() if interim else plan.missing_instances,
            instance_regions=plan.coverage.held,
            added_regions=() if interim else plan.coverage.added,
            failure_tolerance=deployment.failure_tolerance_percentage,
            max_concurrent=deployment.max_concurrent_percentage,
            progress=progress,
            kept=plan.stackset_diff.kept,
            poll_seconds=poll_seconds,
        )
    if plan.management_first or plan.management in (None, Change.DELETE):
        return
    if not interim or plan.management is Change.UPDATE:
        enforced = plan.management_choice.mode is ManagementAccount.ENFORCE
        # In enforce the management account's role follows the members' (the interim step's too).
        management = parameters if enforced else plan.management_parameters
        _apply_management(aws, prepared, progress, management, poll_seconds=poll_seconds)


def _apply_management(
    aws: Aws, prepared: Prepared, progress: Progress, parameters: dict[str, str], *, poll_seconds: float
) -> None:
    """The management account's stack: the member template, deployed directly (StackSets never reach it)."""
    deployment, plan = prepared.deployment, prepared.plan
    if plan.management is None or plan.management_choice.mode is ManagementAccount.OFF:
        return
    apply_stack(
        aws.cloudformation(region=deployment.home_region),
        deployment.management_stack_name,
        change=plan.management,
        template=MEMBER_TEMPLATE.read_text(),
        parameters=parameters,
        progress=progress,
        kept=plan.management_diff.kept,
        poll_seconds=poll_seconds,
    )


def _sign(  # noqa: PLR0917
    aws: Aws,
    prepared: Prepared,
    security: boto3.Session,
    parameters: dict[str, str],
    progress: Progress,
    poll_seconds: float,
) -> dict[str, str]:
    """Sign the package's version the stack would get; the stack gets the signed copy instead (its key,
    version and CodeSha256, which the check after the update compares). A failed job stops the deploy
    before any stack changes."""
    deployment, profile = prepared.deployment, prepared.observed.signing_profile
    if profile is None:  # needs_signing: the plan has a profile's ARN only with a profile read
        raise CliError("the plan signs the package, but no signing profile was read")
    progress(f"signing the package with signing profile {profile.name}")
    signed = sign_package(
        aws.signer(security, deployment.home_region),
        aws.s3(security, deployment.home_region),
        profile,
        bucket=deployment.code_bucket,
        owner=deployment.security_account_id,
        key=parameters["CodeKey"],
        version=parameters["CodeObjectVersion"],
        package=prepared.artifact.path,
        poll_seconds=poll_seconds,
    )
    return {
        **parameters,
        "CodeKey": signed.key,
        "CodeObjectVersion": signed.version,
        "CodeSha256": signed.sha256,
    }


def refusal(preflight: Preflight) -> str:
    count = len(preflight.problems)
    return (
        f"the pre-flight found {count} problem(s) (listed in the plan): nothing was changed; "
        "fix them and run akr deploy again"
    )


def _upload(aws: Aws, prepared: Prepared, security: object, progress: Progress) -> str | None:
    """Create or repair the bucket in the security account and set its policy (code_bucket.py), then upload
    the package, naming the security account as the bucket's expected owner, so that no call reaches a
    bucket someone else owns. https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html

    Returns the upload's S3 version id ("" in a bucket without versioning), None when nothing was uploaded."""
    deployment, plan = prepared.deployment, prepared.plan
    s3 = aws.s3(security, deployment.home_region)  # type: ignore[arg-type]
    bucket, owner = deployment.code_bucket, deployment.security_account_id
    try:
        secure_bucket(s3, deployment, plan, progress)
        if plan.upload_code:
            progress(f"uploading {plan.code_key}")
            uploaded = s3.put_object(
                Bucket=bucket,
                Key=plan.code_key,
                Body=prepared.artifact.path.read_bytes(),
                ChecksumAlgorithm="SHA256",
                ExpectedBucketOwner=owner,
            )
            version = uploaded.get("VersionId", "")
            return "" if version == "null" else version
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot store the code in s3://{bucket}: {describe(exc)}") from exc
    return None
