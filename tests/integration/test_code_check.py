"""After the central stack's update akr checks the CodeSha256 of what the stack's functions run against the
package it built.

moto computes a function's CodeSha256 from the S3 object CloudFormation names, as Lambda reports it (base64
of the SHA-256 digest): the match and the mismatch run against it. moto's CloudFormation skips
AWS::Lambda::Alias (SnapStart on): the Stubber test holds the alias case to the real service model."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from org_bootstrap.aws import CliError
from org_bootstrap.deploy.code_check import check_code, lambda_sha256

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

REGION: Final = "eu-west-1"
BUCKET = "akr-code-123456789012-eu-west-1"
KEY = "remediator/package.zip"
ALIAS_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:central-remediator:live"


def package(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("remediator/handler.py", text)
    return buffer.getvalue()


BUILT = package("def lambda_handler(event, context): ...\n")
SWAPPED = package("def lambda_handler(event, context): steal()\n")
TEMPLATE = json.dumps(
    {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                },
            },
            "RemediatorFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "remediator.handler.lambda_handler",
                    "Runtime": "python3.12",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"S3Bucket": BUCKET, "S3Key": KEY},
                },
            },
        }
    }
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def aws() -> Iterator[tuple[S3Client, CloudFormationClient, LambdaClient]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield (
            s3,
            boto3.client("cloudformation", region_name=REGION),
            boto3.client("lambda", region_name=REGION),
        )


def test_lambda_sha256_is_the_base64_of_the_digest() -> None:
    assert lambda_sha256("00" * 32) == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    assert lambda_sha256(sha256(b"abc")) == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="


def test_a_stack_whose_function_runs_the_built_package_passes(
    aws: tuple[S3Client, CloudFormationClient, LambdaClient],
) -> None:
    s3, cloudformation, functions = aws
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BUILT)
    cloudformation.create_stack(StackName="central", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    check_code(cloudformation, functions, "central", lambda_sha256(sha256(BUILT)))  # no error


def test_a_code_sha256_mismatch_is_a_clear_error_naming_both(
    aws: tuple[S3Client, CloudFormationClient, LambdaClient],
) -> None:
    # Someone writes another package to the key between akr's upload and Lambda's read.
    s3, cloudformation, functions = aws
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=SWAPPED)
    cloudformation.create_stack(StackName="central", TemplateBody=TEMPLATE, Capabilities=["CAPABILITY_IAM"])
    built, running = lambda_sha256(sha256(BUILT)), lambda_sha256(sha256(SWAPPED))
    with pytest.raises(CliError) as raised:
        check_code(cloudformation, functions, "central", built)
    assert str(raised.value) == (
        f"stack central: RemediatorFunction runs code with CodeSha256 {running}, not the package akr built "
        f"({built}); akr deploy stopped here and changes nothing more: check who can write the code bucket, "
        "then run akr deploy again"
    )


def test_a_stack_without_functions_fails_the_check(
    aws: tuple[S3Client, CloudFormationClient, LambdaClient],
) -> None:
    _, cloudformation, functions = aws
    cloudformation.create_stack(
        StackName="central", TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}})
    )
    with pytest.raises(CliError, match="stack central has no Lambda function: cannot check it runs"):
        check_code(cloudformation, functions, "central", lambda_sha256(sha256(BUILT)))


def summary(logical: str, kind: str, physical: str) -> dict[str, object]:
    return {
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical,
        "ResourceType": kind,
        "LastUpdatedTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "ResourceStatus": "UPDATE_COMPLETE",
    }


@pytest.mark.parametrize(
    ("version_code", "error"),
    [("BUILT", None), ("SWAPPED", "RemediatorAlias runs code with CodeSha256")],
    ids=["alias on the built package", "alias on other code"],
)
def test_with_snapstart_the_version_behind_each_alias_is_checked(
    version_code: str, error: str | None
) -> None:
    # SnapStart on: the rules invoke the alias, so its published version must run the package, besides
    # $LATEST. GetFunctionConfiguration on the alias ARN describes the version behind it.
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    cloudformation, functions = session.client("cloudformation"), session.client("lambda")
    built = lambda_sha256(sha256(BUILT))
    behind_alias = built if version_code == "BUILT" else lambda_sha256(sha256(SWAPPED))
    with Stubber(cloudformation) as stack, Stubber(functions) as lambda_stub:
        stack.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    summary("RemediatorFunction", "AWS::Lambda::Function", "central-remediator"),
                    summary("RemediatorVersion", "AWS::Lambda::Version", f"{ALIAS_ARN[:-5]}:3"),
                    summary("RemediatorAlias", "AWS::Lambda::Alias", ALIAS_ARN),
                ]
            },
            {"StackName": "central"},
        )
        # Sorted by logical id: the alias first.
        lambda_stub.add_response(
            "get_function_configuration",
            {"CodeSha256": behind_alias, "Version": "3"},
            {"FunctionName": ALIAS_ARN},
        )
        if error is None:
            lambda_stub.add_response(
                "get_function_configuration", {"CodeSha256": built}, {"FunctionName": "central-remediator"}
            )
            check_code(cloudformation, functions, "central", built)
        else:
            with pytest.raises(CliError, match=error):
                check_code(cloudformation, functions, "central", built)
        stack.assert_no_pending_responses()
        lambda_stub.assert_no_pending_responses()
