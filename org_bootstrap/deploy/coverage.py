"""Is an account covered? Pure verdicts over what `akr status` read in each account.

The adapter (org_bootstrap.deploy.status) turns API answers into the facts below; everything that decides
whether those facts amount to a covered account lives here, without boto3, so that it is unit-tested.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict

IAM_USER = "AWS::IAM::User"
ROTATION_RULE = "access-keys-rotated"
UNUSED_RULE = "iam-user-unused-credentials-check"
FORWARDING_RULE = "forward-noncompliant-keys"
REACTIVATION_RULE = "forward-key-reactivations"
CURRENT = "CURRENT"
STACK_HEALTHY = ("SUCCEEDED", "CURRENT", "CREATE_COMPLETE", "UPDATE_COMPLETE")
CHECKS = ("stack", "recorder", "rules", "forwarding", "member_role", "reactivation")
"""In the order of the table's and the CSV's columns; a check added later goes last."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Expected(_Frozen):
    """What a covered account has, from the deployment's names."""

    organization_id: str
    home_region: str
    rule_names: tuple[str, ...]
    forwarding_rule: str
    bus_arn: str
    remediator_role_arn: str
    reactivation_rule: str
    events_region: str
    """Where the reactivation forwarding rule is (regions.global_events_region): us-east-1 in the aws
    partition, a second StackSet instance when the home region is another one."""
    forwarder_role_name: str
    """The role the forwarding rules' target puts events on the central bus with, in each account."""


class Recorder(_Frozen):
    name: str
    recording_group: dict[str, Any] = {}
    """The API's recordingGroup, as returned (camelCase keys)."""
    recording: bool | None = None
    """From the recorder status; None when it was not reported."""
    service_linked: bool = False


class ForwardingRule(_Frozen):
    state: str
    target_arns: tuple[str, ...] = ()
    role_arns: tuple[str, ...] = ()
    """Each target's RoleArn, in the order of target_arns ("" for a target without one)."""


class AccountFacts(_Frozen):
    account_id: str
    name: str
    stack_status: str | None = None
    """The stack instance's detailed status, or the plain stack's status in the management account;
    None when there is no stack."""
    stack_reason: str = ""
    stack_sync: str = ""
    """The stack instance's Status: CURRENT, OUTDATED or INOPERABLE ("" for a plain stack)."""
    unreachable: str = ""
    """Why the account could not be looked into; the Config, rule and role checks are then unknown."""
    recorders: tuple[Recorder, ...] = ()
    config_rules: dict[str, str] = {}
    """Config rule name -> ConfigRuleState."""
    forwarding_rule: ForwardingRule | None = None
    member_role_trust: dict[str, Any] | None = None
    """The member role's trust policy; None when the role does not exist."""
    management: bool = False
    """The management account: StackSets skip it, its plain stack is in the home region only."""
    events_stack_status: str | None = None
    """The StackSet instance in the region of the reactivation forwarding rule, when that is not the home
    region (detailed status, reason, Status as for the home region's); None when there is none."""
    events_stack_reason: str = ""
    events_stack_sync: str = ""
    reactivation_rule: ForwardingRule | None = None
    """The reactivation forwarding rule in Expected.events_region; None when it is not there."""


class Finding(_Frozen):
    ok: bool | None
    """None: unknown (the account could not be read)."""
    detail: str


class AccountReport(_Frozen):
    account_id: str
    name: str
    findings: dict[str, Finding]

    @property
    def problems(self) -> list[str]:
        """Each problem once (an unreachable account has the same reason for every check)."""
        return list(dict.fromkeys(f.detail for f in self.findings.values() if not f.ok))

    @property
    def covered(self) -> bool:
        return all(f.ok for f in self.findings.values())


class Counts(_Frozen):
    accounts: int
    covered: int
    with_problems: int


# -- Config recorder -----------------------------------------------------------------------------------


def records_iam_users(group: Mapping[str, Any]) -> bool:
    """Whether a recordingGroup records AWS::IAM::User, in any of the forms the API accepts.

    - recordingStrategy.useOnly EXCLUSION_BY_RESOURCE_TYPES: everything not in exclusionByResourceTypes;
    - INCLUSION_BY_RESOURCE_TYPES: only resourceTypes;
    - ALL_SUPPORTED_RESOURCE_TYPES, or the older allSupported=true: global types (IAM) only with
      includeGlobalResourceTypes;
    - no strategy and allSupported false: resourceTypes.
    An empty group is the API default (allSupported, no global types): IAM users are not recorded.
    """
    strategy = group.get("recordingStrategy", {}).get("useOnly")
    if strategy == "EXCLUSION_BY_RESOURCE_TYPES":
        return IAM_USER not in group.get("exclusionByResourceTypes", {}).get("resourceTypes", [])
    if strategy == "ALL_SUPPORTED_RESOURCE_TYPES" or (strategy is None and group.get("allSupported")):
        return bool(group.get("includeGlobalResourceTypes"))
    return IAM_USER in group.get("resourceTypes", [])


def recorder_finding(recorders: Sequence[Recorder], region: str) -> Finding:
    """Service-linked recorders record for another service only: they do not feed our rules."""
    own = [r for r in recorders if not r.service_linked]
    if not own:
        return Finding(ok=False, detail=f"no Config recorder in {region}")
    recording = [r for r in own if records_iam_users(r.recording_group)]
    if not recording:
        names = ", ".join(r.name for r in own)
        return Finding(ok=False, detail=f"Config recorder {names} does not record {IAM_USER} in {region}")
    running = [r for r in recording if r.recording is not False]
    if not running:
        return Finding(ok=False, detail=f"Config recorder {recording[0].name} is stopped in {region}")
    return Finding(ok=True, detail=f"{running[0].name} records {IAM_USER}")


# -- rules ---------------------------------------------------------------------------------------------


def rules_finding(rules: Mapping[str, str], expected: Sequence[str]) -> Finding:
    problems = []
    for name in expected:
        state = rules.get(name)
        if state is None:
            problems.append(f"Config rule {name} is missing")
        elif state != "ACTIVE":
            problems.append(f"Config rule {name} is {state}")
    if problems:
        return Finding(ok=False, detail="; ".join(problems))
    return Finding(ok=True, detail=f"{len(expected)} rules active")


def forwarding_finding(rule: ForwardingRule | None, expected: Expected) -> Finding:
    name = expected.forwarding_rule
    if rule is None:
        return Finding(ok=False, detail=f"forwarding rule {name} is missing on the default bus")
    if rule.state != "ENABLED":
        return Finding(ok=False, detail=f"forwarding rule {name} is {rule.state}")
    if not any(_same_arn(arn, expected.bus_arn) for arn in rule.target_arns):
        return Finding(ok=False, detail=f"forwarding rule {name} does not target {expected.bus_arn}")
    return Finding(ok=True, detail="to the central bus")


def reactivation_finding(facts: AccountFacts, expected: Expected) -> Finding:
    """The rule that forwards keys made active (stacksets/member.yaml ReactivationForwardingRule), and, when
    its region is not the home region, the StackSet instance there that holds it. The management account's
    plain stack lives in the home region only: elsewhere it has no such rule, a documented gap that is not
    a problem (docs/deploying.md, "Upgrading to the reactivation alarm")."""
    region, name = expected.events_region, expected.reactivation_rule
    if region != expected.home_region:
        if facts.management:
            return Finding(
                ok=True,
                detail=(
                    f"known gap: the management account's stack is in {expected.home_region} only, so it has "
                    f"no {name} in {region}"
                ),
            )
        instance = events_stack_finding(facts, region)
        if not instance.ok:
            return instance
    rule = facts.reactivation_rule
    what = f"reactivation forwarding rule {name}"
    if rule is None:
        return Finding(ok=False, detail=f"{what} is missing in {region}")
    if rule.state != "ENABLED":
        return Finding(ok=False, detail=f"{what} is {rule.state} in {region}")
    partition = expected.bus_arn.split(":")[1]
    role = f"arn:{partition}:iam::{facts.account_id}:role/{expected.forwarder_role_name}"
    targets = zip(rule.target_arns, rule.role_arns or ("",) * len(rule.target_arns), strict=True)
    if not any(_same_arn(arn, expected.bus_arn) and _same_arn(via, role) for arn, via in targets):
        return Finding(
            ok=False, detail=f"{what} in {region} does not target {expected.bus_arn} with the role {role}"
        )
    return Finding(ok=True, detail=f"in {region}, to the central bus")


def events_stack_finding(facts: AccountFacts, region: str) -> Finding:
    """The instance of the reactivation rule's region: there, and at the StackSet's last update."""
    status, reason, sync = facts.events_stack_status, facts.events_stack_reason, facts.events_stack_sync
    because = f": {reason}" if reason else ""
    if status is None:
        return Finding(ok=False, detail=f"no member stack in {region} (the reactivation forwarding rule)")
    if sync and sync != CURRENT:
        return Finding(
            ok=False,
            detail=(
                f"member stack in {region} {sync} ({status}): not at the StackSet's last update, so its "
                "reactivation forwarding rule may be missing or out of date; akr deploy deploys it again"
                + because
            ),
        )
    if status not in STACK_HEALTHY:
        return Finding(ok=False, detail=f"member stack in {region} {status}{because}")
    return Finding(ok=True, detail=status)


# -- member role ---------------------------------------------------------------------------------------


def trust_document(raw: str | Mapping[str, Any]) -> dict[str, Any]:
    """IAM returns the trust policy URL-encoded; boto3 usually decodes it already."""
    if isinstance(raw, str):
        document: dict[str, Any] = json.loads(unquote(raw))
        return document
    return dict(raw)


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _same_arn(left: str, right: str) -> bool:
    """ARNs equal up to the partition (aws, aws-cn, aws-us-gov)."""
    a, b = left.split(":"), right.split(":")
    return len(a) == len(b) and a[:1] + a[2:] == b[:1] + b[2:]


def _condition(statement: Mapping[str, Any], key: str, operators: Sequence[str]) -> list[str]:
    """The values of condition `key` under any of `operators` (condition keys are case-insensitive)."""
    found: list[str] = []
    for operator, block in statement.get("Condition", {}).items():
        if operator in operators and isinstance(block, Mapping):
            found += [v for k, value in block.items() if k.lower() == key.lower() for v in _values(value)]
    return found


def _allows(statement: Mapping[str, Any], remediator_arn: str, organization_id: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    actions = _values(statement.get("Action"))
    if not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
        return False
    account = remediator_arn.split(":")[4]
    principals = _values(statement.get("Principal", {}).get("AWS"))
    names_role = any(_same_arn(p, remediator_arn) for p in principals)
    names_account = any(
        p == account or (p.startswith("arn:") and p.endswith(f"::{account}:root")) for p in principals
    )
    pinned = [
        a
        for a in _condition(statement, "aws:PrincipalArn", ("ArnEquals", "ArnLike", "StringEquals"))
        if _same_arn(a, remediator_arn)
    ]
    in_org = organization_id in _condition(statement, "aws:PrincipalOrgID", ("StringEquals",))
    return in_org and (names_role or (names_account and bool(pinned)))


def member_role_finding(trust: Mapping[str, Any] | None, member_role: str, expected: Expected) -> Finding:
    """Checked statically: the trust pins aws:PrincipalArn to the remediator's role, so nobody else (the
    operator included) can assume the member role to try it."""
    if trust is None:
        return Finding(ok=False, detail=f"member role {member_role} is missing")
    statements = trust.get("Statement", [])
    statements = [statements] if isinstance(statements, Mapping) else statements
    if not any(_allows(s, expected.remediator_role_arn, expected.organization_id) for s in statements):
        return Finding(
            ok=False,
            detail=(
                f"member role {member_role} does not trust {expected.remediator_role_arn} "
                f"in organization {expected.organization_id}"
            ),
        )
    return Finding(ok=True, detail=f"trusts {expected.remediator_role_arn.split('/')[-1]}")


# -- the account and the organization ------------------------------------------------------------------


def stack_finding(status: str | None, reason: str, sync: str = "") -> Finding:
    """No status and a reason: the stack could not be read (the management account's, from a delegated
    administrator). A stack instance that is not CURRENT did not get the StackSet's last update: its member
    role may still hold the rights of the mode before, more than the remediator's mode needs."""
    if status is None:
        return Finding(ok=None, detail=reason) if reason else Finding(ok=False, detail="no member stack")
    if sync and sync != CURRENT:
        return Finding(
            ok=False,
            detail=(
                f"member stack {sync} ({status}): not at the StackSet's last update, so its member role may "
                "still hold an earlier mode's rights; akr deploy deploys it again"
                + (f": {reason}" if reason else "")
            ),
        )
    if status not in STACK_HEALTHY:
        return Finding(ok=False, detail=f"member stack {status}" + (f": {reason}" if reason else ""))
    return Finding(ok=True, detail=status)


def central_finding(stack_name: str, status: str | None, remediator_role_exists: bool) -> Finding:
    """The security account's side: the central stack, and the role every member role trusts."""
    if status is None:
        return Finding(ok=False, detail=f"central stack {stack_name} is missing in the security account")
    if status not in STACK_HEALTHY:
        return Finding(ok=False, detail=f"central stack {stack_name} is {status}")
    if not remediator_role_exists:
        return Finding(ok=False, detail="the remediator role is missing in the security account")
    return Finding(ok=True, detail=f"central stack {stack_name} {status}")


def assess(
    facts: AccountFacts, expected: Expected, *, member_role: str, remediator_role_exists: bool
) -> AccountReport:
    findings = {"stack": stack_finding(facts.stack_status, facts.stack_reason, facts.stack_sync)}
    if facts.unreachable:
        unknown = Finding(ok=None, detail=f"cannot look into the account: {facts.unreachable}")
        findings |= dict.fromkeys(CHECKS[1:], unknown)
        if expected.events_region != expected.home_region and not facts.management:
            # The instance is read from the StackSet, not in the account: a missing one is known.
            instance = events_stack_finding(facts, expected.events_region)
            findings["reactivation"] = unknown if instance.ok else instance
        return AccountReport(account_id=facts.account_id, name=facts.name, findings=findings)
    role = member_role_finding(facts.member_role_trust, member_role, expected)
    if role.ok and not remediator_role_exists:
        role = Finding(ok=False, detail=f"{expected.remediator_role_arn} is missing in the security account")
    findings |= {
        "recorder": recorder_finding(facts.recorders, expected.home_region),
        "rules": rules_finding(facts.config_rules, expected.rule_names),
        "forwarding": forwarding_finding(facts.forwarding_rule, expected),
        "member_role": role,
        "reactivation": reactivation_finding(facts, expected),
    }
    return AccountReport(account_id=facts.account_id, name=facts.name, findings=findings)


def count(reports: Sequence[AccountReport]) -> Counts:
    covered = sum(1 for r in reports if r.covered)
    return Counts(accounts=len(reports), covered=covered, with_problems=len(reports) - covered)
