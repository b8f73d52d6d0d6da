"""The archiver against moto: the audit table's real stream (moto records it; Lambda's poller is the demo's
stand-in, org_bootstrap.demo.standins.streams) fed to the handler, the archive read back from S3.

moto does not invoke a function from a stream event source mapping without Docker, and its CloudFormation
ignores the bucket's Object Lock: the mapping and the bucket are checked in the template
(tests/stacksets/test_audit_archive.py); Object Lock itself is exercised on a bucket configured through the
S3 API below."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from org_bootstrap.demo.simulation import AUDIT_TABLE, create_tables
from org_bootstrap.demo.standins.streams import read_stream
from remediator import archiver_handler
from remediator.archive_format import ARCHIVE_PREFIX, ArchiveLine, from_json_lines, record_sha256
from remediator.archiver import S3Archive
from tests.integration.lambda_context import FakeLambdaContext

REGION = "eu-west-1"
BUCKET = "akr-audit-archive-test"
ACCOUNT = "111111111111"
OTHER = "333333333333"


class Stream:
    """The audit table's stream, read on from where the last read stopped."""

    def __init__(self, session: boto3.Session) -> None:
        self.client = session.client("dynamodbstreams")
        self.arn = session.client("dynamodb").describe_table(TableName=AUDIT_TABLE)["Table"][
            "LatestStreamArn"
        ]
        self.position: dict[str, str] = {}

    def event(self) -> dict[str, Any]:
        records = read_stream(self.client, self.arn, REGION, self.position)
        self.position.update((shard, r["dynamodb"]["SequenceNumber"]) for shard, r in records)
        return {"Records": [r for _, r in records]}


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_tables(session)
        s3 = session.client("s3")
        s3.create_bucket(
            Bucket=BUCKET,
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
            ObjectLockEnabledForBucket=True,
        )
        s3.put_object_lock_configuration(
            Bucket=BUCKET,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        )
        yield session


@pytest.fixture
def archive(session: boto3.Session) -> S3Archive:
    owner = session.client("sts").get_caller_identity()["Account"]
    return S3Archive(client=session.client("s3"), bucket=BUCKET, owner=owner)


def item(account: str, n: int, decision: str = "delete") -> dict[str, Any]:
    return {
        "account_id": {"S": account},
        "record_id": {"S": f"2026-12-07T10:00:0{n}.000Z#00ff"},
        "day": {"S": "2026-12-07"},
        "decision": {"S": decision},
        "key_age_days": {"N": "91"},
        "tags": {"SS": ["b", "a"]},
    }


def archived(session: boto3.Session) -> dict[str, list[ArchiveLine]]:
    s3 = session.client("s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=ARCHIVE_PREFIX).get("Contents", [])
    return {
        o["Key"]: from_json_lines(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()) for o in listed
    }


def run(event: dict[str, Any], archive: S3Archive) -> dict[str, Any]:
    return archiver_handler.handle_batch(event, FakeLambdaContext(), archive)  # type: ignore[arg-type]


def test_an_insert_is_archived_unchanged_with_the_hash_of_the_stored_item(
    session: boto3.Session, archive: S3Archive
) -> None:
    dynamodb = session.client("dynamodb")
    dynamodb.put_item(TableName=AUDIT_TABLE, Item=item(ACCOUNT, 1))
    stream = Stream(session)
    assert run(stream.event(), archive) == {"batchItemFailures": []}
    objects = archived(session)
    ((key, (line,)),) = objects.items()
    stored = dynamodb.get_item(
        TableName=AUDIT_TABLE, Key={k: item(ACCOUNT, 1)[k] for k in ("account_id", "record_id")}
    )
    assert key == f"audit/2026-12-07/{ACCOUNT}/{line.sequence_number}.jsonl"
    assert (line.event, line.account_id, line.day) == ("INSERT", ACCOUNT, "2026-12-07")
    assert line.sha256 == record_sha256(stored["Item"]) == record_sha256(item(ACCOUNT, 1))
    assert line.new_image == item(ACCOUNT, 1)
    assert line.old_sha256 is None


def test_an_overwrite_is_a_modify_line_with_both_hashes_and_counts_as_altered(
    session: boto3.Session, archive: S3Archive, capsys: pytest.CaptureFixture[str]
) -> None:
    dynamodb = session.client("dynamodb")
    dynamodb.put_item(TableName=AUDIT_TABLE, Item=item(ACCOUNT, 1))
    stream = Stream(session)
    run(stream.event(), archive)
    dynamodb.put_item(TableName=AUDIT_TABLE, Item=item(ACCOUNT, 1, decision="none"))
    archiver_handler.metrics.clear_metrics()
    run(stream.event(), archive)
    modify = [line for lines in archived(session).values() for line in lines if line.event == "MODIFY"]
    assert len(modify) == 1
    assert modify[0].old_sha256 == record_sha256(item(ACCOUNT, 1))
    assert modify[0].sha256 == record_sha256(item(ACCOUNT, 1, decision="none"))
    assert modify[0].altered
    assert archiver_handler.metrics.metric_set["AuditRecordsAltered"]["Value"] == [1.0]
    archiver_handler.metrics.clear_metrics()


def test_a_delete_is_a_remove_line_with_the_old_image(session: boto3.Session, archive: S3Archive) -> None:
    dynamodb = session.client("dynamodb")
    dynamodb.put_item(TableName=AUDIT_TABLE, Item=item(ACCOUNT, 1))
    dynamodb.delete_item(
        TableName=AUDIT_TABLE, Key={k: item(ACCOUNT, 1)[k] for k in ("account_id", "record_id")}
    )
    archiver_handler.metrics.clear_metrics()
    run(Stream(session).event(), archive)
    ((_, lines),) = archived(session).items()
    assert [line.event for line in lines] == ["INSERT", "REMOVE"]
    remove = lines[1]
    assert (remove.sha256, remove.new_image) == (None, None)
    assert remove.old_sha256 == record_sha256(item(ACCOUNT, 1))
    assert remove.old_image == item(ACCOUNT, 1)
    assert archiver_handler.metrics.metric_set["AuditRecordsAltered"]["Value"] == [1.0]
    archiver_handler.metrics.clear_metrics()


def test_a_batch_is_one_object_per_day_and_account(session: boto3.Session, archive: S3Archive) -> None:
    dynamodb = session.client("dynamodb")
    for account, n in ((ACCOUNT, 1), (OTHER, 2), (ACCOUNT, 3)):
        dynamodb.put_item(TableName=AUDIT_TABLE, Item=item(account, n))
    run(Stream(session).event(), archive)
    objects = archived(session)
    by_account = {key.split("/")[2]: [line.record_id for line in lines] for key, lines in objects.items()}
    assert by_account == {
        ACCOUNT: ["2026-12-07T10:00:01.000Z#00ff", "2026-12-07T10:00:03.000Z#00ff"],
        OTHER: ["2026-12-07T10:00:02.000Z#00ff"],
    }


def test_a_failed_object_reports_exactly_its_records_and_the_others_are_archived(
    session: boto3.Session, archive: S3Archive
) -> None:
    dynamodb = session.client("dynamodb")
    for account, n in ((ACCOUNT, 1), (OTHER, 2), (ACCOUNT, 3)):
        dynamodb.put_item(TableName=AUDIT_TABLE, Item=item(account, n))
    event = Stream(session).event()
    sequence = {
        r["dynamodb"]["Keys"]["record_id"]["S"]: r["dynamodb"]["SequenceNumber"] for r in event["Records"]
    }

    def refuse_account(params: dict[str, Any], **_: Any) -> None:
        if f"/{ACCOUNT}/" in params["Key"]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObject")

    archive.client.meta.events.register("provide-client-params.s3.PutObject", refuse_account)
    response = run(event, archive)
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": sequence[item(ACCOUNT, 1)["record_id"]["S"]]},
            {"itemIdentifier": sequence[item(ACCOUNT, 3)["record_id"]["S"]]},
        ]
    }
    assert [key.split("/")[2] for key in archived(session)] == [OTHER]


def test_a_retried_group_writes_the_same_key_again_and_both_versions_are_kept(
    session: boto3.Session, archive: S3Archive
) -> None:
    session.client("dynamodb").put_item(TableName=AUDIT_TABLE, Item=item(ACCOUNT, 1))
    event = Stream(session).event()
    run(event, archive)
    run(event, archive)
    ((key, lines),) = archived(session).items()
    versions = session.client("s3").list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    assert len(versions) == 2
    assert len(lines) == 1


def test_object_lock_refuses_deleting_an_archived_version(session: boto3.Session, archive: S3Archive) -> None:
    session.client("dynamodb").put_item(TableName=AUDIT_TABLE, Item=item(ACCOUNT, 1))
    run(Stream(session).event(), archive)
    s3 = session.client("s3")
    (version,) = s3.list_object_versions(Bucket=BUCKET, Prefix=ARCHIVE_PREFIX)["Versions"]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])


def test_every_write_names_the_bucket_owner_and_a_checksum(
    session: boto3.Session, archive: S3Archive
) -> None:
    # moto's S3 does not check ExpectedBucketOwner (docs/aws-compatibility.md): the parameters are asserted.
    session.client("dynamodb").put_item(TableName=AUDIT_TABLE, Item=item(ACCOUNT, 1))
    sent: list[dict[str, Any]] = []
    archive.client.meta.events.register(
        "provide-client-params.s3.PutObject", lambda params, **_: sent.append(dict(params))
    )
    run(Stream(session).event(), archive)
    assert [(p["ExpectedBucketOwner"], p["ChecksumAlgorithm"]) for p in sent] == [(archive.owner, "SHA256")]
