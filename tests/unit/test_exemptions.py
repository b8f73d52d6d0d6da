"""Central exemptions: what one covers, and what a valid one looks like."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from remediator.exemptions import ANY_USER, DEFAULT_MAX_EXEMPTION_DAYS, Exemption, RejectedExemption, screen

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
USER = "alice"
KEY_A = "AKIAAAAAAAAAAAAAAAAA"
KEY_B = "AKIABBBBBBBBBBBBBBBB"


def data(**overrides: Any) -> dict[str, Any]:
    """A valid exemption as loaded from storage, with some fields replaced."""
    return {
        "account_id": ACCOUNT,
        "user_name": USER,
        "access_key_id": None,
        "reason": "migration to IAM Identity Center",
        "owner": "platform-team",
        "expires_at": NOW + timedelta(days=30),
        **overrides,
    }


def exemption(**overrides: Any) -> Exemption:
    return Exemption.model_validate(data(**overrides))


def covers(
    subject: Exemption,
    *,
    account_id: str = ACCOUNT,
    user_name: str = USER,
    access_key_id: str = KEY_A,
    now: datetime = NOW,
) -> bool:
    return subject.covers(account_id=account_id, user_name=user_name, access_key_id=access_key_id, now=now)


# --- covers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "query", "expected"),
    [
        (exemption(), {}, True),
        (exemption(expires_at=NOW + SECOND), {}, True),
        (exemption(expires_at=NOW), {}, False),
        (exemption(expires_at=NOW - SECOND), {}, False),
        (exemption(), {"now": NOW + timedelta(days=30)}, False),
        (exemption(), {"now": NOW + timedelta(days=30) - SECOND}, True),
        (exemption(), {"account_id": OTHER_ACCOUNT}, False),
        (exemption(), {"user_name": "bob"}, False),
        (exemption(), {"user_name": "Alice"}, False),
        (exemption(), {"access_key_id": KEY_B}, True),
        (exemption(user_name=ANY_USER), {"user_name": "bob"}, True),
        (exemption(user_name=ANY_USER), {"account_id": OTHER_ACCOUNT}, False),
        (exemption(user_name=ANY_USER, expires_at=NOW), {}, False),
        (exemption(access_key_id=KEY_A), {}, True),
        (exemption(access_key_id=KEY_A), {"access_key_id": KEY_B}, False),
        (exemption(access_key_id=KEY_A), {"user_name": "bob"}, False),
        (exemption(user_name=ANY_USER, access_key_id=KEY_A), {"user_name": "bob"}, True),
        (exemption(user_name=ANY_USER, access_key_id=KEY_A), {"access_key_id": KEY_B}, False),
    ],
    ids=[
        "in-force",
        "expires-in-1s",
        "expires-at-now",
        "expired-1s-ago",
        "at-expiry-later",
        "1s-before-expiry-later",
        "other-account",
        "other-user",
        "user-name-is-case-sensitive",
        "every-key-of-the-user",
        "wildcard-any-user",
        "wildcard-other-account",
        "wildcard-expired",
        "this-key",
        "other-key",
        "this-key-id-other-user",
        "wildcard-this-key",
        "wildcard-other-key",
    ],
)
def test_covers(subject: Exemption, query: dict[str, Any], expected: bool) -> None:
    assert covers(subject, **query) is expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2025, 6, 1, 13, 59, 59, tzinfo=timezone(timedelta(hours=2))), True),
        (datetime(2025, 6, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2))), False),
    ],
    ids=["1s-before-in-utc+2", "same-instant-in-utc+2"],
)
def test_expiry_compares_instants_not_wall_clocks(now: datetime, expected: bool) -> None:
    assert covers(exemption(expires_at=NOW), now=now) is expected


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("account_id", ["123456789012", "000000000000"], ids=["digits", "leading-zeros"])
def test_valid_account_ids(account_id: str) -> None:
    assert exemption(account_id=account_id).account_id == account_id


@pytest.mark.parametrize(
    "account_id",
    [
        "",
        "12345678901",
        "1234567890123",
        "12345678901a",
        "1234-5678-9012",
        " 123456789012",
        "123456789012 ",
        "123456789012\n",
        123456789012,
    ],
    ids=[
        "empty",
        "11-digits",
        "13-digits",
        "letter",
        "dashes",
        "leading-space",
        "trailing-space",
        "trailing-newline",
        "int",
    ],
)
def test_account_id_must_be_12_digits(account_id: object) -> None:
    with pytest.raises(ValidationError) as caught:
        exemption(account_id=account_id)

    assert [error["loc"] for error in caught.value.errors()] == [("account_id",)]


def test_account_id_must_be_12_ascii_digits() -> None:
    """BUG: the pattern ^\\d{12}$ is Unicode-aware, so non-ASCII digits pass as an account id."""
    arabic_indic = "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662"

    with pytest.raises(ValidationError):
        exemption(account_id=arabic_indic)


@pytest.mark.parametrize("field", ["reason", "owner", "user_name"])
def test_text_fields_must_not_be_empty(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        exemption(**{field: ""})

    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((field,), "string_too_short")]


@pytest.mark.parametrize("field", ["account_id", "user_name", "reason", "owner", "expires_at"])
def test_required_fields(field: str) -> None:
    incomplete = data()
    del incomplete[field]

    with pytest.raises(ValidationError) as caught:
        Exemption.model_validate(incomplete)

    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((field,), "missing")]


@pytest.mark.parametrize(
    "expires_at",
    [datetime(2030, 1, 1), "2030-01-01T00:00:00"],  # noqa: DTZ001 - naive on purpose
    ids=["naive-datetime", "naive-string"],
)
def test_expires_at_must_be_timezone_aware(expires_at: object) -> None:
    with pytest.raises(ValidationError) as caught:
        exemption(expires_at=expires_at)

    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("expires_at",), "timezone_aware")]


@pytest.mark.parametrize(
    "expires_at",
    ["2030-01-01T00:00:00Z", "2030-01-01T02:00:00+02:00", datetime(2030, 1, 1, tzinfo=UTC)],
    ids=["string-z", "string-offset", "datetime-utc"],
)
def test_aware_expiry_is_accepted(expires_at: object) -> None:
    assert exemption(expires_at=expires_at).expires_at == datetime(2030, 1, 1, tzinfo=UTC)


def test_key_specific_exemption_keeps_the_key_id() -> None:
    assert exemption(access_key_id=KEY_A).access_key_id == KEY_A


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        exemption(approved_by="someone")

    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("approved_by",), "extra_forbidden")]


def test_exemptions_are_frozen() -> None:
    subject = exemption()

    with pytest.raises(ValidationError):
        subject.expires_at = NOW + timedelta(days=3650)  # type: ignore[misc]


# --- screen: what the remediator honours -------------------------------------------------------------

MADE = datetime(2026, 11, 1, tzinfo=UTC)


def made(days_valid: float, *, created: datetime | None = MADE, user: str = "ci") -> Exemption:
    base = created or MADE
    return Exemption(
        account_id="111122223333",
        user_name=user,
        reason="r",
        owner="o",
        expires_at=base + timedelta(days=days_valid),
        created_at=created,
    )


@pytest.mark.parametrize(
    ("days_valid", "honoured"), [(364, True), (365, True), (365.0001, False), (366, False)]
)
def test_the_horizon_is_measured_from_when_the_exemption_was_made(days_valid: float, honoured: bool) -> None:
    kept, rejected = screen([made(days_valid)], now=MADE + timedelta(days=200), max_days=365)
    assert (len(kept), len(rejected)) == ((1, 0) if honoured else (0, 1))
    if not honoured:
        assert rejected[0].why.endswith("more than 365 days after it was made (2026-11-01)")
        assert rejected[0].item == "ci#*"


@pytest.mark.parametrize(("days_valid", "honoured"), [(29, True), (30, True), (31, False)])
def test_without_its_making_time_an_exemption_is_measured_from_now(days_valid: int, honoured: bool) -> None:
    now = MADE
    legacy = made(days_valid, created=None)
    kept, rejected = screen([legacy], now=now, max_days=30)
    assert bool(kept) is honoured and bool(rejected) is not honoured


def test_an_exemption_made_in_the_future_is_rejected_beyond_the_clock_skew() -> None:
    now = MADE
    within = made(10, created=now + timedelta(minutes=5))
    beyond = made(10, created=now + timedelta(minutes=5, seconds=1), user="other")
    kept, rejected = screen([within, beyond], now=now, max_days=365)
    assert kept == (within,)
    assert [r.why for r in rejected] == ["made in the future (2026-11-01 00:05 UTC)"]


@pytest.mark.parametrize(
    ("item", "user", "key", "named"),
    [
        ("ci#*", "ci", "AKIA1", True),
        ("ci#AKIA1", "ci", "AKIA1", True),
        ("ci#AKIA1", "ci", "AKIA2", False),
        ("*#*", "anyone", "AKIA9", True),
        ("other#*", "ci", "AKIA1", False),
        ("ci#", "ci", "AKIA1", True),
        ("ci", "ci", "AKIA1", True),
        ("cix#*", "ci", "AKIA1", False),
    ],
)
def test_a_rejected_item_names_the_keys_its_sort_key_names(
    item: str, user: str, key: str, named: bool
) -> None:
    rejected = RejectedExemption(account_id="111122223333", item=item, owner="o", why="w")
    assert rejected.names(user_name=user, access_key_id=key) is named
    assert rejected.note() == f"exemption {item} by o ignored: w"


def test_no_exemption_outlives_a_yearly_review_by_default() -> None:
    # AKR_MAX_EXEMPTION_DAYS and the template's MaxExemptionDays default to this.
    assert DEFAULT_MAX_EXEMPTION_DAYS == 365


def test_an_exemption_without_its_making_time_has_none() -> None:
    # Items written before the making time was recorded: screen() measures them from now.
    assert exemption().created_at is None


@pytest.mark.parametrize(
    ("user_name", "access_key_id", "item"),
    [(USER, None, "alice#*"), (USER, KEY_A, f"alice#{KEY_A}"), (ANY_USER, None, "*#*")],
)
def test_item_names_the_user_and_the_key(user_name: str, access_key_id: str | None, item: str) -> None:
    assert exemption(user_name=user_name, access_key_id=access_key_id).item == item


def test_screen_keeps_the_order_and_says_what_it_rejects() -> None:
    first = exemption(user_name="alice")
    beyond = exemption(
        user_name="bob", access_key_id=KEY_B, owner="team-b", expires_at=NOW + timedelta(days=400)
    )
    last = exemption(user_name="carol")

    kept, rejected = screen([first, beyond, last], now=NOW, max_days=365)

    assert kept == (first, last)
    assert rejected == (
        RejectedExemption(
            account_id=ACCOUNT,
            item=f"bob#{KEY_B}",
            owner="team-b",
            why="expires 2026-07-06, more than 365 days after it was made (2025-06-01)",
        ),
    )


@pytest.mark.parametrize("owner", [None, ""], ids=["no-owner", "empty-owner"])
def test_a_rejected_item_without_an_owner_says_so_without_one(owner: str | None) -> None:
    rejected = RejectedExemption(
        account_id=ACCOUNT, item="alice#*", owner=owner, why="expiry has no time zone"
    )

    assert rejected.note() == "exemption alice#* ignored: expiry has no time zone"


def test_a_rejected_exemption_has_no_owner_unless_given_and_is_frozen_and_closed() -> None:
    rejected = RejectedExemption(account_id=ACCOUNT, item="alice#*", why="malformed")

    assert rejected.owner is None
    with pytest.raises(ValidationError):
        rejected.why = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        RejectedExemption.model_validate({**rejected.model_dump(), "approved_by": "someone"})
