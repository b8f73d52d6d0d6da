"""The archiver under injected faults: a PutObject applied whose reply is lost is retried by botocore on
the same key (a second version, the same lines: nothing is lost, nothing reported failed); a PutObject
that keeps failing fails its own records only, and the retried batch writes them under the same key."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from org_bootstrap.demo.simulation import AUDIT_TABLE, create_tables
from remediator import archiver_handler
from remediator.archive_format import ARCHIVE_PREFIX, from_json_lines, record_sha256
from remediator.archiver import S3Archive
from tests.faults.injector import Injector
from tests.integration.lambda_context import FakeLambdaContext
from tests.integration.test_archiver import BUCKET, Stream, item

ACCOUNT = "111111111111"


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        create_tables(session)
        session.client("s3").create_bucket(
            Bucket=BUCKET,
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
            ObjectLockEnabledForBucket=True,
        )
        yield session


def archive_with(session: boto3.Session, injector: Injector) -> S3Archive:
    client = session.client("s3")
    injector.attach(client)
    return S3Archive(client=client, bucket=BUCKET, owner=ACCOUNT)


def versions(session: boto3.Session) -> dict[str, list[bytes]]:
    s3 = session.client("s3")
    found: dict[str, list[bytes]] = {}
    for version in s3.list_object_versions(Bucket=BUCKET, Prefix=ARCHIVE_PREFIX).get("Versions", []):
        body = s3.get_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
        found.setdefault(version["Key"], []).append(body)
    return found


def test_a_lost_put_reply_is_retried_on_the_same_key_and_nothing_fails(session: boto3.Session) -> None:
    session.client("dynamodb").put_item(TableName=AUDIT_TABLE, Item=item(ACCOUNT, 1))
    injector = Injector(seed=3).lose_reply("s3", "PutObject")
    response = archiver_handler.handle_batch(
        Stream(session).event(),
        FakeLambdaContext(),  # type: ignore[arg-type]
        archive_with(session, injector),
    )
    assert injector.log == ["lose-reply s3:PutObject"]
    assert response == {"batchItemFailures": []}
    ((key, bodies),) = versions(session).items()
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    (line,) = from_json_lines(bodies[0])
    assert key.endswith(f"/{line.sequence_number}.jsonl")
    assert line.sha256 == record_sha256(item(ACCOUNT, 1))


def test_a_put_that_fails_for_good_is_retried_by_the_batch_on_the_same_key(session: boto3.Session) -> None:
    dynamodb = session.client("dynamodb")
    for n in (1, 2):
        dynamodb.put_item(TableName=AUDIT_TABLE, Item=item(ACCOUNT, n))
    event = Stream(session).event()
    injector = Injector(seed=3).fail_call("s3", "PutObject", code="InternalError")
    archive = archive_with(session, injector)
    with pytest.raises(Exception, match="All records failed processing"):
        archiver_handler.handle_batch(event, FakeLambdaContext(), archive)  # type: ignore[arg-type]
    assert versions(session) == {}
    # Lambda retries the batch from its first failed record: the same records, the same key.
    assert archiver_handler.handle_batch(event, FakeLambdaContext(), archive) == {"batchItemFailures": []}  # type: ignore[arg-type]
    ((key, (body,)),) = versions(session).items()
    assert [line.record_id for line in from_json_lines(body)] == [
        item(ACCOUNT, n)["record_id"]["S"] for n in (1, 2)
    ]
    assert key.endswith(f"/{event['Records'][0]['dynamodb']['SequenceNumber']}.jsonl")
