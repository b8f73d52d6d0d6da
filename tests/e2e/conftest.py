from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.moto_server import ServerOrganization, build_organization, moto_server


@pytest.fixture(scope="module")
def organization() -> Iterator[ServerOrganization]:
    """A fresh moto organization per test module, on its own server."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_SESSION_TOKEN", raising=False)  # moto's server reads the account from the key
        with moto_server() as url:
            yield build_organization(url)
