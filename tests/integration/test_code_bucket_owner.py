"""The code bucket's name is predictable (akr-code-<security account>-<region>): a bucket of that name that
the security account does not own is refused, and nothing is uploaded to it.

moto gap: its S3 has one namespace per account and does not check ExpectedBucketOwner, so it cannot show a
bucket owned by someone else. The botocore Stubber, which validates every call against S3's service model,
answers as S3 does: 403 on a HeadBucket whose ExpectedBucketOwner is not the owner.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from org_bootstrap.deploy.destroy import empty_and_delete_bucket
from org_bootstrap.deploy.organization import ForeignBucketError, bucket_exists

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SECURITY = "222222222222"
BUCKET = f"akr-code-{SECURITY}-eu-west-1"


@pytest.fixture
def s3() -> Iterator[tuple[S3Client, Stubber]]:
    client = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_a_bucket_another_account_owns_is_refused_with_a_clear_error(s3: tuple[S3Client, Stubber]) -> None:
    client, stub = s3
    stub.add_client_error(
        "head_bucket",
        service_error_code="403",
        service_message="Forbidden",
        http_status_code=403,
        expected_params={"Bucket": BUCKET, "ExpectedBucketOwner": SECURITY},
    )
    with pytest.raises(ForeignBucketError) as raised:
        bucket_exists(client, BUCKET, SECURITY)
    assert str(raised.value) == (
        f"bucket {BUCKET} exists but the security account {SECURITY} does not own it (or may not read it): "
        "akr stores the remediator's code only in a bucket of the security account, since the bucket's "
        "owner could replace the code; nothing was uploaded"
    )
    # No other call: the Stubber fails on any call it was not told to expect (PutObject included).


@pytest.mark.parametrize(("answer", "exists"), [(None, True), ("404", False), ("NoSuchBucket", False)])
def test_the_security_accounts_own_bucket_is_found_by_its_owner(
    s3: tuple[S3Client, Stubber], answer: str | None, exists: bool
) -> None:
    client, stub = s3
    expected = {"Bucket": BUCKET, "ExpectedBucketOwner": SECURITY}
    if answer is None:
        stub.add_response("head_bucket", {}, expected)
    else:
        stub.add_client_error(
            "head_bucket", service_error_code=answer, http_status_code=404, expected_params=expected
        )
    assert bucket_exists(client, BUCKET, SECURITY) is exists


def test_destroy_names_the_owner_on_every_call(s3: tuple[S3Client, Stubber]) -> None:
    client, stub = s3
    owned = {"Bucket": BUCKET, "ExpectedBucketOwner": SECURITY}
    stub.add_response("delete_bucket_policy", {}, owned)
    stub.add_response(
        "list_object_versions",
        {"Versions": [{"Key": "remediator/a.zip", "VersionId": "v1"}]},
        owned,
    )
    stub.add_response(
        "delete_objects",
        {},
        {**owned, "Delete": {"Objects": [{"Key": "remediator/a.zip", "VersionId": "v1"}], "Quiet": True}},
    )
    stub.add_response("delete_bucket", {}, owned)
    empty_and_delete_bucket(client, BUCKET, lambda _message: None, owner=SECURITY)
