"""Code signing in the deploy plan: the profile kept across deploys, a deployment already running a signed
copy of this build changes nothing, a new build (or a new profile version) is signed again, and turning
signing off is a warning."""

from __future__ import annotations

from org_bootstrap.deploy.code_signing import (
    PLATFORM,
    needs_signing,
    profile_name,
    signed_prefix,
    wanted_profile,
)
from org_bootstrap.deploy.observed import Observed, SigningProfile
from org_bootstrap.deploy.plan_lines import warnings
from tests.unit.test_deploy_plan import (
    BUCKET,
    CODE_KEY,
    SECURITY,
    deployment,
    fresh,
    lines,
    plan,
    up_to_date,
)

PROFILE = SigningProfile(
    name="akr_code",
    version_arn=f"arn:aws:signer:eu-west-1:{SECURITY}:/signing-profiles/akr_code/a1B2c3D4e5",
    platform_id=PLATFORM,
    status="Active",
)
SIGNED = {
    "CodeKey": f"{signed_prefix(CODE_KEY)}job-1.zip",
    "CodeObjectVersion": "signed-version",
    "CodeSha256": "c2lnbmVkIGNvcHkgb2YgdGhlIHBhY2thZ2UgYnl0ZXM=",
}


def signed_deployment(profile: SigningProfile = PROFILE, **code: str) -> Observed:
    """A deployment whose central stack runs a copy of CODE_KEY's build signed by `profile`."""
    observed = up_to_date(signing_profile=profile)
    central = observed.central_stack
    assert central is not None
    parameters = {**central.parameters, "CodeSigningProfileArn": profile.version_arn, **SIGNED, **code}
    return observed.model_copy(
        update={"central_stack": central.model_copy(update={"parameters": parameters})}
    )


def test_the_profile_name_is_read_from_its_arn() -> None:
    assert profile_name(PROFILE.version_arn) == "akr_code"
    assert profile_name(PROFILE.version_arn.rsplit("/", 1)[0]) == "akr_code"
    assert profile_name("") == ""


def test_signing_is_kept_when_the_option_is_left_out_and_turned_off_only_by_an_empty_one() -> None:
    central = signed_deployment().central_stack
    assert wanted_profile(None, central) == "akr_code"
    assert wanted_profile("", central) == ""
    assert wanted_profile("other_profile", central) == "other_profile"
    assert wanted_profile(None, None) == ""


def test_a_first_signed_deploy_signs_the_upload_and_says_so() -> None:
    observed = fresh(signing_profile=PROFILE)
    result = plan(deployment(signing_profile="akr_code"), observed)
    assert result.central_parameters["CodeSigningProfileArn"] == PROFILE.version_arn
    assert needs_signing(result.central_parameters)
    assert (
        f"Would sign the package with signing profile akr_code (AWS Signer, {PLATFORM}) into "
        f"s3://{BUCKET}/{signed_prefix(CODE_KEY)}, and deploy the signed copy: the central functions accept "
        f"only code signed by {PROFILE.version_arn}"
    ) in lines(deployment(signing_profile="akr_code"), observed)


def test_a_deployment_running_the_signed_copy_of_this_build_changes_nothing() -> None:
    observed = signed_deployment()
    result = plan(deployment(), observed)
    assert {name: result.central_parameters[name] for name in SIGNED} == SIGNED
    assert not needs_signing(result.central_parameters)
    assert result.changes_nothing


def test_a_new_build_or_a_new_profile_version_is_signed_again() -> None:
    other_build = signed_deployment(CodeKey="signed/fedcba9876543210fedc/job-0.zip")
    assert needs_signing(plan(deployment(), other_build).central_parameters)
    rotated = PROFILE.model_copy(update={"version_arn": f"{PROFILE.version_arn[:-10]}Z9y8X7w6V5"})
    observed = signed_deployment().model_copy(update={"signing_profile": rotated})
    assert needs_signing(plan(deployment(), observed).central_parameters)


def test_turning_signing_off_is_a_warning() -> None:
    observed = signed_deployment().model_copy(update={"signing_profile": None})
    result = plan(deployment(signing_profile=""), observed)
    assert result.central_parameters["CodeSigningProfileArn"] == ""
    assert warnings(result) == [
        "Code signing turns off: the central functions will accept unsigned code again (it was enforced for "
        f"{PROFILE.version_arn}); --signing-profile <name> keeps it on"
    ]
