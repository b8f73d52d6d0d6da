"""Code signing in stacksets/central.yaml: off by default (no configuration, and the functions are what they
were); with CodeSigningProfileArn, one code signing configuration that enforces that profile version, on
every function of the stack, so that a function added later without it fails here.

moto's CloudFormation skips AWS::Lambda::CodeSigningConfig (docs/aws-compatibility.md): these template
tests are what covers it."""

from __future__ import annotations

import pytest

from tests.stacksets.cfn import SECURITY_ACCOUNT_ID, Stack, check_parameter, load

PROFILE = f"arn:aws:signer:eu-west-1:{SECURITY_ACCOUNT_ID}:/signing-profiles/akr_code/a1B2c3D4e5"


def central(**values: str) -> Stack:
    return Stack("central", values, account_id=SECURITY_ACCOUNT_ID)


def test_code_signing_is_off_by_default() -> None:
    stack = central()
    assert load("central")["Parameters"]["CodeSigningProfileArn"]["Default"] == ""
    assert not stack.of_type("AWS::Lambda::CodeSigningConfig")
    functions = stack.of_type("AWS::Lambda::Function")
    assert len(functions) >= 4
    assert all("CodeSigningConfigArn" not in f["Properties"] for f in functions.values())


def test_with_a_profile_every_function_enforces_its_signatures() -> None:
    stack = central(CodeSigningProfileArn=PROFILE)
    (config,) = stack.of_type("AWS::Lambda::CodeSigningConfig").values()
    assert config["Properties"]["AllowedPublishers"] == {"SigningProfileVersionArns": [PROFILE]}
    assert config["Properties"]["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    arn = stack.resolve({"Fn::GetAtt": ["CodeSigningConfig", "CodeSigningConfigArn"]})
    functions = stack.of_type("AWS::Lambda::Function")
    signing = {name: f["Properties"].get("CodeSigningConfigArn") for name, f in functions.items()}
    assert signing == dict.fromkeys(functions, arn)


@pytest.mark.parametrize(
    "value",
    [
        "",
        f"arn:aws:signer:eu-west-1:{SECURITY_ACCOUNT_ID}:/signing-profiles/akr_code",
        PROFILE,
        f"arn:aws-us-gov:signer:us-gov-west-1:{SECURITY_ACCOUNT_ID}:/signing-profiles/akr_code/v1",
    ],
)
def test_the_parameter_takes_a_profile_or_its_version(value: str) -> None:
    check_parameter("CodeSigningProfileArn", load("central")["Parameters"]["CodeSigningProfileArn"], value)


@pytest.mark.parametrize(
    "value",
    [
        "akr_code",
        f"arn:aws:signer:eu-west-1:{SECURITY_ACCOUNT_ID}:/signing-jobs/0123",
        f"arn:aws:lambda:eu-west-1:{SECURITY_ACCOUNT_ID}:code-signing-config:csc-0123",
    ],
)
def test_the_parameter_refuses_anything_else(value: str) -> None:
    with pytest.raises(ValueError, match="CodeSigningProfileArn"):
        check_parameter(
            "CodeSigningProfileArn", load("central")["Parameters"]["CodeSigningProfileArn"], value
        )
