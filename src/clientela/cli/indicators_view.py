"""How `clientela profile` shows a profile's indicators: the families as a grid of windows,
then the single fields."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientela.indicators.catalog import FAMILIES, SINGLE_FIELDS, WINDOWS
from clientela.indicators.published import Indicators

LONGEST_CELL = 40


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value) or "-"
    elif isinstance(value, float):
        text = f"{value:,.2f}"
    else:
        text = str(value)
    return escape(text if len(text) <= LONGEST_CELL else text[:LONGEST_CELL - 1] + "…")


def show_indicators(console: Console, found: Indicators | None) -> None:
    if found is None:
        console.print("Indicators: none yet (`clientela run` computes them).")
        return
    table = Table(title=f"Indicators as of {found.as_of} (run {found.run_id})")
    table.add_column("family", no_wrap=True)
    for window in WINDOWS:
        table.add_column("Total" if window is None else f"{window} days", justify="right",
                         overflow="fold")
    for family in FAMILIES:
        table.add_row(family.name, *(cell(found.values[family.field(w)]) for w in WINDOWS))
    console.print(table)
    for field in SINGLE_FIELDS:
        console.print(f"  {field.name}: {cell(found.values[field.name])}")
