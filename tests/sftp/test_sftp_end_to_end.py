"""The real OpenSSH client against the built-in server: uploads become imported days and
recomputed profiles; cut uploads, other accounts' files, `..`, wrong passwords and unknown keys
get nothing."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clientela.config import Instance, create_instance
from clientela.daily.locks import instance_lock
from clientela.generate import generate_retailer
from clientela.sftp.accounts import add_account, remove_account
from clientela.stores import analytics

PASSWORD = "correct horse battery staple"
Sftp = Callable[..., subprocess.CompletedProcess[str]]
RunningService = Any  # tests/sftp/conftest.py



def _ops(instance: Instance, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(instance.operational_path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _analytics(instance: Instance, sql: str) -> list[tuple[Any, ...]]:
    with instance_lock(instance.root):
        con = analytics.connect(instance)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


def _loaded_days(instance: Instance) -> list[date]:
    return [d for (d,) in _analytics(
        instance, "SELECT day FROM import_days WHERE state = 'loaded' ORDER BY day")]


@pytest.fixture
def acme(home: Path) -> Instance:
    instance = create_instance("acme", timezone="America/Santiago", currency="CLP",
                               store_scoped_customer_ids=True, home=home)
    add_account(instance, password=PASSWORD)
    return instance


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Two generated days of instance acme: YYYYMMDD -> its four files."""
    folder = tmp_path_factory.mktemp("generated")
    generate_retailer(folder, customers=80, days=2, instance="acme")
    days: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("ICOMMKT_*_ACME_*.txt")):
        days.setdefault(path.stem.rsplit("_", 1)[1], []).append(path)
    assert len(days) == 2 and all(len(files) == 4 for files in days.values())
    return days


def test_an_uploaded_day_is_imported_and_the_profiles_recomputed(
        acme: Instance, start_service: Callable[..., RunningService], sftp: Sftp,
        generated: dict[str, list[Path]], wait: Callable[..., Any]) -> None:
    running = start_service()
    first, second = sorted(generated)

    uploaded = sftp(running.port, "acme", [f"put {p}" for p in generated[first]] + ["ls -1"],
                    password=PASSWORD)

    assert uploaded.returncode == 0, uploaded.stderr
    assert wait(lambda: _loaded_days(acme), what="the first day loaded") == [
        date(int(first[:4]), int(first[4:6]), int(first[6:]))]
    archived = sorted(p.name for p in (acme.archive / first).iterdir())
    assert archived == sorted(p.name for p in generated[first])
    assert [p.read_bytes() for p in sorted((acme.archive / first).iterdir())] == [
        p.read_bytes() for p in sorted(generated[first], key=lambda p: p.name)]
    assert list(acme.drop.iterdir()) == [] and list(acme.processing.iterdir()) == []
    assert sorted(_ops(acme, "SELECT name, complete_by, outcome FROM drop_files")) == sorted(
        (p.name, "closed", "received") for p in generated[first])

    run = running.call(running.service.run_now("acme"))

    assert run["outcome"] == "succeeded", run
    published = _ops(acme, "SELECT count(*) FROM serving_profiles")[0][0]
    assert published == run["profiles"] > 0
    assert _ops(acme, "SELECT trigger, outcome, indicator_run FROM daily_runs") == [
        ("manual", "succeeded", 1)]
    purchases = _analytics(acme, 'SELECT sum("Total_Purchases") FROM indicator_values')[0][0]
    assert purchases > 0

    sftp(running.port, "acme", [f"put {p}" for p in generated[second]], password=PASSWORD)
    wait(lambda: len(_loaded_days(acme)) == 2, what="the second day loaded")
    again = running.call(running.service.run_now("acme"))

    assert again["indicator_run"] == 2
    assert _ops(acme, "SELECT max(run_id), count(*) FROM serving_profiles") == [
        (2, again["profiles"])]
    # The second day's orders are in the recomputed profiles.
    assert _analytics(acme, 'SELECT sum("Total_Purchases") FROM indicator_values')[0][0] > (
        purchases)


def test_an_upload_cut_in_the_middle_is_not_imported(
        acme: Instance, start_service: Callable[..., RunningService], tmp_path: Path,
        wait: Callable[..., Any], sftp_argv: Callable[..., list[str]]) -> None:
    running = start_service()
    big = tmp_path / "ICOMMKT_CUSTOMERS_ACME_20250301.txt"
    big.write_bytes(b"UserId|StoreCode|Email\n" + b"u1|S01|a@example.com\n" * 60_000)
    # -l: 400 kbit/s, so the 1.3 MB upload is still running when it is cut.
    command = sftp_argv(running.port, "acme", password=PASSWORD)
    command[command.index("-b"):command.index("-b")] = ["-l", "400"]
    client = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    assert client.stdin is not None
    client.stdin.write(f"put {big}\n")
    client.stdin.flush()
    partial = wait(lambda: [p for p in acme.drop.iterdir() if p.stat().st_size > 0],
                   what="the upload under way")

    os.killpg(client.pid, signal.SIGKILL)  # the client and its ssh: the connection drops
    client.wait(10)

    wait(lambda: not partial[0].exists(), what="the cut upload discarded")
    time.sleep(1)  # several passes of the watcher
    assert list(acme.drop.iterdir()) == []
    assert list(acme.inbox.iterdir()) == [] and list(acme.processing.iterdir()) == []
    assert _ops(acme, "SELECT count(*) FROM drop_files") == [(0,)]


def test_a_second_account_cannot_see_the_first_ones_files(
        acme: Instance, home: Path, start_service: Callable[..., RunningService], sftp: Sftp,
        tmp_path: Path) -> None:
    # acme's files wait for a .done marker, so they stay in its drop folder.
    text = acme.config_path.read_text("utf-8")
    acme.config_path.write_text(text.replace('complete_when = "auto"',
                                             'complete_when = "marker"'), "utf-8")
    beta = create_instance("beta", home=home)
    add_account(beta, password=PASSWORD + " beta")
    secret = tmp_path / "ICOMMKT_CUSTOMERS_ACME_20250301.txt"
    secret.write_text("UserId|StoreCode|Email\nu1|S01|ana@example.com\n", "utf-8")
    running = start_service()
    assert sftp(running.port, "acme", [f"put {secret}"], password=PASSWORD).returncode == 0
    assert (acme.drop / secret.name).exists()

    seen = sftp(running.port, "beta", ["ls -la", f"-get {secret.name}", f"-get /{secret.name}",
                                       "-ls ../acme/drop", "-cd ../acme",
                                       f"-rm {secret.name}"], password=PASSWORD + " beta",
                cwd=tmp_path)
    acme_as_beta = sftp(running.port, "acme", ["ls"], password=PASSWORD + " beta")

    assert seen.returncode == 0, seen.stderr
    listing = seen.stdout.split("sftp> ls -la\n", 1)[1].split("sftp>", 1)[0]
    assert [line.split()[-1] for line in listing.splitlines()] == [".", ".."]
    assert f'File "/{secret.name}" not found.' in seen.stderr
    assert "realpath /../acme: '..' is refused" in seen.stderr
    assert f"remote delete /{secret.name}" in seen.stderr
    assert not (tmp_path / secret.name).with_suffix(".got").exists()
    assert (acme.drop / secret.name).read_text("utf-8") == secret.read_text("utf-8")
    assert acme_as_beta.returncode == 5  # sshpass: password refused


def test_path_traversal_is_refused(acme: Instance, start_service: Callable[..., RunningService],
                                   sftp: Sftp, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not for the account\n", "utf-8")
    (acme.drop / "link").symlink_to(outside)
    local = tmp_path / "local"
    local.mkdir()
    upload = local / "x.txt"
    upload.write_text("x\n", "utf-8")
    running = start_service()

    result = sftp(running.port, "acme", [
        f"-put {upload} ../x.txt", f"-put {upload} /../../x.txt", "-cd ..", "-ls ..",
        "-get ../clientela.toml", "-get link", "-rm link", "-symlink /etc/passwd pw",
        "-mkdir sub", "-rename link ../moved", "ls -1"], password=PASSWORD, cwd=local)

    assert result.returncode == 0, result.stderr
    for refusal in ('dest open "/../x.txt": Permission denied',
                    'dest open "/../../x.txt": Permission denied',
                    "realpath /..: '..' is refused: this account sees only its drop folder",
                    'Can\'t ls: "/.." not found', 'File "/../clientela.toml" not found.',
                    'File "/link" not found.', "remote delete /link: Permission denied",
                    'remote symlink file "/etc/passwd" to "/pw": Permission denied',
                    'remote mkdir "/sub": Permission denied',
                    'remote rename "/link" to "/../moved": Permission denied'):
        assert refusal in result.stderr
    assert result.stdout.rstrip().endswith("sftp> ls -1")  # the link is not listed
    assert sorted(p.name for p in local.iterdir()) == ["x.txt"]  # nothing fetched
    assert not (acme.root / "x.txt").exists() and not (home_of(acme) / "x.txt").exists()
    assert (acme.drop / "link").is_symlink() and outside.read_text("utf-8").startswith("not")
    assert sorted(p.name for p in acme.drop.iterdir()) == ["link"]


def _fingerprint(public_key: Path) -> str:
    shown = subprocess.run(["ssh-keygen", "-lf", str(public_key)], capture_output=True,
                           text=True, check=True).stdout
    return shown.split()[1]


def home_of(instance: Instance) -> Path:
    return instance.root.parent


def test_wrong_password_unknown_key_and_unknown_user_are_refused(
        acme: Instance, start_service: Callable[..., RunningService], sftp: Sftp,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clientela.sftp")
    for name in ("known", "unknown"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test",
                        "-f", str(tmp_path / name)], check=True)
    add_account(acme, public_keys=[(tmp_path / "known.pub").read_text("utf-8")])
    running = start_service()

    wrong_password = sftp(running.port, "acme", ["ls"], password="not the password")
    unknown_key = sftp(running.port, "acme", ["ls"], key=tmp_path / "unknown")
    unknown_user = sftp(running.port, "nobody", ["ls"], password=PASSWORD)
    traversal_user = sftp(running.port, "../acme", ["ls"], password=PASSWORD)
    known_key = sftp(running.port, "acme", ["ls"], key=tmp_path / "known")
    good_password = sftp(running.port, "acme", ["ls"], password=PASSWORD)

    # sshpass exits 5 when the password is refused; ssh says so for a key.
    for refused in (wrong_password, unknown_user, traversal_user):
        assert refused.returncode == 5, refused.stderr
    assert unknown_key.returncode != 0 and "Permission denied" in unknown_key.stderr
    refusals = [r.getMessage() for r in caplog.records if "refused login" in r.getMessage()]
    assert [m.split(" from ")[0] for m in refusals] == [
        "refused login of acme by password",
        f"refused login of acme by key {_fingerprint(tmp_path / 'unknown.pub')}",
        "refused login of nobody by password", "refused login of ../acme by password"]
    assert known_key.returncode == 0, known_key.stderr
    assert good_password.returncode == 0, good_password.stderr

    remove_account(acme)
    removed = sftp(running.port, "acme", ["ls"], key=tmp_path / "known")
    assert removed.returncode != 0 and "Permission denied" in removed.stderr


def test_only_sftp_is_served(acme: Instance, start_service: Callable[..., RunningService]
                             ) -> None:
    running = start_service()
    shell = subprocess.run(
        ["sshpass", "-p", PASSWORD, "ssh", "-p", str(running.port), "-o", "BatchMode=no",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "LogLevel=ERROR", "acme@127.0.0.1", "cat clientela.toml"],
        capture_output=True, text=True, timeout=30, check=False)

    assert shell.returncode != 0
    assert "[instance]" not in shell.stdout
