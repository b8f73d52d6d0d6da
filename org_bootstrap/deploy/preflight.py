"""The pre-flight: what would fail if the plan were carried out now, found before anything is created.
Pure: org_bootstrap.deploy.readiness reads the facts, the verdicts and their wording are here.

What it looks at, and why each would fail:
- a target account without a Config recorder that records AWS::IAM::User in the home region: the member
  stack's rules fail (PutConfigRule: NoAvailableConfigurationRecorderException), or, with a recorder that
  does not record IAM users, deploy and never evaluate anyone; with --create-config-recorder, a recorder
  already there: one recorder per account and region;
- a resource that already has one of the stack's names (the member role, the forwarding rule, the Config
  rules; in the security account the remediator role, the bus, the key alias, the sweep's log group):
  CloudFormation refuses to create a named resource that exists;
- the Lambda concurrency quota when reservations are asked for (org_bootstrap.deploy.concurrency);
- the sweep's right to list the organization's accounts from the security account.
Trusted access and the caller's own rights are the planner's refusals (org_bootstrap.deploy.plan).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict

from org_bootstrap.deploy.coverage import Recorder, recorder_finding


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Preflight(_Frozen):
    problems: tuple[str, ...] = ()
    """What would fail. While there is one the deploy does not start: --yes does not skip them."""
    unchecked: tuple[str, ...] = ()
    """What could not be looked at (an account the caller cannot enter): said, not held against the plan."""


class MemberFacts(_Frozen):
    """What a target account that is about to get the member stack has now."""

    account_id: str
    unreachable: str = ""
    """Why the account could not be looked into; nothing else is known then."""
    recorders: tuple[Recorder, ...] = ()
    """The configuration recorders of the home region."""
    recording_elsewhere: tuple[str, ...] = ()
    """Other regions whose recorder records AWS::IAM::User (looked for only when the home region's does
    not)."""
    existing: tuple[str, ...] = ()
    """The member stack's named resources that already exist, as "IAM role X", "EventBridge rule Y"."""


class CentralFacts(_Frozen):
    """What the security account has now, before the central stack is created."""

    existing: tuple[str, ...] = ()
    """The central stack's named resources that already exist."""
    sweep_can_list: bool | None = True
    """Whether Organizations lets the security account list the accounts (a delegated administrator, or
    the organization's resource policy grants it); None when the caller may not read that."""
    unchecked: tuple[str, ...] = ()
    """What could not be read, and why."""


def member_problems(facts: MemberFacts, *, home_region: str, create_recorder: bool) -> list[str]:
    where = f"account {facts.account_id}"
    problems = [
        f"{where}: {name} exists already; the member stack cannot create it" for name in facts.existing
    ]
    own = [r for r in facts.recorders if not r.service_linked]
    if create_recorder:
        if own:
            problems.append(
                f"{where}: Config recorder {own[0].name} exists in {home_region}, and there can be only one "
                "per account and region: deploy with --no-create-config-recorder (it must record "
                "AWS::IAM::User)"
            )
        return problems
    finding = recorder_finding(facts.recorders, home_region)
    if not finding.ok:
        elsewhere = ", ".join(facts.recording_elsewhere)
        advice = (
            f"it records AWS::IAM::User in {elsewhere}: deploy with that --home-region"
            if elsewhere
            else "record AWS::IAM::User there (or, where there is no recorder, deploy with "
            "--create-config-recorder)"
        )
        problems.append(f"{where}: {finding.detail}; {advice}")
    return problems


def central_problems(facts: CentralFacts, *, security_account: str) -> list[str]:
    where = f"the security account {security_account}"
    problems = [
        f"{where}: {name} exists already; the central stack cannot create it" for name in facts.existing
    ]
    if facts.sweep_can_list is False:
        problems.append(
            f"{where} may not list the organization's accounts, so the sweep would fail every day: make it a "
            "delegated administrator (aws organizations register-delegated-administrator --account-id "
            f"{security_account} --service-principal <a service it administers, e.g. config.amazonaws.com>) "
            "or grant it organizations:ListAccounts in the organization's resource policy "
            "(docs/templates/central.md, The sweep)"
        )
    return problems


def grants_list_accounts(policy: str | None, account_id: str) -> bool:
    """Whether an Organizations resource-based delegation policy allows `account_id` ListAccounts: an Allow
    statement whose principal names the account (id, root ARN, or a role in it) and whose actions cover
    organizations:ListAccounts, and no Deny statement that covers the same. Conditions are not weighed."""
    if not policy:
        return False
    try:
        document = json.loads(policy)
    except ValueError:
        return False
    statements = [s for s in _list(document.get("Statement", [])) if _covers(s, account_id)]
    effects = {s.get("Effect") for s in statements}
    return "Allow" in effects and "Deny" not in effects


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _covers(statement: dict[str, Any], account_id: str) -> bool:
    principals = statement.get("Principal", {})
    named = _list(principals.get("AWS", [])) if isinstance(principals, dict) else _list(principals)
    actions = [a.lower() for a in _list(statement.get("Action", []))]
    return any(_names(str(p), account_id) for p in named) and any(
        fnmatchcase("organizations:listaccounts", action) for action in actions
    )


def _names(principal: str, account_id: str) -> bool:
    return principal == account_id or principal.split(":")[4:5] == [account_id]


def describe_preflight(preflight: Preflight) -> list[str]:
    """The plan's lines for the pre-flight, after its "Would ..." lines."""
    return [f"Problem: {problem}" for problem in preflight.problems] + [
        f"Not checked: {note}" for note in preflight.unchecked
    ]
