"""API keys: created per instance, shown once, stored as SHA-256 hashes.

A key reads `clk.<instance>.<secret>`: the instance part tells the server which instance's store
holds its hash, so a key can only ever reach its own instance. The scope says what it may do:
`read` the profiles and orders, `write` orders, customers and events, `admin` both and erasure.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

PREFIX = "clk"
HINT_LENGTH = 12


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        return self is Scope.ADMIN or self is needed


@dataclass(frozen=True)
class ApiKey:
    id: int
    hint: str
    scope: Scope
    name: str
    created_at: str
    revoked_at: str | None


def hashed(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def instance_of(key: str) -> str | None:
    """The instance a key names, or None when it is not shaped like a key."""
    prefix, _, rest = key.partition(".")
    name, _, secret = rest.partition(".")
    return name if prefix == PREFIX and name and secret else None


def create_key(ops: sqlite3.Connection, instance: str, scope: Scope, name: str) -> tuple[ApiKey,
                                                                                         str]:
    """A new key and its only clear-text copy."""
    key = f"{PREFIX}.{instance}.{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC).isoformat()
    hint = key[:len(PREFIX) + len(instance) + 2 + HINT_LENGTH - 4]
    key_id = ops.execute("INSERT INTO api_keys (hash, hint, scope, name, created_at) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (hashed(key), hint, scope.value, name, now)).lastrowid
    assert key_id is not None
    return ApiKey(key_id, hint, scope, name, now, None), key


def list_keys(ops: sqlite3.Connection) -> list[ApiKey]:
    return [ApiKey(row[0], row[1], Scope(row[2]), row[3], row[4], row[5]) for row in ops.execute(
        "SELECT id, hint, scope, name, created_at, revoked_at FROM api_keys ORDER BY id")]


def revoke_key(ops: sqlite3.Connection, key_id: int) -> ApiKey | None:
    """Revoke a key (kept in the list, refused from now on); None when no key has that id."""
    ops.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(), key_id))
    return next((k for k in list_keys(ops) if k.id == key_id), None)


def verify(ops: sqlite3.Connection, key: str) -> ApiKey | None:
    """The live key matching `key`, or None (unknown or revoked)."""
    row = ops.execute("SELECT id, hint, scope, name, created_at, revoked_at FROM api_keys "
                      "WHERE hash = ? AND revoked_at IS NULL", (hashed(key),)).fetchone()
    return None if row is None else ApiKey(row[0], row[1], Scope(row[2]), row[3], row[4], row[5])
