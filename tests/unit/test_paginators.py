"""Every call the code makes to an operation that AWS pages goes through the operation's paginator, unless
one page is all there can be: those calls are listed below with the reason. moto seldom pages (its ListUsers
ignores MaxItems), so a call that would miss page two shows only here, in the code.

The code is read, not run: every `<x>.<name>(...)` whose name is an operation with a botocore paginator in a
service the code makes clients for. The demo is left out: it only ever talks to moto."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache

import botocore.session
from botocore import xform_name

from tests.stacksets.cfn import REPO

SOURCES = ("remediator", "org_bootstrap")
NOT_AGAINST_AWS = ("org_bootstrap/demo",)
ONE_PAGE = {
    ("remediator/adapters/member.py", "list_discovered_resources"): (
        "resourceIds names one user, so one result at most; without it the users are listed, paginated"
    ),
    ("org_bootstrap/deploy/organization.py", "describe_stacks"): "StackName names one stack",
    ("org_bootstrap/deploy/stacks.py", "describe_stacks"): "StackName names one stack",
    ("org_bootstrap/deploy/central.py", "describe_stacks"): "StackName names one stack",
    ("remediator/adapters/audit_table.py", "query"): "the key condition names one record (account and id)",
}


def sources() -> Iterator[tuple[str, ast.Module]]:
    for root in SOURCES:
        for path in sorted((REPO / root).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if not relative.startswith(NOT_AGAINST_AWS):
                yield relative, ast.parse(path.read_text())


def calls(tree: ast.Module) -> Iterator[ast.Call]:
    return (
        node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    )


def literal(call: ast.Call) -> str | None:
    first = call.args[0] if call.args else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


@cache
def services() -> frozenset[str]:
    """Every service the code makes a client for: client("iam"), Aws._client("sts", ...)."""
    return frozenset(
        name
        for _, tree in sources()
        for call in calls(tree)
        if isinstance(call.func, ast.Attribute) and call.func.attr in ("client", "_client")
        for name in [literal(call)]
        if name
    )


@cache
def pageable() -> dict[str, frozenset[str]]:
    """Operation name as boto3 spells it -> the services where it has a paginator."""
    loader = botocore.session.get_session().get_component("data_loader")
    found: dict[str, set[str]] = {}
    for service in services():
        for operation in loader.load_service_model(service, "paginators-1")["pagination"]:
            found.setdefault(xform_name(operation), set()).add(service)
    return {name: frozenset(where) for name, where in found.items()}


def test_the_services_are_the_ones_the_code_uses() -> None:
    # A service that appears here for the first time gets its paginated operations checked too.
    assert {"cloudformation", "config", "iam", "organizations", "sts"} <= services()


def test_every_paginated_operation_is_called_through_its_paginator() -> None:
    unpaged = sorted(
        f"{path}:{call.lineno} {call.func.attr}"
        for path, tree in sources()
        for call in calls(tree)
        if isinstance(call.func, ast.Attribute)
        and call.func.attr in pageable()
        and (path, call.func.attr) not in ONE_PAGE
    )
    assert unpaged == []


def test_every_one_page_exception_is_still_in_the_code() -> None:
    called = {
        (path, call.func.attr)
        for path, tree in sources()
        for call in calls(tree)
        if isinstance(call.func, ast.Attribute)
    }
    assert set(ONE_PAGE) <= called


def test_every_paginator_the_code_asks_for_exists() -> None:
    # get_paginator("x") on an operation without one raises OperationNotPageableError, at run time only.
    asked = {
        f"{path}:{call.lineno} {name}"
        for path, tree in sources()
        for call in calls(tree)
        if isinstance(call.func, ast.Attribute) and call.func.attr == "get_paginator"
        for name in [literal(call)]
        if name and name not in pageable()
    }
    assert asked == set()
