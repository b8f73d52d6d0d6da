"""A command line that does not parse (an unknown option, a value of the wrong type, a missing required
option, an unknown command) is one line on stderr that names the option and where the help is, with
click's exit code 2: no usage block, no box. click's own message already names the option."""

from __future__ import annotations

import importlib
import re
from typing import IO, Any

import typer
from typer.core import TyperCommand, TyperGroup

USAGE_ERROR: type[Exception] = typer.BadParameter.__mro__[1]
"""click's UsageError, whichever click typer runs on (recent typers carry their own copy of click)."""
MISSING_PARAMETER: Any = importlib.import_module(typer.BadParameter.__module__).MissingParameter
"""click's error for a required option that is missing, from the same click."""
PLAIN = (
    (
        re.compile(r"Input should be a valid integer, unable to parse string as an integer"),
        "not a whole number",
    ),
    (re.compile(r"Input should be a valid number, unable to parse string as a number"), "not a number"),
    (re.compile(r"Input should be greater than or equal to (\S+)"), r"must be at least \1"),
    (re.compile(r"Input should be less than or equal to (\S+)"), r"must be at most \1"),
    (re.compile(r"Value error, "), ""),
)
"""typer checks values with pydantic: its wording, in the operator's words."""


def plain(message: str) -> str:
    for pattern, replacement in PLAIN:
        message = pattern.sub(replacement, message)
    return message


def one_line(error: Any) -> Any:
    """The same error, shown as one line: typer calls its `show` before it exits."""
    path = error.ctx.command_path if getattr(error, "ctx", None) is not None else "akr"

    def show(file: IO[Any] | None = None) -> None:
        typer.echo(f"error: {plain(error.format_message())} (see {path} --help)", file=file, err=True)

    error.show = show
    return error


class OneLineCommand(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except USAGE_ERROR as exc:
            raise one_line(exc) from None


class OneLineGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except USAGE_ERROR as exc:
            raise one_line(exc) from None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except USAGE_ERROR as exc:
            raise one_line(exc) from None
