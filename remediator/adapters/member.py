"""IAM and Config in one member account, through the member role's session."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import BotoCoreError, ClientError

from remediator.adapters.failures import error_code, translate
from remediator.credential_report import MAX_REPORT_AGE, CredentialReport, parse_report
from remediator.deadline import Deadline
from remediator.errors import TransientError
from remediator.facts import KeyFacts, UserFacts

if TYPE_CHECKING:
    from mypy_boto3_config import ConfigServiceClient
    from mypy_boto3_iam import IAMClient

logger = logging.getLogger(__name__)

# IAM may return fewer than MaxItems and set IsTruncated; the paginator follows every Marker.
PAGE_SIZE = 1000
# GenerateCredentialReport until COMPLETE: the first wait is short (a small account's report is ready
# within a second), then doubling, bounded by the invocation's deadline, or by REPORT_MAX_WAIT_SECONDS
# when there is none (the command line). IAM does not document how long generation takes.
REPORT_FIRST_WAIT_SECONDS = 0.5
REPORT_MAX_WAIT_SECONDS = 60.0
REPORT_LONGEST_WAIT_SECONDS = 8.0


class Boto3MemberAccount:
    def __init__(
        self,
        *,
        account_id: str,
        role_session_name: str,
        iam: IAMClient,
        config: ConfigServiceClient,
        sleep: Callable[[float], None] = time.sleep,
        deadline: Deadline | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`clock`: the time that a report's age is measured against (none: every report is generated
        afresh first)."""
        self._account_id = account_id
        self._role_session_name = role_session_name
        self._iam = iam
        self._config = config
        self._sleep = sleep
        self._deadline = deadline or Deadline()
        self._clock = clock

    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def role_session_name(self) -> str:
        return self._role_session_name

    def resolve_user_name(self, user_id: str) -> str | None:
        # One Config call, whatever the size of the account. Config only knows users where the recorder
        # records AWS::IAM::User; when it cannot answer, page through IAM instead.
        try:
            found = self._config.list_discovered_resources(
                resourceType="AWS::IAM::User", resourceIds=[user_id]
            )["resourceIdentifiers"]
        except (ClientError, BotoCoreError) as exc:
            # Only a shortcut: any failure falls back to the listing, which is authoritative.
            logger.warning(
                "config lookup failed, listing users",
                extra={"account_id": self._account_id, "error": str(exc)},
            )
            found = []
        for resource in found:
            if resource.get("resourceId") == user_id and resource.get("resourceName"):
                return resource["resourceName"]
        for user_name, candidate in self.users():
            if candidate == user_id:
                return user_name
        return None

    def credential_report(self) -> CredentialReport | None:
        """The account's credential report. One IAM keeps is used as it is when younger than IAM's own
        four-hour cadence (one call); otherwise a new one is asked for and waited for, with a back-off,
        for as long as the invocation can afford.

        None when this account will not give one (access denied): the sweep then lists the users.
        TransientError when it is throttled or not ready in time: the account is retried later, rather
        than scanned user by user when IAM is already busy.
        https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html
        """
        doing = f"credential report of {self._account_id}"
        if self._clock is not None:
            kept = self._kept_report(doing)
            if kept is not None:
                return kept
        waited, wait = 0.0, REPORT_FIRST_WAIT_SECONDS
        while True:
            try:
                state = self._iam.generate_credential_report()["State"]
            except ClientError as exc:
                if error_code(exc) not in ("LimitExceeded", "ReportInProgress", "ServiceFailure"):
                    self._refused(exc, doing)
                    return None
                state = "INPROGRESS"
            except BotoCoreError as exc:
                raise translate(exc, doing) from exc
            if state == "COMPLETE":
                break
            if not self._deadline.allows(wait) or (
                self._deadline.remaining() is None and waited + wait > REPORT_MAX_WAIT_SECONDS
            ):
                raise TransientError(f"{doing}: not ready after {waited:.1f} s of waiting")
            self._sleep(wait)
            waited, wait = waited + wait, min(wait * 2, REPORT_LONGEST_WAIT_SECONDS)
        try:
            report = self._iam.get_credential_report()
        except ClientError as exc:
            # ReportNotPresent, ReportExpired, ReportInProgress right after COMPLETE: try again later.
            self._refused(exc, doing)
            return None
        except BotoCoreError as exc:
            raise translate(exc, doing) from exc
        return parse_report(report["Content"].decode("utf-8"), report["GeneratedTime"])

    def _kept_report(self, doing: str) -> CredentialReport | None:
        """The report IAM keeps, when it is recent enough; None otherwise (or when there is none)."""
        assert self._clock is not None  # noqa: S101
        try:
            report = self._iam.get_credential_report()
        except ClientError as exc:
            if error_code(exc) in ("ReportNotPresent", "ReportExpired", "ReportInProgress"):
                return None
            raise translate(exc, doing) from exc
        except BotoCoreError as exc:
            raise translate(exc, doing) from exc
        if self._clock() - report["GeneratedTime"] >= MAX_REPORT_AGE:
            return None
        return parse_report(report["Content"].decode("utf-8"), report["GeneratedTime"])

    def _refused(self, exc: ClientError, doing: str) -> None:
        """Raise unless the account simply will not give a report (then the caller lists the users)."""
        error = translate(exc, doing)
        if isinstance(error, TransientError) or error_code(exc) in ("ReportNotPresent", "ReportExpired"):
            raise TransientError(str(error)) from exc
        logger.warning(
            "no credential report, listing users", extra={"account_id": self._account_id, "error": str(error)}
        )

    def users(self) -> Iterator[tuple[str, str]]:
        pages = self._iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": PAGE_SIZE})
        try:
            for page in pages:
                for user in page["Users"]:
                    yield user["UserName"], user["UserId"]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, f"iam:ListUsers in {self._account_id}") from exc

    def read_user(self, user_name: str, user_id: str | None = None) -> UserFacts | None:
        try:
            # GetUser, not ListUserTags: the same one call also gives the unique id, which must match
            # (a user deleted and re-created under the same name is another user), and the path.
            user = self._iam.get_user(UserName=user_name)["User"]
            if user_id is not None and user["UserId"] != user_id:
                logger.warning(
                    "user name now belongs to another user",
                    extra={"account_id": self._account_id, "user_name": user_name, "user_id": user_id},
                )
                return None
            pages = self._iam.get_paginator("list_access_keys").paginate(UserName=user_name)
            listed = [key for page in pages for key in page["AccessKeyMetadata"]]
            keys = []
            for key in listed:
                used = self._iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
                keys.append(
                    KeyFacts(
                        access_key_id=key["AccessKeyId"],
                        status=str(key["Status"]),
                        created_at=key["CreateDate"],
                        # Absent when the key was never used; decide() then counts from CreateDate.
                        last_used_at=used["AccessKeyLastUsed"].get("LastUsedDate"),
                    )
                )
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            raise translate(exc, f"reading user {user_name} in {self._account_id}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"reading user {user_name} in {self._account_id}") from exc
        return UserFacts(
            account_id=self._account_id,
            user_name=user_name,
            user_id=user["UserId"],
            path=user.get("Path", "/"),
            keys=tuple(keys),
            tags={tag["Key"]: tag["Value"] for tag in user.get("Tags", [])},
        )

    def deactivate_key(self, user_name: str, access_key_id: str) -> bool:
        return self._set_status(user_name, access_key_id, "Inactive")

    def reactivate_key(self, user_name: str, access_key_id: str) -> bool:
        return self._set_status(user_name, access_key_id, "Active")

    def _set_status(self, user_name: str, access_key_id: str, status: Literal["Active", "Inactive"]) -> bool:
        # UserName is always passed: without it IAM acts on the caller's own user.
        try:
            self._iam.update_access_key(UserName=user_name, AccessKeyId=access_key_id, Status=status)
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return False  # deleted since it was read
            raise translate(exc, f"iam:UpdateAccessKey {access_key_id} of {user_name}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"iam:UpdateAccessKey {access_key_id} of {user_name}") from exc
        return True

    def delete_key(self, user_name: str, access_key_id: str) -> bool:
        try:
            self._iam.delete_access_key(UserName=user_name, AccessKeyId=access_key_id)
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return False  # already gone
            raise translate(exc, f"iam:DeleteAccessKey {access_key_id} of {user_name}") from exc
        except BotoCoreError as exc:
            raise translate(exc, f"iam:DeleteAccessKey {access_key_id} of {user_name}") from exc
        return True
