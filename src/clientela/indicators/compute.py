"""Indicators on the analytics store (DuckDB): every profile, or one profile against stored
RFM cut points, through the same compiled SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import duckdb

from clientela.config import Settings
from clientela.indicators.catalog import WINDOWS, window_label
from clientela.indicators.compile import (
    CutPoints,
    Scope,
    Stage,
    cut_points_query,
    result,
    rfm_stage,
    stages,
)

DIALECT = "duckdb"

StageHook = Callable[[str], None]
FrozenCutPoints = tuple[tuple[tuple[str, str], tuple[tuple[int, Decimal], ...]], ...]


def _frozen(cut_points: CutPoints) -> FrozenCutPoints:
    return tuple(sorted((key, tuple(sorted(points.items())))
                        for key, points in cut_points.items()))


# Rendering the catalog takes longer than running it on one profile: each scope is rendered
# once per process (the as-of date changes daily, the settings rarely).
@lru_cache(maxsize=16)
def _rendered_stages(scope: Scope) -> tuple[tuple[str, str], ...]:
    return tuple(_rendered(stage) for stage in stages(scope))


@lru_cache(maxsize=16)
def _rendered_rfm(scope: Scope, cut_points: FrozenCutPoints) -> tuple[str, str]:
    points: CutPoints = {key: dict(values) for key, values in cut_points}
    return _rendered(rfm_stage(scope, points))


@lru_cache(maxsize=16)
def _rendered_result(scope: Scope) -> str:
    return result(scope).sql(DIALECT)


def _rendered(stage: Stage) -> tuple[str, str]:
    return stage.table, stage.select.sql(DIALECT)


def _run(con: duckdb.DuckDBPyConnection, rendered: tuple[tuple[str, str], ...],
         params: dict[str, Any], on_stage: StageHook | None) -> None:
    for table, sql in rendered:
        if on_stage:
            on_stage(table)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}",
                    params if "$client_id" in sql else None)


def _drop(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    for table, _ in (*_rendered_stages(scope), ("ind_rfm", "")):
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


def compute(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, table: str,
            on_stage: StageHook | None = None) -> CutPoints:
    """Every profile's indicators as of `as_of` into `table` (replaced); the cut points used."""
    scope = Scope.of(settings, as_of)
    _run(con, _rendered_stages(scope), {}, on_stage)
    if on_stage:
        on_stage("rfm")
    cut_points = cut_points_of_population(con, scope)
    _run(con, (_rendered_rfm(scope, _frozen(cut_points)),), {}, None)
    if on_stage:
        on_stage("result")
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {_rendered_result(scope)}")
    # On failure the stages stay until the connection closes: a statement in an aborted
    # transaction would only hide the error.
    _drop(con, scope)
    return cut_points


def compute_indicators(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> int:
    """Every profile's indicators into `profile_indicators`; the number of profiles."""
    compute(con, settings, as_of, "profile_indicators")
    row = con.execute("SELECT count(*) FROM profile_indicators").fetchone()
    return int(row[0]) if row else 0


def compute_one(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                client_id: int, cut_points: CutPoints) -> dict[str, Any] | None:
    """One profile's indicators from its orders, RFM scored against `cut_points` (the last
    run's); None when no profile has that id."""
    scope = Scope.of(settings, as_of, one_profile=True)
    params = {"client_id": client_id}
    _run(con, (*_rendered_stages(scope), _rendered_rfm(scope, _frozen(cut_points))), params,
         None)
    cursor = con.execute(_rendered_result(scope), params)
    names = [d[0] for d in cursor.description or ()]
    row = cursor.fetchone()
    _drop(con, scope)
    return dict(zip(names, row, strict=True)) if row else None
