"""`clientela export profiles`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clientela.cli.errors import UserError
from clientela.cli.options import InstanceOption
from clientela.config import open_instance
from clientela.export.profiles import ExportError, ExportFormat, Naming, export_profiles
from clientela.stores import analytics

app = typer.Typer(no_args_is_help=True, help="Write profiles out for other tools.")
console = Console(soft_wrap=True)


@app.command("profiles")
def profiles(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    export_format: Annotated[ExportFormat, typer.Option(
        "--format", help="csv (lists ##-joined), parquet or jsonl.")] = ExportFormat.CSV,
    naming: Annotated[Naming, typer.Option(
        "--naming", help="Indicator column names: clientela, or icommkt (ICOMMKT_ prefix).")
    ] = Naming.CLIENTELA,
    recognized_only: Annotated[bool, typer.Option(
        "--recognized-only", help="Only profiles with a main identifier.")] = False,
    instance: InstanceOption = None,
) -> None:
    """One row per profile: identifiers, attributes, consents and every indicator.

    The indicators are the last run's (`clientela run`); lists are ##-joined in CSV."""
    target = open_instance(instance)
    con = analytics.connect(target)
    try:
        with console.status(f"writing {output}"):
            written = export_profiles(con, target.settings, output, export_format, naming,
                                      recognized_only)
    except ExportError as error:
        raise UserError(str(error)) from None
    finally:
        con.close()
    console.print(f"Wrote {written.profiles:,} profiles, {written.columns} columns, to "
                  f"{written.path}.")
