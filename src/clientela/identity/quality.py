"""Pairwise precision and recall of the resolved profiles against a truth file.

The truth (`clientela generate --truth`) says which person each customer record really is:
`store_code,user_id,person_id`. Two records form a true pair when they are one person and a
predicted pair when they are in one profile.

Some true pairs share no evidence at all (a store record with no email, phone or card, and the
same person's web account): no resolver can join them. A pair is *linkable* when the person's
records are connected through identifiers that no other person's records name; recall over the
linkable pairs measures the resolver, recall over all pairs measures the data as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from clientela.ingest.sql import literal


@dataclass(frozen=True)
class Quality:
    records: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    unresolved: int
    """Truth records whose user id is in no profile."""
    linkable_pairs: int
    correct_linkable_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def linkable_recall(self) -> float:
        return (self.correct_linkable_pairs / self.linkable_pairs if self.linkable_pairs
                else 1.0)


def pairwise_quality(con: duckdb.DuckDBPyConnection, truth: Path, *,
                     store_scoped: bool) -> Quality:
    scope = "t.store_code" if store_scoped else "''"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE resolved_records AS
        WITH truth AS (
            SELECT * FROM read_csv({literal(str(truth))}, header = true,
                                   columns = {{'store_code': 'VARCHAR', 'user_id': 'VARCHAR',
                                              'person_id': 'BIGINT'}})
        ),
        resolved AS (
            SELECT t.person_id, m.client_id, i.id AS record FROM truth t
            LEFT JOIN identifiers i
              ON i.type = 'user_id' AND i.scope = {scope} AND i.value = t.user_id
            LEFT JOIN identity_members m ON m.identifier = i.id
        )
        SELECT * FROM resolved
    """)
    row = con.execute("""
        WITH resolved AS (SELECT * FROM resolved_records),
        cells AS (SELECT person_id, client_id, count(*) AS n FROM resolved
                  WHERE client_id IS NOT NULL GROUP BY ALL),
        persons AS (SELECT person_id, count(*) AS n FROM resolved GROUP BY ALL),
        profiles AS (SELECT client_id, sum(n) AS n FROM cells GROUP BY ALL)
        SELECT (SELECT count(*) FROM resolved),
               (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM persons),
               (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM profiles),
               (SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM cells),
               (SELECT count(*) FROM resolved WHERE client_id IS NULL)
    """).fetchone()
    assert row is not None
    records, true_pairs, predicted, correct, unresolved = (int(v) for v in row)
    linkable, correct_linkable = _linkable(con)
    return Quality(records, true_pairs, predicted, correct, unresolved, linkable,
                   correct_linkable)


def _linkable(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(linkable pairs, those in one profile), from the records of the last `pairwise_quality`."""
    edges = con.execute("""
        WITH named AS (
            -- A record outside the truth counts as someone else.
            SELECT coalesce(r.person_id, -l.a) AS person_id, l.a AS record, l.b AS named
            FROM identity_links l JOIN identifiers i ON i.id = l.a AND i.type = 'user_id'
            LEFT JOIN resolved_records r ON r.record = l.a
        ),
        exclusive AS (SELECT named FROM named GROUP BY named
                      HAVING count(DISTINCT person_id) = 1)
        SELECT record, named FROM named SEMI JOIN exclusive USING (named)
        WHERE record IN (SELECT record FROM resolved_records)
    """).fetchnumpy()
    records = con.execute("SELECT record, person_id, coalesce(client_id, -record) AS client_id "
                          "FROM resolved_records WHERE record IS NOT NULL").fetchnumpy()
    ids = np.unique(np.concatenate([records["record"], edges["named"]]))
    n = len(ids)
    if n == 0:
        return 0, 0
    a, b = np.searchsorted(ids, edges["record"]), np.searchsorted(ids, edges["named"])
    _, label = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)),
                                    directed=False)
    evidence = label[np.searchsorted(ids, records["record"])].astype(np.int64)

    def pairs(*keys: npt.NDArray[np.int64]) -> int:
        _, counts = np.unique(np.stack(keys, axis=1), axis=0, return_counts=True)
        return int((counts * (counts - 1) // 2).sum())

    person = np.asarray(records["person_id"], dtype=np.int64)
    client = np.asarray(records["client_id"], dtype=np.int64)
    return pairs(person, evidence), pairs(person, evidence, client)
