"""`clientela generate`: a realistic sample retailer's daily files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

console = Console(stderr=True, soft_wrap=True)


def generate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the daily files into.")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 20_000,
    days: Annotated[int, typer.Option(min=1, help="Number of business days.")] = 365,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 42,
    truth: Annotated[Path | None, typer.Option(
        help="Also write which person each customer record really is (CSV).")] = None,
    instance: Annotated[str, typer.Option(
        "--instance", "-i", envvar="CLIENTELA_INSTANCE",
        help="Instance name written in the file names.")] = "demo",
) -> None:
    """Write four daily files per day for a sample retailer with stores and a web shop."""
    from clientela.generate import generate_retailer

    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("Generating days", total=days)
        summary = generate_retailer(
            out_dir, customers=customers, days=days, seed=seed, instance=instance,
            truth_path=truth,
            progress=lambda done, total: progress.update(task, completed=done, total=total))
    console.print(
        f"Wrote {len(summary.files)} files to {out_dir}: {summary.customers:,} customer rows, "
        f"{summary.orders:,} orders, {summary.order_lines:,} order lines over {summary.days} days."
    )
