"""How the commands show things: rich on a terminal, a stable JSON envelope with --output json."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.text import Text

from org_bootstrap.commands.options import Output

PIPED_WIDTH = 150
"""The width of piped output (CI logs, captures) when COLUMNS does not say: rich would take 80."""


class _Console(Console):
    """rich's Console, whose width is the terminal's, else COLUMNS, else PIPED_WIDTH: read at each
    print, so that COLUMNS set for one run (or one test) counts."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if "width" not in options:
            self._width = None  # rich fixes COLUMNS at creation; read it at each print instead

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        columns = self._environ.get("COLUMNS", "")
        if self._width is not None:
            return measured
        if columns.isdigit():  # also where rich would say 80 (a dumb terminal)
            return ConsoleDimensions(int(columns), measured.height)
        if self.is_terminal:
            return measured
        return ConsoleDimensions(PIPED_WIDTH, measured.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


# soft_wrap: lines of text are not broken by rich (the terminal wraps them; a file or a pipe gets whole
# lines); tables and panels still fit the width.
console = _Console(soft_wrap=True)
errors = _Console(stderr=True, soft_wrap=True)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, as every output of the command line writes times."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
