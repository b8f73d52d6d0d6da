"""The management account's mode (--management-account off|report|enforce). Pure.

SCPs never apply to the management account, and its users administer the whole organization: a first deploy
gives it a read-only member role (report), an existing deployment keeps what it has until told otherwise,
and enforce, where the remediator acts there as in every account, needs a protected path for the
break-glass users. The central stack carries the choice (ManagementAccountMode), so that the remediator
only reports there, or leaves the account out of the sweep; the management account's own stack (the member
template, deployed directly) holds the rights that go with it (docs/deploying.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from org_bootstrap.deploy.deployment import Deployment, DeploymentPolicy, ManagementAccount
from org_bootstrap.deploy.observed import Observed
from remediator.permissions import member_rights
from remediator.policy import Mode

MODE_PARAMETER = "ManagementAccountMode"
ID_PARAMETER = "ManagementAccountId"


class ManagementError(ValueError):
    """A management account mode that cannot be deployed as asked."""


class ManagementChoice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ManagementAccount
    deployed: ManagementAccount | None
    """What the deployment has; None for a first deploy."""
    given: bool
    """--management-account was given."""
    recorded: bool = True
    """The central stack names the mode (False: a deployment made before the option)."""


def management_choice(deployment: Deployment, observed: Observed) -> ManagementChoice:
    """The option; else what the deployment has; else, on a first deploy, report. A deployment made before
    the option has the management account's stack in the deployed mode (enforce), or none (off)."""
    central = observed.central_stack
    deployed: ManagementAccount | None = None
    value = central.parameters.get(MODE_PARAMETER, "") if central else ""
    if central is not None and not central.failed_terminally:
        if value in set(ManagementAccount):
            deployed = ManagementAccount(value)
        elif observed.is_management and observed.management_stack is None:
            deployed = ManagementAccount.OFF
        else:
            deployed = ManagementAccount.ENFORCE
    given = deployment.management_account
    mode = given or deployed or ManagementAccount.REPORT
    return ManagementChoice(
        mode=mode, deployed=deployed, given=given is not None, recorded=deployed is None or bool(value)
    )


def check_protected(choice: ManagementChoice, deployment: Deployment, policy: DeploymentPolicy) -> None:
    """enforce needs a protected path; only a deployment that already runs so, and is not being changed in
    either, is kept (with a warning line instead)."""
    if choice.mode is not ManagementAccount.ENFORCE or policy.protected_user_path:
        return
    untouched = not choice.given and deployment.protected_user_path is None
    if untouched and choice.deployed is ManagementAccount.ENFORCE:
        return
    raise ManagementError(
        "--management-account enforce needs a protected path (--protected-user-path, e.g. /break-glass/): "
        "SCPs do not apply to the management account, and the remediator must never reach the users that "
        "administer the organization; give one, or use --management-account report (the default)"
    )


def management_parameters(choice: ManagementChoice, member: dict[str, str]) -> dict[str, str]:
    """The management account's stack: the member stacks' parameters, in mode report unless enforce."""
    if choice.mode is ManagementAccount.ENFORCE:
        return member
    return {**member, "Mode": Mode.REPORT.value}


def widens(deployed: dict[str, str] | None, parameters: dict[str, str]) -> bool:
    """Whether the management account's stack gains a key action: it then goes before the central stack,
    so that the remediator never tries an action the role does not hold yet."""
    if deployed is None:
        return False
    before, after = deployed.get("Mode"), parameters.get("Mode")
    held = member_rights(Mode(before) if before in set(Mode) else None)
    return bool(member_rights(Mode(after) if after in set(Mode) else None) - held)


def describe_management(choice: ManagementChoice, account: str, policy: DeploymentPolicy) -> list[str]:
    """The plan's words for the management account's mode: a first deploy's, a change, or a kept mode of a
    deployment made before the option. Nothing for a mode kept as deployed."""
    meaning = {
        ManagementAccount.OFF: "no member stack there, never swept",
        ManagementAccount.REPORT: "a read-only member role; its keys are reported, never changed",
        ManagementAccount.ENFORCE: f"its keys are treated as in every account (mode {policy.mode.value})",
    }
    now = f"{choice.mode.value} ({meaning[choice.mode]})"
    where = f"The management account {account}"
    if choice.deployed is None:
        how = (
            "--management-account" if choice.given else "the default of a first deploy; --management-account"
        )
        return [f"{where}: {now}: {how} off|report|enforce chooses (SCPs do not apply there)"]
    if choice.mode is not choice.deployed:
        return [f"{where} changes from {choice.deployed.value} to {now}"]
    lines = []
    if not choice.given and not choice.recorded:
        lines.append(
            f"{where} keeps what the deployment has: {now}; --management-account off|report|enforce "
            "changes it"
        )
    if choice.mode is ManagementAccount.ENFORCE and not policy.protected_user_path:
        lines.append(
            f"{where} is in enforce without a protected path: the remediator may act on the users that "
            "administer the organization; give --protected-user-path, or --management-account report"
        )
    return lines
