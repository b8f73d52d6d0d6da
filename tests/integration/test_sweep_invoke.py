"""The one call `akr sweep` (deployed) makes to start the sweep: an asynchronous Lambda invoke.

moto cannot run Lambda code (it needs Docker for that), so the exact call is checked with botocore's
Stubber: the function, InvocationType=Event and the payload the sweep function reads its run id from.
tests/e2e/test_sweep_undo.py checks, against a moto server, that the function named is the deployed one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.stub import Stubber

from org_bootstrap.aws import CliError
from org_bootstrap.review.sweep import invoke_sweep

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

FUNCTION = "access-key-remediation-SweepFunction-AbCdEf012345"
RUN_ID = "cli-20261128T060000.000000Z"


@pytest.fixture
def lambda_client() -> Iterator[tuple[LambdaClient, Stubber]]:
    client: LambdaClient = boto3.client("lambda", region_name="eu-west-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expected(run_id: str = RUN_ID) -> dict[str, object]:
    return {
        "FunctionName": FUNCTION,
        "InvocationType": "Event",
        "Payload": json.dumps({"run_id": run_id}).encode(),
    }


def test_the_sweep_function_is_invoked_asynchronously_with_the_run_id(
    lambda_client: tuple[LambdaClient, Stubber],
) -> None:
    client, stubber = lambda_client
    stubber.add_response("invoke", {"StatusCode": 202}, expected())
    invoke_sweep(client, FUNCTION, RUN_ID)


def test_a_missing_function_is_one_clear_error(lambda_client: tuple[LambdaClient, Stubber]) -> None:
    client, stubber = lambda_client
    stubber.add_client_error(
        "invoke",
        service_error_code="ResourceNotFoundException",
        service_message=f"Function not found: {FUNCTION}",
        http_status_code=404,
        expected_params=expected(),
    )
    with pytest.raises(CliError) as raised:
        invoke_sweep(client, FUNCTION, RUN_ID)
    assert str(raised.value) == (
        f"cannot start the sweep function {FUNCTION}: "
        f"ResourceNotFoundException: Function not found: {FUNCTION}"
    )


def test_an_answer_other_than_queued_is_an_error(lambda_client: tuple[LambdaClient, Stubber]) -> None:
    client, stubber = lambda_client
    stubber.add_response("invoke", {"StatusCode": 200}, expected())
    with pytest.raises(CliError, match=r"answered 200, not 202 \(queued\)"):
        invoke_sweep(client, FUNCTION, RUN_ID)
