"""CloudFormation stacks and the StackSet: create, update, wait with progress, and say why on failure."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import CliError, describe
from org_bootstrap.deploy.observed import InstanceState
from org_bootstrap.deploy.plan import Change

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef

Progress = Callable[[str], None]
CAPABILITIES: list[Any] = ["CAPABILITY_NAMED_IAM"]
POLL_SECONDS = 5.0
TIMEOUT_SECONDS = 3600.0
_DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE")
# Stable states a stack keeps working in; fine when this run did not change it (an earlier update that
# rolled back leaves the previous template running).
_USABLE = (*_DONE, "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")


def _parameters(values: dict[str, str], kept: Sequence[str] = ()) -> list[Any]:
    """The values akr sets, and UsePreviousValue for `kept`: the parameters a stack has that akr does not
    set, which CloudFormation would otherwise reset to the template's defaults on an update."""
    given: list[Any] = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    previous: list[Any] = [{"ParameterKey": k, "UsePreviousValue": True} for k in kept if k not in values]
    return sorted(given + previous, key=lambda p: str(p["ParameterKey"]))


def apply_stack(
    cloudformation: CloudFormationClient,
    name: str,
    *,
    change: Change,
    template: str,
    parameters: dict[str, str],
    progress: Progress,
    kept: Sequence[str] = (),
    template_url: str = "",
    poll_seconds: float = POLL_SECONDS,
) -> dict[str, str]:
    """Carry out `change` on stack `name` and return its outputs. An update keeps the `kept` parameters'
    values (the stack's parameters that akr does not set). With `template_url`, CloudFormation reads the
    template from S3 (template_store.py) instead of `template`."""
    done = _USABLE if change is Change.NONE else _DONE
    source: Any = {"TemplateURL": template_url} if template_url else {"TemplateBody": template}
    try:
        if change is Change.RECREATE:
            progress(f"deleting the failed stack {name}")
            cloudformation.delete_stack(StackName=name)
            _wait(cloudformation, name, progress, poll_seconds)
        if change in (Change.CREATE, Change.RECREATE):
            progress(f"creating stack {name}")
            cloudformation.create_stack(
                StackName=name,
                **source,
                Parameters=_parameters(parameters),
                Capabilities=CAPABILITIES,
                Tags=[{"Key": "akr:managed-by", "Value": "akr"}],
            )
        elif change is Change.UPDATE:
            progress(f"updating stack {name}")
            try:
                cloudformation.update_stack(
                    StackName=name,
                    **source,
                    Parameters=_parameters(parameters, kept),
                    Capabilities=CAPABILITIES,
                )
            except ClientError as exc:
                if "No updates are to be performed" not in describe(exc):
                    raise
                done = _USABLE
        return _wait(cloudformation, name, progress, poll_seconds, done)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"stack {name}: {describe(exc)}") from exc


def delete_stack(
    cloudformation: CloudFormationClient, name: str, progress: Progress, poll_seconds: float
) -> None:
    try:
        progress(f"deleting stack {name}")
        cloudformation.delete_stack(StackName=name)
        _wait(cloudformation, name, progress, poll_seconds)
    except (ClientError, BotoCoreError) as exc:
        if "does not exist" in describe(exc):
            return
        raise CliError(f"stack {name}: {describe(exc)}") from exc


def _wait(
    cloudformation: CloudFormationClient,
    name: str,
    progress: Progress,
    poll_seconds: float,
    done: tuple[str, ...] = _DONE,
) -> dict[str, str]:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        try:
            stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as exc:
            if "does not exist" in describe(exc):
                return {}  # deleted
            raise
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise CliError(f"stack {name} is still {status} after {TIMEOUT_SECONDS:.0f} s")
        progress(f"stack {name}: {status}")
        time.sleep(poll_seconds)
    if status not in done:
        raise CliError(f"stack {name} ended {status}: {'; '.join(failure_reasons(cloudformation, name))}")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def failure_reasons(cloudformation: CloudFormationClient, name: str) -> list[str]:
    """The reasons CloudFormation gives for the resources that failed in the stack's latest operation,
    oldest first."""
    failed = []
    for event in _latest_operation(cloudformation, name):
        if str(event.get("ResourceStatus", "")).endswith("FAILED"):
            reason = event.get("ResourceStatusReason", event["ResourceStatus"])
            failed.append(f"{event['LogicalResourceId']}: {reason}")
    return failed[::-1] or ["no resource reported a failure (see the stack events)"]


def _latest_operation(cloudformation: CloudFormationClient, name: str) -> Iterator[StackEventTypeDef]:
    """The stack's events, newest first, a page at a time, back to the one that started its latest
    operation: not through the stack's whole history."""
    for page in cloudformation.get_paginator("describe_stack_events").paginate(StackName=name):
        for event in page["StackEvents"]:
            yield event
            if _starts_operation(event, name):
                return


def _starts_operation(event: StackEventTypeDef, name: str) -> bool:
    """The stack's own event that begins an operation someone asked for (a rollback is not one)."""
    return (
        event.get("ResourceType") == "AWS::CloudFormation::Stack"
        and event.get("LogicalResourceId") == name
        and str(event.get("ResourceStatus", ""))
        in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")
        and event.get("ResourceStatusReason") == "User Initiated"
    )


# -- StackSet ---------------------------------------------------------------------------------------


def operation_preferences(failure_tolerance: int, max_concurrent: int, regions: Sequence[str] = ()) -> Any:
    """For every StackSet operation, create, update and delete alike. SOFT_FAILURE_TOLERANCE runs at
    MaxConcurrentPercentage whatever the failures; under the default, STRICT_FAILURE_TOLERANCE, the
    concurrency falls to the failure tolerance + 1, a single account when the tolerance rounds to 0.
    Instances created in more than one region go one region after the other, the home region first
    (`regions` in that order): the us-east-1 instance's reactivation rule sends through the forwarder role
    that the home region's instance creates, and EventBridge may check a cross-region target's role and
    bus policy when the target is put.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html
    stacksets/organization.yaml sets the same mode and order."""
    preferences: dict[str, Any] = {
        "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
        "FailureTolerancePercentage": failure_tolerance,
        "MaxConcurrentPercentage": max_concurrent,
        "RegionConcurrencyType": "PARALLEL",
    }
    if len(regions) > 1:
        preferences |= {"RegionConcurrencyType": "SEQUENTIAL", "RegionOrder": list(regions)}
    return preferences


def apply_stackset(
    cloudformation: CloudFormationClient,
    name: str,
    *,
    change: Change,
    template: str,
    parameters: dict[str, str],
    targets: Sequence[str],
    regions: Sequence[str],
    call_as: str,
    missing_accounts: Sequence[str],
    failure_tolerance: int,
    max_concurrent: int,
    progress: Progress,
    kept: Sequence[str] = (),
    instance_regions: Sequence[str] = (),
    added_regions: Sequence[str] = (),
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Create or update the service-managed StackSet, then deploy it to the targets' accounts that lack it.

    Service-managed: CloudFormation creates the execution roles. AutoDeployment puts the stack into every
    account that joins a target OU later, and removes it from accounts that leave. An update keeps the
    `kept` parameters' values (the StackSet's parameters that akr does not set). `regions` are the
    StackSet's (the home region first); an update names those that hold instances (`instance_regions`),
    and instances are created in every region when accounts lack one (`missing_accounts`), else in
    `added_regions` only (regions new to the StackSet).
    """
    deployment_targets: Any = {"OrganizationalUnitIds": list(targets)}
    preferences = operation_preferences(failure_tolerance, max_concurrent)
    try:
        if change is Change.CREATE:
            progress(f"creating StackSet {name}")
            cloudformation.create_stack_set(
                StackSetName=name,
                Description="access-key-remediation member stack: Config rules, forwarding rule, member role",
                TemplateBody=template,
                Parameters=_parameters(parameters),
                Capabilities=CAPABILITIES,
                PermissionModel="SERVICE_MANAGED",
                AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                ManagedExecution={"Active": True},
                CallAs=call_as,  # type: ignore[arg-type]
            )
        elif change is Change.UPDATE:
            progress(f"updating StackSet {name}")
            # Naming the targets and region makes the update reach every existing instance.
            operation = cloudformation.update_stack_set(
                StackSetName=name,
                TemplateBody=template,
                Parameters=_parameters(parameters, kept),
                Capabilities=CAPABILITIES,
                PermissionModel="SERVICE_MANAGED",
                AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                DeploymentTargets=deployment_targets,
                Regions=list(instance_regions or regions[:1]),
                OperationPreferences=preferences,
                CallAs=call_as,  # type: ignore[arg-type]
            )["OperationId"]
            status = wait_operation(
                cloudformation, name, operation, call_as=call_as, progress=progress, poll_seconds=poll_seconds
            )
            _succeeded(cloudformation, name, operation, status, call_as)
        # Accounts without an instance get one in every region; a region added to the StackSet, in all.
        created = list(regions) if change is Change.CREATE or missing_accounts else list(added_regions)
        if created:
            progress(f"deploying StackSet {name} to {', '.join(targets)} in {', '.join(created)}")
            operation = cloudformation.create_stack_instances(
                StackSetName=name,
                DeploymentTargets=deployment_targets,
                Regions=created,
                OperationPreferences=operation_preferences(failure_tolerance, max_concurrent, created),
                CallAs=call_as,  # type: ignore[arg-type]
            )["OperationId"]
            status = wait_operation(
                cloudformation, name, operation, call_as=call_as, progress=progress, poll_seconds=poll_seconds
            )
            _succeeded(cloudformation, name, operation, status, call_as)
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"StackSet {name}: {describe(exc)}") from exc


def wait_operation(
    cloudformation: CloudFormationClient,
    name: str,
    operation_id: str,
    *,
    call_as: str,
    progress: Progress,
    poll_seconds: float,
) -> str:
    """Wait for a StackSet operation; its final status (SUCCEEDED, FAILED, STOPPED)."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        status = cloudformation.describe_stack_set_operation(
            StackSetName=name,
            OperationId=operation_id,
            CallAs=call_as,  # type: ignore[arg-type]
        )["StackSetOperation"]["Status"]
        if status not in ("RUNNING", "QUEUED", "STOPPING"):
            return str(status)
        if time.monotonic() > deadline:
            raise CliError(
                f"StackSet operation {operation_id} is still {status} after {TIMEOUT_SECONDS:.0f} s"
            )
        progress(f"StackSet {name}: operation {status.lower()}")
        time.sleep(poll_seconds)


def _succeeded(
    cloudformation: CloudFormationClient, name: str, operation_id: str, status: str, call_as: str
) -> None:
    """Raise with each account's reason unless the operation SUCCEEDED (within the failure tolerance)."""
    if status == "SUCCEEDED":
        return
    results = cloudformation.get_paginator("list_stack_set_operation_results").paginate(
        StackSetName=name,
        OperationId=operation_id,
        CallAs=call_as,  # type: ignore[arg-type]
    )
    reasons = [
        f"{r.get('Account', '?')} {r.get('Region', '?')}: {r.get('StatusReason') or r.get('Status')}"
        for page in results
        for r in page["Summaries"]
        if r.get("Status") != "SUCCEEDED"
    ]
    raise CliError(
        f"StackSet {name}: operation {operation_id} {status}: "
        f"{'; '.join(reasons) or 'no account reported a reason'}"
    )


# A suspended account's instance: StackSets skip the account, nothing failed.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html
SKIPPED = "SKIPPED_SUSPENDED_ACCOUNT"


def failed_instances(instances: Sequence[InstanceState]) -> list[InstanceState]:
    return [i for i in instances if i.status not in ("SUCCEEDED", "CURRENT", SKIPPED)]


def skipped_instances(instances: Sequence[InstanceState]) -> list[InstanceState]:
    return [i for i in instances if i.status == SKIPPED]
