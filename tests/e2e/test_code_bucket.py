"""The code bucket through the real command line against a moto server: an existing bucket of the security
account is adopted and repaired (versioning, public access block) and gets akr's policy, the plan saying so;
a list of code writers that leaves out the deploy's own principal is refused before any change.

moto gap: moto checks object requests against a bucket policy but denies on every statement with a
condition (org_bootstrap.demo.organization.conditional_bucket_policies leaves those out), so what the policy
allows and denies is tested on the document (tests/unit/test_bucket_policy.py); here, what is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from org_bootstrap.deploy.bucket_policy import TLS_SID, WRITERS_SID
from tests.e2e.akr import deploy
from tests.moto_server import REGION, ServerOrganization

pytestmark = pytest.mark.slow


def bucket_of(organization: ServerOrganization) -> str:
    return f"akr-code-{organization.security}-{REGION}"


def writer_of(organization: ServerOrganization) -> str:
    """From the management account, akr writes the bucket through the security role."""
    return f"arn:aws:iam::{organization.security}:role/OrganizationAccountAccessRole"


@pytest.fixture(scope="module")
def adopted(organization: ServerOrganization) -> dict[str, Any]:
    """A bucket of that name the security account made earlier by hand: unversioned, no public access block,
    a statement of its own in its policy."""
    s3 = organization.client("s3", organization.security)
    bucket = bucket_of(organization)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    own = {
        "Sid": "TeamReadOnly",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{organization.security}:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [own]}))
    return own


def test_a_code_writer_list_without_the_deploys_own_principal_is_refused_before_any_change(
    organization: ServerOrganization, adopted: dict[str, Any]
) -> None:
    other = f"arn:aws:iam::{organization.security}:role/release-pipeline"
    result = deploy(organization, "--code-writer-arn", other, "--yes", "--output", "json")
    assert result.exit_code == 1
    writer = writer_of(organization)
    assert json.loads(result.stdout)["error"] == (
        f"akr deploy writes the code bucket's objects as {writer}, which --code-writer-arn does not list "
        f"({other}): the bucket policy would deny the deploy its own upload; give --code-writer-arn for "
        f"every principal that may write the code, {writer} among them"
    )
    s3 = organization.client("s3", organization.security)
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket_of(organization))
    assert [
        s["Sid"]
        for s in json.loads(s3.get_bucket_policy(Bucket=bucket_of(organization))["Policy"])["Statement"]
    ] == ["TeamReadOnly"]


def test_an_assumed_role_session_is_refused_as_a_code_writer(organization: ServerOrganization) -> None:
    session = f"arn:aws:sts::{organization.security}:assumed-role/Admin/jane"
    result = deploy(organization, "--code-writer-arn", session, "--dry-run", "--output", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == (
        f"--code-writer-arn: '{session}' is not the ARN of a role, a user or an account root (an "
        "assumed-role session: give its role's ARN, arn:<partition>:iam::<account>:role/<name>)"
    )


@pytest.fixture(scope="module")
def deployed(organization: ServerOrganization, adopted: dict[str, Any]) -> dict[str, Any]:
    result = deploy(organization, "--yes", "--output", "json")
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_the_plan_says_the_existing_bucket_is_repaired_and_gets_the_policy(
    organization: ServerOrganization, deployed: dict[str, Any]
) -> None:
    bucket, writer = bucket_of(organization), writer_of(organization)
    assert deployed["plan"][:2] == [
        f"Would repair the existing bucket s3://{bucket} (owned by the security account): versioning turned "
        "on, all public access blocked",
        f"Would update the policy of bucket s3://{bucket}: requests without TLS denied; object writes denied "
        f"to every principal but {writer}",
    ]


def test_the_adopted_bucket_is_versioned_closed_to_the_public_and_under_the_policy(
    organization: ServerOrganization, adopted: dict[str, Any], deployed: dict[str, Any]
) -> None:
    s3 = organization.client("s3", organization.security)
    bucket = bucket_of(organization)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]}
    assert set(statements) == {TLS_SID, WRITERS_SID, "TeamReadOnly"}
    assert statements["TeamReadOnly"] == adopted  # the bucket's own statement is kept as it was
    assert statements[WRITERS_SID]["Condition"] == {
        "ArnNotLike": {"aws:PrincipalArn": [writer_of(organization)]}
    }
    # The package went up after the policy, as its writer.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(key.startswith("remediator/") for key in keys)


def test_a_second_deploy_keeps_the_policy_and_changes_nothing(
    organization: ServerOrganization, deployed: dict[str, Any]
) -> None:
    result = deploy(organization, "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plan"] == ["Nothing to change: the organization is up to date"]


def test_another_code_writer_is_added_in_words(
    organization: ServerOrganization, deployed: dict[str, Any]
) -> None:
    writer, pipeline = writer_of(organization), f"arn:aws:iam::{organization.security}:role/release-pipeline"
    result = deploy(
        organization,
        "--code-writer-arn",
        writer,
        "--code-writer-arn",
        pipeline,
        "--dry-run",
        "--output",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plan"] == [
        f"Would update the policy of bucket s3://{bucket_of(organization)}: object writers {writer} -> "
        f"{writer}, {pipeline}"
    ]
