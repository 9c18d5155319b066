"""Indicators on the analytics store (DuckDB): every profile, or one profile against stored
RFM cut points, through the same compiled SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import duckdb
from sqlglot import exp

from clientela.config import Settings
from clientela.indicators.catalog import WINDOWS, window_label
from clientela.indicators.compile import (
    SELECTION,
    CutPoints,
    Scope,
    Stage,
    cut_points_query,
    decoded,
    keys_select,
    result,
    rfm_stage,
    stages,
)

DIALECT = "duckdb"
VALUES_TABLE = "indicator_values"
"""The last run, lists and favorites as key ids (a tenth of the bytes of the names)."""
KEYS_TABLE = "indicator_keys"
"""(stream, key_id, key) of the last run."""
VIEW = "profile_indicators"
"""What readers query: `indicator_values` with names."""

StageHook = Callable[[str], None]
FrozenCutPoints = tuple[tuple[tuple[str, str], tuple[tuple[int, Decimal], ...]], ...]


def _frozen(cut_points: CutPoints) -> FrozenCutPoints:
    return tuple(sorted((key, tuple(sorted(points.items())))
                        for key, points in cut_points.items()))


# Rendering the catalog takes longer than running it on one profile: each scope is rendered
# once per process (the as-of date changes daily, the settings rarely).
@lru_cache(maxsize=16)
def _rendered_stages(scope: Scope) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(table, SQL, stages no longer needed once it is made) for every stage: each is dropped
    after its last reader, so a large run holds only what is still to be read."""
    built = stages(scope)
    final = rfm_stage(scope, {}).select, cut_points_query(None, "R", scope.as_of), \
        result(scope), keys_select()
    kept = {t.name for expression in final for t in expression.find_all(exp.Table)}
    last_reader: dict[str, int] = {}
    for index, stage in enumerate(built):
        for table in stage.select.find_all(exp.Table):
            last_reader[table.name] = index
    return tuple(
        (*_rendered(stage), tuple(t for t, last in last_reader.items()
                                  if last == index and t.startswith("ind_") and t not in kept))
        for index, stage in enumerate(built))


@lru_cache(maxsize=16)
def _rendered_rfm(scope: Scope, cut_points: FrozenCutPoints
                  ) -> tuple[str, str, tuple[str, ...]]:
    points: CutPoints = {key: dict(values) for key, values in cut_points}
    return (*_rendered(rfm_stage(scope, points)), ())


@lru_cache(maxsize=16)
def _rendered_result(scope: Scope) -> str:
    return result(scope).sql(DIALECT)


@lru_cache(maxsize=4)
def _rendered_decoded(values: str, keys: str) -> str:
    return decoded(values, keys).sql(DIALECT)


def _rendered(stage: Stage) -> tuple[str, str]:
    return stage.table, stage.select.sql(DIALECT)


def _run(con: duckdb.DuckDBPyConnection, rendered: tuple[tuple[str, str, tuple[str, ...]], ...],
         on_stage: StageHook | None) -> None:
    for table, sql, done_with in rendered:
        if on_stage:
            on_stage(table)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
        for finished in done_with:
            con.execute(f"DROP TABLE temp.{finished}")


def _drop(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    for table, _, _ in (*_rendered_stages(scope), ("ind_rfm", "", ())):
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def cut_points_of_population(con: duckdb.DuckDBPyConnection, scope: Scope) -> CutPoints:
    """The cut points of every window and dimension, from the per-profile stages."""
    points: CutPoints = {}
    for window in WINDOWS:
        for dimension in "RFM":
            row = con.execute(cut_points_query(window, dimension, scope.as_of).sql(DIALECT)
                              ).fetchone()
            points[(window_label(window), dimension)] = {
                score: Decimal(value) for score, value in zip(range(2, 6), row or (), strict=True)
                if value is not None}
    return points


def compute(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
            on_stage: StageHook | None = None) -> CutPoints:
    """Every profile's indicators as of `as_of` into `indicator_values` and `indicator_keys`
    (replaced; readers query the view `profile_indicators`); the cut points used."""
    scope = Scope.of(settings, as_of)
    # No stage relies on row order (lists are sorted explicitly); without it DuckDB needs far
    # less memory for large statements.
    # Restored on success only: after a failure the transaction is aborted and the caller
    # closes the connection.
    con.execute("SET preserve_insertion_order = false")
    cut_points = _compute(con, scope, on_stage)
    con.execute("SET preserve_insertion_order = true")
    return cut_points


def _compute(con: duckdb.DuckDBPyConnection, scope: Scope, on_stage: StageHook | None
             ) -> CutPoints:
    _run(con, _rendered_stages(scope), on_stage)
    if on_stage:
        on_stage("rfm")
    cut_points = cut_points_of_population(con, scope)
    _run(con, (_rendered_rfm(scope, _frozen(cut_points)),), None)
    if on_stage:
        on_stage("result")
    con.execute(f"CREATE OR REPLACE TABLE {VALUES_TABLE} AS {_rendered_result(scope)}")
    con.execute(f"CREATE OR REPLACE TABLE {KEYS_TABLE} AS {keys_select().sql(DIALECT)}")
    con.execute(f"CREATE OR REPLACE VIEW {VIEW} AS "
                f"{_rendered_decoded(VALUES_TABLE, KEYS_TABLE)}")
    # On failure the stages stay until the connection closes: a statement in an aborted
    # transaction would only hide the error.
    _drop(con, scope)
    return cut_points


def compute_indicators(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> int:
    """Every profile's indicators (`profile_indicators`); the number of profiles."""
    compute(con, settings, as_of)
    row = con.execute(f"SELECT count(*) FROM {VALUES_TABLE}").fetchone()
    return int(row[0]) if row else 0


def compute_one(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                client_id: int, cut_points: CutPoints) -> dict[str, Any] | None:
    """One profile's indicators from its orders, RFM scored against `cut_points` (the last
    run's); None when no profile has that id."""
    return compute_selected(con, settings, as_of, [client_id], cut_points).get(client_id)


def compute_selected(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                     client_ids: Iterable[int], cut_points: CutPoints) -> dict[int, dict[str, Any]]:
    """The indicators of the given profiles (those that exist), by client id: the
    single-profile path over a set, as the realtime worker runs it for a micro-batch."""
    scope = Scope.of(settings, as_of, selected=True)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SELECTION} AS "
                "SELECT DISTINCT unnest(?::BIGINT[]) AS client_id", [sorted(set(client_ids))])
    _run(con, (*_rendered_stages(scope), _rendered_rfm(scope, _frozen(cut_points))), None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE ind_one AS {_rendered_result(scope)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE ind_one_keys AS {keys_select().sql(DIALECT)}")
    cursor = con.execute(_rendered_decoded("ind_one", "ind_one_keys"))
    names = [d[0] for d in cursor.description or ()]
    rows = cursor.fetchall()
    _drop(con, scope)
    for table in ("ind_one", "ind_one_keys", SELECTION):
        con.execute(f"DROP TABLE {table}")
    return {int(row[0]): dict(zip(names, row, strict=True)) for row in rows}
