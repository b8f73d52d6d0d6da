"""central.yaml into the security account of a moto organization, member.yaml through a service-managed
StackSet into the accounts of an OU, then one event through the deployed chain.

What moto (5.2) does not model, and the static test that covers each instead:
- AWS::Config::ConfigRule, ConfigurationRecorder, DeliveryChannel: skipped ("not supported") ->
  test_member_template.py: test_config_rules_use_the_managed_rules_with_explicit_parameters,
  test_each_rule_can_be_switched_off, test_recorder_is_optional_records_only_iam_users_and_gates_the_rules.
- The bus's Policy property (and AWS::Events::EventBusPolicy), which is not stored nor enforced ->
  test_central_template.py::test_bus_policy_allows_put_events_only_from_the_organization.
- DynamoDB TimeToLiveSpecification ->
  test_central_template.py::test_state_table_expires_idempotency_records_through_ttl.
- AWS::S3::BucketPolicy, skipped, and the archive bucket's Object Lock, versioning, encryption, public
  access block, lifecycle and replication, ignored -> test_audit_archive.py.
- AWS::SQS::QueuePolicy and AWS::CloudWatch::Alarm, skipped ->
  test_central_template.py::test_dead_letter_queue_is_encrypted_and_only_the_rule_may_send,
  test_alarms_watch_dead_letters_errors_and_the_failure_metric.
- Lambda Architectures, DeadLetterConfig and LoggingConfig, dropped, and a log group's KmsKeyId ->
  test_central_template.py::test_remediator_function_matches_the_code_contract,
  test_sweep_functions_match_the_code_contract,
  test_every_function_logs_to_its_own_encrypted_group_the_key_admits.
The sweep (test_sweep_is_deployed_as_the_template_says below checks what moto stores). Stored but ignored:
- the schedule never fires, a disabled rule would still deliver, and a Lambda target cannot be invoked;
  its RetryPolicy and DeadLetterConfig are never exercised ->
  test_central_template.py::test_schedule_starts_the_sweep_with_retries_and_a_dead_letter_queue.
- AWS::Lambda::Permission is stored in the function policy, not enforced (same test).
- the event source mapping never polls SweepQueue (invoking needs Docker), and neither its role's SQS
  permissions nor VisibilityTimeout >= the function timeout are validated ->
  test_central_template.py::test_worker_reads_the_sweep_queue_with_partial_batch_failures,
  test_sweep_queue_outlasts_the_worker_and_redrives_to_its_dead_letter_queue,
  test_remediator_role_grants_exactly_the_narrow_set.
- the redrive policy is stored but receives are not counted towards it without a consumer (same tests).
- the SweepRole policy (organizations:ListAccounts needs a delegated administrator in AWS; moto lets the
  security account list the organization regardless) ->
  test_central_template.py::test_sweep_role_may_list_accounts_queue_them_and_log_only, test_policy_lint.py.
- the alarms on the sweep's DLQ and functions are skipped like the others (see above).
- AWS::NoValue in a list is kept as null (the unused prefix slots of the event patterns) ->
  test_event_patterns.py resolves the patterns as CloudFormation does.
- Trust policies, the bus policy and the target RoleArn are not enforced ->
  test_member_template.py::test_member_role_trusts_only_the_central_remediator_role_in_the_organization,
  test_forwarder_may_only_put_events_on_the_central_bus, test_policy_lint.py.
- AWS::CloudFormation::StackSet (organization.yaml) is not modelled: the StackSet is created through the
  StackSets API here -> test_organization_template.py.
- AutoDeployment is not stored ->
  test_organization_template.py::test_stackset_is_service_managed_with_automatic_deployment.
Two moto breakages shape the templates: `!Ref` to an AWS::Events::EventBus fails (the templates use
!GetAtt Bus.Name / .Arn: test_central_template.py::test_event_buses_are_referenced_by_getatt_only), and an
Output that references a Config resource fails the stack
(test_member_template.py::test_outputs_do_not_reference_config_resources).
"""

from __future__ import annotations

import io
import json
import re
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from moto import mock_aws

from org_bootstrap.demo.simulation import session_in
from tests.fixtures import load_event, retarget
from tests.stacksets.cfn import REGION, TEMPLATES

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

STACKSET = "access-key-remediation-member"


@dataclass(frozen=True)
class Deployment:
    security: str
    members: tuple[str, ...]
    outside: str
    """An account of the organization outside the target OU."""
    organization_id: str
    outputs: dict[str, str]
    sessions: dict[str, boto3.Session]
    skipped: frozenset[str] = frozenset()
    """Resource types moto's CloudFormation skipped while creating the stacks."""


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for module in ("handler", "sweep_handler", "worker_handler"):
            archive.writestr(
                f"remediator/{module}.py", "def lambda_handler(event, context):\n    return None\n"
            )
    return buffer.getvalue()


def deploy() -> Deployment:
    """Inside mock_aws, with the default credentials standing for the management account."""
    orgs = boto3.client("organizations", region_name=REGION)
    organization_id = orgs.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou = orgs.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]

    def account(name: str, parent: str) -> str:
        status = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        if parent != root:
            orgs.move_account(AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=parent)
        return status["AccountId"]

    security = account("security", ou)
    members = (account("member-1", ou), account("member-2", ou))
    outside = account("sandbox", root)
    sts = boto3.client("sts", region_name=REGION)
    sessions = {a: session_in(a, sts) for a in (security, *members, outside)}

    # The deploy command uploads the package and fills CodeBucket / CodeKey.
    s3 = sessions[security].client("s3")
    s3.create_bucket(Bucket="akr-artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="akr-artifacts", Key="remediator/test.zip", Body=package())
    cloudformation = sessions[security].client("cloudformation")
    cloudformation.create_stack(
        StackName="access-key-remediation",
        TemplateBody=(TEMPLATES / "central.yaml").read_text(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": "OrganizationId", "ParameterValue": organization_id},
            {"ParameterKey": "CodeBucket", "ParameterValue": "akr-artifacts"},
            {"ParameterKey": "CodeKey", "ParameterValue": "remediator/test.zip"},
        ],
    )
    (stack,) = cloudformation.describe_stacks(StackName="access-key-remediation")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    # From the management account, as organization.yaml would (moto does not model that resource).
    stacksets = boto3.client("cloudformation", region_name=REGION)
    stacksets.create_stack_set(
        StackSetName=STACKSET,
        TemplateBody=(TEMPLATES / "member.yaml").read_text(),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[
            {"ParameterKey": "SecurityAccountId", "ParameterValue": security},
            {"ParameterKey": "OrganizationId", "ParameterValue": organization_id},
            {"ParameterKey": "CentralEventBusArn", "ParameterValue": outputs["EventBusArn"]},
        ],
    )
    stacksets.create_stack_instances(
        StackSetName=STACKSET, DeploymentTargets={"OrganizationalUnitIds": [ou]}, Regions=[REGION]
    )
    return Deployment(security, members, outside, organization_id, outputs, sessions)


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    with mock_aws():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            deployed = deploy()
        skipped = {
            match.group(1)
            for warning in caught
            if (match := re.search(r"Tried to parse (\S+) but it's not supported", str(warning.message)))
        }
        yield replace(deployed, skipped=frozenset(skipped))


def test_moto_skips_only_the_resource_types_this_module_lists(deployment: Deployment) -> None:
    # If moto starts modelling one of these, move its checks here and update the list above.
    assert deployment.skipped == {
        "AWS::Config::ConfigRule",
        "AWS::CloudFormation::WaitConditionHandle",
        "AWS::SQS::QueuePolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::S3::BucketPolicy",
    }


def test_central_stack_creates_what_moto_models(deployment: Deployment) -> None:
    security = deployment.sessions[deployment.security]
    outputs = deployment.outputs
    assert outputs["RemediatorRoleArn"] == f"arn:aws:iam::{deployment.security}:role/access-key-remediator"
    bus = security.client("events").describe_event_bus(Name=outputs["EventBusName"])
    assert bus["Arn"] == outputs["EventBusArn"]
    function = security.client("lambda").get_function_configuration(
        FunctionName=outputs["RemediatorFunctionName"]
    )
    assert (function["Handler"], function["Runtime"]) == ("remediator.handler.lambda_handler", "python3.12")
    assert (function["MemorySize"], function["Timeout"], function["Role"]) == (
        256,
        120,
        outputs["RemediatorRoleArn"],
    )
    environment = function["Environment"]["Variables"]
    assert environment["AKR_AUDIT_TABLE"] == outputs["AuditTableName"]
    assert environment["AKR_STATE_TABLE"] == outputs["StateTableName"]
    assert environment["AKR_NOTIFICATION_TOPIC_ARN"] == outputs["NotificationTopicArn"]
    dynamodb = security.client("dynamodb")
    audit = dynamodb.describe_table(TableName=outputs["AuditTableName"])["Table"]
    assert {i["IndexName"] for i in audit.get("GlobalSecondaryIndexes", [])} == {
        "by_access_key",
        "by_day",
        "by_revoked",
    }
    assert audit.get("DeletionProtectionEnabled") is True
    assert dynamodb.describe_table(TableName=outputs["StateTableName"])["Table"]["TableStatus"] == "ACTIVE"
    topic = security.client("sns").get_topic_attributes(TopicArn=outputs["NotificationTopicArn"])[
        "Attributes"
    ]
    assert topic["KmsMasterKeyId"] == outputs["KeyArn"]
    queue = security.client("sqs").get_queue_attributes(
        QueueUrl=outputs["DeadLetterQueueUrl"], AttributeNames=["All"]
    )
    assert queue["Attributes"]["QueueArn"] == outputs["DeadLetterQueueArn"]
    rules = security.client("events").list_rules(EventBusName=outputs["EventBusName"])["Rules"]
    assert sorted(r["Arn"] for r in rules) == sorted(
        [outputs["RemediationRuleArn"], outputs["ReactivationRuleArn"]]
    )


def test_sweep_is_deployed_as_the_template_says(deployment: Deployment) -> None:
    security = deployment.sessions[deployment.security]
    outputs = deployment.outputs
    aws_lambda, sqs, events = security.client("lambda"), security.client("sqs"), security.client("events")
    remediator = aws_lambda.get_function_configuration(FunctionName=outputs["RemediatorFunctionName"])
    shared = remediator["Environment"]["Variables"]

    sweep = aws_lambda.get_function(FunctionName=outputs["SweepFunctionName"])
    worker = aws_lambda.get_function(FunctionName=outputs["WorkerFunctionName"])
    for function, handler, timeout in (
        (sweep, "remediator.sweep_handler.lambda_handler", 300),
        (worker, "remediator.worker_handler.lambda_handler", 600),
    ):
        configuration = function["Configuration"]
        assert (configuration["Handler"], configuration["Runtime"]) == (handler, remediator["Runtime"])
        assert (configuration["Timeout"], configuration["MemorySize"]) == (timeout, 256)
        assert "Concurrency" not in function  # nothing reserved unless ReservedConcurrency is set
    assert worker["Configuration"]["Role"] == outputs["RemediatorRoleArn"]
    assert sweep["Configuration"]["Role"] not in {outputs["RemediatorRoleArn"], remediator["Role"]}
    assert worker["Configuration"]["Environment"]["Variables"] == shared
    assert sweep["Configuration"]["Environment"]["Variables"] == {
        **shared,
        "AKR_SWEEP_QUEUE_URL": outputs["SweepQueueUrl"],
    }

    queue = sqs.get_queue_attributes(QueueUrl=outputs["SweepQueueUrl"], AttributeNames=["All"])["Attributes"]
    dead_letters = sqs.get_queue_attributes(
        QueueUrl=outputs["SweepDeadLetterQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert (queue["VisibilityTimeout"], queue["MessageRetentionPeriod"]) == ("3600", "345600")
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters["QueueArn"],
        "maxReceiveCount": 5,
    }
    assert dead_letters["MessageRetentionPeriod"] == "1209600"
    assert queue["SqsManagedSseEnabled"] == dead_letters["SqsManagedSseEnabled"] == "true"

    (mapping,) = aws_lambda.list_event_source_mappings(FunctionName=outputs["WorkerFunctionName"])[
        "EventSourceMappings"
    ]
    assert mapping["EventSourceArn"] == queue["QueueArn"]
    assert mapping["FunctionArn"] == worker["Configuration"]["FunctionArn"]
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (5, 0)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 20}

    # The schedule lives on the default bus (beside the member stack's forwarding rule: the security
    # account is in the OU); the organization's bus holds only the remediation rule.
    (rule,) = [r for r in events.list_rules(EventBusName="default")["Rules"] if "ScheduleExpression" in r]
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 day)", "ENABLED")
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == sweep["Configuration"]["FunctionArn"]
    assert target["DeadLetterConfig"] == {"Arn": outputs["DeadLetterQueueArn"]}
    (permission,) = json.loads(aws_lambda.get_policy(FunctionName=outputs["SweepFunctionName"])["Policy"])[
        "Statement"
    ]
    assert permission["Principal"] == {"Service": "events.amazonaws.com"}
    assert permission["Condition"] == {"ArnLike": {"AWS:SourceArn": rule["Arn"]}}


def test_member_stack_lands_in_every_account_of_the_ou_and_nowhere_else(deployment: Deployment) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    instances = cloudformation.list_stack_instances(StackSetName=STACKSET)["Summaries"]
    assert {i["Account"] for i in instances} == {deployment.security, *deployment.members}
    assert {i["Region"] for i in instances} == {REGION}
    # The management account (default credentials) and the account outside the OU get nothing.
    for iam in (
        boto3.client("iam", region_name=REGION),
        deployment.sessions[deployment.outside].client("iam"),
    ):
        assert "AccessKeyRemediationRole" not in {r["RoleName"] for r in iam.list_roles()["Roles"]}


@pytest.mark.parametrize("which", [0, 1])
def test_member_role_and_forwarding_rule_point_at_the_central_account(
    deployment: Deployment, which: int
) -> None:
    member = deployment.members[which]
    session = deployment.sessions[member]
    role = session.client("iam").get_role(RoleName="AccessKeyRemediationRole")["Role"]
    document = cast("dict[str, Any]", role["AssumeRolePolicyDocument"])
    (trust,) = document["Statement"]
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{deployment.security}:root"}
    assert trust["Condition"]["ArnEquals"] == {"aws:PrincipalArn": deployment.outputs["RemediatorRoleArn"]}
    assert trust["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": deployment.organization_id}
    events = session.client("events")
    (target,) = events.list_targets_by_rule(Rule="akr-forward-noncompliant-keys")["Targets"]
    assert target["Arn"] == deployment.outputs["EventBusArn"]
    assert target["RoleArn"].startswith(f"arn:aws:iam::{member}:role/")


def test_a_noncompliant_event_travels_from_a_member_to_the_central_rule(deployment: Deployment) -> None:
    security = deployment.sessions[deployment.security]
    events, sqs = security.client("events"), security.client("sqs")
    bus, rule = deployment.outputs["EventBusName"], deployment.outputs["RemediationRuleArn"].rsplit("/", 1)[1]
    # moto cannot invoke a Lambda target: observe the deployed rule through a queue in its place.
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["remediator"])
    url = sqs.create_queue(QueueName="observed")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "observed", "Arn": arn}])

    member = deployment.members[0]
    for fixture in ("config_noncompliant_rotated", "config_compliant_rotated"):
        event = load_event(fixture)
        retarget(event, account_id=member, user_id=f"AIDA{fixture.upper()[:17]}")
        entry: PutEventsRequestEntryTypeDef = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
        }
        deployment.sessions[member].client("events").put_events(Entries=[entry])

    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    received = [json.loads(m["Body"]) for m in messages]
    assert [e["detail"]["newEvaluationResult"]["complianceType"] for e in received] == ["NON_COMPLIANT"]
    assert received[0]["detail"]["awsAccountId"] == member
