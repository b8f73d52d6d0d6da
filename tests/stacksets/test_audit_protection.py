"""The audit table's resource policy and the tables' deletion protection, read from the template.

moto's CloudFormation drops an `AWS::DynamoDB::Table` `ResourcePolicy` (docs: ../shared/aws-facts.md's gap
table), so no moto test can see it: these tests evaluate the policy's statements as IAM would for the
principals that matter (the remediator, akr's operators, any other administrator)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from org_bootstrap.deploy.deployment import Deployment, operator_role_arn
from tests.stacksets.cfn import SECURITY_ACCOUNT_ID, Stack, check_parameter, load

ACCOUNT = SECURITY_ACCOUNT_ID
REMEDIATOR = f"arn:aws:iam::{ACCOUNT}:role/access-key-remediator"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"
SSO_ADMINS = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Administrator"

# Every IAM action that writes an item (transactions are authorized as their Put, Update and Delete parts:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
REWRITES = {
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
}
APPENDS = {"dynamodb:PutItem", "dynamodb:PartiQLInsert"}


def central(writers: str = "") -> Stack:
    return Stack("central", {"AuditWriterRoleArns": writers} if writers else {}, account_id=ACCOUNT)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def arn_like(arn: str, pattern: str) -> bool:
    """IAM's ArnLike: * matches any run of characters, ? one."""
    return (
        re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")).replace(r"\?", "."), arn)
        is not None
    )


def denied(stack: Stack, principal: str, action: str) -> bool:
    """Whether a Deny statement of the audit table's policy applies to `principal` doing `action`: an
    explicit deny wins over every allow of the principal's own policies."""
    document = stack.resources["AuditTable"]["Properties"]["ResourcePolicy"]["PolicyDocument"]
    for statement in document["Statement"]:
        assert statement["Effect"] == "Deny", "the policy only denies: access is granted by IAM"
        assert statement["Principal"] == "*"
        assert statement["Resource"] == "*", "the table, its indexes and its stream"
        if action not in as_list(statement["Action"]):
            continue
        condition = statement.get("Condition")
        if condition is None:
            return True
        assert set(condition) == {"ArnNotLike"}
        assert set(condition["ArnNotLike"]) == {"aws:PrincipalArn"}
        if not any(arn_like(principal, p) for p in as_list(condition["ArnNotLike"]["aws:PrincipalArn"])):
            return True
    return False


@pytest.mark.parametrize("action", sorted(REWRITES))
@pytest.mark.parametrize("principal", [REMEDIATOR, OPERATOR, ADMIN])
def test_nobody_may_update_or_delete_a_record(principal: str, action: str) -> None:
    assert denied(central(OPERATOR), principal, action)


@pytest.mark.parametrize("action", sorted(APPENDS))
def test_only_the_remediator_appends_when_no_operator_role_is_named(action: str) -> None:
    stack = central()
    assert not denied(stack, REMEDIATOR, action)
    assert denied(stack, OPERATOR, action)
    assert denied(stack, ADMIN, action)


@pytest.mark.parametrize("action", sorted(APPENDS))
def test_the_named_operator_roles_append_too_and_nobody_else(action: str) -> None:
    stack = central(f"{OPERATOR},{SSO_ADMINS}")
    assert not denied(stack, REMEDIATOR, action)
    assert not denied(stack, OPERATOR, action)
    assert not denied(
        stack,
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd",
        action,
    )
    assert denied(stack, ADMIN, action)
    assert denied(stack, f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole2", action)
    assert denied(stack, "arn:aws:iam::111111111111:role/OrganizationAccountAccessRole", action)


def test_the_remediator_named_in_the_policy_is_the_role_the_functions_run_as() -> None:
    stack = central()
    role = stack.resolve({"Fn::GetAtt": ["RemediatorRole", "Arn"]})
    assert role == REMEDIATOR
    for function in ("RemediatorFunction", "WorkerFunction"):
        assert stack.resources[function]["Properties"]["Role"] == role
        assert not denied(stack, role, "dynamodb:PutItem")


def test_what_the_remediator_may_do_on_the_audit_table_the_policy_leaves_it() -> None:
    stack = central()
    audit = stack.resolve({"Fn::GetAtt": ["AuditTable", "Arn"]})
    statements = [
        s
        for p in stack.resources["RemediatorRole"]["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if any(str(r).startswith(audit) for r in as_list(s["Resource"]))
    ]
    granted = {a for s in statements for a in as_list(s["Action"])}
    assert granted == {"dynamodb:PutItem", "dynamodb:Query"}
    assert not any(denied(stack, REMEDIATOR, action) for action in granted)


@pytest.mark.parametrize(
    "value",
    [
        OPERATOR,
        f"{OPERATOR},{SSO_ADMINS}",
        "arn:aws-us-gov:iam::123456789012:role/path/Operator",
        ",".join(f"arn:aws:iam::{ACCOUNT}:role/r{n}" for n in range(10)),
    ],
)
def test_audit_writer_role_arns_accepts_role_arns(value: str) -> None:
    check_parameter("AuditWriterRoleArns", load("central")["Parameters"]["AuditWriterRoleArns"], value)


@pytest.mark.parametrize(
    "value",
    [
        "*",
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        f"arn:aws:iam::{ACCOUNT}:root",
        "arn:aws:iam::*:role/Operator",
        f"{OPERATOR},",
        f"{OPERATOR} ,{SSO_ADMINS}",
        ",".join(f"arn:aws:iam::{ACCOUNT}:role/r{n}" for n in range(11)),
    ],
)
def test_audit_writer_role_arns_refuses_anything_but_role_arns_of_an_account(value: str) -> None:
    with pytest.raises(ValueError, match="does not match"):
        check_parameter("AuditWriterRoleArns", load("central")["Parameters"]["AuditWriterRoleArns"], value)


def test_the_role_akr_deploy_names_is_accepted_and_may_append() -> None:
    deployment = Deployment(security_account_id=ACCOUNT, home_region="eu-west-1")
    arn = operator_role_arn(deployment, "aws")
    check_parameter("AuditWriterRoleArns", load("central")["Parameters"]["AuditWriterRoleArns"], arn)
    assert not denied(central(arn), arn, "dynamodb:PutItem")


@pytest.mark.parametrize("table", ["AuditTable", "StateTable"])
def test_both_tables_are_protected_from_deletion_and_recoverable(table: str) -> None:
    template = load("central")["Resources"][table]
    assert (template["DeletionPolicy"], template["UpdateReplacePolicy"]) == ("Retain", "Retain")
    properties = central().resources[table]["Properties"]
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
