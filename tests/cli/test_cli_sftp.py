"""`clientela sftp-user add / list / remove` and the daily part of `clientela status`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from clientela.cli import errors, imports, sftp
from clientela.cli.main import app
from clientela.config import Instance
from clientela.sftp.accounts import get_account, password_matches


@pytest.fixture
def clientela(home: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """The CLI with $CLIENTELA_HOME set; consoles sized by COLUMNS (made at import, when
    pytest-xdist may have fixed their width)."""
    for console in (errors.err_console, imports.console, sftp.console):
        monkeypatch.setattr(console, "_width", None)

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=stdin,
                                  env={"CLIENTELA_HOME": str(home), "COLUMNS": "200"})
    return invoke


def test_an_account_is_added_listed_and_removed(
        instance: Instance, clientela: Callable[..., Result], tmp_path: Path) -> None:
    key = tmp_path / "erp.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC4M5nmLg0cEpQ7P8iKRqVQkq1g0pSJGxj7m3Y"
                   "0m5m2R erp@acme\n", "utf-8")

    added = clientela("sftp-user", "add", "demo", "--password", "--public-key", str(key),
                      stdin="a long enough secret\n")
    listed = clientela("sftp-user", "list")

    assert added.exit_code == 0, added.output
    assert "Created the SFTP account demo: password set, 1 key(s)" in added.output
    assert password_matches(instance, "a long enough secret")
    assert not password_matches(instance, "another secret")
    account = get_account(instance)
    assert account is not None and account.keys[0].comment == "erp@acme"
    assert account.keys[0].fingerprint in listed.output and "demo" in listed.output

    assert clientela("sftp-user", "remove", "--instance", "demo").exit_code == 0
    assert get_account(instance) is None
    again = clientela("sftp-user", "remove", "demo")
    assert again.exit_code == 1 and "instance demo has no SFTP account" in again.output


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--password"], "short\n", "the password is too short: use at least 12 characters"),
    ([], None, "give --password or --public-key (or both)"),
])
def test_bad_accounts_are_refused(instance: Instance, clientela: Callable[..., Result],
                                  args: list[str], stdin: str | None, message: str) -> None:
    result = clientela("sftp-user", "add", "demo", *args, stdin=stdin)

    assert result.exit_code == 1
    assert message in result.output
    assert get_account(instance) is None


def test_a_key_that_is_not_a_public_key_is_refused(
        instance: Instance, clientela: Callable[..., Result], tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n", "utf-8")

    result = clientela("sftp-user", "add", "demo", "--public-key", str(key))

    assert result.exit_code == 1 and "not an OpenSSH public key" in result.output


def test_status_shows_the_daily_service(instance: Instance,
                                        clientela: Callable[..., Result]) -> None:
    shown = clientela("status")
    as_json = json.loads(clientela("status", "--json").output)

    assert "daily run: 06:00 UTC; not scheduled yet: start `clientela sftp`" in shown.output
    assert "last daily run: none yet" in shown.output
    assert "days received (none yet):" in shown.output
    daily = as_json["daily"]
    assert (daily["schedule"], daily["next_run"], daily["last_run"]) == ("06:00 UTC", None, None)
    assert [d["state"] for d in daily["days"]] == ["missing"] * 7
