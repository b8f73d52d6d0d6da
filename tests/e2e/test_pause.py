"""`akr pause` / `akr resume` (and `akr status` while paused) end to end against a moto server, after a
real `akr deploy`: the pause stops the next sweep's key actions with no deploy (they are recorded as
report, naming the operator), `akr resume` restores them, and both are audited (intent and outcome,
operator named).

One organization per module (per xdist worker)."""

from __future__ import annotations

import pytest

from org_bootstrap.deploy.deployment import Deployment
from remediator.adapters.breaker_table import DynamoDBControl
from tests.e2e.akr import akr, as_json
from tests.e2e.test_sweep_undo import Deployed
from tests.moto_server import REGION, ServerOrganization

pytestmark = pytest.mark.slow


def test_pause_holds_the_sweep_and_resume_restores_it(organization: ServerOrganization) -> None:
    deployed_result = akr(
        organization, "deploy", "--security-account", organization.security, "--targets",
        organization.workloads_ou, "--mode", "delete", "--yes", "--output", "json",
    )  # fmt: skip
    assert deployed_result.exit_code == 0, deployed_result.output
    deployed = Deployed(organization, audit_table=as_json(deployed_result)["result"]["audit_table"])
    member = organization.members[0]
    (old,) = deployed.add_user(member, "stale", 120)
    security = ("--security-account", organization.security)
    operator = organization.client("sts").get_caller_identity()["Arn"]
    name = Deployment(security_account_id=organization.security, home_region=REGION).central_stack_name
    (stack,) = organization.client("cloudformation", organization.security).describe_stacks(StackName=name)[
        "Stacks"
    ]
    state_table = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["StateTableName"]
    control = DynamoDBControl(
        client=organization.client("dynamodb", organization.security), table_name=state_table
    )

    paused = akr(organization, "pause", *security, "--reason", "incident 42", "--yes", "--output", "json")
    assert paused.exit_code == 0, paused.output
    pause = control.pause()
    assert pause is not None
    assert (pause.operator, pause.reason) == (operator, "incident 42")
    again = akr(organization, "pause", *security, "--reason", "twice", "--yes")
    assert again.exit_code == 1
    assert f"already paused by {operator}" in again.output

    status = as_json(akr(organization, "status", *security, "--output", "json"))["result"]
    assert status["paused"].startswith(f"PAUSED by {operator} since ")
    assert "(incident 42): every key action is recorded as report until akr resume" in status["paused"]

    swept = akr(organization, "sweep", *security, "--local", "--yes", "--output", "json")
    assert swept.exit_code == 0, swept.output
    assert deployed.keys(member, "stale") == {old: "Active"}
    (held,) = [r for r in deployed.audit(member) if r.access_key_id == old]
    assert (held.decision, held.outcome) == ("report", "skipped")
    assert f"delete held back: paused by {operator}" in held.reason
    assert "incident 42" in held.reason

    resumed = akr(organization, "resume", *security, "--reason", "contained", "--yes", "--output", "json")
    assert resumed.exit_code == 0, resumed.output
    assert control.pause() is None
    assert as_json(akr(organization, "status", *security, "--output", "json"))["result"]["paused"] is None
    swept = akr(organization, "sweep", *security, "--local", "--yes", "--output", "json")
    assert swept.exit_code == 0, swept.output
    assert deployed.keys(member, "stale") == {}

    records = [r for r in deployed.audit(organization.security) if r.decision in ("pause", "resume")]
    assert sorted((r.decision, r.phase, r.outcome, r.operator) for r in records) == [
        ("pause", "intent", "pending", operator),
        ("pause", "outcome", "done", operator),
        ("resume", "intent", "pending", operator),
        ("resume", "outcome", "done", operator),
    ]
    intents = {r.decision: r for r in records if r.phase == "intent"}
    outcomes = {r.decision: r for r in records if r.phase == "outcome"}
    assert pause.record_id == intents["pause"].record_id
    assert {d: r.intent_id for d, r in outcomes.items()} == {d: r.record_id for d, r in intents.items()}
    assert outcomes["resume"].reason.endswith("contained")
