"""Reading and erasing the indicators of the last run (`profile_indicators`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from clientela.indicators.compute import VALUES_TABLE, VIEW
from clientela.ingest.sql import scalar

TABLE = VIEW


@dataclass(frozen=True)
class Indicators:
    run_id: int
    as_of: date
    values: dict[str, Any]
    """Indicator name -> value, in catalog order."""


def has_run(con: duckdb.DuckDBPyConnection) -> bool:
    return scalar(con, "SELECT count(*) FROM duckdb_views() "
                       f"WHERE view_name = '{VIEW}' AND NOT temporary") > 0


def indicators_of(con: duckdb.DuckDBPyConnection, client_id: int) -> Indicators | None:
    """The profile's indicators as the last run computed them; None before any run, or for a
    profile the last run did not know yet."""
    if not has_run(con):
        return None
    run = con.execute("SELECT run_id, as_of FROM indicator_runs ORDER BY run_id DESC LIMIT 1"
                      ).fetchone()
    cursor = con.execute(f"SELECT * EXCLUDE (client_id) FROM {TABLE} WHERE client_id = ?",
                         [client_id])
    names = [d[0] for d in cursor.description or ()]
    row = cursor.fetchone()
    if run is None or row is None:
        return None
    return Indicators(int(run[0]), run[1], dict(zip(names, row, strict=True)))


def erase_indicators(con: duckdb.DuckDBPyConnection, client_id: int) -> None:
    """An erased person keeps no computed indicators (the serving copy: `unpublish`)."""
    if has_run(con):
        con.execute(f"DELETE FROM {VALUES_TABLE} WHERE client_id = ?", [client_id])
