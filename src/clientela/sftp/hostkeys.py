"""The server's host keys: generated on first start, kept under the data home, never rotated by
Clientela (clients pin them in known_hosts)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import asyncssh

HOST_KEYS = (("ssh-ed25519", "ssh_host_ed25519_key", None),
             # For older clients (Java ERPs on JSch) that cannot use Ed25519.
             ("ssh-rsa", "ssh_host_rsa_key", 3072))


def host_keys_folder(home: Path) -> Path:
    """`$CLIENTELA_HOME/_sftp`: no instance can be named so (names start with a letter or
    digit)."""
    return home / "_sftp"


def ensure_host_keys(home: Path) -> list[Path]:
    """The private key files, generated once (0600, via a temp name and a hard link, so two
    processes starting at once keep one key)."""
    folder = host_keys_folder(home)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = []
    for algorithm, name, bits in HOST_KEYS:
        path = folder / name
        if not path.exists():
            key = (asyncssh.generate_private_key(algorithm, key_size=bits) if bits
                   else asyncssh.generate_private_key(algorithm))
            partial = folder / f".{name}.{os.getpid()}.part"
            partial.unlink(missing_ok=True)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key.export_private_key("openssh"))
            with contextlib.suppress(FileExistsError):
                os.link(partial, path)
            partial.unlink()
            public = path.with_name(name + ".pub")
            if not public.exists():
                public.write_bytes(asyncssh.read_private_key(path).export_public_key("openssh"))
        paths.append(path)
    return paths


def fingerprints(home: Path) -> list[str]:
    """`ALGORITHM SHA256:...` of each host key, for operators to give to their senders."""
    found = []
    for _, name, _ in HOST_KEYS:
        path = host_keys_folder(home) / name
        if path.exists():
            key = asyncssh.read_private_key(path)
            found.append(f"{key.get_algorithm()} {key.get_fingerprint('sha256')}")
    return found
