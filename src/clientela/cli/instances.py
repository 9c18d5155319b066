"""`clientela init`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from clientela.config import create_instance
from clientela.stores import analytics, operational

# soft_wrap: long paths stay whole on one line, for copying.
console = Console(soft_wrap=True)


def init(
    name: Annotated[str, typer.Argument(help="Instance name, as in the daily file names.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the business.")] = "UTC",
    currency: Annotated[str, typer.Option(help="ISO 4217 currency of amounts.")] = "USD",
    store_scoped_customer_ids: Annotated[bool, typer.Option(
        help="Customer ids are numbered per store: a customer is (StoreCode, UserId).")] = False,
) -> None:
    """Create an instance: its folder, its clientela.toml and its two stores."""
    instance = create_instance(name, timezone=timezone, currency=currency,
                               store_scoped_customer_ids=store_scoped_customer_ids)
    operational.connect(instance).close()
    analytics.connect(instance).close()
    console.print(f"Created instance [bold]{name}[/bold] in {instance.root}")
    console.print(f"  settings: {instance.config_path} (every setting with its default)")
    console.print(f"  drop daily files with `clientela import PATH --instance {name}`")
