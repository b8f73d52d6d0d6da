"""The readers of `akr audit verify` where moto cannot show what S3 and DynamoDB do: a refused call becomes
"could not verify" with the call named, and an object that the lifecycle moved to Glacier Instant Retrieval
is read with a plain GetObject, every version of it, with no restore.

moto gap: it enforces no IAM policy and has no Glacier Instant Retrieval transition. The botocore Stubber
validates every call against the service models and answers as the services do.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html#sc-glacier
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from org_bootstrap.review.audit_evidence import VerifyError, Window, read_archive, read_table
from remediator.archive_format import line_from_item, to_json_lines

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

SECURITY = "222222222222"
BUCKET = "archive-bucket"
DAY = "2026-12-01"
WINDOW = Window(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 1, 23, 59, tzinfo=UTC))
ITEM = {
    "account_id": {"S": "111111111111"},
    "record_id": {"S": f"{DAY}T08:00:00.000Z#00ff"},
    "day": {"S": DAY},
    "recorded_at": {"S": f"{DAY}T08:00:00+00:00"},
}
DENIED = {"Code": "AccessDenied", "Message": "Access Denied"}


@pytest.fixture
def s3() -> Iterator[tuple[S3Client, Stubber]]:
    made = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(made) as stub:
        yield made, stub
        stub.assert_no_pending_responses()


def listing(prefix: str) -> dict[str, Any]:
    return {"Bucket": BUCKET, "Prefix": prefix, "ExpectedBucketOwner": SECURITY}


def test_an_object_in_glacier_instant_retrieval_is_read_in_every_version_without_a_restore(
    s3: tuple[S3Client, Stubber],
) -> None:
    made, stub = s3
    line = line_from_item(ITEM, read_at=datetime(2026, 12, 2, tzinfo=UTC), operation_id="op")
    key = f"audit/{DAY}/111111111111/1.jsonl"
    versions = [
        {"Key": key, "VersionId": version, "StorageClass": "GLACIER_IR", "IsLatest": version == "v2"}
        for version in ("v2", "v1")
    ]
    stub.add_response("list_object_versions", {"Versions": versions}, listing(f"audit/{DAY}/"))
    for version in ("v2", "v1"):
        body = to_json_lines([line])
        stub.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "StorageClass": "GLACIER_IR"},
            {"Bucket": BUCKET, "Key": key, "VersionId": version, "ExpectedBucketOwner": SECURITY},
        )
    # One thread: the Stubber answers in order.
    assert read_archive(made, BUCKET, SECURITY, WINDOW, concurrency=1) == [line, line]


def test_a_refused_listing_is_could_not_verify_naming_the_call(s3: tuple[S3Client, Stubber]) -> None:
    made, stub = s3
    stub.add_client_error(
        "list_object_versions",
        DENIED["Code"],
        DENIED["Message"],
        403,
        expected_params=listing(f"audit/{DAY}/"),
    )
    with pytest.raises(VerifyError) as refused:
        read_archive(made, BUCKET, SECURITY, WINDOW)
    assert str(refused.value) == f"s3:ListObjectVersions on {BUCKET}: AccessDenied: Access Denied"


def test_a_refused_query_is_could_not_verify_naming_the_table() -> None:
    made: DynamoDBClient = boto3.client(
        "dynamodb", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(made) as stub:
        stub.add_client_error(
            "query", "AccessDeniedException", "not authorized to perform dynamodb:Query", 400
        )
        with pytest.raises(VerifyError) as refused:
            read_table(made, "audit", WINDOW)
    assert str(refused.value) == (
        "dynamodb:Query on audit: AccessDeniedException: not authorized to perform dynamodb:Query"
    )
