"""`clientela sftp` (the daily service) and `clientela sftp-user add / remove / list`."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from clientela.cli.errors import UserError
from clientela.cli.options import InstanceOption
from clientela.config import open_instance
from clientela.config.instance import CONFIG_FILE, data_home

console = Console(soft_wrap=True)

users = typer.Typer(no_args_is_help=True, help="The SFTP account of each instance.")

NameArgument = Annotated[str | None, typer.Argument(
    help="Instance whose account it is (also --instance, $CLIENTELA_INSTANCE).",
    show_default=False)]


def sftp(
    host: Annotated[str, typer.Option(envvar="CLIENTELA_SFTP_HOST",
                                      help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(envvar="CLIENTELA_SFTP_PORT", min=0, max=65535,
                                      help="Port to listen on.")] = 2222,
    server: Annotated[bool, typer.Option(
        "--server/--no-server",
        help="Run the built-in SFTP server; --no-server when OpenSSH serves the accounts and "
             "only the watchers and the schedule should run.")] = True,
    poll: Annotated[float, typer.Option(min=0.1, help="Seconds between two looks at the drop "
                                                      "folders.")] = 2.0,
) -> None:
    """Serve SFTP, watch every drop folder and run the daily schedule until stopped."""
    from clientela.daily import DailyService
    from clientela.sftp.hostkeys import fingerprints

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # asyncssh logs every channel and packet at INFO; its warnings are enough here.
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    home = data_home()
    if not any(home.glob(f"*/{CONFIG_FILE}")):
        raise UserError(f"no instance in {home}: create one with `clientela init NAME`")

    async def serve() -> None:
        service = DailyService(home, sftp=server, sftp_host=host, sftp_port=port,
                               poll_seconds=poll)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with service:
            if service.sftp is not None:
                console.print(f"SFTP server listening on {host}:{service.sftp.port}; host keys: "
                              + "; ".join(fingerprints(home)))
            console.print(f"Watching {len(service.instances)} instance(s) in {home}: "
                          f"{', '.join(service.instances)}. Stop with Ctrl-C.")
            await stop.wait()
            console.print("Stopping: the import in progress, if any, finishes first.")

    asyncio.run(serve())


def _target(name: str | None, instance: str | None) -> str | None:
    if name and instance and name != instance:
        raise UserError(f"two instances given ({name} and --instance {instance}): give one")
    return name or instance


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@users.command("add")
def add(
    name: NameArgument = None,
    password: Annotated[bool, typer.Option(
        "--password", help="Set the password: asked twice, or read from one line of standard "
                           "input when it is not a terminal.")] = False,
    public_key: Annotated[list[Path] | None, typer.Option(
        "--public-key", exists=True, dir_okay=False,
        help="Allow this OpenSSH public key (.pub file); repeat for several.")] = None,
    instance: InstanceOption = None,
) -> None:
    """Create the instance's SFTP account, or add a key / replace the password of it."""
    from clientela.sftp.accounts import AccountError, add_account

    target = open_instance(_target(name, instance))
    keys = [path.read_text(encoding="utf-8") for path in public_key or []]
    try:
        account, created = add_account(target, password=_read_password() if password else None,
                                       public_keys=keys)
    except AccountError as error:
        raise UserError(str(error)) from None
    state = "set" if account.has_password else "none"
    console.print(f"{'Created' if created else 'Updated'} the SFTP account [bold]"
                  f"{account.username}[/bold]: password {state}, {len(account.keys)} key(s). "
                  f"It lands in {target.drop}.")


@users.command("remove")
def remove(name: NameArgument = None, instance: InstanceOption = None) -> None:
    """Remove the instance's SFTP account: no more logins (files already dropped stay)."""
    from clientela.sftp.accounts import remove_account

    target = open_instance(_target(name, instance))
    if not remove_account(target):
        raise UserError(f"instance {target.name} has no SFTP account")
    console.print(f"Removed the SFTP account {target.name}.")


@users.command("list")
def list_accounts() -> None:
    """Every instance of the data home and its SFTP account, if any."""
    from clientela.sftp.accounts import get_account

    home = data_home()
    table = Table("instance (user name)", "password", "public keys", "drop folder")
    for config in sorted(home.glob(f"*/{CONFIG_FILE}")):
        target = open_instance(config.parent.name, home=home)
        account = get_account(target)
        if account is None:
            table.add_row(target.name, "no account", "", str(target.drop))
            continue
        keys = "\n".join(k.fingerprint + (f" {k.comment}" if k.comment else "")
                         for k in account.keys)
        table.add_row(target.name, "set" if account.has_password else "none", keys or "none",
                      str(target.drop))
    console.print(table)
