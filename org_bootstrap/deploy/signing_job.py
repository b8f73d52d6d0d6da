"""The signing job: AWS Signer signs exactly the uploaded version of the package into the code bucket, akr
waits for it and reads the signed copy back, with its version and hash, before any stack changes.

The job's source names the upload's S3 version id (Signer requires one: the bucket is versioned), so that a
later write to the key cannot be what gets signed. Its destination is the same bucket under
signed/<package>/ (code_signing.signed_prefix); Signer names the object after the job. The signed copy is
read with ExpectedBucketOwner in one GetObject: the bytes hashed and the version id passed to the stack come
from the same answer. It must hold every file of the package built, unchanged (same size and CRC-32):
Signer adds its signature, and nothing of the package may differ.
https://docs.aws.amazon.com/lambda/latest/dg/governance-code-signing.html (the signing job's source and
destination), https://docs.aws.amazon.com/signer/latest/api/API_StartSigningJob.html
"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from org_bootstrap.aws import CliError, describe
from org_bootstrap.deploy.code_check import lambda_sha256
from org_bootstrap.deploy.code_signing import profile_problem, signed_prefix
from org_bootstrap.deploy.observed import SigningProfile

if TYPE_CHECKING:
    from pathlib import Path

    from mypy_boto3_s3 import S3Client
    from mypy_boto3_signer import SignerClient

JOBS = uuid.uuid5(uuid.NAMESPACE_URL, "access-key-remediation:signing-job")
"""The namespace of the jobs' client request tokens: a retried request starts no second job."""
WAIT_SECONDS = 5.0
"""How often the job is asked about, as the deploy polls its stacks; tests pass 0."""
MAX_WAIT_SECONDS = 900
"""Signer signs a package of a few megabytes in seconds: 15 minutes is a job that is stuck."""
STOPPED = "akr deploy stopped before any stack changed"


@dataclass(frozen=True)
class SignedCode:
    key: str
    version: str
    sha256: str
    """Lambda's CodeSha256 of the signed copy (base64): what the functions will report."""


def read_profile(signer: SignerClient, name: str) -> SigningProfile:
    """The profile of the security account; a CliError when it is missing or cannot sign Lambda code."""
    try:
        answer = signer.get_signing_profile(profileName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise CliError(
                f"no signing profile {name} in the security account: create one for platform "
                "AWSLambda-SHA384-ECDSA (docs/deploying.md, Code signing), or leave out --signing-profile"
            ) from exc
        raise CliError(f"cannot read signing profile {name}: {describe(exc)}") from exc
    except BotoCoreError as exc:
        raise CliError(f"cannot read signing profile {name}: {describe(exc)}") from exc
    profile = SigningProfile(
        name=name,
        version_arn=answer.get("profileVersionArn", ""),
        platform_id=answer.get("platformId", ""),
        status=answer.get("status", ""),
    )
    problem = profile_problem(profile)
    if problem:
        raise CliError(problem)
    return profile


def sign_package(
    signer: SignerClient,
    s3: S3Client,
    profile: SigningProfile,
    *,
    bucket: str,
    owner: str,
    key: str,
    version: str,
    package: Path,
    poll_seconds: float = WAIT_SECONDS,
) -> SignedCode:
    """Sign s3://bucket/key at `version` with `profile`, wait, and read the signed copy back."""
    if not version:
        raise CliError(
            f"cannot sign s3://{bucket}/{key}: the bucket keeps no version of it (Signer signs one object "
            f"version); {STOPPED}"
        )
    token = str(uuid.uuid5(JOBS, f"{bucket}/{key}/{version}/{profile.version_arn}"))
    try:
        job = signer.start_signing_job(
            source={"s3": {"bucketName": bucket, "key": key, "version": version}},
            destination={"s3": {"bucketName": bucket, "prefix": signed_prefix(key)}},
            profileName=profile.name,
            clientRequestToken=token,
        )["jobId"]
        _wait(signer, job, poll_seconds)
        signed = signer.describe_signing_job(jobId=job).get("signedObject", {}).get("s3", {})
        signed_key = signed.get("key", "")
        if signed.get("bucketName") != bucket or not signed_key.startswith(signed_prefix(key)):
            raise CliError(
                f"signing job {job} wrote s3://{signed.get('bucketName')}/{signed_key}, not under "
                f"s3://{bucket}/{signed_prefix(key)}; {STOPPED}"
            )
        copy = s3.get_object(Bucket=bucket, Key=signed_key, ExpectedBucketOwner=owner)
        body = copy["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise CliError(
            f"cannot sign the package with signing profile {profile.name}: {describe(exc)}"
        ) from exc
    changed = changed_files(package.read_bytes(), body)
    if changed:
        raise CliError(
            f"the signed copy s3://{bucket}/{signed_key} does not hold the package akr built "
            f"({', '.join(changed)} missing or different); {STOPPED}"
        )
    return SignedCode(
        key=signed_key,
        version=copy.get("VersionId", ""),
        sha256=lambda_sha256(hashlib.sha256(body).hexdigest()),
    )


def _wait(signer: SignerClient, job: str, poll_seconds: float) -> None:
    """The SDK's waiter for the job (SuccessfulSigningJob): a failed job is an error with Signer's reason."""
    try:
        signer.get_waiter("successful_signing_job").wait(
            jobId=job,
            WaiterConfig={
                "Delay": poll_seconds,  # type: ignore[typeddict-item]  # a float: the waiter sleeps it
                "MaxAttempts": max(1, int(MAX_WAIT_SECONDS / max(poll_seconds, 1.0))),
            },
        )
    except WaiterError as exc:
        last = exc.last_response or {}
        status = last.get("status", "unknown")
        reason = last.get("statusReason") or exc.kwargs.get("reason") or str(exc)
        raise CliError(f"signing job {job} did not succeed ({status}): {reason}; {STOPPED}") from exc


def changed_files(built: bytes, signed: bytes) -> list[str]:
    """The package's files that the signed copy lacks or holds with other contents (size, CRC-32)."""
    try:
        with zipfile.ZipFile(io.BytesIO(signed)) as archive:
            held = {info.filename: (info.file_size, info.CRC) for info in archive.infolist()}
    except zipfile.BadZipFile:
        return ["every file (the signed copy is not a zip archive)"]
    with zipfile.ZipFile(io.BytesIO(built)) as archive:
        return [
            info.filename
            for info in archive.infolist()
            if held.get(info.filename) != (info.file_size, info.CRC)
        ]
