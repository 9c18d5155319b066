"""The SSH side: authentication of instance accounts and one jailed SFTP session per login.

    server = SftpServer(home, host="0.0.0.0", port=2222, on_upload=watcher.upload_closed)
    await server.start()      # in the caller's event loop
    ...
    await server.close()

The user name is the instance name; password and public-key logins are checked against that
instance's account. Shell, exec, SCP and port forwarding are refused: SFTP only.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import asyncssh

from clientela.config import ConfigError, Instance, InstanceError, open_instance
from clientela.sftp.accounts import DUMMY_HASH, key_matches, password_matches, verify_password
from clientela.sftp.hostkeys import ensure_host_keys
from clientela.sftp.jail import DropFolderSftp, UploadClosed

log = logging.getLogger("clientela.sftp")

_INSTANCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def _instance_of(home: Path, username: str) -> Instance | None:
    if not _INSTANCE_NAME.fullmatch(username):
        return None
    try:
        return open_instance(username, home=home)
    except (InstanceError, ConfigError):
        return None


class _Gate(asyncssh.SSHServer):
    """Checks a login against the account of the instance named by the user name."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._peer = "?"

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if peer else "?"

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        instance = _instance_of(self._home, username)
        if instance is None:
            await asyncio.to_thread(verify_password, DUMMY_HASH, password)
            ok = False
        else:
            ok = await asyncio.to_thread(password_matches, instance, password)
        self._log(username, "password", ok)
        return ok

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        instance = _instance_of(self._home, username)
        ok = instance is not None and await asyncio.to_thread(key_matches, instance, key)
        self._log(username, f"key {key.get_fingerprint('sha256')}", ok)
        return ok

    def _log(self, username: str, method: str, ok: bool) -> None:
        # The user name is an instance name or a guess; cut it so a log line stays one line.
        shown = username[:64].encode("unicode_escape").decode()
        if ok:
            log.info("login of %s by %s from %s", shown, method, self._peer)
        else:
            log.warning("refused login of %s by %s from %s", shown, method, self._peer)


class SftpServer:
    """The built-in SFTP server for every instance of a data home."""

    def __init__(self, home: Path, *, host: str = "0.0.0.0", port: int = 2222,
                 on_upload: UploadClosed | None = None) -> None:
        self.home = home
        self.host = host
        self.requested_port = port
        self._on_upload = on_upload or (lambda instance, path: None)
        self._acceptor: asyncssh.SSHAcceptor | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system when started with port 0)."""
        assert self._acceptor is not None, "the server is not started"
        return self._acceptor.get_port()

    async def start(self) -> None:
        keys = await asyncio.to_thread(ensure_host_keys, self.home)
        self._acceptor = await asyncssh.listen(
            self.host, self.requested_port, server_host_keys=[str(k) for k in keys],
            server_factory=lambda: _Gate(self.home), sftp_factory=self._session,
            allow_scp=False, agent_forwarding=False, x11_forwarding=False,
            login_timeout=60, keepalive_interval=30)
        log.info("SFTP server listening on %s:%d", self.host, self.port)

    def _session(self, chan: asyncssh.SSHServerChannel[bytes]) -> DropFolderSftp:
        username = chan.get_extra_info("username")
        instance = _instance_of(self.home, username)
        if instance is None:  # removed between login and session
            raise asyncssh.SFTPPermissionDenied("this account no longer exists")
        return DropFolderSftp(chan, instance.name, instance.drop, self._on_upload)

    async def close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
            log.info("SFTP server stopped")
