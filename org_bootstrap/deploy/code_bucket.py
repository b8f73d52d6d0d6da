"""The code bucket in the security account: read its protections, create it, and keep it versioned, closed to
the public and under akr's bucket policy (bucket_policy.py). Every call after CreateBucket names the security
account as the bucket's expected owner.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import Aws, CliError, describe
from org_bootstrap.deploy.bucket_policy import BLOCK_PUBLIC, VERSIONING
from org_bootstrap.deploy.deployment import Deployment, operator_role_arn
from org_bootstrap.deploy.observed import BucketState

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from org_bootstrap.deploy.plan import Plan
    from org_bootstrap.deploy.stacks import Progress

ALL_BLOCKED: Any = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_NONE = ("NoSuchBucketPolicy", "NoSuchPublicAccessBlockConfiguration")


def read_bucket(s3: S3Client, bucket: str, owner: str) -> BucketState:
    """Versioning, the public access block and the policy of the security account's bucket."""
    try:
        versioning = s3.get_bucket_versioning(Bucket=bucket, ExpectedBucketOwner=owner).get("Status")
        blocked = _read_or_none(lambda: s3.get_public_access_block(Bucket=bucket, ExpectedBucketOwner=owner))
        policy = _read_or_none(lambda: s3.get_bucket_policy(Bucket=bucket, ExpectedBucketOwner=owner))
    except (ClientError, BotoCoreError) as exc:
        raise CliError(f"cannot read the settings of bucket {bucket}: {describe(exc)}") from exc
    settings = blocked.get("PublicAccessBlockConfiguration", {}) if blocked else {}
    return BucketState(
        versioned=versioning == "Enabled",
        public_access_blocked=all(settings.get(name) is True for name in ALL_BLOCKED),
        policy=str(policy.get("Policy", "")) if policy else "",
    )


def _read_or_none(call: Any) -> Any:
    try:
        return call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _NONE:
            return None
        raise


def code_writer(aws: Aws, deployment: Deployment, caller: str, security: boto3.Session) -> tuple[str, bool]:
    """(ARN, path known) of the principal the deploy writes the code bucket's objects as: the caller when it
    runs in the security account, else the security role akr assumes there. A role session is named by its
    role's ARN, path included, as aws:PrincipalArn names it; the path comes from iam:GetRole, since the
    session's ARN (sts:GetCallerIdentity) leaves it out."""
    if caller == deployment.security_account_id:
        arn = aws.caller_arn()
        head, session, rest = arn.partition(":assumed-role/")
        if not session:
            return arn, True  # a user, the root, a federated user: already what aws:PrincipalArn says
        arn = f"{head.replace(':sts::', ':iam::')}:role/{rest.split('/')[0]}"
    else:
        arn = operator_role_arn(deployment, aws.partition())
    try:
        role = aws.iam(security).get_role(RoleName=arn.rsplit("/", 1)[-1])["Role"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            # Only where a role can be assumed without existing (moto): the assumed ARN is all there is.
            return arn, True
        return arn, False  # may not read it (AccessDenied): the plan asks for --code-writer-arn
    return role["Arn"], True


def secure_bucket(s3: S3Client, deployment: Deployment, plan: Plan, progress: Progress) -> None:
    """Create the bucket when the plan says so (CreateBucket fails when the name is taken), then give it
    what the plan found missing: versioning, the public access block, the bucket policy."""
    bucket, owner = deployment.code_bucket, deployment.security_account_id
    if plan.create_bucket:
        progress(f"creating bucket {bucket}")
        if deployment.home_region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": deployment.home_region},  # type: ignore[typeddict-item]
            )
    elif plan.bucket_repairs:
        progress(f"repairing bucket {bucket}: {', '.join(plan.bucket_repairs)}")
    if plan.create_bucket or BLOCK_PUBLIC in plan.bucket_repairs:
        s3.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration=ALL_BLOCKED, ExpectedBucketOwner=owner
        )
    if plan.create_bucket:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            ExpectedBucketOwner=owner,
        )
    if plan.create_bucket or VERSIONING in plan.bucket_repairs:
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}, ExpectedBucketOwner=owner
        )
    if plan.bucket_policy_changes:
        # Before any upload: the deploy's own principal is among the writers (the plan checked), and the
        # policy is in force for the objects that follow.
        progress(f"setting the policy of bucket {bucket}")
        s3.put_bucket_policy(Bucket=bucket, Policy=plan.bucket_policy, ExpectedBucketOwner=owner)
