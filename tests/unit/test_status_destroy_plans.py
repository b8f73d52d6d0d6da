"""The pure halves of `akr status` (coverage verdicts) and `akr destroy` (the plan): no AWS, no doubles."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from urllib.parse import quote

import pytest

from org_bootstrap.commands.deploy_views import status_envelope
from org_bootstrap.deploy.coverage import (
    AccountFacts,
    Expected,
    Finding,
    ForwardingRule,
    Recorder,
    assess,
    central_finding,
    count,
    forwarding_finding,
    member_role_finding,
    recorder_finding,
    records_iam_users,
    rules_finding,
    stack_finding,
    trust_document,
)
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.footprint import AuditTable, Footprint
from org_bootstrap.deploy.observed import Account, InstanceState, StackSetState, StackState
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.deploy.status import Status
from org_bootstrap.deploy.teardown import describe_destroy, plan_destroy

MANAGEMENT = "111111111111"
SECURITY = "222222222222"
MEMBERS = ("333333333333", "444444444444")
ORGANIZATION = "o-abcdefghij"
ROOT = "r-ab12"
REGION = "eu-west-1"
REMEDIATOR = f"arn:aws:iam::{SECURITY}:role/access-key-remediator"
BUS = f"arn:aws:events:{REGION}:{SECURITY}:event-bus/access-key-remediation"
RULES = ("akr-access-keys-rotated", "akr-iam-user-unused-credentials-check")
AUDIT = "access-key-remediation-AuditTable-ABC123"
EXPECTED = Expected(
    organization_id=ORGANIZATION,
    home_region=REGION,
    rule_names=RULES,
    forwarding_rule="akr-forward-noncompliant-keys",
    bus_arn=BUS,
    remediator_role_arn=REMEDIATOR,
    reactivation_rule="akr-forward-key-reactivations",
    events_region="us-east-1",
    forwarder_role_name="AccessKeyRemediationForwarder",
)


def template_trust() -> dict[str, Any]:
    """The member role's trust as IAM returns it for stacksets/member.yaml."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CentralRemediatorOnly",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SECURITY}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnEquals": {"aws:PrincipalArn": REMEDIATOR},
                    "StringEquals": {"aws:PrincipalOrgID": ORGANIZATION},
                },
            }
        ],
    }


def test_the_verdict_modules_never_import_boto3() -> None:
    code = (
        "import sys, org_bootstrap.deploy.coverage, org_bootstrap.deploy.teardown, "
        "org_bootstrap.deploy.footprint, org_bootstrap.deploy.guardrails_plan; "
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# -- Config recorder -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "records"),
    [
        ({}, False),  # the API default: all supported types, without the global (IAM) ones
        ({"allSupported": True, "includeGlobalResourceTypes": True}, True),
        ({"allSupported": True, "includeGlobalResourceTypes": False}, False),
        ({"allSupported": False, "resourceTypes": ["AWS::IAM::User"]}, True),
        ({"allSupported": False, "resourceTypes": ["AWS::IAM::Role"]}, False),
        (
            {
                "allSupported": True,
                "includeGlobalResourceTypes": True,
                "recordingStrategy": {"useOnly": "ALL_SUPPORTED_RESOURCE_TYPES"},
            },
            True,
        ),
        (
            {
                "recordingStrategy": {"useOnly": "INCLUSION_BY_RESOURCE_TYPES"},
                "resourceTypes": ["AWS::IAM::User"],
            },
            True,
        ),
        (
            {
                "recordingStrategy": {"useOnly": "EXCLUSION_BY_RESOURCE_TYPES"},
                "exclusionByResourceTypes": {"resourceTypes": ["AWS::EC2::Instance"]},
            },
            True,
        ),
        (
            {
                "recordingStrategy": {"useOnly": "EXCLUSION_BY_RESOURCE_TYPES"},
                "exclusionByResourceTypes": {"resourceTypes": ["AWS::IAM::User"]},
            },
            False,
        ),
    ],
)
def test_records_iam_users_reads_every_form_of_the_recording_group(
    group: dict[str, Any], records: bool
) -> None:
    assert records_iam_users(group) is records


def test_recorder_findings() -> None:
    iam = {"allSupported": False, "resourceTypes": ["AWS::IAM::User"]}
    assert recorder_finding((), REGION) == Finding(ok=False, detail="no Config recorder in eu-west-1")
    linked = Recorder(name="linked", recording_group=iam, recording=True, service_linked=True)
    assert recorder_finding((linked,), REGION).detail == "no Config recorder in eu-west-1"
    assert recorder_finding((Recorder(name="default", recording=True),), REGION) == Finding(
        ok=False, detail="Config recorder default does not record AWS::IAM::User in eu-west-1"
    )
    stopped = Recorder(name="default", recording_group=iam, recording=False)
    assert recorder_finding((stopped,), REGION) == Finding(
        ok=False, detail="Config recorder default is stopped in eu-west-1"
    )
    running = Recorder(name="default", recording_group=iam, recording=True)
    assert recorder_finding((running,), REGION) == Finding(ok=True, detail="default records AWS::IAM::User")


# -- rules ---------------------------------------------------------------------------------------------


def test_rules_finding_names_each_missing_or_inactive_rule() -> None:
    assert rules_finding({}, RULES) == Finding(
        ok=False,
        detail=(
            "Config rule akr-access-keys-rotated is missing; "
            "Config rule akr-iam-user-unused-credentials-check is missing"
        ),
    )
    assert rules_finding({RULES[0]: "ACTIVE", RULES[1]: "DELETING"}, RULES) == Finding(
        ok=False, detail="Config rule akr-iam-user-unused-credentials-check is DELETING"
    )
    assert rules_finding(dict.fromkeys(RULES, "ACTIVE"), RULES) == Finding(ok=True, detail="2 rules active")


def test_forwarding_finding() -> None:
    assert forwarding_finding(None, EXPECTED) == Finding(
        ok=False, detail="forwarding rule akr-forward-noncompliant-keys is missing on the default bus"
    )
    assert forwarding_finding(ForwardingRule(state="DISABLED", target_arns=(BUS,)), EXPECTED) == Finding(
        ok=False, detail="forwarding rule akr-forward-noncompliant-keys is DISABLED"
    )
    elsewhere = ForwardingRule(state="ENABLED", target_arns=(BUS.replace(SECURITY, MANAGEMENT),))
    assert forwarding_finding(elsewhere, EXPECTED) == Finding(
        ok=False, detail=f"forwarding rule akr-forward-noncompliant-keys does not target {BUS}"
    )
    assert forwarding_finding(ForwardingRule(state="ENABLED", target_arns=(BUS,)), EXPECTED).ok is True


# -- member role ---------------------------------------------------------------------------------------


def test_the_template_trust_passes_also_url_encoded() -> None:
    expected = Finding(ok=True, detail="trusts access-key-remediator")
    assert member_role_finding(template_trust(), "AccessKeyRemediationRole", EXPECTED) == expected
    encoded = trust_document(quote(json.dumps(template_trust())))
    assert member_role_finding(encoded, "AccessKeyRemediationRole", EXPECTED) == expected


def test_a_role_named_as_principal_needs_no_principal_arn_condition() -> None:
    trust = template_trust()
    statement = trust["Statement"][0]
    statement["Principal"] = {"AWS": [REMEDIATOR]}
    del statement["Condition"]["ArnEquals"]
    assert member_role_finding(trust, "AccessKeyRemediationRole", EXPECTED).ok is True


def _broken(change: str) -> dict[str, Any]:
    trust = template_trust()
    statement = trust["Statement"][0]
    if change == "other organization":
        statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] = "o-zzzzzzzzzz"
    elif change == "no organization condition":
        del statement["Condition"]["StringEquals"]
    elif change == "other role":
        statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] = REMEDIATOR + "-old"
    elif change == "account root without the role pinned":
        del statement["Condition"]["ArnEquals"]
    elif change == "deny":
        statement["Effect"] = "Deny"
    elif change == "other action":
        statement["Action"] = "sts:TagSession"
    return trust


@pytest.mark.parametrize(
    "change",
    [
        "other organization",
        "no organization condition",
        "other role",
        "account root without the role pinned",
        "deny",
        "other action",
    ],
)
def test_a_trust_that_does_not_let_the_remediator_in_is_a_problem(change: str) -> None:
    assert member_role_finding(_broken(change), "AccessKeyRemediationRole", EXPECTED) == Finding(
        ok=False,
        detail=(
            f"member role AccessKeyRemediationRole does not trust {REMEDIATOR} in organization {ORGANIZATION}"
        ),
    )


def test_a_missing_member_role_is_a_problem() -> None:
    assert member_role_finding(None, "AccessKeyRemediationRole", EXPECTED) == Finding(
        ok=False, detail="member role AccessKeyRemediationRole is missing"
    )


# -- the account and the organization ------------------------------------------------------------------


def covered_facts(account_id: str = MEMBERS[0]) -> AccountFacts:
    return AccountFacts(
        account_id=account_id,
        name="member",
        stack_status="SUCCEEDED",
        recorders=(
            Recorder(
                name="default",
                recording_group={"allSupported": True, "includeGlobalResourceTypes": True},
                recording=True,
            ),
        ),
        config_rules=dict.fromkeys(RULES, "ACTIVE"),
        forwarding_rule=ForwardingRule(state="ENABLED", target_arns=(BUS,)),
        member_role_trust=template_trust(),
        events_stack_status="SUCCEEDED",
        events_stack_sync="CURRENT",
        reactivation_rule=ForwardingRule(
            state="ENABLED", target_arns=(BUS,), role_arns=(forwarder_role(account_id),)
        ),
    )


def forwarder_role(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/AccessKeyRemediationForwarder"


def test_a_covered_account() -> None:
    report = assess(
        covered_facts(), EXPECTED, member_role="AccessKeyRemediationRole", remediator_role_exists=True
    )
    assert report.covered
    assert report.problems == []


def test_a_missing_remediator_role_makes_every_member_role_useless() -> None:
    report = assess(
        covered_facts(), EXPECTED, member_role="AccessKeyRemediationRole", remediator_role_exists=False
    )
    assert not report.covered
    assert report.problems == [f"{REMEDIATOR} is missing in the security account"]


def test_an_unreachable_account_is_not_covered_and_says_why_once() -> None:
    facts = AccountFacts(
        account_id=MEMBERS[1],
        name="member",
        stack_status="OUTDATED",
        stack_reason="Account suspended",
        events_stack_status="SUCCEEDED",
        unreachable="AccessDenied",
    )
    report = assess(facts, EXPECTED, member_role="AccessKeyRemediationRole", remediator_role_exists=True)
    assert not report.covered
    assert report.findings["recorder"].ok is None
    assert report.problems == [
        "member stack OUTDATED: Account suspended",
        "cannot look into the account: AccessDenied",
    ]


@pytest.mark.parametrize(
    ("sync", "status", "reason"),
    [
        ("OUTDATED", "FAILED", "ResourceLogicalId:DeleteKeysPolicy, AccessDenied"),
        ("OUTDATED", "RUNNING", ""),
        ("OUTDATED", "SKIPPED_SUSPENDED_ACCOUNT", ""),
        ("INOPERABLE", "INOPERABLE", ""),
    ],
)
def test_an_instance_that_is_not_current_is_flagged_as_holding_old_rights(
    sync: str, status: str, reason: str
) -> None:
    facts = covered_facts().model_copy(
        update={"stack_status": status, "stack_sync": sync, "stack_reason": reason}
    )
    report = assess(facts, EXPECTED, member_role="AccessKeyRemediationRole", remediator_role_exists=True)
    assert not report.covered
    assert report.problems == [
        f"member stack {sync} ({status}): not at the StackSet's last update, so its member role may still "
        "hold an earlier mode's rights; akr deploy deploys it again" + (f": {reason}" if reason else "")
    ]


def test_a_current_instance_is_covered() -> None:
    facts = covered_facts().model_copy(update={"stack_sync": "CURRENT"})
    report = assess(facts, EXPECTED, member_role="AccessKeyRemediationRole", remediator_role_exists=True)
    assert report.covered


def test_stack_and_central_findings() -> None:
    assert stack_finding(None, "") == Finding(ok=False, detail="no member stack")
    assert stack_finding(None, "not readable here") == Finding(ok=None, detail="not readable here")
    assert stack_finding("UPDATE_COMPLETE", "").ok is True
    assert central_finding("access-key-remediation", None, remediator_role_exists=False) == Finding(
        ok=False, detail="central stack access-key-remediation is missing in the security account"
    )
    assert central_finding("access-key-remediation", "UPDATE_ROLLBACK_FAILED", True).detail == (
        "central stack access-key-remediation is UPDATE_ROLLBACK_FAILED"
    )
    assert central_finding("access-key-remediation", "CREATE_COMPLETE", False).detail == (
        "the remediator role is missing in the security account"
    )
    assert central_finding("access-key-remediation", "CREATE_COMPLETE", True).ok is True


def test_counts() -> None:
    covered = assess(
        covered_facts(), EXPECTED, member_role="AccessKeyRemediationRole", remediator_role_exists=True
    )
    bare = assess(
        AccountFacts(account_id=MEMBERS[1], name="bare"),
        EXPECTED,
        member_role="AccessKeyRemediationRole",
        remediator_role_exists=True,
    )
    assert count([covered, bare]).model_dump() == {"accounts": 2, "covered": 1, "with_problems": 1}


def test_status_names_the_accounts_it_does_not_check_because_they_are_not_active() -> None:
    suspended = Account(id=MEMBERS[1], name="closed", status="SUSPENDED")
    footprint = Footprint(
        caller_account=MANAGEMENT,
        management_account=MANAGEMENT,
        organization_id=ORGANIZATION,
        delegated_admin=False,
        accounts=(Account(id=MEMBERS[0], name="open", status="ACTIVE"), suspended),
    )
    assert footprint.active_accounts == (footprint.accounts[0],)
    report = assess(
        covered_facts(), EXPECTED, member_role="AccessKeyRemediationRole", remediator_role_exists=True
    )
    result = Status(
        footprint=footprint,
        security_account=SECURITY,
        expected=EXPECTED,
        central=Finding(ok=True, detail="central stack access-key-remediation CREATE_COMPLETE"),
        accounts=(report,),
    )
    payload = status_envelope(result)
    assert payload["status"] == "ok"
    assert payload["result"]["not_active"] == [
        {"account_id": MEMBERS[1], "name": "closed", "state": "SUSPENDED"}
    ]


# -- destroy plan --------------------------------------------------------------------------------------

DEPLOYMENT = Deployment(security_account_id=SECURITY, home_region=REGION)


def deployed(**changes: Any) -> Footprint:
    footprint = Footprint(
        caller_account=MANAGEMENT,
        management_account=MANAGEMENT,
        organization_id=ORGANIZATION,
        delegated_admin=False,
        root_id=ROOT,
        accounts=tuple(Account(id=a, name=a, status="ACTIVE") for a in (MANAGEMENT, SECURITY, *MEMBERS)),
        stackset=StackSetState(
            name="access-key-remediation-member",
            template="",
            parameters={},
            auto_deployment=True,
            instances=tuple(
                InstanceState(account_id=a, region=REGION, status="SUCCEEDED") for a in (SECURITY, *MEMBERS)
            ),
        ),
        management_stack=StackState(name="access-key-remediation-member", status="CREATE_COMPLETE"),
        central_stack=StackState(
            name="access-key-remediation", status="CREATE_COMPLETE", outputs={"AuditTableName": AUDIT}
        ),
        bucket_exists=True,
        audit_tables=(AuditTable(name=AUDIT, deletion_protection=True),),
    )
    return footprint.model_copy(update=changes)


CLEAN = {
    "stackset": None,
    "management_stack": None,
    "central_stack": None,
    "bucket_exists": False,
    "audit_tables": (),
}


def test_destroy_plan_of_a_deployed_organization_keeps_the_audit_log() -> None:
    plan = plan_destroy(DEPLOYMENT, deployed(), delete_audit_log=False)
    assert plan.targets == (ROOT,)
    assert plan.audit_table is None
    assert describe_destroy(plan, DEPLOYMENT, deployed()) == [
        "Would delete the stack instances of StackSet access-key-remediation-member in 3 account(s): "
        f"{SECURITY}, {MEMBERS[0]}, {MEMBERS[1]} (targets {ROOT}; {REGION}; stacks not retained)",
        "Would delete StackSet access-key-remediation-member",
        f"Would delete stack access-key-remediation-member in the management account {MANAGEMENT}",
        f"Would delete stack access-key-remediation in the security account {SECURITY}",
        "Would keep the central stack's state table (exemptions), log group and KMS key "
        "(the template retains them)",
        f"Would empty and delete bucket s3://akr-code-{SECURITY}-{REGION} in the security account",
        f"Would keep the audit table {AUDIT} (the template retains it; --delete-audit-log deletes it)",
    ]


def test_destroy_plan_with_the_audit_log() -> None:
    footprint = deployed(**{**CLEAN, "audit_tables": (AuditTable(name=AUDIT, deletion_protection=True),)})
    plan = plan_destroy(DEPLOYMENT, footprint, delete_audit_log=True)
    assert not plan.deletes_nothing
    assert describe_destroy(plan, DEPLOYMENT, footprint) == [
        f"Would turn off deletion protection on the audit table {AUDIT} in the security account {SECURITY} "
        "and delete it, with every audit record in it"
    ]


def test_destroy_plan_of_a_clean_organization_deletes_nothing() -> None:
    footprint = deployed(**CLEAN)
    plan = plan_destroy(DEPLOYMENT, footprint, delete_audit_log=True)
    assert plan.deletes_nothing
    assert describe_destroy(plan, DEPLOYMENT, footprint) == [
        "Nothing to delete: akr is not deployed in this organization"
    ]


def test_destroy_plan_deletes_instances_by_the_given_targets_in_their_regions() -> None:
    deployment = DEPLOYMENT.model_copy(update={"targets": ("ou-ab12-11111111",)})
    footprint = deployed()
    stackset = footprint.stackset
    assert stackset is not None
    moved = InstanceState(account_id=MEMBERS[0], region="us-east-1", status="SUCCEEDED")
    footprint = footprint.model_copy(
        update={"stackset": stackset.model_copy(update={"instances": (*stackset.instances, moved)})}
    )
    plan = plan_destroy(deployment, footprint, delete_audit_log=False)
    assert plan.targets == ("ou-ab12-11111111",)
    assert plan.regions == (REGION, "us-east-1")


def test_destroy_from_a_delegated_administrator_cannot_see_the_management_stack() -> None:
    footprint = deployed(caller_account=SECURITY, delegated_admin=True, management_stack=None)
    plan = plan_destroy(DEPLOYMENT, footprint, delete_audit_log=False)
    assert plan.call_as == "DELEGATED_ADMIN"
    assert plan.management_stack is None
    assert (
        f"Cannot see the management account {MANAGEMENT} from here: delete stack "
        "access-key-remediation-member there yourself"
    ) in describe_destroy(plan, DEPLOYMENT, footprint)


def test_destroy_is_refused_from_a_member_account() -> None:
    footprint = deployed(caller_account=MEMBERS[0])
    with pytest.raises(PlanError) as raised:
        plan_destroy(DEPLOYMENT, footprint, delete_audit_log=False)
    assert str(raised.value) == (
        f"this is account {MEMBERS[0]}: run akr destroy from the management account {MANAGEMENT} "
        "or from a delegated administrator for CloudFormation StackSets"
    )


def test_destroy_is_refused_for_a_security_account_outside_the_organization() -> None:
    deployment = DEPLOYMENT.model_copy(update={"security_account_id": "999999999999"})
    with pytest.raises(PlanError) as raised:
        plan_destroy(deployment, deployed(), delete_audit_log=False)
    assert str(raised.value) == f"security account 999999999999 is not in organization {ORGANIZATION}"


def test_deleting_the_audit_log_is_refused_when_several_tables_match() -> None:
    tables = (
        AuditTable(name=AUDIT, deletion_protection=True),
        AuditTable(name=AUDIT + "X", deletion_protection=True),
    )
    footprint = deployed(**{**CLEAN, "audit_tables": tables})
    with pytest.raises(PlanError) as raised:
        plan_destroy(DEPLOYMENT, footprint, delete_audit_log=True)
    assert str(raised.value) == (
        f"several audit tables match: {AUDIT}, {AUDIT}X; delete the one you mean with aws dynamodb "
        "delete-table, or keep them all (leave out --delete-audit-log)"
    )
    kept = plan_destroy(DEPLOYMENT, footprint, delete_audit_log=False)
    assert kept.retained_audit_tables == (AUDIT, AUDIT + "X")
    assert kept.deletes_nothing
