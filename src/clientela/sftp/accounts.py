"""SFTP accounts: one per instance, named after it, with a password and/or public keys.

Passwords are kept as scrypt hashes with a random salt; public keys in their OpenSSH one-line
form with their SHA-256 fingerprint. Both live in the instance's operational store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncssh

from clientela.config import Instance
from clientela.stores import operational

# scrypt cost: 16 MiB and ~50 ms per check, enough to make guessing a stolen hash slow.
_N, _R, _P = 2**14, 8, 1


class AccountError(ValueError):
    """A password or key that cannot be used, or an account that does not exist."""


@dataclass(frozen=True)
class PublicKey:
    fingerprint: str
    comment: str | None
    added_at: str


@dataclass(frozen=True)
class Account:
    username: str
    has_password: bool
    created_at: str
    updated_at: str
    keys: list[PublicKey] = field(default_factory=list)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()])


def verify_password(stored: str, password: str) -> bool:
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                            r=int(r), p=int(p), dklen=len(expected))
    return hmac.compare_digest(actual, expected)


DUMMY_HASH = hash_password(secrets.token_hex(16))
"""Checked against when the user is unknown, so a wrong user takes as long as a wrong password."""


def parse_public_key(text: str) -> asyncssh.SSHKey:
    try:
        return asyncssh.import_public_key(text.strip())
    except (asyncssh.KeyImportError, ValueError) as error:
        raise AccountError(f"not an OpenSSH public key ({error}); give the contents of a .pub "
                           "file such as ~/.ssh/id_ed25519.pub") from None


def validate_password(password: str) -> str:
    if len(password) < 12:
        raise AccountError("the password is too short: use at least 12 characters")
    return password


def add_account(instance: Instance, *, password: str | None = None,
                public_keys: list[str] | None = None) -> tuple[Account, bool]:
    """Create the instance's account, or update it: a password replaces the old one, keys are
    added. Returns the account and whether it was created."""
    keys = [parse_public_key(text) for text in public_keys or []]
    if password is None and not keys:
        raise AccountError("give --password or --public-key (or both)")
    hashed = hash_password(validate_password(password)) if password is not None else None
    now = datetime.now(UTC).isoformat()
    con = operational.connect(instance)
    try:
        con.execute("BEGIN IMMEDIATE")
        created = con.execute("SELECT count(*) FROM sftp_account").fetchone()[0] == 0
        if created:
            con.execute("INSERT INTO sftp_account VALUES (1, ?, ?, ?)", (hashed, now, now))
        elif hashed is not None:
            con.execute("UPDATE sftp_account SET password_hash = ?, updated_at = ?",
                        (hashed, now))
        for key in keys:
            algorithm, blob = key.export_public_key("openssh").decode().split()[:2]
            con.execute("INSERT OR IGNORE INTO sftp_keys VALUES (?, ?, ?, ?)",
                        (key.get_fingerprint("sha256"), f"{algorithm} {blob}", key.get_comment(),
                         now))
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    found = get_account(instance)
    assert found is not None
    return found, created


def remove_account(instance: Instance) -> bool:
    con = operational.connect(instance)
    try:
        con.execute("BEGIN IMMEDIATE")
        removed = con.execute("DELETE FROM sftp_account").rowcount > 0
        con.execute("DELETE FROM sftp_keys")
        con.execute("COMMIT")
    finally:
        con.close()
    return removed


def get_account(instance: Instance) -> Account | None:
    con = operational.connect(instance)
    try:
        row = con.execute("SELECT password_hash IS NOT NULL, created_at, updated_at "
                          "FROM sftp_account").fetchone()
        if row is None:
            return None
        keys = [PublicKey(*r) for r in con.execute(
            "SELECT fingerprint, comment, added_at FROM sftp_keys ORDER BY added_at, "
            "fingerprint")]
    finally:
        con.close()
    return Account(instance.name, bool(row[0]), row[1], row[2], keys)


def password_matches(instance: Instance, password: str) -> bool:
    con = operational.connect(instance)
    try:
        row = con.execute("SELECT password_hash FROM sftp_account").fetchone()
    finally:
        con.close()
    if row is None or row[0] is None:
        verify_password(DUMMY_HASH, password)
        return False
    return verify_password(row[0], password)


def key_matches(instance: Instance, key: asyncssh.SSHKey) -> bool:
    con = operational.connect(instance)
    try:
        row = con.execute("SELECT count(*) FROM sftp_keys JOIN sftp_account ON TRUE "
                          "WHERE fingerprint = ?", (key.get_fingerprint("sha256"),)).fetchone()
    finally:
        con.close()
    return bool(row[0])
