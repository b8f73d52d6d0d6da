"""`akr status` and `akr destroy` end to end against a moto server, after a real `akr deploy`; plus the
Stubber test of the one destroy call moto does not carry out like AWS.

One organization per module (per xdist worker). The destroy steps run in one fixture, in order, each
followed by a snapshot of what is left in every account; the tests assert on those snapshots. The
fixture depends on the status results, so status always looks at the deployed organization first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import Result

from org_bootstrap.aws import CliError
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.destroy import delete_instances
from org_bootstrap.deploy.teardown import DestroyPlan
from tests.e2e.akr import akr, as_json
from tests.moto_server import REGION, ServerOrganization

pytestmark = pytest.mark.slow

STACKSET = "access-key-remediation-member"
AUDIT_PREFIX = "access-key-remediation-AuditTable-"
RULES = ("akr-access-keys-rotated", "akr-iam-user-unused-credentials-check")
# moto's CloudFormation does not create AWS::Config::* resources: every account deployed by the
# template lacks the two Config rules. (Its recorder is the one the test organization starts with, as the
# deploy's pre-flight requires: tests/moto_server.py.)
MOTO_CONFIG_GAP = [f"Config rule {RULES[0]} is missing; Config rule {RULES[1]} is missing"]


def security_args(organization: ServerOrganization) -> tuple[str, str]:
    return ("--security-account", organization.security)


@pytest.fixture(scope="module")
def deployed(organization: ServerOrganization) -> ServerOrganization:
    result = akr(
        organization,
        "deploy",
        *security_args(organization),
        "--targets",
        organization.workloads_ou,
        "--yes",
        "--output",
        "json",
    )
    assert result.exit_code == 0, result.output
    give_config(organization, organization.members[0])
    return organization


def give_config(organization: ServerOrganization, account: str) -> None:
    """What the template would create in AWS: the two rules, made through the Config API, which moto does
    implement. The recorder (recording IAM users) is the test organization's."""
    config = organization.client("config", account)
    rules = (
        (RULES[0], "ACCESS_KEYS_ROTATED", {"maxAccessKeyAge": "90"}),
        (RULES[1], "IAM_USER_UNUSED_CREDENTIALS_CHECK", {"maxCredentialUsageAge": "90"}),
    )
    for name, identifier, parameters in rules:
        config.put_config_rule(
            ConfigRule={
                "ConfigRuleName": name,
                "Source": {"Owner": "AWS", "SourceIdentifier": identifier},
                "InputParameters": json.dumps(parameters),
                "MaximumExecutionFrequency": "TwentyFour_Hours",
            }
        )


# -- status --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def status(deployed: ServerOrganization) -> Result:
    return akr(deployed, "status", *security_args(deployed), "--output", "json")


def by_account(result: Result) -> dict[str, dict[str, Any]]:
    return {a["account_id"]: a for a in as_json(result)["result"]["accounts"]}


def test_status_counts_the_whole_organization_and_exits_1(status: Result) -> None:
    assert status.exit_code == 1
    payload = as_json(status)
    assert payload["status"] == "error"
    assert payload["error"] == "3 of 4 account(s) have problems"
    assert payload["result"]["counts"] == {"accounts": 4, "covered": 1, "with_problems": 3}
    assert payload["result"]["central"] == {
        "ok": True,
        "detail": "central stack access-key-remediation CREATE_COMPLETE",
    }


def test_status_reports_moto_missing_config_rules_exactly(
    deployed: ServerOrganization, status: Result
) -> None:
    accounts = by_account(status)
    for account in (deployed.management, deployed.security, deployed.members[1]):
        report = accounts[account]
        assert report["problems"] == MOTO_CONFIG_GAP, account
        checks = report["checks"]
        assert checks["forwarding"] == {"ok": True, "detail": "to the central bus"}
        assert checks["member_role"] == {"ok": True, "detail": "trusts access-key-remediator"}
    for account in (deployed.security, deployed.members[1]):
        # The StackSet's us-east-1 instance, CURRENT, with the rule enabled and sending through the
        # forwarder role: moto's StackSets create it in every target account.
        assert accounts[account]["checks"]["reactivation"] == {
            "ok": True,
            "detail": "in us-east-1, to the central bus",
        }
    assert accounts[deployed.management]["checks"]["reactivation"] == {
        "ok": True,
        "detail": (
            f"known gap: the management account's stack is in {REGION} only, so it has no "
            "akr-forward-key-reactivations in us-east-1"
        ),
    }
    assert as_json(status)["result"]["reactivation_region"] == "us-east-1"
    assert accounts[deployed.management]["checks"]["stack"]["detail"] == "CREATE_COMPLETE"
    assert accounts[deployed.security]["checks"]["stack"]["detail"] == "SUCCEEDED"


def test_a_member_with_a_recorder_and_the_rules_is_fully_covered(
    deployed: ServerOrganization, status: Result
) -> None:
    report = by_account(status)[deployed.members[0]]
    assert report["covered"] is True
    assert report["problems"] == []
    assert report["checks"]["recorder"] == {"ok": True, "detail": "default records AWS::IAM::User"}
    assert report["checks"]["rules"] == {"ok": True, "detail": "2 rules active"}


def test_a_reactivation_rule_disabled_in_us_east_1_is_named_and_fails_status(
    deployed: ServerOrganization, status: Result
) -> None:
    """The fully covered member, with its us-east-1 rule disabled; enabled again after, for the tests that
    follow on this organization (`status`, read before, is what they see)."""
    member = deployed.members[0]
    events = deployed.session(member).client("events", region_name="us-east-1", endpoint_url=deployed.url)
    events.disable_rule(Name="akr-forward-key-reactivations")
    try:
        result = akr(deployed, "status", *security_args(deployed), "--output", "json")
    finally:
        events.enable_rule(Name="akr-forward-key-reactivations")
    assert result.exit_code == 1
    assert as_json(result)["result"]["counts"] == {"accounts": 4, "covered": 0, "with_problems": 4}
    report = by_account(result)[member]
    assert report["covered"] is False
    assert report["problems"] == [
        "reactivation forwarding rule akr-forward-key-reactivations is DISABLED in us-east-1"
    ]
    assert report["checks"]["forwarding"] == {"ok": True, "detail": "to the central bus"}


def test_status_table_shows_counts_and_how_the_role_was_checked(deployed: ServerOrganization) -> None:
    result = akr(deployed, "status", *security_args(deployed))
    assert result.exit_code == 1
    assert "4 account(s): 1 fully covered, 3 with problems." in result.stdout
    assert "Member role: checked statically (iam:GetRole), not assumed" in result.stdout
    assert "Reactivation forwarding rule: known gap: the management account's stack is in" in (
        " ".join(result.stdout.split())
    )


def test_status_from_a_member_account_is_refused(
    deployed: ServerOrganization, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_member(deployed, monkeypatch)
    result = akr(deployed, "status", *security_args(deployed), "--output", "json")
    assert result.exit_code == 1
    assert as_json(result) == {
        "command": "status",
        "status": "error",
        "error": (
            f"this is account {deployed.members[0]}: run akr status from the management account "
            f"{deployed.management} or from a delegated administrator for CloudFormation StackSets"
        ),
    }


def as_member(organization: ServerOrganization, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = organization.session(organization.members[0]).get_credentials()
    assert credentials is not None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")


# -- destroy -------------------------------------------------------------------------------------------


class Clients:
    """Clients per account from one boto3 session (a session per call would reload the service models
    each time), with each account's credentials assumed once."""

    def __init__(self, organization: ServerOrganization) -> None:
        self.organization = organization
        self.session = boto3.Session(region_name=REGION)
        self.cache: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, account: str) -> Any:
        if (service, account) not in self.cache:
            self.cache[service, account] = self.session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.organization.url, **self._credentials(account)
            )
        return self.cache[service, account]

    def _credentials(self, account: str) -> dict[str, str]:
        if account == self.organization.management:
            return {}
        credentials = self("sts", self.organization.management).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="test"
        )["Credentials"]
        return {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }


@pytest.fixture(scope="module")
def clients(organization: ServerOrganization) -> Clients:
    return Clients(organization)


def inventory(client: Clients) -> dict[str, Any]:
    """What akr's deploy leaves, account by account, read with each account's own credentials."""
    organization = client.organization
    management, security = organization.management, organization.security
    accounts = (management, security, *organization.members)
    stacksets = client("cloudformation", management)
    return {
        "stackset": _exists(lambda: stacksets.describe_stack_set(StackSetName=STACKSET)),
        "instances": sorted(
            i["Account"]
            for i in _or_empty(lambda: stacksets.list_stack_instances(StackSetName=STACKSET)["Summaries"])
        ),
        "member_roles": [
            a
            for a in accounts
            if _exists(lambda a=a: client("iam", a).get_role(RoleName="AccessKeyRemediationRole"))
        ],
        "forwarding_rules": [
            a
            for a in accounts
            if _exists(lambda a=a: client("events", a).describe_rule(Name="akr-forward-noncompliant-keys"))
        ],
        "management_stack": _exists(lambda: stacksets.describe_stacks(StackName=STACKSET)),
        "central_stack": _exists(
            lambda: client("cloudformation", security).describe_stacks(StackName="access-key-remediation")
        ),
        "remediator_role": _exists(
            lambda: client("iam", security).get_role(RoleName="access-key-remediator")
        ),
        "bucket": _exists(lambda: client("s3", security).head_bucket(Bucket=f"akr-code-{security}-{REGION}")),
        "audit_tables": [
            n for n in client("dynamodb", security).list_tables()["TableNames"] if n.startswith(AUDIT_PREFIX)
        ],
    }


def _exists(call: Any) -> bool:
    try:
        call()
    except Exception:  # noqa: BLE001 - any "not found" error shape moto gives
        return False
    return True


def _or_empty(call: Any) -> list[dict[str, Any]]:
    try:
        found: list[dict[str, Any]] = call()
    except Exception:  # noqa: BLE001
        return []
    return found


@dataclass
class Run:
    """The destroy steps, in order: each command's result and the inventory right after it."""

    results: dict[str, Result] = field(default_factory=dict)
    after: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit_table: str = ""

    def step(self, name: str, client: Clients, result: Result) -> None:
        self.results[name] = result
        self.after[name] = inventory(client)


@pytest.fixture(scope="module")
def destroyed(deployed: ServerOrganization, status: Result, clients: Clients) -> Run:
    organization, run = deployed, Run()
    args = ("destroy", *security_args(organization))
    run.after["deployed"] = inventory(clients)
    (run.audit_table,) = run.after["deployed"]["audit_tables"]
    run.step("dry run", clients, akr(organization, *args, "--dry-run", "--output", "json"))
    run.step("declined", clients, akr(organization, *args, answers="n\n"))
    run.step("json without --yes", clients, akr(organization, *args, "--output", "json"))
    run.step("first", clients, akr(organization, *args, "--yes", "--output", "json"))
    # moto ignores DeploymentTargets on DeleteStackInstances (the Stubber test below covers the real
    # call); remove the instances by account, which moto does understand, then destroy again.
    organization.client("cloudformation").delete_stack_instances(
        StackSetName=STACKSET,
        Accounts=sorted(set(run.after["first"]["instances"])),
        # The home region's instances, and us-east-1's with the reactivation forwarding rule.
        Regions=[REGION, "us-east-1"],
        RetainStacks=False,
    )
    run.step("second", clients, akr(organization, *args, "--yes", "--output", "json"))
    run.step(
        "status after",
        clients,
        akr(organization, "status", *security_args(organization), "--output", "json"),
    )
    run.step("again", clients, akr(organization, *args, "--output", "json"))
    audit = (*args, "--delete-audit-log")
    run.step("audit: --yes only", clients, akr(organization, *audit, "--yes", "--output", "json"))
    run.step("audit: wrong name typed", clients, akr(organization, *audit, "--yes", answers="audit\n"))
    run.step(
        "audit: wrong name given",
        clients,
        akr(organization, *audit, "--yes", "--yes-delete-audit-log", "audit", "--output", "json"),
    )
    run.step(
        "audit: name given",
        clients,
        akr(organization, *audit, "--yes", "--yes-delete-audit-log", run.audit_table, "--output", "json"),
    )
    # A second retained table, as an older deployment would leave: delete it by typing its name.
    retained = f"{AUDIT_PREFIX}OLDER"
    create_protected_table(clients("dynamodb", organization.security), retained)
    run.step("audit: name typed", clients, akr(organization, *audit, "--yes", answers=f"{retained}\n"))
    run.step("final", clients, akr(organization, *audit, "--output", "json"))
    return run


def create_protected_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "account_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "account_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=True,
    )


def test_dry_run_prints_the_plan_and_changes_nothing(deployed: ServerOrganization, destroyed: Run) -> None:
    result = destroyed.results["dry run"]
    assert result.exit_code == 0
    payload = as_json(result)
    assert payload["status"] == "planned"
    assert payload["changed"] is False
    assert payload["plan"][1:3] == [
        f"Would delete StackSet {STACKSET}",
        f"Would delete stack {STACKSET} in the management account {deployed.management}",
    ]
    assert payload["plan"][-1] == (
        f"Would keep the audit table {destroyed.audit_table} (the template retains it; --delete-audit-log "
        "deletes it)"
    )
    assert destroyed.after["dry run"] == destroyed.after["deployed"]


def test_declining_or_json_without_yes_changes_nothing(destroyed: Run) -> None:
    declined = destroyed.results["declined"]
    assert declined.exit_code == 1
    assert "Aborted: nothing was changed." in declined.stdout
    unconfirmed = destroyed.results["json without --yes"]
    assert unconfirmed.exit_code == 1
    payload = as_json(unconfirmed)
    assert (payload["status"], payload["changed"]) == ("aborted", False)
    assert payload["error"] == "--output json cannot ask for confirmation: pass --yes"
    assert destroyed.after["declined"] == destroyed.after["json without --yes"] == destroyed.after["deployed"]


def test_moto_keeps_the_instances_so_destroy_stops_before_anything_else(
    deployed: ServerOrganization, destroyed: Run
) -> None:
    """moto ignores deletes by OU: the instances stay, and destroy stops with them named instead of
    failing on DeleteStackSet (StackSetNotEmpty) half-way."""
    result = destroyed.results["first"]
    assert result.exit_code == 1
    # Each account's instance in the home region, and in us-east-1 (the reactivation forwarding rule).
    left = sorted((deployed.security, *deployed.members) * 2)
    assert destroyed.after["first"]["instances"] == left
    assert destroyed.after["first"] == destroyed.after["deployed"]
    error = as_json(result)["error"]
    assert error.startswith(
        f"StackSet {STACKSET} still has 6 stack instance(s) after deleting by {deployed.root_id} "
        "(operation SUCCEEDED): "
    )
    assert error.endswith(
        "Nothing else was deleted; if they were deployed to other OUs, name those with --targets"
    )


def test_destroy_removes_everything_but_the_audit_table(deployed: ServerOrganization, destroyed: Run) -> None:
    result = destroyed.results["second"]
    assert result.exit_code == 0, result.output
    payload = as_json(result)
    assert payload["status"] == "ok"
    assert payload["result"] == {
        "deleted": [
            f"StackSet {STACKSET}",
            f"stack {STACKSET} in the management account",
            "stack access-key-remediation in the security account",
            f"bucket s3://akr-code-{deployed.security}-{REGION}",
        ],
        "retained_audit_tables": [destroyed.audit_table],
    }
    assert destroyed.after["second"] == {
        "stackset": False,
        "instances": [],
        "member_roles": [],
        "forwarding_rules": [],
        "management_stack": False,
        "central_stack": False,
        "remediator_role": False,
        "bucket": False,
        "audit_tables": [destroyed.audit_table],
    }


def test_status_after_destroy_covers_no_account(destroyed: Run) -> None:
    result = destroyed.results["status after"]
    assert result.exit_code == 1
    payload = as_json(result)["result"]
    assert payload["counts"] == {"accounts": 4, "covered": 0, "with_problems": 4}
    assert (
        payload["central"]["detail"]
        == "central stack access-key-remediation is missing in the security account"
    )


def test_destroy_again_has_nothing_to_delete(destroyed: Run) -> None:
    result = destroyed.results["again"]
    assert result.exit_code == 0
    assert as_json(result) == {
        "command": "destroy",
        "status": "ok",
        "changed": False,
        "plan": [
            f"Would keep the audit table {destroyed.audit_table} (the template retains it; "
            "--delete-audit-log deletes it)",
            "Nothing to delete: akr is not deployed in this organization",
        ],
    }


def test_yes_alone_never_deletes_the_audit_log(destroyed: Run) -> None:
    result = destroyed.results["audit: --yes only"]
    assert result.exit_code == 1
    payload = as_json(result)
    assert payload["status"] == "aborted"
    assert payload["error"] == (
        f"--output json cannot ask for confirmation: pass --yes-delete-audit-log {destroyed.audit_table}"
    )
    assert destroyed.after["audit: --yes only"]["audit_tables"] == [destroyed.audit_table]


def test_the_audit_table_name_must_match(destroyed: Run) -> None:
    typed = destroyed.results["audit: wrong name typed"]
    assert typed.exit_code == 1
    assert f"Type the audit table's name ({destroyed.audit_table}) to delete it" in typed.stdout
    assert "Aborted: the name did not match; nothing was changed." in typed.stdout
    given = destroyed.results["audit: wrong name given"]
    assert given.exit_code == 1
    assert as_json(given)["error"] == (
        f"--yes-delete-audit-log names audit, but the audit table is {destroyed.audit_table}: "
        "nothing was changed"
    )
    for step in ("audit: wrong name typed", "audit: wrong name given"):
        assert destroyed.after[step]["audit_tables"] == [destroyed.audit_table]


def test_the_named_audit_table_is_deleted_despite_its_deletion_protection(destroyed: Run) -> None:
    result = destroyed.results["audit: name given"]
    assert result.exit_code == 0, result.output
    assert as_json(result)["result"] == {
        "deleted": [f"audit table {destroyed.audit_table}"],
        "retained_audit_tables": [],
    }
    assert destroyed.after["audit: name given"]["audit_tables"] == []
    typed = destroyed.results["audit: name typed"]
    assert typed.exit_code == 0, typed.output
    assert f"Would turn off deletion protection on the audit table {AUDIT_PREFIX}OLDER" in typed.stdout
    assert f"deleted audit table {AUDIT_PREFIX}OLDER" in typed.stdout
    assert destroyed.after["audit: name typed"]["audit_tables"] == []
    final = destroyed.results["final"]
    assert (final.exit_code, as_json(final)["plan"]) == (
        0,
        ["Nothing to delete: akr is not deployed in this organization"],
    )


def test_destroy_from_a_member_account_is_refused(
    deployed: ServerOrganization, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = inventory(clients)
    as_member(deployed, monkeypatch)
    result = akr(deployed, "destroy", *security_args(deployed), "--yes", "--output", "json")
    monkeypatch.undo()
    assert result.exit_code == 1
    assert as_json(result)["error"] == (
        f"this is account {deployed.members[0]}: run akr destroy from the management account "
        f"{deployed.management} or from a delegated administrator for CloudFormation StackSets"
    )
    assert inventory(clients) == before


def test_yes_delete_audit_log_needs_delete_audit_log(organization: ServerOrganization) -> None:
    result = akr(
        organization,
        "destroy",
        *security_args(organization),
        "--yes-delete-audit-log",
        "t",
        "--output",
        "json",
    )
    assert result.exit_code == 1
    assert as_json(result) == {
        "command": "destroy",
        "status": "error",
        "error": "--yes-delete-audit-log needs --delete-audit-log",
    }


# -- the call moto does not carry out ------------------------------------------------------------------

OU = "ou-ab12-11111111"
SECURITY = "222222222222"


def stubbed_plan() -> tuple[Deployment, DestroyPlan]:
    deployment = Deployment(security_account_id=SECURITY, targets=(OU,), home_region=REGION)
    plan = DestroyPlan(
        call_as="SELF",
        targets=(OU,),
        regions=(REGION,),
        instance_accounts=("333333333333",),
        stackset=True,
        management_stack=True,
        central_stack=True,
        bucket=True,
        audit_table=None,
        retained_audit_tables=(),
    )
    return deployment, plan


def stub_delete(stubber: Stubber, remaining: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "delete_stack_instances",
        {"OperationId": "op-1"},
        {
            "StackSetName": STACKSET,
            "DeploymentTargets": {"OrganizationalUnitIds": [OU]},
            "Regions": [REGION],
            # As deploy's: every account tried, at the full concurrency (moto ignores the preferences).
            "OperationPreferences": {
                "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
                "FailureTolerancePercentage": 100,
                "MaxConcurrentPercentage": 25,
                "RegionConcurrencyType": "PARALLEL",
            },
            "RetainStacks": False,
            "CallAs": "SELF",
        },
    )
    stubber.add_response(
        "describe_stack_set_operation",
        {"StackSetOperation": {"OperationId": "op-1", "Status": "SUCCEEDED"}},
        {"StackSetName": STACKSET, "OperationId": "op-1", "CallAs": "SELF"},
    )
    stubber.add_response(
        "describe_stack_set",
        {"StackSet": {"StackSetName": STACKSET, "Status": "ACTIVE", "TemplateBody": "{}"}},
        {"StackSetName": STACKSET, "CallAs": "SELF"},
    )
    stubber.add_response(
        "list_stack_instances", {"Summaries": remaining}, {"StackSetName": STACKSET, "CallAs": "SELF"}
    )


def test_stack_instances_are_deleted_by_ou_without_retaining_stacks() -> None:
    """Covers moto's gap: it ignores DeploymentTargets on DeleteStackInstances (deletes by OU do nothing),
    so the exact call is checked here against the real service model."""
    client = boto3.Session(region_name=REGION).client("cloudformation")
    deployment, plan = stubbed_plan()
    with Stubber(client) as stubber:
        stub_delete(stubber, remaining=[])
        delete_instances(client, deployment, plan, progress=lambda _message: None, poll_seconds=0)
        stubber.assert_no_pending_responses()


def test_instances_left_after_the_delete_stop_destroy_with_their_reasons() -> None:
    """Covers the same gap from the other side: what AWS does when an account is not under the targets."""
    client = boto3.Session(region_name=REGION).client("cloudformation")
    deployment, plan = stubbed_plan()
    left = {
        "Account": "444444444444",
        "Region": REGION,
        "Status": "CURRENT",
        "StatusReason": "",
        "StackInstanceStatus": {"DetailedStatus": "SUCCEEDED"},
    }
    with Stubber(client) as stubber:
        stub_delete(stubber, remaining=[left])
        with pytest.raises(CliError) as raised:
            delete_instances(client, deployment, plan, progress=lambda _message: None, poll_seconds=0)
    assert str(raised.value) == (
        f"StackSet {STACKSET} still has 1 stack instance(s) after deleting by {OU} (operation SUCCEEDED): "
        f"444444444444 {REGION} SUCCEEDED. Nothing else was deleted; if they were deployed to other OUs, "
        "name those with --targets"
    )
