"""The member-account adapter and the role sessions, with botocore Stubber where moto falls short:
moto ignores ListUsers paging (MaxItems/Marker) and never denies AssumeRole or throttles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from remediator.adapters.member import Boto3MemberAccount
from remediator.adapters.sessions import REFRESH_MARGIN, AssumedRoleAccess, role_session_name
from remediator.deadline import Deadline
from remediator.errors import PermanentError, TransientError

ACCOUNT = "222222222222"
USER_ID = "AIDASECONDPAGEUSER01"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def client(service: str) -> Any:
    return boto3.Session(region_name="eu-west-1").client(service)  # type: ignore[call-overload]


def user(name: str, user_id: str) -> dict[str, Any]:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": user_id,
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "CreateDate": NOW,
    }


def member(iam: Any, config: Any) -> Boto3MemberAccount:
    return Boto3MemberAccount(account_id=ACCOUNT, role_session_name="akr-test", iam=iam, config=config)


def test_user_on_the_second_page_of_list_users_is_resolved() -> None:
    iam, config = client("iam"), client("config")
    with Stubber(iam) as iam_stub, Stubber(config) as config_stub:
        # Config does not know the user (recorder not recording IAM there): fall back to IAM.
        config_stub.add_response(
            "list_discovered_resources",
            {"resourceIdentifiers": []},
            {"resourceType": "AWS::IAM::User", "resourceIds": [USER_ID]},
        )
        iam_stub.add_response(
            "list_users",
            {
                "Users": [user(f"user-{i}", f"AIDAFIRSTPAGE{i:07d}") for i in range(3)],
                "IsTruncated": True,
                "Marker": "page-2",
            },
            {"MaxItems": 1000},
        )
        iam_stub.add_response(
            "list_users",
            {"Users": [user("carol", USER_ID)], "IsTruncated": False},
            {"MaxItems": 1000, "Marker": "page-2"},
        )
        assert member(iam, config).resolve_user_name(USER_ID) == "carol"
        iam_stub.assert_no_pending_responses()


def test_config_error_falls_back_to_listing() -> None:
    iam, config = client("iam"), client("config")
    with Stubber(iam) as iam_stub, Stubber(config) as config_stub:
        config_stub.add_client_error(
            "list_discovered_resources", "NoAvailableConfigurationRecorderException", http_status_code=400
        )
        iam_stub.add_response("list_users", {"Users": [user("carol", USER_ID)], "IsTruncated": False})
        assert member(iam, config).resolve_user_name(USER_ID) == "carol"


def test_config_answer_needs_no_iam_call() -> None:
    iam, config = client("iam"), client("config")
    with Stubber(iam) as iam_stub, Stubber(config) as config_stub:
        config_stub.add_response(
            "list_discovered_resources",
            {
                "resourceIdentifiers": [
                    {"resourceType": "AWS::IAM::User", "resourceId": USER_ID, "resourceName": "carol"}
                ]
            },
        )
        assert member(iam, config).resolve_user_name(USER_ID) == "carol"
        iam_stub.assert_no_pending_responses()


def test_unknown_user_is_none_after_every_page() -> None:
    iam, config = client("iam"), client("config")
    with Stubber(iam) as iam_stub, Stubber(config) as config_stub:
        config_stub.add_response("list_discovered_resources", {"resourceIdentifiers": []})
        iam_stub.add_response("list_users", {"Users": [], "IsTruncated": True, "Marker": "m"})
        iam_stub.add_response("list_users", {"Users": [], "IsTruncated": False})
        assert member(iam, config).resolve_user_name(USER_ID) is None


def test_throttling_that_outlasts_retries_is_transient() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_client_error("update_access_key", "Throttling", "Rate exceeded", http_status_code=400)
        with pytest.raises(
            TransientError,
            match=r"iam:UpdateAccessKey AKIAEXAMPLEKEY00001 of carol: Throttling: Rate exceeded",
        ):
            member(iam, client("config")).deactivate_key("carol", "AKIAEXAMPLEKEY00001")


def test_update_always_names_the_user() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_response(
            "update_access_key",
            {},
            {"UserName": "carol", "AccessKeyId": "AKIAEXAMPLEKEY00001", "Status": "Inactive"},
        )
        member(iam, client("config")).deactivate_key("carol", "AKIAEXAMPLEKEY00001")


def test_delete_of_a_key_already_gone_is_done() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_client_error("delete_access_key", "NoSuchEntity", http_status_code=404)
        assert member(iam, client("config")).delete_key("carol", "AKIAEXAMPLEKEY00001") is False


def test_access_denied_on_delete_is_permanent() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_client_error("delete_access_key", "AccessDenied", "explicit deny", http_status_code=403)
        with pytest.raises(PermanentError, match="AccessDenied: explicit deny"):
            member(iam, client("config")).delete_key("carol", "AKIAEXAMPLEKEY00001")


def test_user_deleted_while_reading_is_none() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_client_error("get_user", "NoSuchEntity", http_status_code=404)
        assert member(iam, client("config")).read_user("carol", USER_ID) is None


def test_user_recreated_under_the_same_name_is_not_the_user_of_the_event() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_response("get_user", {"User": user("carol", "AIDARECREATEDCAROL01")}, {"UserName": "carol"})
        assert member(iam, client("config")).read_user("carol", USER_ID) is None
        stub.assert_no_pending_responses()


def test_config_connection_failure_falls_back_to_listing() -> None:
    iam, config = client("iam"), client("config")

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://config.eu-west-1.amazonaws.com")

    config.meta.events.register("before-call.config-service.ListDiscoveredResources", unreachable)
    with Stubber(iam) as iam_stub:
        iam_stub.add_response("list_users", {"Users": [user("carol", USER_ID)], "IsTruncated": False})
        assert member(iam, config).resolve_user_name(USER_ID) == "carol"


def test_key_deleted_before_deactivation_is_reported_gone() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_client_error("update_access_key", "NoSuchEntity", http_status_code=404)
        assert member(iam, client("config")).deactivate_key("carol", "AKIAEXAMPLEKEY00001") is False


def test_never_used_key_has_no_last_use() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        carol = user("carol", USER_ID) | {"Path": "/ci/", "Tags": [{"Key": "owner", "Value": "team-a"}]}
        stub.add_response("get_user", {"User": carol}, {"UserName": "carol"})
        stub.add_response(
            "list_access_keys",
            {
                "AccessKeyMetadata": [
                    {
                        "UserName": "carol",
                        "AccessKeyId": "AKIANEVERUSED0000000",
                        "Status": "Active",
                        "CreateDate": NOW,
                    }
                ]
            },
            {"UserName": "carol"},
        )
        stub.add_response(
            "get_access_key_last_used",
            {"UserName": "carol", "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}},
            {"AccessKeyId": "AKIANEVERUSED0000000"},
        )
        facts = member(iam, client("config")).read_user("carol", USER_ID)
    assert facts is not None
    (key,) = facts.keys
    assert key.last_used_at is None
    assert key.last_activity == NOW
    assert facts.tags == {"owner": "team-a"}
    assert facts.path == "/ci/"


# -- sessions ----------------------------------------------------------------------------------------


def credentials(expires_at: datetime) -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE000000000",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": expires_at,
        }
    }


def test_access_denied_on_assume_role_is_permanent() -> None:
    sts = client("sts")
    access = AssumedRoleAccess(
        session=boto3.Session(), role_name="AccessKeyRemediationRole", clock=lambda: NOW, sts=sts
    )
    with Stubber(sts) as stub:
        stub.add_client_error("assume_role", "AccessDenied", "not authorized to perform sts:AssumeRole", 403)
        with pytest.raises(PermanentError) as caught:
            access.open(ACCOUNT, region="eu-west-1", label="evt-1")
    assert str(caught.value) == (
        f"sts:AssumeRole arn:aws:iam::{ACCOUNT}:role/AccessKeyRemediationRole: AccessDenied: "
        "not authorized to perform sts:AssumeRole"
    )


def test_credentials_are_cached_until_shortly_before_expiry() -> None:
    sts = client("sts")
    now = [NOW]
    access = AssumedRoleAccess(session=boto3.Session(), role_name="R", clock=lambda: now[0], sts=sts)
    expires = NOW + timedelta(hours=1)
    with Stubber(sts) as stub:
        stub.add_response(
            "assume_role",
            credentials(expires),
            {
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/R",
                "RoleSessionName": "akr-evt-1",
                "DurationSeconds": 3600,
            },
        )
        first = access.open(ACCOUNT, region="eu-west-1", label="evt-1")
        now[0] = expires - REFRESH_MARGIN - timedelta(seconds=1)
        assert access.open(ACCOUNT, region="eu-west-1", label="evt-2") is first
        stub.assert_no_pending_responses()
        # Inside the margin: assume again rather than risk expiry halfway through a run.
        stub.add_response("assume_role", credentials(expires + timedelta(hours=1)))
        now[0] = expires - REFRESH_MARGIN
        assert access.open(ACCOUNT, region="eu-west-1", label="evt-3").role_session_name == "akr-evt-3"
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("region", "partition"), [("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_the_member_role_is_in_the_partition_of_the_functions_region(region: str, partition: str) -> None:
    sts = boto3.Session(region_name=region).client("sts")
    access = AssumedRoleAccess(
        session=boto3.Session(region_name=region), role_name="R", clock=lambda: NOW, sts=sts
    )
    with Stubber(sts) as stub:
        stub.add_response(
            "assume_role",
            credentials(NOW + timedelta(hours=1)),
            {
                "RoleArn": f"arn:{partition}:iam::{ACCOUNT}:role/R",
                "RoleSessionName": "akr-evt-1",
                "DurationSeconds": 3600,
            },
        )
        access.open(ACCOUNT, region=region, label="evt-1")
        stub.assert_no_pending_responses()


def test_role_session_name_is_valid_for_sts() -> None:
    assert (
        role_session_name("5c1d7e9a-3b2f-4c8e-9a41-2f6d0b7e8c13")
        == "akr-5c1d7e9a-3b2f-4c8e-9a41-2f6d0b7e8c13"
    )
    assert role_session_name("sweep 2026/11/28 #1") == "akr-sweep-2026-11-28--1"
    assert len(role_session_name("x" * 200)) == 64


# -- credential report ------------------------------------------------------------------------------

REPORT_CSV = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,"
    "cert_2_active,cert_2_last_rotated\n"
    "carol,arn:aws:iam::222222222222:user/carol,2026-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,"
    "true,2026-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
)


class Waits:
    """The sleeps of a credential-report wait, recorded; a monotonic clock that they advance."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def scanning_member(
    iam: Any, waits: Waits | None = None, deadline: Deadline | None = None, now: datetime | None = None
) -> Boto3MemberAccount:
    waits = waits or Waits()
    return Boto3MemberAccount(
        account_id=ACCOUNT,
        role_session_name="akr-test",
        iam=iam,
        config=client("config"),
        sleep=waits.sleep,
        deadline=deadline,
        clock=None if now is None else (lambda: now),
    )


def test_credential_report_waits_until_complete_from_half_a_second_doubling() -> None:
    iam = client("iam")
    waits = Waits()
    with Stubber(iam) as stub:
        stub.add_response("generate_credential_report", {"State": "STARTED"})
        stub.add_client_error("generate_credential_report", "LimitExceeded", http_status_code=409)
        stub.add_response("generate_credential_report", {"State": "INPROGRESS"})
        stub.add_response("generate_credential_report", {"State": "COMPLETE"})
        stub.add_response(
            "get_credential_report",
            {"Content": REPORT_CSV.encode(), "ReportFormat": "text/csv", "GeneratedTime": NOW},
        )
        report = scanning_member(iam, waits).credential_report()
    assert report is not None
    assert [row.user for row in report.users] == ["carol"]
    assert report.generated_at == NOW
    assert waits.slept == [0.5, 1.0, 2.0]


def test_a_report_younger_than_four_hours_is_used_without_generating_one() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_response(
            "get_credential_report",
            {"Content": REPORT_CSV.encode(), "ReportFormat": "text/csv", "GeneratedTime": NOW},
        )
        report = scanning_member(iam, now=NOW + timedelta(hours=4) - timedelta(seconds=1)).credential_report()
    assert report is not None
    assert report.generated_at == NOW


@pytest.mark.parametrize("kept", ["four hours old", "absent"])
def test_a_report_four_hours_old_or_absent_is_generated_afresh(kept: str) -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        if kept == "absent":
            stub.add_client_error("get_credential_report", "ReportNotPresent", http_status_code=410)
        else:
            stub.add_response(
                "get_credential_report",
                {"Content": REPORT_CSV.encode(), "ReportFormat": "text/csv", "GeneratedTime": NOW},
            )
        stub.add_response("generate_credential_report", {"State": "COMPLETE"})
        fresh = NOW + timedelta(hours=4)
        stub.add_response(
            "get_credential_report",
            {"Content": REPORT_CSV.encode(), "ReportFormat": "text/csv", "GeneratedTime": fresh},
        )
        report = scanning_member(iam, now=fresh).credential_report()
    assert report is not None
    assert report.generated_at == fresh


def test_the_wait_stops_in_time_for_the_failure_record_of_the_invocation() -> None:
    """The worker has 100 s left: the waits stop before they would eat into the 10 s reserve."""
    iam = client("iam")
    waits = Waits()
    deadline = Deadline(clock=waits.clock)
    deadline.start(100_000)
    with Stubber(iam) as stub:
        for _ in range(20):
            stub.add_response("generate_credential_report", {"State": "INPROGRESS"})
        with pytest.raises(TransientError, match=r"not ready after 87\.5 s of waiting"):
            scanning_member(iam, waits, deadline).credential_report()
    assert waits.slept == [0.5, 1.0, 2.0, 4.0, *[8.0] * 10]
    assert deadline.remaining() == pytest.approx(100 - 87.5)


def test_without_a_deadline_the_wait_stops_after_a_minute() -> None:
    iam = client("iam")
    waits = Waits()
    with Stubber(iam) as stub:
        for _ in range(20):
            stub.add_response("generate_credential_report", {"State": "INPROGRESS"})
        with pytest.raises(TransientError, match="not ready after"):
            scanning_member(iam, waits).credential_report()
    assert sum(waits.slept) <= 60
    assert sum(waits.slept) + 8 > 60


def test_credential_report_denied_falls_back_to_listing() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_client_error("generate_credential_report", "AccessDenied", http_status_code=403)
        assert scanning_member(iam).credential_report() is None


def test_credential_report_gone_right_after_is_transient() -> None:
    iam = client("iam")
    with Stubber(iam) as stub:
        stub.add_response("generate_credential_report", {"State": "COMPLETE"})
        stub.add_client_error("get_credential_report", "ReportNotPresent", http_status_code=410)
        with pytest.raises(TransientError, match="ReportNotPresent"):
            scanning_member(iam).credential_report()
