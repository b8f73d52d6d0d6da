"""The central template in the code bucket. CloudFormation takes at most 51,200 bytes of template in the
request (TemplateBody) and up to 1 MB from S3 (TemplateURL); the central template carries the audit archive
and the guardrails, so it goes through S3, named by its SHA-256, and `akr deploy` checks afterwards that the
stack runs exactly those bytes.
https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudformation/aws.sdk.kotlin.services.cloudformation.model/-create-change-set-request/template-url.html
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import TYPE_CHECKING, Any

import botocore.loaders

from org_bootstrap.aws import CliError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client

TEMPLATE_PREFIX = "templates/"


def digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def template_key(name: str, body: str) -> str:
    """Content-addressed: a key names exactly one template, so an upload never replaces what a running
    stack was created from."""
    return f"{TEMPLATE_PREFIX}{name}-{digest(body)}.yaml"


@cache
def _dns_suffixes() -> dict[str, str]:
    # botocore's partition data, the same the SDK resolves its endpoints from.
    data: Any = botocore.loaders.create_loader().load_data("partitions")
    return {p["id"]: p["outputs"]["dnsSuffix"] for p in data["partitions"]}


def template_url(bucket: str, key: str, *, region: str, partition: str) -> str:
    """The virtual-hosted-style HTTPS address of the object (CloudFormation requires https://)."""
    suffix = _dns_suffixes().get(partition)
    if suffix is None:
        raise CliError(f"unknown partition {partition!r}: cannot name the template's S3 address")
    return f"https://{bucket}.s3.{region}.{suffix}/{key}"


def store_template(s3: S3Client, bucket: str, owner: str, key: str, body: str) -> None:
    """Upload the template to the owner-checked bucket; S3 checks the SHA-256 of what it receives."""
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body.encode(),
        ContentType="text/yaml",
        ChecksumAlgorithm="SHA256",
        ExpectedBucketOwner=owner,
    )


def check_running(cloudformation: CloudFormationClient, name: str, body: str) -> None:
    """The stack's original template must be the bytes akr uploaded: a template swapped in the bucket
    between the upload and CloudFormation's read is caught here, named by both hashes."""
    running = cloudformation.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    text = running if isinstance(running, str) else ""
    if text != body:
        raise CliError(
            f"stack {name} runs a template with SHA-256 {digest(text)}, not the one akr uploaded "
            f"({digest(body)}): someone changed it in the bucket; check s3 access and run akr deploy again"
        )
