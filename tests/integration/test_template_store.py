"""The central template reaches CloudFormation through the code bucket (TemplateURL), named by its SHA-256,
and akr checks that the stack runs exactly the uploaded bytes.

moto's CloudFormation reads a virtual-hosted-style TemplateURL from its own S3 backend, as CloudFormation
reads the object: the create and the read-back run against it. moto does not check ExpectedBucketOwner: the
Stubber test holds the upload to the parameters S3 needs for that check."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from org_bootstrap.aws import CliError
from org_bootstrap.deploy.template_store import (
    check_running,
    store_template,
    template_key,
    template_url,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client

REGION: Final = "eu-west-1"
SECURITY = "123456789012"  # moto's default account
BUCKET = f"akr-code-{SECURITY}-{REGION}"
TEMPLATE = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
SWAPPED = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def aws() -> Iterator[tuple[S3Client, CloudFormationClient]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield s3, boto3.client("cloudformation", region_name=REGION)


def test_the_key_names_the_content() -> None:
    assert template_key("central", TEMPLATE) == f"templates/central-{sha(TEMPLATE)}.yaml"
    assert template_key("central", TEMPLATE) != template_key("central", TEMPLATE + "\n")


@pytest.mark.parametrize(
    ("partition", "region", "host"),
    [
        ("aws", "eu-west-1", f"{BUCKET}.s3.eu-west-1.amazonaws.com"),
        ("aws-cn", "cn-north-1", f"{BUCKET}.s3.cn-north-1.amazonaws.com.cn"),
        ("aws-us-gov", "us-gov-west-1", f"{BUCKET}.s3.us-gov-west-1.amazonaws.com"),
    ],
)
def test_the_address_is_https_in_the_partitions_domain(partition: str, region: str, host: str) -> None:
    assert template_url(BUCKET, "templates/t.yaml", region=region, partition=partition) == (
        f"https://{host}/templates/t.yaml"
    )


def test_an_unknown_partition_is_a_clear_error() -> None:
    with pytest.raises(CliError, match="unknown partition 'aws-moon': cannot name the template's S3 address"):
        template_url(BUCKET, "k", region=REGION, partition="aws-moon")


def test_a_stack_created_from_the_stored_template_runs_those_bytes(
    aws: tuple[S3Client, CloudFormationClient],
) -> None:
    s3, cloudformation = aws
    key = template_key("central", TEMPLATE)
    store_template(s3, BUCKET, SECURITY, key, TEMPLATE)
    stored = s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["Body"].read().decode() == TEMPLATE
    assert stored["ContentType"] == "text/yaml"
    url = template_url(BUCKET, key, region=REGION, partition="aws")
    cloudformation.create_stack(StackName="central", TemplateURL=url)
    check_running(cloudformation, "central", TEMPLATE)  # no error: the same bytes


def test_a_template_swapped_in_the_bucket_before_cloudformation_reads_it_is_caught(
    aws: tuple[S3Client, CloudFormationClient],
) -> None:
    s3, cloudformation = aws
    key = template_key("central", TEMPLATE)
    store_template(s3, BUCKET, SECURITY, key, TEMPLATE)
    s3.put_object(Bucket=BUCKET, Key=key, Body=SWAPPED.encode())  # someone else's write, same key
    cloudformation.create_stack(
        StackName="central", TemplateURL=template_url(BUCKET, key, region=REGION, partition="aws")
    )
    with pytest.raises(CliError) as raised:
        check_running(cloudformation, "central", TEMPLATE)
    assert str(raised.value) == (
        f"stack central runs a template with SHA-256 {sha(SWAPPED)}, not the one akr uploaded "
        f"({sha(TEMPLATE)}): someone changed it in the bucket; check s3 access and run akr deploy again"
    )


def test_the_upload_names_the_expected_owner_and_a_checksum() -> None:
    client = boto3.client(
        "s3", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "put_object",
            {},
            {
                "Bucket": BUCKET,
                "Key": "templates/central-x.yaml",
                "Body": TEMPLATE.encode(),
                "ContentType": "text/yaml",
                "ChecksumAlgorithm": "SHA256",
                "ExpectedBucketOwner": SECURITY,
            },
        )
        store_template(client, BUCKET, SECURITY, "templates/central-x.yaml", TEMPLATE)
        stub.assert_no_pending_responses()
