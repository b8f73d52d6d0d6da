from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from org_bootstrap.demo.simulation import MotoOrganization, create_organization


@pytest.fixture
def org() -> Iterator[MotoOrganization]:
    with mock_aws():
        yield create_organization(members=1)
