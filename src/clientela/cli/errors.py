"""The CLI's one error boundary: a one-line red message and a non-zero exit; `--debug` for more."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

# Typer vendors Click; its usage errors must pass through to Typer's own handling.
from typer._click.core import Context
from typer._click.exceptions import ClickException
from typer.core import TyperGroup

from clientela.config import ConfigError, InstanceError
from clientela.identity.lookup import IdentityError
from clientela.stores.analytics import StoreBusyError
from clientela.stores.migrations import StoreVersionError

# soft_wrap: an error stays on one line whatever the terminal width.
err_console = Console(stderr=True, soft_wrap=True)

class UserError(Exception):
    """A command used wrongly: the message tells what to do instead."""


EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    ConfigError, InstanceError, StoreVersionError, StoreBusyError, FileNotFoundError,
    PermissionError, UserError, IdentityError,
)


class GuardedGroup(TyperGroup):
    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except KeyboardInterrupt:
            err_console.print("[red]Interrupted.[/red] Work in progress was rolled back; run the "
                              "command again to resume.")
            raise typer.Exit(130) from None
        except EXPECTED_ERRORS as error:
            if ctx.find_root().params.get("debug"):
                raise
            err_console.print(f"[red]Error:[/red] {escape(str(error))}", highlight=False)
            raise typer.Exit(1) from None
        except Exception as error:
            if ctx.find_root().params.get("debug"):
                raise
            err_console.print(f"[red]Error:[/red] {type(error).__name__}: {escape(str(error))}\n"
                              "Run again with --debug for the full traceback.", highlight=False)
            raise typer.Exit(1) from None
