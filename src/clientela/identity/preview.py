"""Dry run of a rule change: resolve everything under other rules, compare, roll back."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt

from clientela.config.settings import Settings
from clientela.identity.resolve import resolve
from clientela.identity.rules import IdentityRules

LARGEST = 5


@dataclass(frozen=True)
class Cluster:
    size: int
    identifiers: list[str]
    """The first few, by arrival."""


@dataclass(frozen=True)
class Preview:
    profiles_before: int
    profiles_after: int
    merged: int
    """Profiles under the new rules that join two or more of today's."""
    split: int
    """Today's profiles that the new rules spread over two or more."""
    quarantined_after: int
    largest: list[Cluster]

    def to_json(self) -> dict[str, object]:
        return {**{k: v for k, v in vars(self).items() if k != "largest"},
                "largest": [vars(c) for c in self.largest]}


def _membership(con: duckdb.DuckDBPyConnection) -> dict[str, npt.NDArray[np.int64]]:
    result = con.execute("SELECT identifier, client_id FROM identity_members "
                         "ORDER BY identifier").fetchnumpy()
    return {k: np.asarray(v, dtype=np.int64) for k, v in result.items()}


def _spread(keys: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> int:
    """How many keys map to two or more distinct values."""
    if not len(keys):
        return 0
    pairs = np.unique(np.stack([keys, values], axis=1), axis=0)
    _, counts = np.unique(pairs[:, 0], return_counts=True)
    return int((counts > 1).sum())


def preview(con: duckdb.DuckDBPyConnection, other: Settings) -> Preview:
    """What `other`'s identity rules would make of today's evidence; nothing is kept."""
    before = _membership(con)
    con.execute("BEGIN TRANSACTION")
    try:
        resolve(con, IdentityRules.of(other), full=True, take=False, reason="preview")
        after = _membership(con)
        # An address and its hash count once.
        quarantined = con.execute("""
            SELECT count(*) FROM identifiers i WHERE status = 'quarantined' AND NOT EXISTS (
                SELECT 1 FROM identity_links l WHERE l.b = i.id AND l.rule = 'email_hash')
        """).fetchone()
        largest_rows = con.execute(f"""
            SELECT count(*) AS size,
                   list(i.type || ':' || CASE WHEN i.scope <> '' THEN i.scope || ':' ELSE '' END
                        || i.value ORDER BY i.id)[1:5]
            FROM identity_members m JOIN identifiers i ON i.id = m.identifier
            GROUP BY m.client_id ORDER BY size DESC, min(i.id) LIMIT {LARGEST}
        """).fetchall()
    finally:
        con.execute("ROLLBACK")
    common, at_before, at_after = np.intersect1d(before["identifier"], after["identifier"],
                                                 return_indices=True)
    old, new = before["client_id"][at_before], after["client_id"][at_after]
    return Preview(
        profiles_before=len(np.unique(before["client_id"])),
        profiles_after=len(np.unique(after["client_id"])),
        merged=_spread(new, old) if len(common) else 0,
        split=_spread(old, new) if len(common) else 0,
        quarantined_after=int(quarantined[0]) if quarantined else 0,
        largest=[Cluster(int(size), list(labels)) for size, labels in largest_rows])
