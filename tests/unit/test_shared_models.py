"""Sessions whose models are parsed once per process (remediator/adapters/sessions.py)."""

from __future__ import annotations

import boto3

from remediator.adapters.sessions import member_session, shared_models_session


def _loader(session: boto3.Session) -> object:
    return session._session.get_component("data_loader")  # boto3 exposes no accessor


def test_every_session_reads_the_one_loader_and_its_search_path_does_not_grow() -> None:
    first = shared_models_session(region_name="eu-west-1")
    paths = list(_loader(first).search_paths)  # type: ignore[attr-defined]
    others = [
        shared_models_session(region_name="eu-west-1"),
        member_session(
            aws_access_key_id="a", aws_secret_access_key="b", aws_session_token="c", region_name="eu-west-1"
        ),
        member_session(
            aws_access_key_id="d", aws_secret_access_key="e", aws_session_token="f", region_name="eu-west-1"
        ),
    ]
    assert {id(_loader(session)) for session in others} == {id(_loader(first))}
    # boto3 appends its data directory on every session; kept once, the list stays as the first made it.
    assert _loader(first).search_paths == paths  # type: ignore[attr-defined]
    assert len(paths) == len(set(paths))


def _member(key: str, region: str) -> boto3.Session:
    return member_session(
        aws_access_key_id=key, aws_secret_access_key="s", aws_session_token="t", region_name=region
    )


def test_a_shared_session_keeps_its_own_credentials_and_region() -> None:
    one, two = _member("AKIAONE", "eu-west-1"), _member("AKIATWO", "us-east-1")
    assert (one.get_credentials().access_key, one.region_name) == ("AKIAONE", "eu-west-1")  # type: ignore[union-attr]
    assert (two.get_credentials().access_key, two.region_name) == ("AKIATWO", "us-east-1")  # type: ignore[union-attr]
