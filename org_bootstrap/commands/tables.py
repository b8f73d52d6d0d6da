"""Tables that fit the terminal without cutting an identifier.

Each column says what it holds. An identifier (an account id, an access key id, a date, a count) is never
wrapped or shortened: its column is as wide as its longest cell. Free text (a reason, a user name, a list
of problems) wraps. When the terminal is too narrow for every identifier and a few characters of each free
text column, the columns are dropped one by one in the order their `drop` numbers give (1 first, then
2, ...), and a line under the table names what was left out. Columns with `drop` 0 are never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

Kind = Literal["id", "text"]
TEXT_MIN = 10
"""The narrowest a free-text column gets before another column is dropped instead; given more room,
rich widens it to its text."""
_PER_COLUMN = 3
"""What rich's box adds per column, without the outer edges: a rule and one space of padding on each
side, less the one rule that the first column does not have."""


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = "id"
    drop: int = 0
    """0: always shown. Otherwise the order in which narrow terminals drop it: 1 first."""
    justify: Literal["left", "right"] = "left"


@dataclass(frozen=True)
class Fitted:
    table: Table
    dropped: tuple[str, ...]
    """The titles of the columns left out, in the order they were dropped."""


def _plain_width(cell: str) -> int:
    return Text.from_markup(cell).cell_len


def _needed(column: Column, cells: Sequence[str]) -> int:
    """The width a column cannot go below: its longest cell for an identifier, some text otherwise."""
    longest = max((_plain_width(cell) for cell in cells), default=0)
    title = len(column.title)
    if column.kind == "id":
        return max(title, longest)
    return max(min(title, TEXT_MIN), min(longest, TEXT_MIN))


def fit(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    title: str | None = None,
    styles: Sequence[str | None] | None = None,
) -> Fitted:
    """A rich Table of `rows` (markup strings, one per column) for a terminal `width` wide."""
    keep = list(range(len(columns)))
    needed = [_needed(column, [row[n] for row in rows]) for n, column in enumerate(columns)]
    dropped: list[str] = []
    while sum(needed[n] + _PER_COLUMN for n in keep) - 1 > width:
        candidates = [n for n in keep if columns[n].drop > 0]
        if not candidates:
            break  # only what is never dropped is left: the terminal scrolls sideways
        victim = min(candidates, key=lambda n: (columns[n].drop, -n))
        keep.remove(victim)
        dropped.append(columns[victim].title)
    table = Table(title=title, title_justify="left", show_edge=False)
    for n in keep:
        column = columns[n]
        if column.kind == "id":
            table.add_column(column.title, no_wrap=True, min_width=needed[n], justify=column.justify)
        else:
            table.add_column(column.title, overflow="fold", min_width=needed[n], justify=column.justify)
    for index, row in enumerate(rows):
        table.add_row(*(row[n] for n in keep), style=styles[index] if styles else None)
    return Fitted(table, tuple(dropped))


def show(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    styles: Sequence[str | None] | None = None,
) -> None:
    """Print the fitted table, and which columns a narrow terminal left out."""
    fitted = fit(columns, rows, console.width, title=title, styles=styles)
    console.print(fitted.table)
    if fitted.dropped:
        console.print(
            f"(Too narrow for {', '.join(fitted.dropped)}: widen the terminal, set COLUMNS, or use "
            "--output csv.)",
            highlight=False,
        )
