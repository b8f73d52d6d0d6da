"""After the central stack's update: every function of the stack, and every published version behind one of
its aliases (what the rules and the queue mapping invoke with SnapStart on), must run exactly the package
akr built. The S3 object version pins the bytes CloudFormation reads; this checks what Lambda actually took.

Lambda reports a package's `CodeSha256` as the base64 of its SHA-256 digest (not hex):
https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from org_bootstrap.aws import CliError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient

FUNCTION = "AWS::Lambda::Function"
ALIAS = "AWS::Lambda::Alias"


def lambda_sha256(hex_digest: str) -> str:
    """The package's SHA-256 as Lambda reports it (CodeSha256): base64 of the digest's bytes."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def invoked_code(cloudformation: CloudFormationClient, stack: str) -> tuple[tuple[str, str], ...]:
    """(logical id, name Lambda answers to) of each function of the stack and of each of its aliases (an
    alias's physical id is its ARN; GetFunctionConfiguration on it describes the version behind it)."""
    found: list[tuple[str, str]] = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            physical = resource.get("PhysicalResourceId", "")
            if resource["ResourceType"] in (FUNCTION, ALIAS) and physical:
                found.append((resource["LogicalResourceId"], physical))
    return tuple(sorted(found))


def check_code(
    cloudformation: CloudFormationClient, lambda_client: LambdaClient, stack: str, expected: str
) -> None:
    """Raise a CliError naming both hashes at the first function or alias whose code is not `expected`
    (CodeSha256 form). A stack without functions is a failed check too: there is nothing that runs the
    package."""
    targets = invoked_code(cloudformation, stack)
    if not targets:
        raise CliError(f"stack {stack} has no Lambda function: cannot check it runs the package akr built")
    for logical, name in targets:
        actual = lambda_client.get_function_configuration(FunctionName=name).get("CodeSha256", "")
        if actual != expected:
            raise CliError(
                f"stack {stack}: {logical} runs code with CodeSha256 {actual or '(none)'}, not the package "
                f"akr built ({expected}); akr deploy stopped here and changes nothing more: check who can "
                "write the code bucket, then run akr deploy again"
            )
