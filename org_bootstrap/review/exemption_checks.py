"""What `akr exempt` checks before it writes: the expiry, the caller's standing in the organization, the
account, and that the exempt user and key exist. Each failure is a CliError that names it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from org_bootstrap.aws import Aws, CliError
from org_bootstrap.aws import describe as describe_error
from org_bootstrap.deploy.organization import OrganizationView
from remediator.exemptions import ANY_USER, Exemption

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

_DAYS = re.compile(r"^([0-9]{1,5})d$")


def parse_expiry(text: str, *, now: datetime, max_days: int) -> datetime:
    """ "30d" (from now), a date "2026-12-31" (its start, 00:00 UTC) or an ISO time with a zone; in the
    future and at most `max_days` from now. Pure; a CliError names what is wrong."""
    if max_days < 1:
        raise CliError(f"--max-days must be at least 1, not {max_days}")
    value = text.strip()
    days = _DAYS.match(value)
    expires = now + timedelta(days=int(days.group(1))) if days else _parse_moment(value)
    if expires <= now:
        raise CliError(
            f"the expiry {expires:%Y-%m-%d %H:%M} UTC is in the past: an exemption must expire in the future"
        )
    horizon = now + timedelta(days=max_days)
    if expires > horizon:
        raise CliError(
            f"the expiry {expires:%Y-%m-%d %H:%M} UTC is beyond the maximum horizon of {max_days} days "
            f"({horizon:%Y-%m-%d %H:%M} UTC); ask for a shorter exemption or raise --max-days"
        )
    return expires


def _parse_moment(value: str) -> datetime:
    malformed = CliError(
        f"malformed expiry {value!r}: give a number of days (30d), a date (2026-12-31) or an ISO time "
        "with a zone (2026-12-31T12:00:00+00:00)"
    )
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise malformed from exc
    if moment.tzinfo is None:
        raise malformed
    return moment.astimezone(UTC)


def require_administrator(view: OrganizationView) -> None:
    """Only the management account or a delegated administrator reads the organization's accounts."""
    if not view.administers:
        raise CliError(
            f"this is account {view.caller}: run akr exempt from the management account {view.management} "
            "or from a delegated administrator for CloudFormation StackSets"
        )


def check_account(view: OrganizationView, account_id: str) -> None:
    """The account must be an ACTIVE account of the organization. Pure."""
    require_administrator(view)
    known = {account.id: account for account in view.accounts}
    if account_id not in known:
        raise CliError(f"account {account_id} is not an account of the organization {view.organization_id}")
    status = known[account_id].status
    if status != "ACTIVE":
        raise CliError(f"account {account_id} is {status}, not ACTIVE: it cannot have exemptions")


def member_iam(aws: Aws, caller: str, account_id: str, account_role: str) -> IAMClient:
    """IAM of the exempt user's account: the caller's own credentials there, else through the role."""
    if account_id == caller:
        return aws.iam()
    return aws.iam(aws.assume(account_id, account_role))


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "NoSuchEntity"


def check_exists(iam: IAMClient, exemption: Exemption) -> None:
    """The exempt user (and key) exist: an exemption for a misspelt name would exempt nothing, and say
    nothing. A CliError names what is missing and how to exempt it anyway (--allow-missing)."""
    where = exemption.account_id
    anyway = "check the name, or pass --allow-missing to exempt it before it exists"
    call = "iam:GetUser"
    try:
        if exemption.user_name != ANY_USER:
            iam.get_user(UserName=exemption.user_name)
        if exemption.access_key_id is None:
            return
        if exemption.user_name == ANY_USER:
            call = "iam:GetAccessKeyLastUsed"
            iam.get_access_key_last_used(AccessKeyId=exemption.access_key_id)
            return
        call = "iam:ListAccessKeys"
        keys = {
            key["AccessKeyId"]
            for page in iam.get_paginator("list_access_keys").paginate(UserName=exemption.user_name)
            for key in page["AccessKeyMetadata"]
        }
    except ClientError as exc:
        if _missing(exc):
            what = (
                f"user {exemption.user_name}" if call == "iam:GetUser" else f"key {exemption.access_key_id}"
            )
            raise CliError(f"there is no {what} in {where}: {anyway}") from exc
        raise CliError(
            f"cannot check that the user exists ({call} in {where}): {describe_error(exc)}"
        ) from exc
    except BotoCoreError as exc:
        raise CliError(
            f"cannot check that the user exists ({call} in {where}): {describe_error(exc)}"
        ) from exc
    if exemption.access_key_id not in keys:
        raise CliError(
            f"user {exemption.user_name} in {where} has no key {exemption.access_key_id}: {anyway}"
        )
