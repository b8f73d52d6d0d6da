from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from org_bootstrap.demo.simulation import AUDIT_TABLE, STATE_TABLE, MotoOrganization, create_organization
from remediator import handler


@pytest.fixture
def org() -> Iterator[MotoOrganization]:
    with mock_aws():
        yield create_organization(members=2)


@pytest.fixture
def as_security_account(org: MotoOrganization, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Lambda's environment: credentials of the security account and the AKR_* settings."""
    credentials = org.session(org.security).get_credentials()
    assert credentials is not None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials.token or "")
    monkeypatch.setenv("AKR_AUDIT_TABLE", AUDIT_TABLE)
    monkeypatch.setenv("AKR_STATE_TABLE", STATE_TABLE)
    handler.runtime.cache_clear()
    yield
    handler.runtime.cache_clear()
