"""The import queue: days wait for their four files and for earlier days; skip, corrections,
interruption, and the checksum registry."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clientela.config import Instance
from clientela.ingest import merge
from clientela.ingest.importer import ImportResult, run_import
from clientela.ingest.report import FileReport
from clientela.ingest.status import SkipError, queue_status, skip_day
from clientela.stores import analytics

DAY1 = date(2025, 1, 1)
DAY2 = date(2025, 1, 2)
DAY3 = date(2025, 1, 3)

WriteDay = Callable[..., dict[str, Path]]
Query = Callable[..., list[tuple[Any, ...]]]
Counts = Callable[[Instance], dict[str, int]]
ReportOf = Callable[[ImportResult, str | Path], FileReport]


def _inbox(instance: Instance) -> list[str]:
    return sorted(p.name for p in instance.inbox.iterdir())


def _days(query: Query, instance: Instance) -> list[tuple[date, str]]:
    return [(d, s) for d, s in query(instance, "SELECT day, state FROM import_days ORDER BY 1")]


def test_day_with_a_missing_file_is_held_back(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query) -> None:
    files = write_day(drop, instance, DAY1, categories=None)

    result = run_import(instance, [drop])

    assert result.days_loaded == []
    assert result.reports == []
    assert result.waiting is not None
    assert (result.waiting.day, result.waiting.missing, result.waiting.waiting_days) == (
        DAY1, ["ORDERSDETAILCATEGORIES"], [DAY1])
    status = queue_status(instance)
    assert status.waiting == result.waiting
    assert (status.days_loaded, status.files_in_inbox) == (0, 3)
    assert _inbox(instance) == sorted(p.name for p in files.values())
    assert query(instance, "SELECT count(*) FROM orders") == [(0,)]

    # The missing file arrives: the day loads.
    late = write_day(drop / "late", instance, DAY1, customers=None, orders=None, lines=None)
    result = run_import(instance, [late["categories"]])

    assert result.days_loaded == [DAY1]
    assert result.waiting is None
    assert query(instance, "SELECT count(*) FROM order_line_categories") == [(2,)]
    assert _inbox(instance) == []


def test_a_gap_holds_later_days_back_until_skipped(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query) -> None:
    write_day(drop, instance, DAY1)
    write_day(drop, instance, DAY3, orders=["o3|S1|u1|03/01/2025|1|1|10|10|0|0"], lines=[],
              categories=[])

    result = run_import(instance, [drop])

    assert result.days_loaded == [DAY1]
    assert result.waiting is not None
    assert (result.waiting.day, result.waiting.missing, result.waiting.waiting_days) == (
        DAY2, ["CUSTOMERS", "ORDERS", "ORDERSDETAIL", "ORDERSDETAILCATEGORIES"], [DAY3])
    status = queue_status(instance)
    assert (status.days_loaded, status.first_day, status.last_day, status.files_in_inbox) == (
        1, DAY1, DAY1, 4)
    assert status.waiting is not None and status.waiting.day == DAY2
    assert query(instance, "SELECT order_number FROM orders") == [("o1",)]

    skip_day(instance, DAY2, note="store closed")
    result = run_import(instance, [])

    assert result.days_loaded == [DAY3]
    assert result.waiting is None
    assert query(instance, "SELECT order_number FROM orders ORDER BY 1") == [("o1",), ("o3",)]
    assert query(instance, "SELECT day, state, note FROM import_days ORDER BY 1") == [
        (DAY1, "loaded", None), (DAY2, "skipped", "store closed"), (DAY3, "loaded", None)]
    status = queue_status(instance)
    assert (status.days_loaded, status.skipped, status.last_day, status.waiting) == (
        2, [DAY2], DAY3, None)


def test_first_day_waits_for_its_missing_file_even_when_later_days_are_complete(
        instance: Instance, drop: Path, write_day: WriteDay) -> None:
    write_day(drop, instance, DAY1, lines=None)
    write_day(drop, instance, DAY2)

    result = run_import(instance, [drop])

    assert result.days_loaded == []
    assert result.waiting is not None
    assert (result.waiting.day, result.waiting.missing, result.waiting.waiting_days) == (
        DAY1, ["ORDERSDETAIL"], [DAY1, DAY2])


def test_skipping_a_later_day_in_advance_keeps_the_gaps_before_it(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query) -> None:
    """A day known in advance to have no batch (a holiday) may be skipped ahead of time."""
    write_day(drop / "d1", instance, DAY1)
    run_import(instance, [drop / "d1"])
    holiday = date(2025, 1, 5)
    skip_day(instance, holiday, note="holiday")
    # Days 2 and 4 arrive; day 3 does not: day 4 must wait for it.
    write_day(drop / "d2", instance, DAY2, orders=[], lines=[], categories=[])
    write_day(drop / "d4", instance, date(2025, 1, 4), orders=[], lines=[], categories=[])

    result = run_import(instance, [drop / "d2", drop / "d4"])

    assert result.days_loaded == [DAY2]
    assert result.waiting is not None
    assert (result.waiting.day, result.waiting.waiting_days) == (DAY3, [date(2025, 1, 4)])

    # Day 3 arrives: 3 and 4 load, the holiday is passed over, and day 6 may follow.
    write_day(drop / "d3", instance, DAY3, orders=[], lines=[], categories=[])
    write_day(drop / "d6", instance, date(2025, 1, 6), orders=[], lines=[], categories=[])
    result = run_import(instance, [drop / "d3", drop / "d6"])

    assert result.days_loaded == [DAY3, date(2025, 1, 4), date(2025, 1, 6)]
    assert result.waiting is None
    assert _days(query, instance) == [
        (DAY1, "loaded"), (DAY2, "loaded"), (DAY3, "loaded"), (date(2025, 1, 4), "loaded"),
        (holiday, "skipped"), (date(2025, 1, 6), "loaded")]


def test_file_for_a_day_before_the_first_loaded_one_loads_alone(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query) -> None:
    write_day(drop / "d3", instance, DAY3)
    run_import(instance, [drop / "d3"])
    # Late history: an Orders file of an earlier day, alone.
    early = write_day(drop / "d1", instance, DAY1, customers=None, lines=None,
                      categories=None, orders=["o0|S1|u1|01/01/2025|1|1|10|10|0|0"])
    write_day(drop / "d4", instance, date(2025, 1, 4), orders=[], lines=[], categories=[])

    result = run_import(instance, [early["orders"], drop / "d4"])

    assert result.days_loaded == [DAY1, date(2025, 1, 4)]
    assert result.waiting is None
    assert query(instance, "SELECT order_number FROM orders ORDER BY 1") == [("o0",), ("o1",)]


def test_skip_day_refuses_loaded_and_already_skipped_days(
        instance: Instance, drop: Path, write_day: WriteDay) -> None:
    write_day(drop, instance, DAY1)
    run_import(instance, [drop])

    with pytest.raises(SkipError, match=r"^2025-01-01 is already loaded; there is nothing to "
                                        r"skip$"):
        skip_day(instance, DAY1)
    skip_day(instance, DAY2)
    with pytest.raises(SkipError, match=r"^2025-01-02 is already skipped$"):
        skip_day(instance, DAY2)


def test_files_of_a_skipped_day_still_load_when_they_come(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query) -> None:
    write_day(drop / "d1", instance, DAY1)
    run_import(instance, [drop / "d1"])
    skip_day(instance, DAY2)
    write_day(drop / "d2", instance, DAY2, orders=["o2|S1|u1|02/01/2025|1|1|10|10|0|0"],
              lines=[], categories=[])

    result = run_import(instance, [drop / "d2"])

    assert result.days_loaded == [DAY2]
    assert query(instance, "SELECT state FROM import_days WHERE day = ?", [DAY2]) == [
        ("loaded",)]
    assert query(instance, "SELECT count(*) FROM orders") == [(2,)]


def test_correction_file_for_a_loaded_day_loads_alone(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    write_day(drop / "d1", instance, DAY1)
    write_day(drop / "d2", instance, DAY2, orders=["o2|S1|u1|02/01/2025|1|1|10|10|0|0"],
              lines=[], categories=[])
    run_import(instance, [drop])
    correction = write_day(drop / "fix", instance, DAY1, customers=None, lines=None,
                           categories=None,
                           orders=["o1|S1|u1|01/01/2025|3|2|28.00|25.00|2.00|0"])

    result = run_import(instance, [correction["orders"]])

    assert result.days_loaded == [DAY1]
    assert [r.file for r in result.reports] == [correction["orders"].name]
    orders = report_of(result, correction["orders"])
    assert (orders.outcome, orders.replaced, orders.inserted) == ("loaded", 1, 0)
    assert query(instance, "SELECT order_number, total_amount::VARCHAR FROM orders ORDER BY 1"
                 ) == [("o1", "28.00"), ("o2", "10.00")]
    assert _days(query, instance) == [(DAY1, "loaded"), (DAY2, "loaded")]
    assert result.waiting is None


def test_interrupted_batch_leaves_the_store_as_before(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query, counts: Counts,
        monkeypatch: pytest.MonkeyPatch) -> None:
    write_day(drop / "d1", instance, DAY1)
    run_import(instance, [drop / "d1"])
    before = counts(instance)
    stored = {t: query(instance, f"SELECT * FROM {t} ORDER BY ALL")
              for t in ("customers", "orders", "order_lines", "order_line_categories")}
    day2 = write_day(drop / "d2", instance, DAY2, customers=["u2|bea@example.com|Bea|Soto"],
                     orders=["o2|S1|u2|02/01/2025|1|1|10|10|0|0"],
                     lines=["S1|o2|1|1|SKU9|10"], categories=["S1|o2|1|Hogar"])
    real_merge = merge.merge
    calls = 0

    def interrupted(*args: Any, **kwargs: Any) -> merge.MergeCounts:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(merge, "merge", interrupted)

    with pytest.raises(KeyboardInterrupt):
        run_import(instance, [drop / "d2"])

    assert calls == 3
    assert counts(instance) == before
    assert {t: query(instance, f"SELECT * FROM {t} ORDER BY ALL") for t in stored} == stored
    assert _days(query, instance) == [(DAY1, "loaded")]
    assert _inbox(instance) == sorted(p.name for p in day2.values())
    assert not (instance.archive / "20250102").exists()
    with sqlite3.connect(instance.operational_path) as ops:
        assert ops.execute("SELECT outcome FROM import_runs ORDER BY id DESC LIMIT 1"
                           ).fetchall() == [("interrupted",)]

    monkeypatch.setattr(merge, "merge", real_merge)
    result = run_import(instance, [])

    assert result.days_loaded == [DAY2]
    assert query(instance, "SELECT order_number FROM orders ORDER BY 1") == [("o1",), ("o2",)]
    assert query(instance, "SELECT category FROM order_line_categories WHERE "
                           "order_number = 'o2'") == [("Hogar",)]
    assert _days(query, instance) == [(DAY1, "loaded"), (DAY2, "loaded")]
    assert _inbox(instance) == []


def test_checksum_registry_recognises_the_same_file_again(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop / "d1", instance, DAY1)
    first = run_import(instance, [drop / "d1"])
    checksum = report_of(first, files["orders"]).checksum
    assert checksum is not None and len(checksum) == 64
    # The same bytes arrive again, from another folder, later.
    again = drop / "resent" / files["orders"].name
    again.parent.mkdir()
    again.write_bytes(files["orders"].read_bytes())

    result = run_import(instance, [again])

    orders = report_of(result, again)
    assert (orders.outcome, orders.checksum) == ("duplicate", checksum)
    assert query(instance, "SELECT outcome FROM import_files WHERE checksum = ? ORDER BY "
                           "outcome", [checksum]) == [("duplicate",), ("loaded",)]
    # A file whose content changed is not a duplicate.
    again.write_bytes(files["orders"].read_bytes() + b"o2|S1|u1|01/01/2025|1|1|10|10|0|0\n")
    result = run_import(instance, [again])
    assert report_of(result, again).outcome == "loaded"
    assert query(instance, "SELECT count(*) FROM orders") == [(2,)]


def test_queue_status_of_a_new_instance(instance: Instance) -> None:
    status = queue_status(instance)

    assert (status.instance, status.days_loaded, status.first_day, status.last_day,
            status.skipped, status.files_in_inbox, status.waiting, status.last_run) == (
        "demo", 0, None, None, [], 0, None, None)


def test_import_run_is_recorded_in_the_operational_store(
        instance: Instance, drop: Path, write_day: WriteDay) -> None:
    write_day(drop, instance, DAY1, lines=["S1|o1|1|2|SKU1|10.00", "S1|o9|1|1|SKU1|1"])

    run_import(instance, [drop])

    last_run = queue_status(instance).last_run
    assert last_run is not None
    assert (last_run["outcome"], last_run["files"], last_run["days_loaded"],
            last_run["rows_rejected"]) == ("succeeded", 4, 1, 2)


def test_status_reads_the_copy_of_the_days_while_another_process_owns_the_store(
        instance: Instance, drop: Path, write_day: WriteDay) -> None:
    """`clientela serve` holds the analytics store: the queue's state then comes from the
    operational store's copy, rewritten by every import and skip."""
    write_day(drop, instance, DAY1)
    write_day(drop, instance, DAY3, orders=["o3|S1|u1|03/01/2025|1|1|10|10|0|0"], lines=[],
              categories=[])
    run_import(instance, [drop])
    skip_day(instance, DAY2, note="store closed")
    expected = queue_status(instance)
    owner = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from clientela.config import open_instance; from clientela.stores import analytics; "
         f"con = analytics.connect(open_instance('{instance.name}', home=Path(sys.argv[1]))); "
         "print('held', flush=True); time.sleep(60)", str(instance.root.parent)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "held"
        with pytest.raises(analytics.StoreBusyError):
            analytics.connect(instance, read_only=True)
        status = queue_status(instance)
    finally:
        owner.kill()
        owner.wait()
    assert status == expected
    # DAY3 can load now that DAY2 is skipped: its four files wait for the next import.
    assert (status.days_loaded, status.skipped, status.files_in_inbox, status.waiting) == (
        1, [DAY2], 4, None)
