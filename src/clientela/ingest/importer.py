"""`clientela import`: receive files, then load every day that can load, in order.

Each day is one transaction in the analytics store; files move to the archive (or to
`rejected/`) and reports are written only after the day is committed. Interrupted, the day is
rolled back and its files stay in the inbox, so the next run picks it up again.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import duckdb

from clientela.config import Instance
from clientela.identity.evidence import EvidenceResult
from clientela.identity.resolve import ResolveResult, run_resolution
from clientela.ingest.batch import load_batch, rules_for
from clientela.ingest.inbox import Waiting, done_days, inbox_files, plan, receive
from clientela.ingest.inbox_file import InboxFile
from clientela.ingest.prepare import PreparedFile, prepare
from clientela.ingest.report import FileReport, free_path, write_json
from clientela.ingest.stage import Staging, attach_scratch, drop_staging
from clientela.ingest.status import copy_done_days
from clientela.stores import analytics, operational


class ImportProgress(Protocol):
    def day(self, day: date, files: list[InboxFile]) -> None: ...
    def file(self, name: str, size: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def step(self, label: str) -> None: ...
    def done(self, report: FileReport) -> None: ...


class QuietProgress:
    def day(self, day: date, files: list[InboxFile]) -> None: ...
    def file(self, name: str, size: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def step(self, label: str) -> None: ...
    def done(self, report: FileReport) -> None: ...


@dataclass
class ImportResult:
    reports: list[FileReport] = field(default_factory=list)
    days_loaded: list[date] = field(default_factory=list)
    waiting: Waiting | None = None
    evidence: EvidenceResult | None = None
    """Identifiers and links the loaded days gave."""
    identity: ResolveResult | None = None

    @property
    def rows_rejected(self) -> int:
        return sum(r.rejected for r in self.reports)


def run_import(instance: Instance, paths: Iterable[Path],
               progress: ImportProgress | None = None, *, move: bool = False) -> ImportResult:
    """Receive `paths` (moved rather than copied with `move`: files Clientela owns), then load
    every day that can load."""
    progress = progress or QuietProgress()
    ops = operational.connect(instance)
    run_id = ops.execute("INSERT INTO import_runs (started_at, outcome) VALUES (?, 'running')",
                         (datetime.now(UTC).isoformat(),)).lastrowid
    result = ImportResult()
    outcome, message = "failed", None
    try:
        result.reports += receive(instance, paths, move=move)
        con = analytics.connect(instance)
        # Holding the store's lock, no other import runs: an earlier one still "running" was
        # killed outright.
        ops.execute("UPDATE import_runs SET outcome = 'interrupted', message = 'the process "
                    "ended without finishing (killed or crashed)' "
                    "WHERE outcome = 'running' AND id <> ?", (run_id,))
        try:
            _load_days(con, instance, result, progress)
            copy_done_days(con, ops)
            progress.step("resolving identities")
            loaded = result.days_loaded
            days = (f"{len(loaded)} day(s), {min(loaded)} to {max(loaded)}" if loaded
                    else "no new day")
            # Each day took its evidence in its own transaction (ImportResult.evidence).
            result.identity = run_resolution(con, instance.settings, take=False,
                                             reason=f"import of {days}")
        finally:
            con.close()
        outcome = "succeeded"
    except KeyboardInterrupt:
        outcome, message = "interrupted", "interrupted; the day being loaded was rolled back"
        raise
    except Exception as error:
        message = str(error)
        raise
    finally:
        ops.execute(
            "UPDATE import_runs SET finished_at = ?, outcome = ?, files = ?, days_loaded = ?, "
            "rows_rejected = ?, message = ? WHERE id = ?",
            (datetime.now(UTC).isoformat(), outcome, len(result.reports),
             len(result.days_loaded), result.rows_rejected, message, run_id))
        ops.close()
        shutil.rmtree(instance.temp / "files", ignore_errors=True)
    return result


class _Preparer:
    """Prepares files (probe, header, parse) on a worker connection, one day ahead, while the
    main connection merges the current day. One worker thread: the connection is its own."""

    def __init__(self, con: duckdb.DuckDBPyConnection, instance: Instance, folder: Path) -> None:
        attach_scratch(con)
        self.worker = con.cursor()
        self.rules = rules_for(instance)
        self.max_line_length = instance.settings.files.max_line_length
        self.folder = folder
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clientela-prepare")
        self.pending: dict[Path, Future[PreparedFile]] = {}
        self.prepared = 0

    def submit(self, files: list[InboxFile]) -> None:
        for inbox_file in files:
            if inbox_file.path not in self.pending:
                self.prepared += 1
                names = Staging(f"f{self.prepared}_")
                self.pending[inbox_file.path] = self.pool.submit(
                    prepare, self.worker, inbox_file, self.rules, self.max_line_length, names,
                    self.folder)

    def result(self, path: Path) -> PreparedFile:
        return self.pending.pop(path).result()

    def release(self, prepared: PreparedFile) -> None:
        """Drop a loaded file's scratch tables, on the worker, between two preparations."""
        if prepared.parse is not None:
            self.pool.submit(drop_staging, self.worker, prepared.parse.names)
        probed = prepared.probed
        if probed is not None and probed.readable != probed.path:
            probed.readable.unlink(missing_ok=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.worker.close()


def _load_days(con: duckdb.DuckDBPyConnection, instance: Instance, result: ImportResult,
               progress: ImportProgress) -> None:
    folder = instance.temp / "files"
    folder.mkdir(parents=True, exist_ok=True)
    preparer = _Preparer(con, instance, folder)
    try:
        _load_each_day(con, instance, result, progress, preparer)
    finally:
        preparer.close()


def _load_each_day(con: duckdb.DuckDBPyConnection, instance: Instance, result: ImportResult,
                   progress: ImportProgress, preparer: _Preparer) -> None:
    # Each loaded day can make the next one loadable, so plan again after every commit.
    while True:
        schedule = plan(done_days(con), inbox_files(instance))
        result.waiting = schedule.waiting
        if not schedule.loadable:
            return
        day, files = schedule.loadable[0]
        preparer.submit(files)
        if len(schedule.loadable) > 1:
            preparer.submit(schedule.loadable[1][1])
        progress.day(day, files)
        prepared: dict[Path, PreparedFile] = {}
        for inbox_file in files:
            size = inbox_file.path.stat().st_size
            progress.file(inbox_file.path.name, size)
            prepared[inbox_file.path] = preparer.result(inbox_file.path)
            progress.advance(size)
        reports, evidence = load_batch(con, instance, day, files, prepared, progress.step)
        result.evidence = evidence if result.evidence is None else result.evidence + evidence
        for inbox_file, report in zip(_in_load_order(files, reports), reports, strict=True):
            _file_away(con, instance, inbox_file, report)
            progress.done(report)
        for done in prepared.values():
            preparer.release(done)
        result.reports += reports
        if any(r.outcome == "loaded" for r in reports):
            # A day whose files were all seen before is recognised, not loaded again.
            result.days_loaded.append(day)


def _in_load_order(files: list[InboxFile], reports: list[FileReport]) -> list[InboxFile]:
    by_name = {f.path.name: f for f in files}
    return [by_name[r.file] for r in reports]


def _file_away(con: duckdb.DuckDBPyConnection, instance: Instance, inbox_file: InboxFile,
               report: FileReport) -> None:
    """After commit: archive (or reject) the file and write its report and rejects beside."""
    day = inbox_file.day.strftime("%Y%m%d")
    folder = (instance.rejected if report.outcome == "refused" else instance.archive) / day
    folder.mkdir(parents=True, exist_ok=True)
    target = free_path(folder, inbox_file.path.name, report.checksum)
    inbox_file.path.replace(target)
    reports_folder = folder if report.outcome == "refused" else instance.reports / day
    reports_folder.mkdir(parents=True, exist_ok=True)
    if report.rejected:
        rejects = reports_folder / (target.name + ".rejects.csv")
        partial = rejects.with_name(rejects.name + ".part")
        con.execute(
            f"COPY (SELECT file_name AS file, line, column_name AS column, reason, raw "
            f"FROM import_rejects WHERE checksum = ? AND file_name = ? ORDER BY line) "
            f"TO '{_sql_path(partial)}' (HEADER, DELIMITER ',', QUOTE '\"')",
            [report.checksum, report.file])
        partial.replace(rejects)
        report.rejects_path = str(rejects)
    report_path = reports_folder / (target.name + ".report.json")
    report.report_path = str(report_path)
    write_json(report_path, report.to_json())


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
