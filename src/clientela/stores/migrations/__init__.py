"""Versioned schema migrations, `NNNN_name.sql` per store; applied in order, never edited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources


class StoreVersionError(Exception):
    """A store made by a newer Clientela than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_for(store: str) -> list[Migration]:
    folder = resources.files(__package__).joinpath(store)
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{store} migrations are not numbered 1..n: {found}")
    return found


def check_not_newer(store: str, path: object, current: int, known: int) -> None:
    if current > known:
        raise StoreVersionError(
            f"{path} has {store} schema version {current}, but this Clientela knows versions up "
            f"to {known}: it was written by a newer Clientela. Upgrade Clientela; the store was "
            "left untouched."
        )
