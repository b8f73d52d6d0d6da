"""The code bucket's calls: reading its protections, repairing an adopted bucket and setting its policy, each
call naming the security account as the expected owner (botocore Stubber, which checks every parameter
against S3's service model: moto does not check ExpectedBucketOwner); and the principal the deploy writes as,
with its role's path from IAM (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from org_bootstrap.aws import Aws
from org_bootstrap.deploy.bucket_policy import desired_policy
from org_bootstrap.deploy.code_bucket import ALL_BLOCKED, code_writer, read_bucket, secure_bucket
from org_bootstrap.deploy.deployment import Deployment
from org_bootstrap.deploy.observed import BucketState
from org_bootstrap.deploy.plan import Plan, plan_deploy
from tests.unit.test_deploy_plan import CENTRAL, CODE_KEY, MEMBER, fresh

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_s3 import S3Client

SECURITY = "222222222222"
IN_MOTO = "123456789012"  # the security account of the IAM tests: moto's
REGION = "eu-west-1"
BUCKET = f"akr-code-{SECURITY}-{REGION}"
OWNED = {"Bucket": BUCKET, "ExpectedBucketOwner": SECURITY}
WRITER = f"arn:aws:iam::{SECURITY}:role/OrganizationAccountAccessRole"


@pytest.fixture
def s3() -> Iterator[tuple[S3Client, Stubber]]:
    client = boto3.client(
        "s3", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_a_secured_bucket_reads_as_secured(s3: tuple[S3Client, Stubber]) -> None:
    client, stub = s3
    policy = desired_policy("", BUCKET, "aws", [WRITER])
    stub.add_response("get_bucket_versioning", {"Status": "Enabled"}, OWNED)
    stub.add_response("get_public_access_block", {"PublicAccessBlockConfiguration": ALL_BLOCKED}, OWNED)
    stub.add_response("get_bucket_policy", {"Policy": policy}, OWNED)
    assert read_bucket(client, BUCKET, SECURITY) == BucketState(
        versioned=True, public_access_blocked=True, policy=policy
    )


def test_a_bare_bucket_reads_as_lacking_everything(s3: tuple[S3Client, Stubber]) -> None:
    client, stub = s3
    stub.add_response("get_bucket_versioning", {"Status": "Suspended"}, OWNED)
    stub.add_client_error(
        "get_public_access_block",
        "NoSuchPublicAccessBlockConfiguration",
        http_status_code=404,
        expected_params=OWNED,
    )
    stub.add_client_error(
        "get_bucket_policy", "NoSuchBucketPolicy", http_status_code=404, expected_params=OWNED
    )
    assert read_bucket(client, BUCKET, SECURITY) == BucketState()


def test_a_partly_open_public_access_block_is_not_blocked(s3: tuple[S3Client, Stubber]) -> None:
    client, stub = s3
    stub.add_response("get_bucket_versioning", {}, OWNED)
    stub.add_response(
        "get_public_access_block",
        {"PublicAccessBlockConfiguration": {**ALL_BLOCKED, "RestrictPublicBuckets": False}},
        OWNED,
    )
    stub.add_client_error(
        "get_bucket_policy", "NoSuchBucketPolicy", http_status_code=404, expected_params=OWNED
    )
    assert read_bucket(client, BUCKET, SECURITY).public_access_blocked is False


def adopted_plan(state: BucketState) -> tuple[Deployment, Plan]:
    deployment = Deployment(security_account_id=SECURITY, home_region=REGION)
    observed = fresh(bucket_exists=True, bucket=state, code_writer=WRITER)
    return deployment, plan_deploy(
        deployment,
        observed,
        code_key=CODE_KEY,
        code_sha256="0" * 43 + "=",
        central_template=CENTRAL,
        member_template=MEMBER,
    )


def test_an_adopted_bucket_is_repaired_and_gets_the_policy_and_is_never_created(
    s3: tuple[S3Client, Stubber],
) -> None:
    client, stub = s3
    deployment, plan = adopted_plan(BucketState())
    stub.add_response("put_public_access_block", {}, {**OWNED, "PublicAccessBlockConfiguration": ALL_BLOCKED})
    stub.add_response(
        "put_bucket_versioning", {}, {**OWNED, "VersioningConfiguration": {"Status": "Enabled"}}
    )
    stub.add_response("put_bucket_policy", {}, {**OWNED, "Policy": plan.bucket_policy})
    said: list[str] = []
    secure_bucket(client, deployment, plan, said.append)
    assert said == [
        f"repairing bucket {BUCKET}: versioning turned on, all public access blocked",
        f"setting the policy of bucket {BUCKET}",
    ]


def test_a_secured_bucket_gets_no_call(s3: tuple[S3Client, Stubber]) -> None:
    client, _ = s3
    policy = desired_policy("", BUCKET, "aws", [WRITER])
    deployment, plan = adopted_plan(BucketState(versioned=True, public_access_blocked=True, policy=policy))
    secure_bucket(client, deployment, plan, lambda _message: None)  # the Stubber refuses any call


class SecurityAws(Aws):
    """The command run in the security account as `caller`, its IAM client `iam`."""

    def __init__(self, caller: str, iam: IAMClient) -> None:
        super().__init__(region=REGION, _identity=(IN_MOTO, caller))
        self.iam_client = iam

    def iam(self, session: boto3.Session | None = None) -> IAMClient:
        return self.iam_client


@pytest.fixture
def iam() -> Iterator[IAMClient]:
    with mock_aws():
        yield boto3.client("iam", region_name=REGION)


def role(iam: IAMClient, name: str, path: str = "/") -> str:
    trust = '{"Version": "2012-10-17", "Statement": []}'
    arn: str = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    return arn


def writer_as(caller: str, iam: IAMClient, *, from_management: bool = False) -> tuple[str, bool]:
    deployment = Deployment(security_account_id=IN_MOTO, home_region=REGION)
    session: Any = boto3.Session(region_name=REGION)
    account = "111111111111" if from_management else IN_MOTO
    return code_writer(SecurityAws(caller, iam), deployment, account, session)


def test_a_role_session_in_the_security_account_is_named_by_its_roles_arn_with_the_path(
    iam: IAMClient,
) -> None:
    path = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
    arn = role(iam, "AWSReservedSSO_Admin_0a1b", path)
    assert arn.startswith(f"arn:aws:iam::{IN_MOTO}:role/aws-reserved/sso.amazonaws.com/")
    session = f"arn:aws:sts::{IN_MOTO}:assumed-role/AWSReservedSSO_Admin_0a1b/jane@example.com"
    assert writer_as(session, iam) == (arn, True)


def test_from_the_management_account_the_writer_is_the_security_role(iam: IAMClient) -> None:
    arn = role(iam, "OrganizationAccountAccessRole")
    assert writer_as("arn:aws:iam::111111111111:user/ops", iam, from_management=True) == (arn, True)


@pytest.mark.parametrize("caller", [f"arn:aws:iam::{IN_MOTO}:user/ops/jane", f"arn:aws:iam::{IN_MOTO}:root"])
def test_a_user_or_the_root_is_named_as_sts_names_it(caller: str, iam: IAMClient) -> None:
    assert writer_as(caller, iam) == (caller, True)


def test_a_role_iam_will_not_describe_is_named_without_its_path_and_marked_so() -> None:
    iam: Any = boto3.client("iam", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(iam) as stub:
        stub.add_client_error(
            "get_role", "AccessDenied", http_status_code=403, expected_params={"RoleName": "Ops"}
        )
        session = f"arn:aws:sts::{IN_MOTO}:assumed-role/Ops/jane"
        assert writer_as(session, iam) == (f"arn:aws:iam::{IN_MOTO}:role/Ops", False)
