"""A running daily service (built-in SFTP server included) and the real OpenSSH `sftp` client.

The service runs in its own event loop in a background thread, as `clientela sftp` runs it;
tests drive it with the `sftp` binary (`openssh-client`) and `sshpass` for passwords, both
installed by `make test` (see the Makefile's `test-deps`).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from clientela.daily import DailyService
from clientela.sftp.hostkeys import ensure_host_keys, host_keys_folder

T = TypeVar("T")

for tool in ("sftp", "sshpass", "ssh-keygen"):
    if shutil.which(tool) is None:
        raise RuntimeError(f"`{tool}` is needed by tests/sftp: run `make test-deps` (apt-get "
                           "install openssh-client sshpass)")


class RunningService:
    """A DailyService started in a loop of its own thread."""

    def __init__(self, home: Path, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.service = DailyService(home, sftp_host="127.0.0.1", sftp_port=0,
                                    poll_seconds=0.2, settle_seconds=0.2, **options)
        self.call(self.service.start())

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def port(self) -> int:
        assert self.service.sftp is not None
        return self.service.sftp.port

    def stop(self) -> None:
        self.call(self.service.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="session")
def host_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Host keys generated once for the session (an RSA key takes a moment)."""
    home = tmp_path_factory.mktemp("keys")
    ensure_host_keys(home)
    return host_keys_folder(home)


@pytest.fixture
def start_service(home: Path, host_keys: Path) -> Iterator[Callable[..., RunningService]]:
    """`start_service(**DailyService options)`: the service of `home`, stopped at the end."""
    started: list[RunningService] = []

    def start(**options: Any) -> RunningService:
        if not host_keys_folder(home).exists():
            shutil.copytree(host_keys, host_keys_folder(home))
        running = RunningService(home, **options)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def _sftp_args(port: int, user: str, key: Path | None) -> list[str]:
    args = ["sftp", "-P", str(port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10"]
    if key is not None:
        args += ["-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no",
                 "-o", "KbdInteractiveAuthentication=no"]
    else:
        # sftp -b turns BatchMode on, which forbids passwords; sshpass types it instead.
        args += ["-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
                 "-o", "NumberOfPasswordPrompts=1"]
    return [*args, "-b", "-", f"{user}@127.0.0.1"]


def sftp_command(port: int, user: str, *, password: str | None = None,
                 key: Path | None = None) -> list[str]:
    args = _sftp_args(port, user, key)
    return ["sshpass", "-p", password, *args] if password is not None else args


@pytest.fixture
def sftp_argv() -> Callable[..., list[str]]:
    """`sftp_argv(port, user, password=... | key=...)`: the command line of `sftp -b -`."""
    return sftp_command


@pytest.fixture
def sftp() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`sftp(port, user, commands, password=... | key=..., cwd=...)`: run `sftp -b` with the
    batch commands (a `-` before a command lets the batch go on after it fails)."""
    def run(port: int, user: str, commands: Sequence[str], *, password: str | None = None,
            key: Path | None = None, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(sftp_command(port, user, password=password, key=key),
                              input="\n".join(commands) + "\n", capture_output=True, text=True,
                              timeout=60, cwd=cwd, check=False)
    return run


def wait_for(condition: Callable[[], T], timeout: float = 30, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def wait() -> Callable[..., Any]:
    """`wait(condition, timeout=30, what=...)`: poll until `condition()` is truthy; its value."""
    return wait_for
