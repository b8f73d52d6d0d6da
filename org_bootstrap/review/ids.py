"""The formats of the identifiers the commands take, checked before any AWS call: a malformed id is an
error that names its option, never a lookup that answers "not found" (or "not deactivated by this
service") about something that cannot exist."""

from __future__ import annotations

import re

from org_bootstrap.aws import CliError

ACCOUNT_ID = re.compile(r"[0-9]{12}")
ACCESS_KEY_ID = re.compile(r"AKIA[A-Z0-9]{12,124}")
"""An IAM user's long-term access key: AKIA and upper-case letters and digits, 16 to 128 characters in
all (the IAM API's AccessKeyId is 16-128 word characters; temporary credentials start ASIA and are no
user's key)."""


def check_account_id(value: str, option: str) -> str:
    if not ACCOUNT_ID.fullmatch(value):
        raise CliError(f"{option} {value!r} is not an account id (12 digits)")
    return value


def check_access_key_id(value: str, option: str = "--access-key-id") -> str:
    if not ACCESS_KEY_ID.fullmatch(value):
        raise CliError(
            f"{option} {value!r} is not an access key id (AKIA and 12 or more upper-case letters or digits)"
        )
    return value
