"""The audit archive in stacksets/central.yaml: the audit table's stream, the Object-Locked bucket and its
policy, the archiver, its role, its stream mapping, its dead letters and the optional replica.

moto's CloudFormation ignores the bucket's ObjectLockConfiguration, VersioningConfiguration,
PublicAccessBlockConfiguration, LifecycleConfiguration and ReplicationConfiguration, skips
AWS::S3::BucketPolicy, and never invokes a function from a stream mapping (docs: ../shared/aws-facts.md's
gap table): these tests read the template instead. The archiver itself runs against moto in
tests/integration/test_archiver.py, Object Lock on a bucket configured through the S3 API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from remediator.archive_format import ARCHIVE_PREFIX
from remediator.archiver import load_archiver_settings
from tests.stacksets.cfn import SECURITY_ACCOUNT_ID, Stack, check_parameter, load
from tests.stacksets.test_audit_protection import arn_like, as_list
from tests.stacksets.test_central_template import grants

ACCOUNT = SECURITY_ACCOUNT_ID
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Administrator"
REPLICA = {
    "AuditArchiveReplicaBucketArn": "arn:aws:s3:::akr-log-archive-333333333333",
    "AuditArchiveReplicaKeyArn": (
        "arn:aws:kms:eu-west-1:333333333333:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    ),
}
READS_VERSIONS = (
    "s3:GetObjectLegalHold",
    "s3:GetObjectRetention",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionTagging",
)


def central(values: dict[str, str] | None = None) -> Stack:
    return Stack("central", values or {}, account_id=ACCOUNT)


def arn(stack: Stack, logical_id: str, attribute: str = "Arn") -> str:
    return str(stack.resolve({"Fn::GetAtt": [logical_id, attribute]}))


def bucket_denies(stack: Stack, principal: str, action: str, resource: str, *, tls: bool = True) -> bool:
    """Whether a Deny of the archive's bucket policy applies (explicit deny wins over any allow)."""
    (policy,) = stack.of_type("AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == stack.outputs["AuditArchiveBucketName"]
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        assert (statement["Effect"], statement["Principal"]) == ("Deny", "*")
        actions = as_list(statement["Action"])
        if action not in actions and "s3:*" not in actions:
            continue
        if not any(arn_like(resource, pattern) for pattern in as_list(statement["Resource"])):
            continue
        condition = statement.get("Condition")
        if condition is None:
            return True
        if "Bool" in condition:
            if condition == {"Bool": {"aws:SecureTransport": "false"}} and not tls:
                return True
            continue
        assert set(condition) == {"ArnNotLike"}
        if not any(arn_like(principal, p) for p in as_list(condition["ArnNotLike"]["aws:PrincipalArn"])):
            return True
    return False


def test_the_audit_table_streams_both_images_without_changing_its_keys() -> None:
    table = central().resources["AuditTable"]
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    # Adding a stream is an update in place; the keys, whose change would replace the table, are as before.
    assert table["Properties"]["KeySchema"] == [
        {"AttributeName": "account_id", "KeyType": "HASH"},
        {"AttributeName": "record_id", "KeyType": "RANGE"},
    ]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_bucket_is_retained_locked_versioned_encrypted_and_private() -> None:
    template = load("central")["Resources"]["AuditArchiveBucket"]
    assert (template["DeletionPolicy"], template["UpdateReplacePolicy"]) == ("Retain", "Retain")
    bucket = central({"AuditArchiveRetentionDays": "7"}).resources["AuditArchiveBucket"]["Properties"]
    assert "BucketName" not in bucket, "a generated name: a retained bucket must not block the next stack"
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": "7"}},
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "ReplicationConfiguration" not in bucket


def test_old_archives_move_to_instant_retrieval_after_30_days() -> None:
    bucket = central().resources["AuditArchiveBucket"]["Properties"]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["Status"], rule["Prefix"]) == ("Enabled", ARCHIVE_PREFIX)
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 30}]
    assert rule["NoncurrentVersionTransitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 30}]
    # Nothing expires: the retention ends the lock, not the evidence.
    assert not {k for k in rule if "Expiration" in k}


@pytest.mark.parametrize("value", ["1", "400", "36500"])
def test_the_retention_is_at_least_one_day(value: str) -> None:
    spec = load("central")["Parameters"]["AuditArchiveRetentionDays"]
    assert (spec["Type"], spec["Default"], spec["MinValue"]) == ("Number", 400, 1)
    check_parameter("AuditArchiveRetentionDays", spec, value)


@pytest.mark.parametrize("value", ["0", "-1", "36501"])
def test_the_retention_refuses_what_object_lock_would(value: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        check_parameter(
            "AuditArchiveRetentionDays", load("central")["Parameters"]["AuditArchiveRetentionDays"], value
        )


def test_only_the_archiver_and_the_named_operators_write_and_nobody_deletes() -> None:
    stack = central({"AuditWriterRoleArns": OPERATOR})
    bucket = arn(stack, "AuditArchiveBucket")
    archiver = arn(stack, "ArchiverRole")
    remediator = arn(stack, "RemediatorRole")
    key = f"{bucket}/audit/2026-12-07/111111111111/1.jsonl"
    assert not bucket_denies(stack, archiver, "s3:PutObject", key)
    assert not bucket_denies(stack, OPERATOR, "s3:PutObject", key)
    for principal in (ADMIN, remediator, f"arn:aws:iam::111111111111:role/{archiver.rsplit('/', 1)[1]}"):
        assert bucket_denies(stack, principal, "s3:PutObject", key)
    for principal in (archiver, OPERATOR, ADMIN):
        assert bucket_denies(stack, principal, "s3:DeleteObject", key)
        assert bucket_denies(stack, principal, "s3:DeleteObjectVersion", key)
        assert bucket_denies(stack, principal, "s3:GetObject", key, tls=False)
        assert bucket_denies(stack, principal, "s3:ListBucket", bucket, tls=False)
        assert not bucket_denies(stack, principal, "s3:GetObject", key)
    # Without operator roles the archiver alone writes.
    assert bucket_denies(central(), OPERATOR, "s3:PutObject", key)
    assert not bucket_denies(central(), arn(central(), "ArchiverRole"), "s3:PutObject", key)


def test_the_archiver_role_reads_the_stream_and_writes_under_audit_only() -> None:
    stack = central()
    stream = arn(stack, "AuditTable")
    assert grants(stack, "ArchiverRole") == {
        ("dynamodb:DescribeStream", f"{stream}/stream/*", "{}"),
        ("dynamodb:GetRecords", f"{stream}/stream/*", "{}"),
        ("dynamodb:GetShardIterator", f"{stream}/stream/*", "{}"),
        ("dynamodb:ListStreams", "*", "{}"),
        ("s3:PutObject", f"{arn(stack, 'AuditArchiveBucket')}/{ARCHIVE_PREFIX}*", "{}"),
        ("sqs:SendMessage", arn(stack, "ArchiveDeadLetterQueue"), "{}"),
        (
            "logs:CreateLogStream",
            f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{stack.outputs['ArchiverLogGroupName']}:log-stream:*",
            "{}",
        ),
        (
            "logs:PutLogEvents",
            f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{stack.outputs['ArchiverLogGroupName']}:log-stream:*",
            "{}",
        ),
    }
    trust = stack.resources["ArchiverRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    # The archiver runs as its own role, and no other function does.
    functions = stack.of_type("AWS::Lambda::Function")
    assert [k for k, f in functions.items() if f["Properties"]["Role"] == arn(stack, "ArchiverRole")] == [
        "ArchiverFunction"
    ]


def test_the_stream_reaches_the_archiver_with_partial_failures_bisection_and_a_dead_letter_queue() -> None:
    stack = central()
    mapping = stack.resources["ArchiverEventSourceMapping"]["Properties"]
    assert mapping == {
        "EventSourceArn": arn(stack, "AuditTable", "StreamArn"),
        "FunctionName": stack.outputs["ArchiverFunctionName"],
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 5,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": 10,
        "MaximumRecordAgeInSeconds": 86400,
        "DestinationConfig": {"OnFailure": {"Destination": arn(stack, "ArchiveDeadLetterQueue")}},
    }
    queue = stack.resources["ArchiveDeadLetterQueue"]["Properties"]
    assert queue == {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600}


def test_the_archiver_matches_the_code_contract() -> None:
    stack = central()
    function = stack.resources["ArchiverFunction"]["Properties"]
    assert function["Handler"] == "remediator.archiver_handler.lambda_handler"
    assert (function["Runtime"], function["Architectures"]) == ("python3.12", ["arm64"])
    assert function["Code"] == stack.resources["RemediatorFunction"]["Properties"]["Code"]
    environment = function["Environment"]["Variables"]
    settings = load_archiver_settings(environment)
    assert settings.archive_bucket == stack.outputs["AuditArchiveBucketName"]
    assert settings.archive_bucket_owner == ACCOUNT
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "AccessKeyRemediation"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "access-key-remediation"


def test_altered_records_raise_an_alarm_on_the_topic() -> None:
    stack = central()
    alarm = stack.resources["AuditRecordsAlteredAlarm"]["Properties"]
    environment = stack.resources["ArchiverFunction"]["Properties"]["Environment"]["Variables"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        environment["POWERTOOLS_METRICS_NAMESPACE"],
        "AuditRecordsAltered",
    )
    assert alarm["Dimensions"] == [{"Name": "service", "Value": environment["POWERTOOLS_SERVICE_NAME"]}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["AlarmActions"] == [stack.outputs["NotificationTopicArn"]]


def test_the_replica_exists_only_when_asked_and_its_key_is_required() -> None:
    assert not {"ArchiveReplicationRole", "ArchiveReplicationPolicy"} & set(central().resources)
    rule = load("central")["Rules"]["ArchiveReplicaNeedsItsKey"]
    assert rule["RuleCondition"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AuditArchiveReplicaBucketArn"}, ""]}]
    }
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AuditArchiveReplicaKeyArn"}, ""]}]
    }


def test_the_replica_receives_every_archived_version_and_no_delete_marker() -> None:
    stack = central(REPLICA)
    replication = stack.resources["AuditArchiveBucket"]["Properties"]["ReplicationConfiguration"]
    assert replication["Role"] == arn(stack, "ArchiveReplicationRole")
    (rule,) = replication["Rules"]
    assert rule == {
        "Id": "log-archive",
        "Status": "Enabled",
        "Priority": 1,
        "Filter": {"Prefix": ARCHIVE_PREFIX},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
        "Destination": {
            "Bucket": REPLICA["AuditArchiveReplicaBucketArn"],
            "EncryptionConfiguration": {"ReplicaKmsKeyID": REPLICA["AuditArchiveReplicaKeyArn"]},
        },
    }


def test_the_replication_role_is_s3_of_this_account_with_only_the_replication_rights() -> None:
    stack = central(REPLICA)
    trust = stack.resources["ArchiveReplicationRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    ]
    bucket = arn(stack, "AuditArchiveBucket")
    replica = REPLICA["AuditArchiveReplicaBucketArn"]
    granted = grants(stack, "ArchiveReplicationRole")
    by_action: dict[str, set[str]] = {}
    for action, resource, _ in granted:
        by_action.setdefault(action, set()).add(resource)
    assert by_action == {
        "s3:GetReplicationConfiguration": {bucket},
        "s3:ListBucket": {bucket},
        **{action: {f"{bucket}/audit/*"} for action in READS_VERSIONS},
        "s3:ReplicateObject": {f"{replica}/audit/*"},
        "s3:ReplicateTags": {f"{replica}/audit/*"},
        "kms:Decrypt": {f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/*"},
        "kms:Encrypt": {REPLICA["AuditArchiveReplicaKeyArn"]},
    }
    conditions: dict[str, Any] = {a: json.loads(c) for a, _, c in granted if a.startswith("kms:")}
    assert conditions["kms:Decrypt"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket, f"{bucket}/audit/*"]},
    }
    assert conditions["kms:Encrypt"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [
        replica,
        f"{replica}/audit/*",
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AuditArchiveReplicaBucketArn", "arn:aws:s3:::bucket/prefix"),
        ("AuditArchiveReplicaBucketArn", "akr-log-archive"),
        ("AuditArchiveReplicaKeyArn", "arn:aws:kms:eu-west-1:333333333333:alias/archive"),
        ("AuditArchiveReplicaKeyArn", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
    ],
)
def test_the_replica_parameters_take_arns_only(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="does not match"):
        check_parameter(name, load("central")["Parameters"][name], value)


def test_the_data_events_trail_exists_only_when_its_bucket_is_named() -> None:
    assert "AuditDataEventsTrail" not in central().resources


def test_the_trail_records_every_data_event_on_both_tables_and_the_archive_objects() -> None:
    stack = central({"AuditTrailBucketName": "akr-log-archive-trail"})
    trail = stack.resources["AuditDataEventsTrail"]["Properties"]
    selectors = {s["Name"]: s["FieldSelectors"] for s in trail.pop("AdvancedEventSelectors")}
    assert trail == {
        "TrailName": "akr-audit-data-events",
        "IsLogging": True,
        "S3BucketName": "akr-log-archive-trail",
        "EnableLogFileValidation": True,
        "IncludeGlobalServiceEvents": False,
        "IsMultiRegionTrail": False,
    }
    # Data events only (no selector names management events), of exactly these resources.
    assert selectors == {
        "audit and state tables": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
            {"Field": "resources.ARN", "Equals": [arn(stack, "AuditTable"), arn(stack, "StateTable")]},
        ],
        "audit archive objects": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "StartsWith": [f"{arn(stack, 'AuditArchiveBucket')}/"]},
        ],
    }
