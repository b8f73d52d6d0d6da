"""The code bucket in the deploy plan: an adopted bucket is repaired, the policy is set and updated in words,
an existing deployment is told what the policy changes, and a writer list that would lock the deploy out of
its own upload is refused. Pure: (Deployment, Observed) -> plan."""

from __future__ import annotations

import json

import pytest

from org_bootstrap.deploy.bucket_policy import WRITERS_SID, desired_policy
from org_bootstrap.deploy.observed import BucketState
from org_bootstrap.deploy.plan import PlanError
from tests.unit.test_deploy_plan import (
    BUCKET,
    CODE_KEY,
    NEW_BUCKET_POLICY,
    SECURITY,
    WRITER,
    deployment,
    fresh,
    lines,
    plan,
    up_to_date,
)

PIPELINE = f"arn:aws:iam::{SECURITY}:role/release-pipeline"
SSO = f"arn:aws:iam::{SECURITY}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b"
SSO_UNPATHED = f"arn:aws:iam::{SECURITY}:role/AWSReservedSSO_Admin_0a1b"
UPGRADE_NOTE = (
    f"The code bucket gets a bucket policy: requests without TLS are refused, and only {WRITER} may write or "
    "delete its objects (the package and the central template); akr deploy run as another principal must be "
    "named with --code-writer-arn"
)


def test_an_existing_bucket_of_the_security_account_is_adopted_repaired_and_gets_the_policy() -> None:
    observed = fresh(bucket_exists=True, bucket=BucketState())
    result = plan(deployment(), observed)
    assert not result.create_bucket
    assert result.bucket_repairs == ("versioning turned on", "all public access blocked")
    assert lines(deployment(), observed)[:3] == [
        f"Would repair the existing bucket s3://{BUCKET} (owned by the security account): versioning turned "
        "on, all public access blocked",
        NEW_BUCKET_POLICY,
        f"Would upload the remediator code to s3://{BUCKET}/{CODE_KEY}",
    ]


def test_an_upgrade_adds_the_policy_and_says_so_in_the_upgrade_notes() -> None:
    observed = up_to_date(bucket=BucketState(versioned=True, public_access_blocked=True))
    result = plan(deployment(), observed)
    assert not result.changes_nothing
    assert json.loads(result.bucket_policy) == json.loads(desired_policy("", BUCKET, "aws", [WRITER]))
    assert lines(deployment(), observed) == [NEW_BUCKET_POLICY, UPGRADE_NOTE]


def test_a_deployment_with_the_policy_in_place_changes_nothing() -> None:
    result = plan(deployment(), up_to_date())
    assert result.changes_nothing
    assert result.bucket_policy_changes == ()
    assert result.code_writers == (WRITER,)


def test_the_deployed_writers_are_kept_when_no_option_is_given() -> None:
    policy = desired_policy("", BUCKET, "aws", [WRITER, PIPELINE])
    observed = up_to_date(bucket=BucketState(versioned=True, public_access_blocked=True, policy=policy))
    result = plan(deployment(), observed)
    assert result.code_writers == (WRITER, PIPELINE)
    assert result.changes_nothing


def test_the_option_replaces_the_writers_in_words() -> None:
    desired = deployment(code_writer_arns=(PIPELINE, WRITER, PIPELINE))
    result = plan(desired, up_to_date())
    assert result.code_writers == (WRITER, PIPELINE)
    assert lines(desired, up_to_date()) == [
        f"Would update the policy of bucket s3://{BUCKET}: object writers {WRITER} -> {WRITER}, {PIPELINE}"
    ]
    document = json.loads(result.bucket_policy)
    (writes,) = [s for s in document["Statement"] if s["Sid"] == WRITERS_SID]
    assert writes["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [WRITER, PIPELINE]


def test_a_writer_list_without_the_deploys_own_principal_is_refused() -> None:
    with pytest.raises(PlanError) as raised:
        plan(deployment(code_writer_arns=(PIPELINE,)), fresh())
    assert str(raised.value) == (
        f"akr deploy writes the code bucket's objects as {WRITER}, which --code-writer-arn does not list "
        f"({PIPELINE}): the bucket policy would deny the deploy its own upload; give --code-writer-arn for "
        f"every principal that may write the code, {WRITER} among them"
    )


def test_a_deploy_by_a_principal_the_deployed_policy_does_not_name_is_refused() -> None:
    policy = desired_policy("", BUCKET, "aws", [PIPELINE])
    observed = up_to_date(bucket=BucketState(versioned=True, public_access_blocked=True, policy=policy))
    with pytest.raises(PlanError) as raised:
        plan(deployment(), observed)
    assert str(raised.value).startswith(
        f"akr deploy writes the code bucket's objects as {WRITER}, which the code bucket's policy does not "
        f"list ({PIPELINE})"
    )


def test_a_role_whose_path_cannot_be_read_must_be_given_in_full() -> None:
    observed = fresh(code_writer=SSO_UNPATHED, code_writer_exact=False)
    with pytest.raises(PlanError) as raised:
        plan(deployment(), observed)
    assert str(raised.value) == (
        f"cannot read the path of role {SSO_UNPATHED} (iam:GetRole was denied), and the code bucket's policy "
        "must name it exactly: give its full ARN with --code-writer-arn"
    )
    # Given in full, it is matched by account and name, and the policy names it with its path.
    result = plan(deployment(code_writer_arns=(SSO,)), observed)
    assert result.code_writers == (SSO,)


def test_a_deployed_policy_akr_cannot_read_stops_the_plan() -> None:
    observed = up_to_date(bucket=BucketState(versioned=True, public_access_blocked=True, policy="{oops"))
    with pytest.raises(
        PlanError, match=r"^the code bucket's policy is not JSON: .*: correct it or delete it"
    ):
        plan(deployment(), observed)
