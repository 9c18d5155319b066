"""Indicators on the analytics store (DuckDB): every profile, or one profile against stored
RFM cut points, through the same compiled SQL."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import duckdb
from sqlglot import exp

from clientela.config import Settings
from clientela.indicators.catalog import WINDOWS, window_label
from clientela.indicators.compile import (
    PART,
    PARTS,
    RESULT_PARTS,
    SELECTION,
    CutPoints,
    Parts,
    Scope,
    Stage,
    cut_points_select,
    decoded,
    in_part,
    keys_select,
    result,
    rfm_stage,
    stages,
)
from clientela.ingest.sql import literal, scalar
from clientela.ingest.stage import SCRATCH, attach_scratch

DIALECT = "duckdb"
VALUES_TABLE = "indicator_values"
"""The last run, lists and favorites as key ids (a tenth of the bytes of the names)."""
KEYS_TABLE = "indicator_keys"
"""(stream, key_id, key) of the last run."""
VIEW = "profile_indicators"
"""What readers query: `indicator_values` with names."""
SELECTED = "temp.selected_indicators"
"""`compute_selected`'s result: the columns of `profile_indicators`, for the profiles it was
given."""

StageHook = Callable[[str], None]
FrozenCutPoints = tuple[tuple[tuple[str, str], tuple[tuple[int, Decimal], ...]], ...]
Rendered = tuple[str, str, tuple[str, ...], Parts | None]
"""(table, SQL, stages no longer needed once it is made, how it may be made in parts)."""


def _frozen(cut_points: CutPoints) -> FrozenCutPoints:
    return tuple(sorted((key, tuple(sorted(points.items())))
                        for key, points in cut_points.items()))


# Rendering the catalog takes longer than running it on one profile: each scope is rendered
# once per process (the as-of date changes daily, the settings rarely).
@lru_cache(maxsize=16)
def _rendered_stages(scope: Scope) -> tuple[Rendered, ...]:
    """Every stage, rendered: each is dropped after its last reader, so a large run holds only
    what is still to be read."""
    built = stages(scope)
    final = rfm_stage(scope, {}).select, cut_points_select(), \
        result(scope), keys_select()
    kept = {t.name for expression in final for t in expression.find_all(exp.Table)}
    last_reader: dict[str, int] = {}
    for index, stage in enumerate(built):
        for table in stage.select.find_all(exp.Table):
            last_reader[table.name] = index
    return tuple(
        (*_rendered(stage), tuple(t for t, last in last_reader.items()
                                  if last == index and t.startswith("ind_")
                                  and t not in kept), stage.parts)
        for index, stage in enumerate(built))


@lru_cache(maxsize=16)
def _rendered_rfm(scope: Scope, cut_points: FrozenCutPoints) -> Rendered:
    points: CutPoints = {key: dict(values) for key, values in cut_points}
    return (*_rendered(rfm_stage(scope, points)), (), None)


@lru_cache(maxsize=16)
def _rendered_result(scope: Scope) -> Rendered:
    stage = Stage(VALUES_TABLE, result(scope), RESULT_PARTS)
    return (*_rendered(stage), (), stage.parts)


@lru_cache(maxsize=4)
def _rendered_decoded(values: str, keys: str) -> str:
    return decoded(values, keys).sql(DIALECT)


def _rendered(stage: Stage) -> tuple[str, str]:
    """For the full run (the selected scope renders `_selected_steps`)."""
    select = stage.select if stage.parts is None else in_part(stage.select)
    return stage.table, select.sql(DIALECT)


def part_count(con: duckdb.DuckDBPyConnection, parts: Parts, memory_bytes: int) -> int:
    """As many parts as it takes for the rows a stage holds to fit in the memory limit."""
    rows = scalar(con, f"SELECT count(*) FROM {parts.rows_of}")
    return max(1, math.ceil(rows * parts.row_bytes / max(memory_bytes, 1)))


def _make(con: duckdb.DuckDBPyConnection, rendered: Rendered, memory_bytes: int,
          temp: bool = True) -> None:
    """One stage as a table; in as many parts as the memory limit asks for, if it may be."""
    table, sql, _, parts = rendered
    qualified = f"temp.{table}" if temp else table
    create = f"CREATE OR REPLACE {'TEMP ' if temp else ''}TABLE {table} AS {sql}"
    if parts is None:
        con.execute(create)
        return
    count = part_count(con, parts, memory_bytes)
    con.execute(create, {PARTS: count, PART: 0})
    for part in range(1, count):
        con.execute(f"INSERT INTO {qualified} {sql}", {PARTS: count, PART: part})


def _run(con: duckdb.DuckDBPyConnection, rendered: tuple[Rendered, ...],
         on_stage: StageHook | None, memory_bytes: int = 0) -> None:
    for stage in rendered:
        if on_stage:
            on_stage(stage[0])
        _make(con, stage, memory_bytes)
        for finished in stage[2]:
            con.execute(f"DROP TABLE temp.{finished}")


def _drop(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    for table, *_ in (*_rendered_stages(scope), _rendered_rfm(scope, ())):
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def cut_points_of_population(con: duckdb.DuckDBPyConnection, scope: Scope) -> CutPoints:
    """The cut points of every window and dimension, from the per-profile stages."""
    points: CutPoints = {(window_label(window), dimension): {}
                         for window in WINDOWS for dimension in "RFM"}
    for label, dimension, *thresholds in con.execute(
            _rendered_cut_points()).fetchall():
        points[(label, dimension)] = {score: Decimal(value) for score, value in
                                      zip(range(2, 6), thresholds, strict=True)
                                      if value is not None}
    return points


@lru_cache(maxsize=1)
def _rendered_cut_points() -> str:
    return cut_points_select().sql(DIALECT)


def compute(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
            on_stage: StageHook | None = None) -> CutPoints:
    """Every profile's indicators as of `as_of` into `indicator_values` and `indicator_keys`
    (replaced; readers query the view `profile_indicators`); the cut points used."""
    scope = Scope.of(settings, as_of)
    # No stage relies on row order (lists are sorted explicitly); without it DuckDB needs far
    # less memory for large statements.
    # Restored on success only: after a failure the transaction is aborted and the caller
    # closes the connection.
    # The stages are written so that the right side of each join is the one to build a hash
    # table on; DuckDB's own choice guesses that a filter keeps a fifth of a table and would
    # build on the 18M order lines instead of the 6M orders (twice as slow).
    optimizers = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    cut_points = _compute(con, scope, on_stage, settings.storage.memory_bytes)
    con.execute("SET preserve_insertion_order = true")
    con.execute(f"SET disabled_optimizers = {literal(optimizers[0] if optimizers else '')}")
    return cut_points


def _compute(con: duckdb.DuckDBPyConnection, scope: Scope, on_stage: StageHook | None,
             memory_bytes: int) -> CutPoints:
    _run(con, _rendered_stages(scope), on_stage, memory_bytes)
    if on_stage:
        on_stage("rfm")
    cut_points = cut_points_of_population(con, scope)
    _run(con, (_rendered_rfm(scope, _frozen(cut_points)),), None)
    if on_stage:
        on_stage("result")
    _make(con, _rendered_result(scope), memory_bytes, temp=False)
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
    compute_selected(con, settings, as_of, [client_id], cut_points)
    cursor = con.execute(f"SELECT * FROM {SELECTED}")
    names = [d[0] for d in cursor.description or ()]
    row = cursor.fetchone()
    con.execute(f"DROP TABLE {SELECTED}")
    return dict(zip(names, row, strict=True)) if row else None


def compute_selected(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                     client_ids: Iterable[int], cut_points: CutPoints,
                     helper: duckdb.DuckDBPyConnection | None = None) -> None:
    """The indicators of the given profiles (those that exist) into `SELECTED`, replacing what
    it held: the single-profile path over a set, as the realtime worker runs it for a
    micro-batch.

    Its stages are tables of the in-memory `SCRATCH` database, where every connection to the
    store sees them. With `helper`, a second connection, two independent stages are made at a
    time: each is mostly DuckDB planning, which takes one core. They stay until the next call
    replaces them: they hold a few profiles' rows, and dropping them took ~40 ms a call."""
    scope = Scope.of(settings, as_of, selected=True)
    attach_scratch(con)
    con.execute(f"CREATE OR REPLACE TABLE {SCRATCH}.{SELECTION} AS "
                "SELECT DISTINCT unnest(?::BIGINT[]) AS client_id", [sorted(set(client_ids))])
    _make_steps(_selected_steps(scope, _frozen(cut_points)),
                [con] if helper is None else [con, helper])
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SELECTED} AS {_selected_decoded()}")


Step = tuple[str, str, frozenset[str]]
"""(table in `SCRATCH`, the SELECT that makes it, the tables of other steps it reads)."""
SELECTED_VALUES = "ind_one"
SELECTED_KEYS = "ind_one_keys"


@lru_cache(maxsize=16)
def _selected_steps(scope: Scope, cut_points: FrozenCutPoints) -> tuple[Step, ...]:
    points: CutPoints = {key: dict(values) for key, values in cut_points}
    made: list[tuple[str, exp.Expr]] = [
        (stage.table, stage.select) for stage in (*stages(scope), rfm_stage(scope, points))]
    made += [(SELECTED_VALUES, result(scope)), (SELECTED_KEYS, keys_select())]
    names = {table for table, _ in made} | {SELECTION}
    return tuple((table, _in_scratch(select, names).sql(DIALECT),
                  frozenset(t.name for t in select.find_all(exp.Table) if t.name in names))
                 for table, select in made)


@lru_cache(maxsize=1)
def _selected_decoded() -> str:
    names = {SELECTED_VALUES, SELECTED_KEYS}
    return _in_scratch(decoded(SELECTED_VALUES, SELECTED_KEYS), names).sql(DIALECT)


def _in_scratch(select: exp.Expr, names: set[str]) -> exp.Expr:
    """`select` reading the tables `names` from `SCRATCH`."""
    def qualified(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and not node.args.get("db") and node.name in names:
            node = node.copy()
            node.set("db", exp.to_identifier(SCRATCH))
        return node
    return select.transform(qualified)


def _make_steps(steps: tuple[Step, ...], connections: list[duckdb.DuckDBPyConnection]) -> None:
    """Each step once the steps it reads are made, on whichever connection is free."""
    def make(con: duckdb.DuckDBPyConnection, table: str, sql: str) -> None:
        con.execute(f"CREATE OR REPLACE TABLE {SCRATCH}.{table} AS {sql}")

    made = {SELECTION}
    waiting = list(steps)
    free = list(connections)
    running: dict[Future[None], tuple[str, duckdb.DuckDBPyConnection]] = {}
    with ThreadPoolExecutor(max_workers=len(connections),
                            thread_name_prefix="clientela-stages") as pool:
        while waiting or running:
            for step in [s for s in waiting if s[2] <= made][:len(free)]:
                waiting.remove(step)
                con = free.pop()
                running[pool.submit(make, con, step[0], step[1])] = (step[0], con)
            if not running:
                raise RuntimeError(f"no step makes what {waiting[0][0]} reads")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                table, con = running.pop(future)
                future.result()
                made.add(table)
                free.append(con)
