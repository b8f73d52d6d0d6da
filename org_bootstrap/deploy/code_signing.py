"""Optional AWS Signer code signing of the Lambda package: which profile, the central parameters it sets, and
the plan's words. Pure; the signing job itself is org_bootstrap.deploy.signing_job.

With a profile, the central stack gets a code signing configuration that enforces signatures by that
profile's version on every function (central.yaml, CodeSigningProfileArn), and the functions run the signed
copy of the package, which Signer writes under signed/<package>/ in the code bucket. Lambda's CodeSha256 is
the hash of the deployment package it was given, the signed one: the signature travels inside it, and
Lambda's integrity check compares the package's hash with the signature's.
https://docs.aws.amazon.com/lambda/latest/dg/API_FunctionConfiguration.html (CodeSha256),
https://docs.aws.amazon.com/lambda/latest/dg/configuration-codesigning.html (Integrity)
So the CodeSha256 akr passes and checks after the update is the signed object's, computed from its bytes.

A deployment that runs a package signed by the same profile version from the same build is not signed
again: its signed key, version and hash are kept, so that an up-to-date deployment changes nothing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath

from org_bootstrap.deploy.observed import SigningProfile, StackState

PROFILE_PARAMETER = "CodeSigningProfileArn"
PLATFORM = "AWSLambda-SHA384-ECDSA"
"""The one signing platform for Lambda packages."""
SIGNED_PREFIX = "signed/"
CODE = ("CodeKey", "CodeObjectVersion", "CodeSha256")
_PROFILE_ARN = re.compile(
    r"^arn:[a-z-]+:signer:[a-z0-9-]+:\d{12}:/signing-profiles/([A-Za-z0-9_]{2,64})(/.*)?$"
)


def profile_name(arn: str) -> str:
    """The profile's name in its (version) ARN; "" when the ARN is empty or not a signing profile's."""
    found = _PROFILE_ARN.match(arn)
    return found.group(1) if found else ""


def wanted_profile(option: str | None, central: StackState | None) -> str:
    """--signing-profile; else the deployed profile's name, kept (signing is never turned off by leaving
    the option out); "" for none."""
    if option is not None:
        return option
    return profile_name(central.parameters.get(PROFILE_PARAMETER, "")) if central else ""


def profile_problem(profile: SigningProfile) -> str | None:
    """Why this profile cannot sign the package (None: it can)."""
    if profile.platform_id != PLATFORM:
        return (
            f"signing profile {profile.name} is for platform {profile.platform_id}, not {PLATFORM}: "
            "Lambda accepts only packages signed for that platform"
        )
    if profile.status != "Active":
        return f"signing profile {profile.name} is {profile.status}, not Active: it cannot sign"
    return None


def signed_prefix(code_key: str) -> str:
    """Where Signer writes the signed copies of one build: signed/<the package's name>/."""
    return f"{SIGNED_PREFIX}{PurePosixPath(code_key).stem}/"


def signing_parameters(
    profile: SigningProfile | None, stack: StackState | None, code_key: str
) -> dict[str, str]:
    """CodeSigningProfileArn (the profile's version ARN; "" to turn signing off); with the deployed stack
    already running a copy of this build signed by this profile version, that copy's key, version and
    hash, which then replace the unsigned package's."""
    deployed = stack.parameters if stack else {}
    if profile is None:
        # Sent only to turn signing off: otherwise the update keeps the deployed empty value.
        return {PROFILE_PARAMETER: ""} if deployed.get(PROFILE_PARAMETER) else {}
    parameters = {PROFILE_PARAMETER: profile.version_arn}
    current = deployed.get(PROFILE_PARAMETER) == profile.version_arn and deployed.get(
        "CodeKey", ""
    ).startswith(signed_prefix(code_key))
    if current:
        parameters.update({name: deployed.get(name, "") for name in CODE})
    return parameters


def needs_signing(central_parameters: Mapping[str, str]) -> bool:
    """Signing is on and the stack is to get the unsigned package: a signing job comes first."""
    return bool(central_parameters.get(PROFILE_PARAMETER)) and not central_parameters["CodeKey"].startswith(
        SIGNED_PREFIX
    )


def signing_lines(
    central_parameters: Mapping[str, str], profile: SigningProfile | None, bucket: str
) -> list[str]:
    """The plan's line for the signing job, when there is one."""
    if profile is None or not needs_signing(central_parameters):
        return []
    prefix = signed_prefix(central_parameters["CodeKey"])
    return [
        f"Would sign the package with signing profile {profile.name} (AWS Signer, {PLATFORM}) into "
        f"s3://{bucket}/{prefix}, and deploy the signed copy: the central functions accept only code "
        f"signed by {profile.version_arn}"
    ]


def signing_warnings(old: str | None, new: str) -> list[str]:
    """Turning signing off loosens a protection: a line that needs the operator's attention."""
    if old and not new:
        return [
            f"Code signing turns off: the central functions will accept unsigned code again (it was "
            f"enforced for {old}); --signing-profile <name> keeps it on"
        ]
    return []
