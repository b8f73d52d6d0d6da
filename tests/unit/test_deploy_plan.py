"""`plan_deploy` and `describe` are pure functions of (Deployment, Observed): tables of organizations and
the plan each one gets, without AWS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from org_bootstrap.deploy.code_check import lambda_sha256
from org_bootstrap.deploy.deployment import (
    CENTRAL_TEMPLATE,
    MEMBER_TEMPLATE,
    SETTINGS_DIGEST,
    Deployment,
    DeploymentPolicy,
    ManagementAccount,
    central_parameters,
    member_parameters,
    resolve_policy,
    settings_digest,
    template_parameters,
)
from org_bootstrap.deploy.observed import Account, InstanceState, Observed, StackSetState, StackState
from org_bootstrap.deploy.plan import Change, Plan, PlanError, plan_deploy
from org_bootstrap.deploy.plan_lines import describe, warnings
from org_bootstrap.deploy.regions import HOME_REGIONS, home_region_problem
from org_bootstrap.deploy.snapstart import template_defaults
from org_bootstrap.deploy.status import expected_for
from remediator.policy import Mode, Thresholds
from tests.fixtures import secured_bucket
from tests.stacksets.cfn import load

MANAGEMENT = "111111111111"
SECURITY = "222222222222"
MEMBERS = ("333333333333", "444444444444")
NEWCOMER = "555555555555"
ORGANIZATION = "o-abcdefghij"
ROOT = "r-ab12"
OU_A = "ou-ab12-11111111"
OU_B = "ou-ab12-22222222"
REGION = "eu-west-1"
GLOBAL_EVENTS_REGION = "us-east-1"
CODE_KEY = "remediator/0123456789abcdef0123.zip"
OLD_CODE_KEY = "remediator/fedcba9876543210fedc.zip"
CODE_SHA256 = lambda_sha256("01" * 32)
# Stand-ins for the templates: what the planner reads of them is their text and their parameters' names.
CENTRAL = (
    "AWSTemplateFormatVersion: '2010-09-09'\nDescription: central\n"
    "# The remediator's role reads the state table with dynamodb:PartiQLSelect.\nParameters:\n"
    "  Mode:\n    Type: String\n  ForwarderRoleName:\n    Type: String\n"
    "  LogLevel:\n    Type: String\n    Default: INFO\n"
    "  NotificationEmail:  # the operator's\n    Type: String\n    Default: ''\n"
)
MEMBER = (
    "AWSTemplateFormatVersion: '2010-09-09'\nDescription: member\nParameters:\n"
    "  MaxAccessKeyAge:\n    Type: Number\n  ConfigRuleFrequency:\n    Type: String\n"
)
BUS_ARN = f"arn:aws:events:{REGION}:{SECURITY}:event-bus/access-key-remediation"
BUCKET = f"akr-code-{SECURITY}-{REGION}"
WRITER = f"arn:aws:iam::{SECURITY}:role/OrganizationAccountAccessRole"
NEW_BUCKET_POLICY = (
    f"Would set the policy of bucket s3://{BUCKET}: requests without TLS denied; object writes denied to "
    f"every principal but {WRITER}"
)
NOTHING_TO_CHANGE = "Nothing to change: the organization is up to date"
CANNOT_REACH = (
    f"Cannot reach the management account {MANAGEMENT} from here: deploy stacksets/member.yaml there "
    "as a plain stack with Mode report (StackSets never deploy to it)"
)
FIRST_DEPLOY_MANAGEMENT = (
    f"The management account {MANAGEMENT}: report (a read-only member role; its keys are reported, never "
    "changed): the default of a first deploy; --management-account off|report|enforce chooses (SCPs do not "
    "apply there)"
)


def deployment(**changes: Any) -> Deployment:
    return Deployment.model_validate({"security_account_id": SECURITY, "home_region": REGION, **changes})


def fresh(**changes: Any) -> Observed:
    """An organization with nothing deployed, seen from the management account."""
    accounts = [
        Account(id=account, name=name, status="ACTIVE")
        for account, name in (
            (MANAGEMENT, "management"),
            (SECURITY, "security"),
            (MEMBERS[0], "member-1"),
            (MEMBERS[1], "member-2"),
        )
    ]
    return Observed.model_validate(
        {
            "caller_account": MANAGEMENT,
            "management_account": MANAGEMENT,
            "organization_id": ORGANIZATION,
            "root_id": ROOT,
            "delegated_admin": False,
            "trusted_access": True,
            "accounts": accounts,
            "target_accounts": (SECURITY, *MEMBERS),
            "code_writer": WRITER,
            **changes,
        }
    )


def up_to_date(desired: Deployment | None = None, **changes: Any) -> Observed:
    """What a successful deploy of `desired` (default: `deployment()`) leaves behind: the management
    account in report, a first deploy's default, unless `desired` says otherwise."""
    desired = desired or deployment()
    policy = resolve_policy(desired, central=None, member=None)
    management = desired.management_account or ManagementAccount.REPORT
    central = central_parameters(
        desired,
        policy,
        organization_id=ORGANIZATION,
        code_key=CODE_KEY,
        code_sha256=CODE_SHA256,
        partition="aws",
        verify_exemptions=True,
        management_account=MANAGEMENT,
        management_mode=management,
    )
    central[SETTINGS_DIGEST] = ""  # SnapStart off
    member = member_parameters(desired, policy, organization_id=ORGANIZATION, bus_arn=BUS_ARN)
    on_management = member if management is ManagementAccount.ENFORCE else {**member, "Mode": "report"}
    observed = fresh(
        **secured_bucket(SECURITY, REGION),
        code_uploaded=True,
        central_stack=StackState(
            name=desired.central_stack_name, status="CREATE_COMPLETE", parameters=central, template=CENTRAL
        ),
        stackset=StackSetState(
            name=desired.stackset_name,
            template=MEMBER,
            parameters=member,
            auto_deployment=True,
            # The home region's instances, and us-east-1's with the reactivation forwarding rule.
            instances=tuple(
                InstanceState(account_id=account, region=region, status="SUCCEEDED")
                for region in (REGION, GLOBAL_EVENTS_REGION)
                for account in (SECURITY, *MEMBERS)
            ),
        ),
        management_stack=StackState(
            name=desired.management_stack_name,
            status="UPDATE_COMPLETE",
            parameters=on_management,
            template=MEMBER,
        )
        if management is not ManagementAccount.OFF
        else None,
    )
    return observed.model_copy(update=changes)


def plan(desired: Deployment, observed: Observed) -> Plan:
    return plan_deploy(
        desired,
        observed,
        code_key=CODE_KEY,
        code_sha256=CODE_SHA256,
        central_template=CENTRAL,
        member_template=MEMBER,
    )


def lines(desired: Deployment, observed: Observed) -> list[str]:
    return describe(plan(desired, observed), desired, observed)


# -- where it runs ----------------------------------------------------------------------------------


def test_management_account_calls_as_self_and_deploys_its_own_stack() -> None:
    result = plan(deployment(), fresh())
    assert result.call_as == "SELF"
    assert result.management is Change.CREATE


def test_management_account_that_is_also_listed_as_delegated_admin_still_calls_as_self() -> None:
    assert plan(deployment(), fresh(delegated_admin=True)).call_as == "SELF"


def test_delegated_admin_calls_as_delegated_admin_and_cannot_reach_the_management_account() -> None:
    observed = fresh(caller_account=MEMBERS[0], delegated_admin=True)
    result = plan(deployment(), observed)
    assert result.call_as == "DELEGATED_ADMIN"
    assert result.management is None
    assert describe(result, deployment(), observed)[-2:] == [CANNOT_REACH, FIRST_DEPLOY_MANAGEMENT]


def test_up_to_date_from_a_delegated_admin_still_reminds_of_the_management_account() -> None:
    observed = up_to_date(caller_account=MEMBERS[0], delegated_admin=True, management_stack=None)
    result = plan(deployment(), observed)
    assert result.changes_nothing
    assert describe(result, deployment(), observed) == [CANNOT_REACH, NOTHING_TO_CHANGE]


@pytest.mark.parametrize(
    ("observed", "desired", "message"),
    [
        pytest.param(
            fresh(caller_account=MEMBERS[0]),
            deployment(),
            f"this is account {MEMBERS[0]}: run akr deploy from the management account {MANAGEMENT} "
            "or from a delegated administrator for CloudFormation StackSets",
            id="neither management nor delegated admin",
        ),
        pytest.param(
            fresh(caller_account=MEMBERS[0]),
            deployment(security_account_id="999999999999"),
            f"this is account {MEMBERS[0]}: run akr deploy from the management account {MANAGEMENT} "
            "or from a delegated administrator for CloudFormation StackSets",
            id="where it runs is checked first",
        ),
        pytest.param(
            fresh(),
            deployment(security_account_id="999999999999"),
            f"security account 999999999999 is not in organization {ORGANIZATION}",
            id="security account missing",
        ),
        pytest.param(
            fresh(
                accounts=(
                    Account(id=MANAGEMENT, name="management", status="ACTIVE"),
                    Account(id=SECURITY, name="security", status="SUSPENDED"),
                )
            ),
            deployment(),
            f"security account {SECURITY} is SUSPENDED, not ACTIVE",
            id="security account suspended",
        ),
        pytest.param(
            fresh(
                accounts=(
                    Account(id=MANAGEMENT, name="management", status="ACTIVE"),
                    Account(id=SECURITY, name="security", status="PENDING_CLOSURE"),
                )
            ),
            deployment(),
            f"security account {SECURITY} is PENDING_CLOSURE, not ACTIVE",
            id="security account closing",
        ),
        pytest.param(
            fresh(caller_account=MEMBERS[0], delegated_admin=True, trusted_access=False),
            deployment(),
            "trusted access between CloudFormation StackSets and Organizations is off; "
            "only the management account can turn it on",
            id="trusted access off from a delegated admin",
        ),
    ],
)
def test_refusals(observed: Observed, desired: Deployment, message: str) -> None:
    with pytest.raises(PlanError) as raised:
        plan(desired, observed)
    assert str(raised.value) == message


def test_trusted_access_off_from_the_management_account_is_enabled_first() -> None:
    result = plan(deployment(), up_to_date(trusted_access=False))
    assert result.enable_trusted_access
    assert not result.changes_nothing
    assert describe(result, deployment(), up_to_date(trusted_access=False)) == [
        "Would enable trusted access between CloudFormation StackSets and AWS Organizations"
    ]


# -- a fresh organization and an up-to-date one ----------------------------------------------------


def test_fresh_organization_gets_every_create_line_in_order() -> None:
    observed = fresh(trusted_access=False)
    result = plan(deployment(), observed)
    assert (result.central, result.stackset, result.management) == (Change.CREATE,) * 3
    assert result.missing_instances == (SECURITY, *MEMBERS)
    assert describe(result, deployment(), observed) == [
        "Would enable trusted access between CloudFormation StackSets and AWS Organizations",
        f"Would create bucket s3://{BUCKET} in the security account {SECURITY}",
        NEW_BUCKET_POLICY,
        f"Would upload the remediator code to s3://{BUCKET}/{CODE_KEY}",
        f"Would create stack access-key-remediation in the security account {SECURITY}",
        "Would create StackSet access-key-remediation-member (service-managed, automatic deployment) "
        f"for {ROOT} in {REGION}, {GLOBAL_EVENTS_REGION}",
        f"Would deploy the member stack to 3 account(s): {SECURITY}, {MEMBERS[0]}, {MEMBERS[1]}",
        f"Would create stack access-key-remediation-member in the management account {MANAGEMENT}",
        FIRST_DEPLOY_MANAGEMENT,
    ]


def test_fresh_organization_from_a_delegated_admin_ends_with_the_management_account_reminder() -> None:
    observed = fresh(caller_account=MEMBERS[0], delegated_admin=True)
    assert lines(deployment(), observed) == [
        f"Would create bucket s3://{BUCKET} in the security account {SECURITY}",
        NEW_BUCKET_POLICY,
        f"Would upload the remediator code to s3://{BUCKET}/{CODE_KEY}",
        f"Would create stack access-key-remediation in the security account {SECURITY}",
        "Would create StackSet access-key-remediation-member (service-managed, automatic deployment) "
        f"for {ROOT} in {REGION}, {GLOBAL_EVENTS_REGION}",
        f"Would deploy the member stack to 3 account(s): {SECURITY}, {MEMBERS[0]}, {MEMBERS[1]}",
        CANNOT_REACH,
        FIRST_DEPLOY_MANAGEMENT,
    ]


def test_up_to_date_organization_changes_nothing_in_a_single_line() -> None:
    result = plan(deployment(), up_to_date())
    assert result.changes_nothing
    assert (result.central, result.stackset, result.management) == (Change.NONE,) * 3
    assert result.missing_instances == ()
    assert describe(result, deployment(), up_to_date()) == [NOTHING_TO_CHANGE]


def test_new_code_is_uploaded_and_rolls_the_central_stack() -> None:
    central = up_to_date().central_stack
    assert central is not None
    stale = central.model_copy(update={"parameters": {**central.parameters, "CodeKey": OLD_CODE_KEY}})
    observed = up_to_date(code_uploaded=False, central_stack=stale)
    assert lines(deployment(), observed) == [
        f"Would upload the remediator code to s3://{BUCKET}/{CODE_KEY}",
        f"Would update stack access-key-remediation in the security account {SECURITY}: new code",
    ]


def test_an_update_of_a_central_stack_whose_bus_admitted_any_principal_says_what_changes() -> None:
    central = up_to_date().central_stack
    assert central is not None
    older = central.model_copy(
        update={"template": CENTRAL.replace("  ForwarderRoleName:\n    Type: String\n", "")}
    )
    assert lines(deployment(), up_to_date(central_stack=older)) == [
        f"Would update stack access-key-remediation in the security account {SECURITY}: new template",
        "The central bus will admit events only from the member stacks' forwarder roles, which get a fixed "
        "name (AccessKeyRemediationForwarder): until the StackSet update has replaced an account's forwarder "
        "role, that account's compliance changes are refused at the bus, and the next sweep covers them",
    ]


def test_an_update_of_a_central_stack_whose_role_queried_the_state_table_says_what_changes() -> None:
    central = up_to_date().central_stack
    assert central is not None
    older = central.model_copy(
        update={"template": CENTRAL.replace("dynamodb:PartiQLSelect", "dynamodb:Query")}
    )
    assert lines(deployment(), up_to_date(central_stack=older)) == [
        f"Would update stack access-key-remediation in the security account {SECURITY}: new template",
        "The remediator reads an account's exemptions and key lifecycles in one PartiQL SELECT instead of "
        "two queries: its role trades dynamodb:Query on the state table for dynamodb:PartiQLSelect (a "
        "statement that would scan the table is denied); the table's items stay as they are. An event "
        "handled while the update is under way may fail that read: it is recorded as failed, nothing is "
        "changed, and the next sweep covers it",
    ]


def test_an_update_of_a_stack_with_the_older_log_groups_says_they_move() -> None:
    central = up_to_date().central_stack
    assert central is not None
    # The remediator's log group as the central template named it before.
    template = CENTRAL + "Resources:\n  RemediatorLogGroup:\n    Type: AWS::Logs::LogGroup\n    Properties:\n"
    template += "      LogGroupName: !Sub /aws/lambda/${AWS::StackName}-remediator\n"
    older = central.model_copy(
        update={"parameters": {**central.parameters, "CodeKey": OLD_CODE_KEY}, "template": template}
    )
    assert lines(deployment(), up_to_date(central_stack=older)) == [
        f"Would update stack access-key-remediation in the security account {SECURITY}: new code, "
        "new template",
        "The remediator's and the worker's logs move to new log groups, "
        "/aws/lambda/access-key-remediation-remediator-<id> and -worker-<id> (<id>: the stack id's first "
        "part); /aws/lambda/access-key-remediation-remediator and -worker are kept, with the logs they hold",
    ]


# -- drift: what the organization has against what is asked ----------------------------------------


def _central(observed: Observed, **changes: Any) -> Observed:
    assert observed.central_stack is not None
    return observed.model_copy(update={"central_stack": observed.central_stack.model_copy(update=changes)})


def _management(observed: Observed, **changes: Any) -> Observed:
    assert observed.management_stack is not None
    stack = observed.management_stack.model_copy(update=changes)
    return observed.model_copy(update={"management_stack": stack})


def _stackset(observed: Observed, **changes: Any) -> Observed:
    assert observed.stackset is not None
    return observed.model_copy(update={"stackset": observed.stackset.model_copy(update=changes)})


def _parameters(observed: Observed, where: str, **values: str) -> Observed:
    current = getattr(observed, where)
    assert current is not None
    updated = {k: v for k, v in {**current.parameters, **values}.items() if v != "<absent>"}
    return observed.model_copy(update={where: current.model_copy(update={"parameters": updated})})


N, C, U, R = Change.NONE, Change.CREATE, Change.UPDATE, Change.RECREATE
Drift = Callable[[Observed], Observed]


@pytest.mark.parametrize(
    ("drift", "central", "stackset", "management", "missing"),
    [
        pytest.param(lambda o: o, N, N, N, (), id="up to date"),
        pytest.param(
            lambda o: _central(o, template=CENTRAL + "  X: 1\n"), U, N, N, (), id="central template"
        ),
        pytest.param(
            lambda o: _central(o, template=f"\n\n{CENTRAL}\n  "), N, N, N, (), id="central whitespace only"
        ),
        # The deployed policy is kept, not drift: the deploy asks for no mode, no limits, no grace days.
        # The central stack's mode is the one kept, and the member role follows it.
        pytest.param(
            lambda o: _parameters(o, "central_stack", Mode="report"), N, U, N, (), id="central mode kept"
        ),
        pytest.param(
            lambda o: _parameters(o, "central_stack", MaxUnusedDays="45"),
            N,
            U,
            U,
            (),
            id="central threshold kept and brought to the members",
        ),
        pytest.param(
            lambda o: _parameters(o, "central_stack", CodeKey=OLD_CODE_KEY),
            U,
            N,
            N,
            (),
            id="central code key",
        ),
        pytest.param(
            lambda o: _parameters(o, "central_stack", ProtectedUserPath="<absent>"),
            U,
            N,
            N,
            (),
            id="central parameter missing",
        ),
        pytest.param(
            lambda o: _parameters(o, "central_stack", GraceDays="7"),
            N,
            N,
            N,
            (),
            id="central grace days kept",
        ),
        pytest.param(
            lambda o: _parameters(o, "central_stack", LogLevel="DEBUG", LogRetentionDays="30"),
            N,
            N,
            N,
            (),
            id="template defaults we do not pass are not drift",
        ),
        pytest.param(
            lambda o: _central(o, status="UPDATE_ROLLBACK_COMPLETE"),
            N,
            N,
            N,
            (),
            id="central rolled back update",
        ),
        pytest.param(
            lambda o: _central(o, status="ROLLBACK_COMPLETE"), R, N, N, (), id="central ROLLBACK_COMPLETE"
        ),
        pytest.param(
            lambda o: _central(o, status="ROLLBACK_FAILED"), R, N, N, (), id="central ROLLBACK_FAILED"
        ),
        pytest.param(
            lambda o: o.model_copy(update={"central_stack": None}), C, N, N, (), id="central deleted"
        ),
        pytest.param(
            lambda o: _stackset(o, template=MEMBER + "# changed\n"), N, U, N, (), id="member template"
        ),
        pytest.param(
            lambda o: _parameters(o, "stackset", MaxAccessKeyAge="30"),
            N,
            U,
            N,
            (),
            id="stackset threshold follows the central one",
        ),
        pytest.param(
            lambda o: _parameters(o, "stackset", CreateConfigRecorder="true"),
            N,
            N,
            U,
            (),
            id="stackset recorder kept and brought to the management account",
        ),
        pytest.param(lambda o: _stackset(o, auto_deployment=False), N, U, N, (), id="auto deployment off"),
        pytest.param(
            lambda o: _stackset(o, auto_deployment=None), N, N, N, (), id="auto deployment unreported"
        ),
        pytest.param(
            lambda o: _management(o, template=MEMBER + "# changed\n"), N, N, U, (), id="management template"
        ),
        pytest.param(
            lambda o: _parameters(o, "management_stack", MaxCredentialUsageAge="45"),
            N,
            N,
            U,
            (),
            id="management threshold follows the central one",
        ),
        pytest.param(
            lambda o: _management(o, status="ROLLBACK_COMPLETE"),
            N,
            N,
            R,
            (),
            id="management ROLLBACK_COMPLETE",
        ),
        pytest.param(
            lambda o: o.model_copy(update={"target_accounts": (*o.target_accounts, NEWCOMER)}),
            N,
            N,
            N,
            (NEWCOMER,),
            id="account joined a target",
        ),
        pytest.param(
            lambda o: _stackset(o, instances=()),
            N,
            N,
            N,
            (SECURITY, *MEMBERS),
            id="stackset without instances",
        ),
        pytest.param(
            lambda o: _stackset(
                o,
                instances=tuple(
                    InstanceState(account_id=MEMBERS[1], region=r, status="SUCCEEDED")
                    for r in (REGION, GLOBAL_EVENTS_REGION)
                ),
            ),
            N,
            N,
            N,
            (SECURITY, MEMBERS[0]),
            id="missing in target order",
        ),
        pytest.param(
            lambda o: o.model_copy(update={"target_accounts": MEMBERS[1:]}),
            N,
            N,
            N,
            (),
            id="instances outside the targets are not missing",
        ),
    ],
)
def test_drift_table(
    drift: Drift, central: Change, stackset: Change, management: Change, missing: tuple[str, ...]
) -> None:
    result = plan(deployment(), drift(up_to_date()))
    assert (result.central, result.stackset, result.management) == (central, stackset, management)
    assert result.missing_instances == missing
    assert result.changes_nothing is (central == stackset == management == N and not missing)


@pytest.mark.parametrize(
    ("changes", "central", "stackset", "management"),
    [
        pytest.param(
            {"mode": "report"}, U, U, N, id="mode reaches the member role, not the management's in report"
        ),
        pytest.param({"cis": "1.4"}, U, U, U, id="cis 1.4 lowers the unused limit everywhere"),
        pytest.param({"cis": "1.2"}, N, N, N, id="cis 1.2 equals the defaults"),
        pytest.param({"max_key_age_days": 30}, U, U, U, id="rotation limit everywhere"),
        pytest.param({"protected_user_path": "/break-glass/"}, U, U, U, id="protected path everywhere"),
        pytest.param({"create_config_recorder": True}, N, U, U, id="recorder is member only"),
    ],
)
def test_changed_settings_update_the_stacks_that_carry_them(
    changes: dict[str, Any], central: Change, stackset: Change, management: Change
) -> None:
    result = plan(deployment(**changes), up_to_date())
    assert (result.central, result.stackset, result.management) == (central, stackset, management)
    assert result.missing_instances == ()


def test_drift_lines_name_each_stack_and_where_it_is() -> None:
    observed = _management(
        _stackset(_central(up_to_date(), status="ROLLBACK_COMPLETE"), auto_deployment=False),
        template="old",
    )
    assert lines(deployment(), observed) == [
        f"Would delete the failed stack access-key-remediation in the security account {SECURITY} "
        "and create it again",
        "Would update StackSet access-key-remediation-member (service-managed, automatic deployment) "
        f"for {ROOT} in {REGION}, {GLOBAL_EVENTS_REGION}",
        f"Would update stack access-key-remediation-member in the management account {MANAGEMENT}: "
        "new template",
        # A central stack that never came up holds no choice: a first deploy's default.
        FIRST_DEPLOY_MANAGEMENT,
    ]


def test_missing_instances_line_counts_the_accounts() -> None:
    observed = up_to_date(target_accounts=(SECURITY, *MEMBERS, NEWCOMER))
    assert lines(deployment(), observed) == [f"Would deploy the member stack to 1 account(s): {NEWCOMER}"]


# -- targets and parameters ------------------------------------------------------------------------


def test_arns_are_in_the_callers_partition() -> None:
    result = plan(deployment(home_region="us-gov-west-1"), fresh(partition="aws-us-gov"))
    bus = f"arn:aws-us-gov:events:us-gov-west-1:{SECURITY}:event-bus/access-key-remediation"
    assert (result.bus_arn, result.member_parameters["CentralEventBusArn"]) == (bus, bus)
    expected = expected_for(deployment(home_region="us-gov-west-1"), ORGANIZATION, "aws-us-gov")
    assert (expected.bus_arn, expected.remediator_role_arn) == (
        bus,
        f"arn:aws-us-gov:iam::{SECURITY}:role/access-key-remediator",
    )
    assert result.central_parameters["AuditWriterRoleArns"] == (
        f"arn:aws-us-gov:iam::{SECURITY}:role/OrganizationAccountAccessRole"
    )


def test_the_security_role_given_is_the_one_that_may_write_audit_records() -> None:
    result = plan(deployment(security_role="SecurityAudit"), fresh())
    assert result.central_parameters["AuditWriterRoleArns"] == f"arn:aws:iam::{SECURITY}:role/SecurityAudit"


def older_central(**observed: Any) -> Observed:
    """An organization deployed before the audit table's resource policy and exemption verification."""
    central = up_to_date().central_stack
    assert central is not None
    dropped = {"AuditWriterRoleArns", "VerifyExemptions"}
    older = central.model_copy(
        update={"parameters": {k: v for k, v in central.parameters.items() if k not in dropped}}
    )
    return up_to_date(central_stack=older, **observed)


WRITERS = f"arn:aws:iam::{SECURITY}:role/OrganizationAccountAccessRole"
POLICY_NOTE = (
    "The audit table gets a resource policy: no principal may update or delete a record any more, and "
    f"only the remediator's role and {WRITERS} may append one (akr run as another role in the security "
    "account can no longer write audit records); the state table gets deletion protection"
)


def test_an_upgrade_without_unlinked_exemptions_turns_verification_on_and_says_what_changes() -> None:
    assert lines(deployment(), older_central()) == [
        f"Would update stack access-key-remediation in the security account {SECURITY}: AuditWriterRoleArns "
        f"(not set) -> {WRITERS}, VerifyExemptions (not set) -> true",
        "From now on the remediator honours an exemption only with its matching exempt-add audit record "
        "(every exemption in force has one)",
        POLICY_NOTE,
    ]


UNLINKED = (f"{MEMBERS[0]} breakglass#*", f"{MEMBERS[1]} *#*")


def test_an_upgrade_with_unlinked_exemptions_keeps_verification_off_and_lists_them() -> None:
    observed = older_central(unlinked_exemptions=UNLINKED)
    result = plan(deployment(), observed)
    assert result.central_parameters["VerifyExemptions"] == "false"
    assert lines(deployment(), observed) == [
        f"Would update stack access-key-remediation in the security account {SECURITY}: AuditWriterRoleArns "
        f"(not set) -> {WRITERS}, VerifyExemptions (not set) -> false",
        POLICY_NOTE,
        f"Exemption verification stays off: 2 exemption(s) in force have no exempt-add audit record "
        f"({MEMBERS[0]} breakglass#*, {MEMBERS[1]} *#*); link them with akr exempt relink, then deploy again",
    ]


def test_once_the_exemptions_are_relinked_the_next_deploy_turns_verification_on() -> None:
    deployed = up_to_date().central_stack
    assert deployed is not None
    waiting = _central(up_to_date(), parameters={**deployed.parameters, "VerifyExemptions": "false"})
    assert plan(deployment(), waiting).central_parameters["VerifyExemptions"] == "true"
    assert lines(deployment(), waiting) == [
        f"Would update stack access-key-remediation in the security account {SECURITY}: VerifyExemptions "
        "false -> true",
        "From now on the remediator honours an exemption only with its matching exempt-add audit record "
        "(every exemption in force has one)",
    ]


def test_verification_once_on_is_never_turned_off_and_a_new_deployment_starts_with_it() -> None:
    # An exemption written since without its record is exactly what verification ignores.
    assert (
        plan(deployment(), up_to_date(unlinked_exemptions=UNLINKED)).central_parameters["VerifyExemptions"]
        == "true"
    )
    assert plan(deployment(), fresh(unlinked_exemptions=UNLINKED)).central_parameters["VerifyExemptions"] == (
        "true"
    )


# -- the home region: where Config records IAM users and offers both rules (regions.py cites the pages) --

# Launched for Config after February 2022: no global IAM recording, no IAM_USER_UNUSED_CREDENTIALS_CHECK.
LATER = (
    "ap-south-2",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-east-2",
    "ca-west-1",
    "eu-central-2",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "mx-central-1",
)


@pytest.mark.parametrize(
    "region", ["us-east-1", "eu-west-1", "ap-southeast-3", "us-gov-west-1", "cn-north-1"]
)
def test_regions_config_served_before_february_2022_can_be_home(region: str) -> None:
    assert home_region_problem(region) is None


@pytest.mark.parametrize("region", [*LATER, "xx-nowhere-1"])
def test_later_and_unknown_regions_are_refused_by_the_plan(region: str) -> None:
    assert region not in HOME_REGIONS
    with pytest.raises(PlanError) as raised:
        plan(deployment(home_region=region), fresh())
    assert str(raised.value).startswith(
        f"--home-region {region}: AWS Config cannot record AWS::IAM::User there (only in regions where "
        "Config was available before February 2022) or lacks the access-key rules, so no user would ever "
        "be evaluated; choose one of af-south-1, ap-east-1, "
    )


def test_targets_default_to_the_root() -> None:
    assert plan(deployment(), fresh()).targets == (ROOT,)


def test_explicit_targets_are_kept_in_order() -> None:
    desired = deployment(targets=(OU_B, OU_A))
    result = plan(desired, fresh())
    assert result.targets == (OU_B, OU_A)
    assert (
        "Would create StackSet access-key-remediation-member (service-managed, automatic deployment) "
        f"for {OU_B}, {OU_A} in {REGION}, {GLOBAL_EVENTS_REGION}"
    ) in describe(result, desired, fresh())


def test_targets_must_be_roots_or_ous() -> None:
    with pytest.raises(ValidationError, match="neither a root id"):
        deployment(targets=(MEMBERS[0],))


@pytest.mark.parametrize(
    ("settings", "max_key_age", "max_unused"),
    [
        pytest.param({}, "90", "90", id="defaults"),
        pytest.param({"cis": "1.2"}, "90", "90", id="cis 1.2"),
        pytest.param({"cis": "1.4"}, "90", "45", id="cis 1.4"),
        pytest.param({"cis": "3.0"}, "90", "45", id="cis 3.0"),
        pytest.param({"cis": "5.0"}, "90", "45", id="cis 5.0"),
        pytest.param({"max_key_age_days": 30, "max_unused_days": 60}, "30", "60", id="explicit"),
        pytest.param({"cis": "1.4", "max_key_age_days": 30}, "30", "45", id="explicit rotation over cis"),
        pytest.param({"cis": "1.2", "max_unused_days": 30}, "90", "30", id="explicit unused over cis"),
    ],
)
def test_cis_presets_and_explicit_limits_reach_both_templates(
    settings: dict[str, Any], max_key_age: str, max_unused: str
) -> None:
    result = plan(deployment(**settings), fresh())
    assert (result.central_parameters["MaxKeyAgeDays"], result.central_parameters["MaxUnusedDays"]) == (
        max_key_age,
        max_unused,
    )
    assert (
        result.member_parameters["MaxAccessKeyAge"],
        result.member_parameters["MaxCredentialUsageAge"],
    ) == (max_key_age, max_unused)


def test_default_parameters_in_full() -> None:
    result = plan(deployment(), fresh())
    assert result.bus_arn == BUS_ARN
    assert result.code_key == CODE_KEY
    assert result.central_parameters == {
        "OrganizationId": ORGANIZATION,
        "RuleNamePrefixes": "akr-",
        "MemberRoleName": "AccessKeyRemediationRole",
        "RemediatorRoleName": "access-key-remediator",
        "HomeRegion": REGION,
        "Mode": "delete",
        "MaxKeyAgeDays": "90",
        "MaxUnusedDays": "90",
        "CodeBucket": BUCKET,
        "CodeKey": CODE_KEY,
        "CodeObjectVersion": "",
        "CodeSha256": CODE_SHA256,
        "SettingsDigest": "",  # SnapStart off: no published version to name
        "ProtectedUserPath": "",
        "GraceDays": "14",
        "WarnDaysBefore": "0",
        "ReservedConcurrency": "",
        "AuditWriterRoleArns": f"arn:aws:iam::{SECURITY}:role/OrganizationAccountAccessRole",
        "VerifyExemptions": "true",
        "ManagementAccountId": MANAGEMENT,
        "ManagementAccountMode": "report",
        "MaxActionsPerAccount": "30",
        "MaxActionsPerDay": "300",
    }
    assert result.member_parameters == {
        "SecurityAccountId": SECURITY,
        "OrganizationId": ORGANIZATION,
        "CentralEventBusArn": BUS_ARN,
        "RemediatorRoleName": "access-key-remediator",
        "MemberRoleName": "AccessKeyRemediationRole",
        "Mode": "delete",
        "RuleNamePrefix": "akr-",
        "MaxAccessKeyAge": "90",
        "MaxCredentialUsageAge": "90",
        "CreateConfigRecorder": "false",
        "ProtectedUserPath": "",
        # The reactivation forwarding rule's stack is in us-east-1, where IAM's events arrive.
        "HomeRegion": REGION,
        "GlobalEventsRegion": GLOBAL_EVENTS_REGION,
    }


CENTRAL_UPDATE = f"Would update stack access-key-remediation in the security account {SECURITY}"
SNAPSTART_CENTRAL = CENTRAL + "  SnapStart:\n    Type: String\n    Default: 'false'\n"


def snapstart_plan(desired: Deployment, **deployed: str) -> Plan:
    """The plan of `desired` over a central stack deployed by akr with the defaults and SnapStart on, then
    given `deployed` values."""
    first = plan_deploy(
        deployment(),
        up_to_date(),
        code_key=CODE_KEY,
        code_sha256=CODE_SHA256,
        central_template=SNAPSTART_CENTRAL,
        member_template=MEMBER,
    )
    # CloudFormation reports every parameter of the stack, those left at their defaults included.
    on = {**template_defaults(SNAPSTART_CENTRAL), **first.central_parameters, "SnapStart": "true"}
    on[SETTINGS_DIGEST] = settings_digest(SNAPSTART_CENTRAL, on)
    observed = _central(up_to_date(), template=SNAPSTART_CENTRAL, parameters={**on, **deployed})
    return plan_deploy(
        desired,
        observed,
        code_key=CODE_KEY,
        code_sha256=CODE_SHA256,
        central_template=SNAPSTART_CENTRAL,
        member_template=MEMBER,
    )


def test_with_snapstart_on_an_unchanged_deployment_publishes_nothing_new() -> None:
    result = snapstart_plan(deployment())
    assert result.central is Change.NONE
    assert len(result.central_parameters[SETTINGS_DIGEST]) == 64


@pytest.mark.parametrize(
    ("desired", "deployed"),
    [
        (deployment(mode=Mode.REPORT), {}),
        (deployment(), {"LogLevel": "DEBUG"}),  # changed outside akr, kept by the update
    ],
    ids=["mode asked", "log level changed outside akr"],
)
def test_with_snapstart_on_a_change_of_settings_alone_names_a_new_version(
    desired: Deployment, deployed: dict[str, str]
) -> None:
    # The version is published again only when its properties change: the digest is what changes.
    unchanged = snapstart_plan(deployment()).central_parameters
    result = snapstart_plan(desired, **deployed)
    assert result.central is Change.UPDATE
    assert result.central_parameters["CodeSha256"] == unchanged["CodeSha256"]
    assert result.central_parameters[SETTINGS_DIGEST] not in ("", unchanged[SETTINGS_DIGEST])
    changed = {c.name for c in result.central_diff.parameters}
    assert SETTINGS_DIGEST in changed
    (line,) = [line for line in describe(result, desired, up_to_date()) if CENTRAL_UPDATE in line]
    assert line.endswith("a new published version (SnapStart)")
    assert "SettingsDigest" not in line and "CodeSha256" not in line


def test_with_snapstart_off_a_setting_changed_outside_akr_changes_nothing() -> None:
    observed = _parameters(up_to_date(), "central_stack", LogLevel="DEBUG")
    result = plan(deployment(), observed)
    assert (result.central, result.central_parameters[SETTINGS_DIGEST]) == (Change.NONE, "")


def test_planning_is_pure() -> None:
    observed = up_to_date(target_accounts=(SECURITY, *MEMBERS, NEWCOMER))
    before = observed.model_dump()
    assert plan(deployment(), observed) == plan(deployment(), observed)
    assert observed.model_dump() == before


def test_a_suspended_target_is_skipped_and_said_so_not_deployed_to_again_and_again() -> None:
    # StackSets skip a suspended account (its instance, if any, ends SKIPPED_SUSPENDED_ACCOUNT): planning
    # a deploy to it would repeat on every run, and the organization would never be up to date.
    accounts = (*fresh().accounts, Account(id=NEWCOMER, name="closed", status="SUSPENDED"))
    observed = up_to_date(target_accounts=(SECURITY, *MEMBERS, NEWCOMER), accounts=accounts)
    result = plan(deployment(), observed)
    assert (result.missing_instances, result.skipped_accounts) == ((), (NEWCOMER,))
    assert result.changes_nothing
    assert describe(result, deployment(), observed) == [
        f"Would skip 1 account(s) that are not ACTIVE: {NEWCOMER} (SUSPENDED)",
        NOTHING_TO_CHANGE,
    ]


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "OUTDATED"])
def test_failed_or_outdated_instances_are_deployed_again(status: str) -> None:
    observed = up_to_date()
    assert observed.stackset is not None
    broken = tuple(
        i.model_copy(update={"status": status}) if i.account_id == MEMBERS[0] else i
        for i in observed.stackset.instances
    )
    observed = _stackset(observed, instances=broken)
    result = plan(deployment(), observed)
    assert result.stackset is Change.UPDATE
    assert result.retried_instances == (MEMBERS[0],)
    assert f"Would deploy the member stack again where it failed or is outdated: {MEMBERS[0]}" in lines(
        deployment(), observed
    )


# -- the policy: the options given, else what is deployed, else a first deploy's defaults -----------

REPORT_ROLLOUT = deployment(
    mode="report",
    cis="1.4",
    grace_days=7,
    warn_days_before=3,
    protected_user_path="/break-glass/",
    create_config_recorder=True,
)
"""What the operator deployed first; every later deploy below leaves out some or all of the options."""


def test_first_deploy_gets_the_defaults() -> None:
    result = plan(deployment(), fresh())
    assert result.policy == DeploymentPolicy(
        mode=Mode.DELETE,
        thresholds=Thresholds(max_key_age_days=90, max_unused_days=90),
        grace_days=14,
        warn_days_before=0,
        protected_user_path="",
        create_config_recorder=False,
    )


def test_deploy_without_options_keeps_the_deployed_policy_and_changes_nothing() -> None:
    observed = up_to_date(REPORT_ROLLOUT)
    result = plan(deployment(), observed)
    assert result.changes_nothing
    assert result.policy == DeploymentPolicy(
        mode=Mode.REPORT,
        thresholds=Thresholds(max_key_age_days=90, max_unused_days=45),
        grace_days=7,
        warn_days_before=3,
        protected_user_path="/break-glass/",
        create_config_recorder=True,
    )
    assert describe(result, deployment(), observed) == [NOTHING_TO_CHANGE]


# -- reserved concurrency: none unless asked; what the security account gives up is counted ---------


def test_a_first_deploy_reserves_nothing() -> None:
    result = plan(deployment(), fresh())
    assert (result.central_parameters["ReservedConcurrency"], result.reserving) == ("", 0)


def test_a_first_deploy_with_a_reservation_counts_all_three_functions() -> None:
    result = plan(deployment(reserved_concurrency=10), fresh())
    # The remediator's 10, the worker's WorkerConcurrency (20 by default) and the sweep's 1.
    assert (result.central_parameters["ReservedConcurrency"], result.reserving) == ("10", 31)


def test_a_deployed_reservation_is_kept_and_takes_nothing_more() -> None:
    # Stacks deployed before the parameter could be empty hold "10" (its old default): kept as it is.
    observed = _parameters(up_to_date(), "central_stack", ReservedConcurrency="10", WorkerConcurrency="50")
    result = plan(deployment(), observed)
    assert (result.central_parameters["ReservedConcurrency"], result.reserving) == ("10", 0)
    assert describe(result, deployment(), observed) == [NOTHING_TO_CHANGE]


@pytest.mark.parametrize(
    ("asked", "reserving"),
    [(9, -1), (10, 0), (11, 1), (0, -61)],
    ids=["one less", "the same", "one more", "none"],
)
def test_changing_a_reservation_counts_the_difference(asked: int, reserving: int) -> None:
    observed = _parameters(up_to_date(), "central_stack", ReservedConcurrency="10", WorkerConcurrency="50")
    assert plan(deployment(reserved_concurrency=asked), observed).reserving == reserving


def test_a_failed_first_create_holds_no_reservation() -> None:
    failed = _parameters(up_to_date(), "central_stack", ReservedConcurrency="10")
    failed = _central(failed, status="ROLLBACK_COMPLETE")
    result = plan(deployment(), failed)
    assert (result.central, result.reserving) == (Change.RECREATE, 31)


def test_new_code_keeps_the_deployed_policy_and_says_nothing_about_it() -> None:
    # The review's blocker: shipping new code must not move a report-mode rollout to delete.
    observed = _parameters(up_to_date(REPORT_ROLLOUT), "central_stack", CodeKey=OLD_CODE_KEY)
    result = plan(deployment(), observed)
    assert result.central_parameters["Mode"] == "report"
    assert (result.central, result.stackset, result.management) == (U, N, N)
    assert lines(deployment(), observed) == [
        f"Would update stack access-key-remediation in the security account {SECURITY}: new code"
    ]


def test_an_explicit_option_changes_only_what_it_names() -> None:
    observed = up_to_date(REPORT_ROLLOUT)
    result = plan(deployment(mode="staged"), observed)
    assert result.policy == plan(deployment(), observed).policy.model_copy(update={"mode": Mode.STAGED})
    # The management account stays in report: its stack keeps mode report.
    assert (result.central, result.stackset, result.management) == (U, U, N)
    assert [c.name for c in result.stackset_diff.parameters] == ["Mode"]


@pytest.mark.parametrize(
    ("options", "thresholds"),
    [
        pytest.param({}, (90, 45), id="deployed"),
        pytest.param({"max_key_age_days": 30}, (30, 45), id="rotation given, unused deployed"),
        pytest.param({"max_unused_days": 60}, (90, 60), id="unused given, rotation deployed"),
        pytest.param({"cis": "1.2"}, (90, 90), id="a preset replaces both"),
    ],
)
def test_thresholds_come_from_one_source_for_both_templates(
    options: dict[str, Any], thresholds: tuple[int, int]
) -> None:
    result = plan(deployment(**options), up_to_date(REPORT_ROLLOUT))
    central, member = result.central_parameters, result.member_parameters
    assert (central["MaxKeyAgeDays"], central["MaxUnusedDays"]) == tuple(map(str, thresholds))
    assert (member["MaxAccessKeyAge"], member["MaxCredentialUsageAge"]) == tuple(map(str, thresholds))


def test_the_central_thresholds_win_over_the_members() -> None:
    observed = _parameters(up_to_date(REPORT_ROLLOUT), "stackset", MaxAccessKeyAge="30")
    result = plan(deployment(), observed)
    assert result.policy.thresholds == Thresholds(max_key_age_days=90, max_unused_days=45)
    assert (result.central, result.stackset, result.management) == (N, U, N)


def test_a_deployed_cis_preset_without_limits_is_applied_as_the_remediator_applies_it() -> None:
    observed = _parameters(
        up_to_date(), "central_stack", CisPreset="cis-1.4", MaxKeyAgeDays="", MaxUnusedDays=""
    )
    result = plan(deployment(), observed)
    assert result.policy.thresholds == Thresholds(max_key_age_days=90, max_unused_days=45)
    assert lines(deployment(), observed)[0] == (
        f"Would update stack access-key-remediation in the security account {SECURITY}: "
        "MaxKeyAgeDays (none) -> 90, MaxUnusedDays (none) -> 45"
    )


def test_without_a_central_stack_the_member_stacks_values_are_kept() -> None:
    observed = up_to_date(REPORT_ROLLOUT, central_stack=None)
    result = plan(deployment(), observed)
    assert result.central is Change.CREATE
    assert result.policy.thresholds == Thresholds(max_key_age_days=90, max_unused_days=45)
    assert (result.policy.protected_user_path, result.policy.create_config_recorder) == (
        "/break-glass/",
        True,
    )
    assert result.policy.mode is Mode.REPORT  # the member role's, without a central stack
    assert (result.stackset, result.management) == (N, N)


def test_the_management_stack_is_the_member_values_source_without_a_stackset() -> None:
    observed = up_to_date(REPORT_ROLLOUT, stackset=None)
    assert plan(deployment(), observed).policy.create_config_recorder is True


def test_an_empty_protected_path_can_be_given_to_remove_it() -> None:
    result = plan(deployment(protected_user_path=""), up_to_date(REPORT_ROLLOUT))
    assert result.policy.protected_user_path == ""
    assert (result.central, result.stackset, result.management) == (U, U, U)


def test_the_recorder_can_be_switched_off_explicitly() -> None:
    result = plan(deployment(create_config_recorder=False), up_to_date(REPORT_ROLLOUT))
    assert result.member_parameters["CreateConfigRecorder"] == "false"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"GraceDays": "soon"}, "cannot keep the deployed GraceDays 'soon': it is not a number"),
        pytest.param(
            {"CisPreset": "cis-9.9", "MaxKeyAgeDays": ""},
            "cannot keep the deployed CisPreset 'cis-9.9': give --cis or the limits",
        ),
        pytest.param(
            {"Mode": "obliterate"},
            "cannot keep the deployed policy (mode: Input should be 'report', 'deactivate', 'delete' or "
            "'staged'): give the option explicitly",
        ),
    ],
)
def test_deployed_values_akr_cannot_keep_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(PlanError) as raised:
        plan(deployment(), _parameters(up_to_date(), "central_stack", **values))
    assert str(raised.value) == message


def test_an_option_replaces_a_deployed_value_akr_cannot_read() -> None:
    observed = _parameters(up_to_date(), "central_stack", GraceDays="soon")
    assert plan(deployment(grace_days=14), observed).central is Change.UPDATE


# -- what an update changes, and the warnings --------------------------------------------------------


def test_update_lines_list_each_changed_parameter() -> None:
    observed = up_to_date(REPORT_ROLLOUT)
    desired = deployment(mode="delete", grace_days=3, max_unused_days=60)
    # More rights for the member role: the member stacks go first.
    assert lines(desired, observed) == [
        "Would update StackSet access-key-remediation-member (service-managed, automatic deployment) "
        f"for {ROOT} in {REGION}, {GLOBAL_EVENTS_REGION}: Mode report -> delete, "
        "MaxCredentialUsageAge 45 -> 60",
        f"Would update stack access-key-remediation-member in the management account {MANAGEMENT}: "
        "MaxCredentialUsageAge 45 -> 60",
        f"Would update stack access-key-remediation in the security account {SECURITY}: "
        "Mode report -> delete, MaxUnusedDays 45 -> 60, GraceDays 7 -> 3",
        "The member role in every account holds no key action; mode delete needs iam:DeleteAccessKey: "
        "the member stacks add iam:DeleteAccessKey before the central stack is updated",
        "Keys will be deleted from now on: Mode report -> delete",
        "Deactivated keys can be reactivated (akr undo) for less time: GraceDays 7 -> 3",
    ]


def test_update_line_shows_new_code_and_a_new_template_after_the_parameters() -> None:
    observed = _central(
        _parameters(up_to_date(REPORT_ROLLOUT), "central_stack", CodeKey=OLD_CODE_KEY), template="old"
    )
    assert lines(deployment(protected_user_path=""), observed)[0] == (
        f"Would update stack access-key-remediation in the security account {SECURITY}: "
        "ProtectedUserPath /break-glass/ -> (none), new code, new template"
    )


def test_a_parameter_the_stack_lacks_is_shown_as_not_set() -> None:
    observed = _parameters(up_to_date(), "central_stack", WarnDaysBefore="<absent>")
    assert lines(deployment(), observed) == [
        f"Would update stack access-key-remediation in the security account {SECURITY}: "
        "WarnDaysBefore (not set) -> 0"
    ]


def test_a_stackset_update_without_parameter_changes_has_no_details() -> None:
    observed = _stackset(up_to_date(), auto_deployment=False)
    assert lines(deployment(), observed) == [
        "Would update StackSet access-key-remediation-member (service-managed, automatic deployment) "
        f"for {ROOT} in {REGION}, {GLOBAL_EVENTS_REGION}"
    ]


@pytest.mark.parametrize(
    ("deployed", "asked", "warning"),
    [
        ("report", "deactivate", "Keys will be deactivated from now on: Mode report -> deactivate"),
        (
            "report",
            "staged",
            "Keys will be deactivated, and deleted 14 day(s) later, from now on: Mode report -> staged",
        ),
        ("report", "delete", "Keys will be deleted from now on: Mode report -> delete"),
        (
            "deactivate",
            "staged",
            "Keys will be deactivated, and deleted 14 day(s) later, from now on: Mode deactivate -> staged",
        ),
        ("deactivate", "delete", "Keys will be deleted from now on: Mode deactivate -> delete"),
        ("staged", "delete", "Keys will be deleted from now on: Mode staged -> delete"),
        ("delete", "staged", None),
        ("delete", "report", None),
        ("staged", "deactivate", None),
        ("deactivate", "report", None),
    ],
)
def test_a_more_destructive_mode_gets_a_warning_line(deployed: str, asked: str, warning: str | None) -> None:
    observed = up_to_date(deployment(mode=deployed))
    result = plan(deployment(mode=asked), observed)
    assert result.central is Change.UPDATE
    assert warnings(result) == ([warning] if warning else [])
    described = describe(result, deployment(mode=asked), observed)
    assert (
        f"Would update stack access-key-remediation in the security account {SECURITY}: "
        f"Mode {deployed} -> {asked}"
    ) in described
    assert described[-1:] == ([warning] if warning else described[-1:])
    assert sum(line.startswith("Keys will be") for line in described) == (1 if warning else 0)


@pytest.mark.parametrize(
    ("mode", "deployed", "asked", "warning"),
    [
        ("staged", 14, 7, "Deactivated keys will be deleted sooner: GraceDays 14 -> 7"),
        ("staged", 1, 0, "Deactivated keys will be deleted sooner: GraceDays 1 -> 0"),
        (
            "deactivate",
            14,
            7,
            "Deactivated keys can be reactivated (akr undo) for less time: GraceDays 14 -> 7",
        ),
        ("staged", 7, 14, None),
    ],
)
def test_shorter_grace_days_get_a_warning_line(
    mode: str, deployed: int, asked: int, warning: str | None
) -> None:
    observed = up_to_date(deployment(mode=mode, grace_days=deployed))
    assert warnings(plan(deployment(grace_days=asked), observed)) == ([warning] if warning else [])


def test_a_first_deploy_has_no_warning_lines() -> None:
    assert warnings(plan(deployment(mode="delete", grace_days=0), fresh())) == []


def test_a_failed_stack_that_is_created_again_has_no_warning_lines() -> None:
    observed = _central(up_to_date(deployment(mode="report")), status="ROLLBACK_COMPLETE")
    result = plan(deployment(mode="delete"), observed)
    assert result.central is Change.RECREATE
    assert warnings(result) == []


# -- parameters akr does not set are kept ------------------------------------------------------------


def test_an_update_keeps_the_parameters_akr_does_not_set_and_the_template_still_declares() -> None:
    observed = _parameters(
        up_to_date(),
        "central_stack",
        CodeKey=OLD_CODE_KEY,
        NotificationEmail="secops@example.com",
        LogLevel="DEBUG",
        Retired="x",  # the new template no longer declares it: CloudFormation would refuse it
    )
    observed = _parameters(observed, "stackset", ConfigRuleFrequency="One_Hour", MaxAccessKeyAge="30")
    result = plan(deployment(), observed)
    assert result.central_diff.kept == ("LogLevel", "NotificationEmail")
    assert result.stackset_diff.kept == ("ConfigRuleFrequency",)
    assert result.management_diff.kept == ()


def test_nothing_is_kept_when_the_stack_is_created() -> None:
    observed = _parameters(up_to_date(), "central_stack", LogLevel="DEBUG")
    result = plan(deployment(), _central(observed, status="ROLLBACK_COMPLETE"))
    assert result.central_diff.kept == ()


@pytest.mark.parametrize("name", ["central", "member"])
def test_template_parameters_are_exactly_the_templates_parameters(name: str) -> None:
    # The planner reads the names without a YAML parser (the CLI does not depend on one); cfn-lint's does.
    template = {"central": CENTRAL_TEMPLATE, "member": MEMBER_TEMPLATE}[name]
    assert template_parameters(template.read_text()) == set(load(name)["Parameters"])


def test_template_parameters_reads_only_the_top_level_parameters_section() -> None:
    text = (
        "Metadata:\n  AWS::CloudFormation::Interface:\n    ParameterGroups:\n      - Parameters: [A]\n"
        "Parameters:\n\n  # a comment\n  First:  # inline\n    Type: String\n    Default: x\n"
        "  Second:\n    Type: Number\nConditions:\n  IsFirst: !Equals [!Ref First, x]\n"
    )
    assert template_parameters(text) == {"First", "Second"}
    assert template_parameters("Resources: {}\n") == frozenset()


def test_the_central_stack_gets_the_version_id_of_the_package_already_uploaded() -> None:
    observed = up_to_date(code_version="v-2")
    result = plan(deployment(), observed)
    assert result.central_parameters["CodeObjectVersion"] == "v-2"
    # A deployment whose stack named no version: the same code, now pinned to its version.
    assert lines(deployment(), observed) == [
        f"Would update stack access-key-remediation in the security account {SECURITY}: "
        "the code's S3 version pinned"
    ]


def test_code_not_uploaded_yet_has_its_version_set_by_the_upload() -> None:
    assert plan(deployment(), fresh()).central_parameters["CodeObjectVersion"] == ""


# -- the reactivation forwarding rule's region --------------------------------------------------------


def test_a_deployment_from_before_the_reactivation_rule_adds_us_east_1_and_says_so() -> None:
    current = up_to_date()
    assert current.stackset is not None
    home_only = tuple(i for i in current.stackset.instances if i.region == REGION)
    before = {k: v for k, v in current.stackset.parameters.items() if "Region" not in k}
    older = current.model_copy(
        update={
            "stackset": current.stackset.model_copy(update={"instances": home_only, "parameters": before})
        }
    )
    result = plan(deployment(), older)
    assert result.coverage.regions == (REGION, GLOBAL_EVENTS_REGION)
    assert (result.coverage.held, result.coverage.added) == ((REGION,), (GLOBAL_EVENTS_REGION,))
    assert (result.missing_instances, result.stackset) == ((), Change.UPDATE)
    assert lines(deployment(), older) == [
        "Would update StackSet access-key-remediation-member (service-managed, automatic deployment) "
        f"for {ROOT} in {REGION}, {GLOBAL_EVENTS_REGION}: HomeRegion (not set) -> {REGION}, "
        f"GlobalEventsRegion (not set) -> {GLOBAL_EVENTS_REGION}",
        f"Would add the member stack in {GLOBAL_EVENTS_REGION} to every account: there it holds only the "
        "rule that forwards keys made active by the member role or akr-* sessions to the central bus "
        "(IAM's CloudTrail events reach EventBridge in us-east-1 only), for the reactivation alarm",
    ]


def test_a_home_region_of_us_east_1_is_the_stacksets_only_region() -> None:
    result = plan(deployment(home_region=GLOBAL_EVENTS_REGION), fresh())
    assert result.coverage.regions == (GLOBAL_EVENTS_REGION,)
    assert result.member_parameters["HomeRegion"] == result.member_parameters["GlobalEventsRegion"]
