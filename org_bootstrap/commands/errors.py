"""One error path for every command: whatever fails becomes one line that says what failed and what to
try, in the command's output format, and exit code 1. Never a traceback.

The commands catch the errors they expect and word them; `guarded` wraps each command (in
org_bootstrap.commands.app) and words the rest: the SDK's own errors (an endpoint that cannot be reached,
an answer that is not AWS's, missing credentials), an AWS error nobody caught, a file that cannot be
written. Only the first line of a message is kept: some SDK errors span several.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError
from pydantic import ValidationError

from org_bootstrap.aws import CliError
from org_bootstrap.commands.options import Output, RecordsOutput
from org_bootstrap.commands.render import fail
from org_bootstrap.deploy.deployment import PolicyError
from org_bootstrap.deploy.lambda_zip import PackagingError
from org_bootstrap.deploy.plan import PlanError
from org_bootstrap.review.audit_query import AuditReadError, QueryError
from remediator.errors import RemediatorError

EXPECTED = (CliError, PlanError, PolicyError, QueryError, AuditReadError, PackagingError, RemediatorError)
"""Errors whose message is already one line for the operator."""

_ACCESS_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError")
_CREDENTIAL_CODES = (
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
)


def _first_line(text: str) -> str:
    return " ".join(text.strip().splitlines()[:1]) if text.strip() else text


def _client_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Error"))
    what = f"{exc.operation_name} failed: {code}: {_first_line(str(error.get('Message', '')))}".rstrip(": ")
    if code in _ACCESS_CODES:
        return f"{what}; check the role's permissions, --profile and --security-role"
    if code in _CREDENTIAL_CODES:
        return f"{what}; the credentials are expired or unknown here: refresh them or check --profile"
    return what


def describe_failure(exc: BaseException) -> str:
    """One line: what failed, and what to try."""
    if isinstance(exc, EXPECTED):
        return _first_line(str(exc))
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials: pass --profile or configure the environment (AWS_PROFILE, AWS_ACCESS_KEY_ID)"
        )
    if isinstance(exc, ProfileNotFound):
        return f"{_first_line(str(exc))}: check --profile and AWS_PROFILE"
    if isinstance(exc, NoRegionError):
        return "no region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        url = exc.kwargs.get("endpoint_url", "the endpoint")
        return f"cannot reach {url}: check --endpoint-url, --region and the network"
    if isinstance(exc, ReadTimeoutError):
        url = exc.kwargs.get("endpoint_url", "the endpoint")
        return f"no answer from {url} in time: try again, or check --endpoint-url"
    if isinstance(exc, ResponseParserError):
        return (
            "the endpoint answered with something that is not an AWS response: check --endpoint-url and "
            "--region (a service that is not there, or in another region)"
        )
    if isinstance(exc, ParamValidationError):
        return f"an AWS call was refused before it was sent: {_first_line(str(exc))}"
    if isinstance(exc, ClientError):
        return _client_error(exc)
    if isinstance(exc, BotoCoreError):
        return f"AWS SDK error: {_first_line(str(exc))}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or _first_line(str(exc))}"
    return _first_line(str(exc))


HANDLED = (*EXPECTED, ValidationError, BotoCoreError, ClientError, ResponseParserError, OSError)


def _output(kwargs: dict[str, Any]) -> Output:
    chosen = kwargs.get("output")
    return Output.JSON if chosen in (Output.JSON, RecordsOutput.JSON) else Output.TABLE


def guarded(name: str, command: Callable[..., None]) -> Callable[..., None]:
    """The command, with every error it lets out turned into fail()'s one line and exit code 1. typer
    reads the options from the wrapped function's signature (functools.wraps keeps it)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except HANDLED as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # the reader went away (| head): typer ends quietly
            raise fail(name, describe_failure(exc), _output(kwargs)) from exc

    return run
