"""AWS Signer code signing in akr deploy: the profile read, the signing job's parameters, the wait, the signed
copy read back, and a failed job that stops the deploy before any stack changes.

moto implements Signer's signing profiles (put, get, cancel, list platforms) but no signing job
(StartSigningJob, DescribeSigningJob): the profile is read from moto, the jobs go through botocore Stubbers,
which check every parameter against Signer's service model (docs/aws-compatibility.md)."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from org_bootstrap.aws import CliError
from org_bootstrap.deploy.apply import carry_out
from org_bootstrap.deploy.code_check import lambda_sha256
from org_bootstrap.deploy.code_signing import PLATFORM
from org_bootstrap.deploy.observed import SigningProfile
from org_bootstrap.deploy.signing_job import JOBS, SignedCode, read_profile, sign_package
from org_bootstrap.deploy.template_store import template_key
from tests.fixtures import secured_bucket
from tests.integration.test_stackset_calls import (
    BUCKET,
    CENTRAL_BODY,
    CENTRAL_STACK,
    CENTRAL_URL,
    MANAGEMENT_STACK,
    REGION,
    SECURITY,
    Clients,
    StubbedAws,
    expect_central_checks,
    expect_read_back,
    observed,
    prepared,
    stacks,
    up_to_date,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_signer import SignerClient

PROFILE = SigningProfile(
    name="akr_code",
    version_arn=f"arn:aws:signer:{REGION}:{SECURITY}:/signing-profiles/akr_code/a1B2c3D4e5",
    platform_id=PLATFORM,
    status="Active",
)
KEY = "remediator/0123456789abcdef0123.zip"
VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
SIGNED_KEY = "signed/0123456789abcdef0123/8f2d1e6a-0000-4000-8000-000000000001.zip"
SIGNED_VERSION = "Gz1e9u7ZsGAg6Uo5KmY8RvCJ1mQ2hI3p"
JOB = "8f2d1e6a-0000-4000-8000-000000000001"
STOPPED = "akr deploy stopped before any stack changed"


def archive(files: dict[str, bytes], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as made:
        for name, data in files.items():
            made.writestr(name, data)
        made.comment = comment
    return buffer.getvalue()


PACKAGE = {"remediator/handler.py": b"def lambda_handler(event, context): ...\n", "boto3/__init__.py": b""}


@pytest.fixture
def signer() -> Iterator[tuple[SignerClient, Stubber]]:
    client = boto3.Session(region_name=REGION).client("signer")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def s3() -> Iterator[tuple[S3Client, Stubber]]:
    client = boto3.Session(region_name=REGION).client("s3")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def expect_job(stub: Stubber, statuses: tuple[str, ...], *, reason: str = "") -> None:
    """StartSigningJob with exactly these parameters, then DescribeSigningJob once per status."""
    stub.add_response(
        "start_signing_job",
        {"jobId": JOB, "jobOwner": SECURITY},
        {
            "source": {"s3": {"bucketName": BUCKET, "key": KEY, "version": VERSION}},
            "destination": {"s3": {"bucketName": BUCKET, "prefix": "signed/0123456789abcdef0123/"}},
            "profileName": "akr_code",
            "clientRequestToken": str(uuid.uuid5(JOBS, f"{BUCKET}/{KEY}/{VERSION}/{PROFILE.version_arn}")),
        },
    )
    for status in statuses:
        answer: dict[str, Any] = {"jobId": JOB, "status": status}
        if reason:
            answer["statusReason"] = reason
        stub.add_response("describe_signing_job", answer, {"jobId": JOB})


def expect_signed(signer_stub: Stubber, s3_stub: Stubber, body: bytes) -> None:
    signer_stub.add_response(
        "describe_signing_job",
        {
            "jobId": JOB,
            "status": "Succeeded",
            "signedObject": {"s3": {"bucketName": BUCKET, "key": SIGNED_KEY}},
        },
        {"jobId": JOB},
    )
    s3_stub.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "VersionId": SIGNED_VERSION},
        {"Bucket": BUCKET, "Key": SIGNED_KEY, "ExpectedBucketOwner": SECURITY},
    )


def sign(
    signer: tuple[SignerClient, Stubber], s3: tuple[S3Client, Stubber], package: Path, version: str = VERSION
) -> SignedCode:
    return sign_package(
        signer[0],
        s3[0],
        PROFILE,
        bucket=BUCKET,
        owner=SECURITY,
        key=KEY,
        version=version,
        package=package,
        poll_seconds=0,
    )


@pytest.fixture
def package(tmp_path: Path) -> Path:
    path = tmp_path / "remediator.zip"
    path.write_bytes(archive(PACKAGE))
    return path


def test_the_job_signs_the_exact_upload_and_the_stack_gets_the_signed_copy(
    signer: tuple[SignerClient, Stubber], s3: tuple[S3Client, Stubber], package: Path
) -> None:
    signed = archive(PACKAGE, comment=b"signature")  # the same files: what Signer's copy holds
    expect_job(signer[1], ("InProgress", "InProgress", "Succeeded"))
    expect_signed(signer[1], s3[1], signed)
    assert sign(signer, s3, package) == SignedCode(
        key=SIGNED_KEY,
        version=SIGNED_VERSION,
        # Lambda's CodeSha256 is the hash of the package it gets: the signed copy, not the build.
        sha256=lambda_sha256(hashlib.sha256(signed).hexdigest()),
    )


def test_a_failed_job_stops_with_signers_reason(
    signer: tuple[SignerClient, Stubber], s3: tuple[S3Client, Stubber], package: Path
) -> None:
    expect_job(signer[1], ("InProgress", "Failed"), reason="Signing profile is revoked")
    with pytest.raises(CliError) as raised:
        sign(signer, s3, package)
    assert str(raised.value) == (
        f"signing job {JOB} did not succeed (Failed): Signing profile is revoked; {STOPPED}"
    )


def test_a_signed_copy_that_lacks_or_changes_a_file_of_the_package_is_refused(
    signer: tuple[SignerClient, Stubber], s3: tuple[S3Client, Stubber], package: Path
) -> None:
    swapped = archive({**PACKAGE, "remediator/handler.py": b"import os; os.system('...')\n"})
    expect_job(signer[1], ("Succeeded",))
    expect_signed(signer[1], s3[1], swapped)
    with pytest.raises(CliError) as raised:
        sign(signer, s3, package)
    assert str(raised.value) == (
        f"the signed copy s3://{BUCKET}/{SIGNED_KEY} does not hold the package akr built "
        f"(remediator/handler.py missing or different); {STOPPED}"
    )


def test_an_object_without_a_version_is_not_signed(
    signer: tuple[SignerClient, Stubber], s3: tuple[S3Client, Stubber], package: Path
) -> None:
    with pytest.raises(CliError) as raised:
        sign(signer, s3, package, version="")
    assert str(raised.value) == (
        f"cannot sign s3://{BUCKET}/{KEY}: the bucket keeps no version of it (Signer signs one object "
        f"version); {STOPPED}"
    )


# -- the profile --------------------------------------------------------------------------------------


@mock_aws
def test_the_profile_is_read_with_its_version_arn() -> None:
    client = boto3.client("signer", region_name=REGION)
    made = client.put_signing_profile(profileName="akr_code", platformId=PLATFORM)
    profile = read_profile(client, "akr_code")
    assert (profile.name, profile.version_arn, profile.platform_id, profile.status) == (
        "akr_code",
        made["profileVersionArn"],
        PLATFORM,
        "Active",
    )


def test_a_missing_profile_is_named_with_what_to_do(signer: tuple[SignerClient, Stubber]) -> None:
    """moto answers a missing profile with a KeyError (a 500), not ResourceNotFoundException: a Stubber."""
    signer[1].add_client_error(
        "get_signing_profile", service_error_code="ResourceNotFoundException", http_status_code=404
    )
    with pytest.raises(CliError) as raised:
        read_profile(signer[0], "nosuch")
    assert str(raised.value) == (
        "no signing profile nosuch in the security account: create one for platform AWSLambda-SHA384-ECDSA "
        "(docs/deploying.md, Code signing), or leave out --signing-profile"
    )


@mock_aws
def test_a_profile_for_another_platform_is_refused() -> None:
    client = boto3.client("signer", region_name=REGION)
    client.put_signing_profile(profileName="firmware", platformId="AmazonFreeRTOS-Default")
    with pytest.raises(CliError) as raised:
        read_profile(client, "firmware")
    assert str(raised.value) == (
        "signing profile firmware is for platform AmazonFreeRTOS-Default, not AWSLambda-SHA384-ECDSA: Lambda "
        "accepts only packages signed for that platform"
    )


# -- in the deploy --------------------------------------------------------------------------------------


class SigningAws(StubbedAws):
    def __init__(self, clients: Clients, signer: SignerClient) -> None:
        super().__init__(clients)
        self.signer_client = signer

    def signer(self, session: boto3.Session | None = None, region: str | None = None) -> SignerClient:
        assert region == REGION
        return self.signer_client


def test_a_failed_job_in_the_deploy_changes_no_stack(
    tmp_path: Path, signer: tuple[SignerClient, Stubber]
) -> None:
    """A deploy whose bucket and upload are in place: the signing job is the first thing it does, and its
    failure leaves every stack as it was (no CloudFormation call at all)."""
    seen = observed(
        **secured_bucket(SECURITY, REGION), code_uploaded=True, code_version=VERSION, signing_profile=PROFILE
    )
    ready = prepared(tmp_path, seen)
    parameters = ready.plan.central_parameters
    assert (parameters["CodeSigningProfileArn"], parameters["CodeObjectVersion"]) == (
        PROFILE.version_arn,
        VERSION,
    )
    clients = Clients()
    security_calls: list[str] = []
    clients.security.meta.events.register(
        "before-parameter-build.cloudformation", lambda model, **_: security_calls.append(model.name)
    )
    job_key = parameters["CodeKey"]
    token = str(uuid.uuid5(JOBS, f"{BUCKET}/{job_key}/{VERSION}/{PROFILE.version_arn}"))
    signer[1].add_response(
        "start_signing_job",
        {"jobId": JOB},
        {
            "source": {"s3": {"bucketName": BUCKET, "key": job_key, "version": VERSION}},
            "destination": {"s3": {"bucketName": BUCKET, "prefix": f"signed/{Path(job_key).stem}/"}},
            "profileName": "akr_code",
            "clientRequestToken": token,
        },
    )
    signer[1].add_response(
        "describe_signing_job", {"jobId": JOB, "status": "Failed", "statusReason": "Expired"}, {"jobId": JOB}
    )
    with pytest.raises(CliError) as raised:
        carry_out(SigningAws(clients, signer[0]), ready, lambda _message: None, poll_seconds=0)
    assert str(raised.value) == f"signing job {JOB} did not succeed (Failed): Expired; {STOPPED}"
    assert (clients.management_calls, security_calls) == ([], [])
    clients.done()


def test_the_central_stack_is_created_from_the_signed_copy_and_checked_against_its_hash(
    tmp_path: Path, signer: tuple[SignerClient, Stubber]
) -> None:
    """The members are in place, the central stack is to be created: the job signs the upload, the stack
    gets the signed copy's key, version and CodeSha256, and the check after the create expects that hash."""
    first = prepared(tmp_path, observed(signing_profile=PROFILE))
    seen = up_to_date(first.plan).model_copy(
        update={"central_stack": None, "code_version": VERSION, "signing_profile": PROFILE}
    )
    ready = prepared(tmp_path, seen)
    parameters = ready.plan.central_parameters
    clients = Clients()
    signed = archive({}, comment=b"signature")  # the stand-in package is an empty archive
    signed_sha = lambda_sha256(hashlib.sha256(signed).hexdigest())
    job_key = parameters["CodeKey"]
    signer[1].add_response(
        "start_signing_job",
        {"jobId": JOB},
        {
            "source": {"s3": {"bucketName": BUCKET, "key": job_key, "version": VERSION}},
            "destination": {"s3": {"bucketName": BUCKET, "prefix": f"signed/{Path(job_key).stem}/"}},
            "profileName": "akr_code",
            "clientRequestToken": str(
                uuid.uuid5(JOBS, f"{BUCKET}/{job_key}/{VERSION}/{PROFILE.version_arn}")
            ),
        },
    )
    signed_key = f"signed/{Path(job_key).stem}/{JOB}.zip"
    signer[1].add_response("describe_signing_job", {"jobId": JOB, "status": "Succeeded"}, {"jobId": JOB})
    signer[1].add_response(
        "describe_signing_job",
        {
            "jobId": JOB,
            "status": "Succeeded",
            "signedObject": {"s3": {"bucketName": BUCKET, "key": signed_key}},
        },
        {"jobId": JOB},
    )
    s3_stub, security = clients.stubs["s3"], clients.stubs["security"]
    s3_stub.add_response(
        "get_object",
        {"Body": StreamingBody(io.BytesIO(signed), len(signed)), "VersionId": SIGNED_VERSION},
        {"Bucket": BUCKET, "Key": signed_key, "ExpectedBucketOwner": SECURITY},
    )
    s3_stub.add_response(
        "put_object",
        {},
        {
            "Bucket": BUCKET,
            "ExpectedBucketOwner": SECURITY,
            "Key": template_key("central", CENTRAL_BODY),
            "Body": CENTRAL_BODY.encode(),
            "ContentType": "text/yaml",
            "ChecksumAlgorithm": "SHA256",
        },
    )
    deployed = {
        **parameters,
        "CodeKey": signed_key,
        "CodeObjectVersion": SIGNED_VERSION,
        "CodeSha256": signed_sha,
    }
    security.add_response(
        "create_stack",
        {"StackId": "central"},
        {
            "StackName": CENTRAL_STACK,
            "TemplateURL": CENTRAL_URL,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(deployed.items())],
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Tags": [{"Key": "akr:managed-by", "Value": "akr"}],
        },
    )
    security.add_response("describe_stacks", stacks(CENTRAL_STACK, "CREATE_COMPLETE", {"EventBusArn": "bus"}))
    expect_central_checks(clients, signed_sha)
    # The member stacks are up to date: the management account's is only read, then the StackSet.
    clients.stubs["management"].add_response("describe_stacks", stacks(MANAGEMENT_STACK, "CREATE_COMPLETE"))
    expect_read_back(clients.stubs["management"])
    outcome = carry_out(SigningAws(clients, signer[0]), ready, lambda _message: None, poll_seconds=0)
    assert outcome.outputs == {"EventBusArn": "bus"}
    clients.done()
