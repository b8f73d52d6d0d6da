"""How the commands show things: rich on a terminal, a stable JSON envelope with --output json."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from org_bootstrap.commands.options import Output

# Piped output (CI logs, README captures) gets a readable width instead of rich's 80 columns.
console = Console(width=None if Console().is_terminal else 150)
errors = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 150)


def envelope(command: str, status: str, **fields: Any) -> dict[str, Any]:
    """{"command", "status", ...}: status is ok, planned, aborted or error; the rest depends on the
    command. Keys are never removed once published."""
    return {"command": command, "status": status, **fields}


def emit_json(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))


def fail(command: str, message: str, output: Output) -> typer.Exit:
    """Report an error in the chosen format; the caller raises the returned Exit."""
    if output is Output.JSON:
        emit_json(envelope(command, "error", error=message))
    else:
        # Plain text: messages hold paths, names and values from the command line and from AWS, where a
        # "[" would be read as rich markup (garbled, or a MarkupError).
        errors.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def plan_lines(lines: list[str]) -> None:
    console.print("[bold]Plan[/] (nothing has been changed yet):")
    for line in lines:
        console.print(f"  {line}", highlight=False)


@contextmanager
def progress(output: Output) -> Iterator[Callable[[str], None]]:
    """A spinner with the current step on a terminal; silence with --output json."""
    if output is Output.JSON:
        yield lambda _message: None
        return
    with console.status("starting") as status:
        yield status.update


def confirm(command: str, question: str, *, yes: bool, output: Output) -> None:
    """Go on only with --yes or a "y"; JSON output never prompts."""
    if yes:
        return
    if output is Output.JSON:
        raise fail(command, "--output json cannot ask for confirmation: pass --yes", output)
    if not typer.confirm(question):
        console.print("Aborted: nothing was changed.")
        raise typer.Exit(code=1)
