"""Translate botocore failures into the package's permanent/transient split."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from remediator.errors import PermanentError, RemediatorError, TransientError

# Retrying cannot fix these; botocore's retries have already absorbed throttling and 5xx by the time a
# ClientError reaches us, so whatever is not listed here is left to the Lambda retry and the DLQ.
PERMANENT_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "RegionDisabledException",
        "NoSuchEntity",
        "ValidationError",
        "InvalidInput",
        "InvalidParameterValue",
        "LimitExceeded",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: ClientError | BotoCoreError, doing: str) -> RemediatorError:
    """`doing` says what failed, e.g. "iam:UpdateAccessKey on AKIA... in 111122223333"."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "")
        text = f"{doing}: {code}: {message}".rstrip(": ")
        if code in PERMANENT_CODES:
            return PermanentError(text)
        return TransientError(text)
    if isinstance(exc, ParamValidationError):
        return PermanentError(f"{doing}: {exc}")  # the same request would be refused again
    return TransientError(f"{doing}: {exc}")
