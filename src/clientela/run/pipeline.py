"""`clientela run`: import what is pending, resolve identity, compute every indicator as of a
date, and publish.

The indicators, their RFM cut points and the run's ledger row are written in one analytics
transaction (Ctrl-C or a failure leaves the previous run whole); the serving copy is then
replaced in one operational transaction. Should the process die between the two, the serving copy
still holds the previous run, whole, and the next run publishes again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import duckdb

from clientela.config import Instance
from clientela.indicators.compile import CutPoints
from clientela.indicators.compute import compute
from clientela.indicators.published import has_run
from clientela.ingest.importer import ImportProgress, ImportResult, QuietProgress, run_import
from clientela.ingest.sql import scalar
from clientela.serving.publish import publish
from clientela.stores import analytics, operational
from clientela.stores.analytics import transaction


class RunProgress(ImportProgress, Protocol):
    def stage(self, label: str) -> None: ...
    def publishing(self, total: int) -> None: ...
    def published(self, rows: int) -> None: ...


class QuietRunProgress(QuietProgress):
    def stage(self, label: str) -> None: ...
    def publishing(self, total: int) -> None: ...
    def published(self, rows: int) -> None: ...


@dataclass
class RunResult:
    run_id: int
    as_of: date
    imported: ImportResult
    profiles: int = 0
    segment_changes: int = 0
    """Profiles of the previous run whose RFM_Segment is another now."""
    new_profiles: int = 0
    """Profiles the previous run did not have."""
    segments: list[tuple[str, int]] = field(default_factory=list)
    """RFM_Segment -> profiles, largest first."""
    published: int = 0


def today(instance: Instance) -> date:
    return datetime.now(ZoneInfo(instance.settings.instance.timezone)).date()


def run(instance: Instance, as_of: date | None = None,
        progress: RunProgress | None = None) -> RunResult:
    progress = progress or QuietRunProgress()
    as_of = as_of or today(instance)
    imported = run_import(instance, [], progress)
    con = analytics.connect(instance)
    try:
        started = datetime.now(UTC)
        with transaction(con):
            outcome = _compute(con, instance, as_of, started, imported, progress)
        outcome.segments = [(str(name), int(n)) for name, n in con.execute(
            'SELECT "RFM_Segment", count(*) FROM indicator_values GROUP BY 1 '
            "ORDER BY 2 DESC, 1").fetchall()]
        progress.stage("publishing")
        progress.publishing(outcome.profiles)
        ops = operational.connect(instance)
        try:
            outcome.published = publish(con, ops, outcome.run_id, as_of, progress.published)
        finally:
            ops.close()
    finally:
        con.close()
    return outcome


def _compute(con: duckdb.DuckDBPyConnection, instance: Instance, as_of: date,
             started: datetime, imported: ImportResult, progress: RunProgress) -> RunResult:
    run_id = scalar(con, "SELECT coalesce(max(run_id), 0) + 1 FROM indicator_runs")
    had_run = has_run(con)
    con.execute("CREATE OR REPLACE TEMP TABLE previous_segments (client_id BIGINT, "
                "segment VARCHAR)")
    if had_run:
        con.execute('INSERT INTO previous_segments SELECT client_id, "RFM_Segment" '
                    "FROM indicator_values")
    cut_points = compute(con, instance.settings, as_of,
                         on_stage=lambda name: progress.stage(_label(name)))
    _store_cut_points(con, run_id, cut_points)
    outcome = RunResult(run_id, as_of, imported)
    outcome.profiles = scalar(con, "SELECT count(*) FROM indicator_values")
    outcome.segment_changes = scalar(con, """
        SELECT count(*) FROM indicator_values p JOIN previous_segments s USING (client_id)
        WHERE p."RFM_Segment" IS DISTINCT FROM s.segment""")
    outcome.new_profiles = scalar(con, """
        SELECT count(*) FROM indicator_values p ANTI JOIN previous_segments s
        USING (client_id)""")
    con.execute("INSERT INTO indicator_runs VALUES (?, ?, ?, ?, ?, ?)",
                [run_id, as_of, started, datetime.now(UTC), outcome.profiles,
                 outcome.segment_changes])
    con.execute("DROP TABLE previous_segments")
    return outcome


def _label(stage: str) -> str:
    """`ind_stream_brand` -> `indicators: stream brand`."""
    return "indicators: " + stage.removeprefix("ind_").replace("_", " ")


def _store_cut_points(con: duckdb.DuckDBPyConnection, run_id: int, cut_points: CutPoints
                      ) -> None:
    rows = [(run_id, window, dimension, score, threshold)
            for (window, dimension), points in cut_points.items()
            for score, threshold in points.items()]
    if rows:
        con.executemany("INSERT INTO rfm_cut_points VALUES (?, ?, ?, ?, ?)", rows)


def last_cut_points(con: duckdb.DuckDBPyConnection) -> tuple[int, CutPoints] | None:
    """The last run's id and cut points; None before the first run."""
    run_id = scalar(con, "SELECT coalesce(max(run_id), 0) FROM indicator_runs")
    if not run_id:
        return None
    points: CutPoints = {}
    for window, dimension, score, threshold in con.execute(
            "SELECT window_name, dimension, score, threshold FROM rfm_cut_points "
            "WHERE run_id = ?", [run_id]).fetchall():
        points.setdefault((window, dimension), {})[int(score)] = threshold
    return run_id, points
