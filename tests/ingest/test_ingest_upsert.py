"""Re-sent data: identical files are no-ops, changed rows replace (logged), category sets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from clientela.config import Instance
from clientela.ingest.importer import ImportResult, run_import
from clientela.ingest.report import FileReport

DAY1 = date(2025, 1, 1)
DAY2 = date(2025, 1, 2)

WriteDay = Callable[..., dict[str, Path]]
Query = Callable[..., list[tuple[Any, ...]]]
Counts = Callable[[Instance], dict[str, int]]
ReportOf = Callable[[ImportResult, str | Path], FileReport]


def test_identical_reimport_is_a_no_op(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query, counts: Counts,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY1)
    run_import(instance, [drop])
    before = counts(instance)
    stored = query(instance, "SELECT * FROM orders")

    again = run_import(instance, [drop])

    assert again.days_loaded == []
    for path in files.values():
        file_report = report_of(again, path)
        assert file_report.outcome == "duplicate"
        assert (file_report.message or "").startswith("the same file was already imported on ")
        assert (file_report.inserted, file_report.replaced, file_report.rejected) == (0, 0, 0)
    after = counts(instance)
    assert {t: after[t] for t in ("customers", "orders", "order_lines",
                                  "order_line_categories", "import_days", "replaced_rows")} == {
        t: before[t] for t in ("customers", "orders", "order_lines", "order_line_categories",
                               "import_days", "replaced_rows")}
    assert query(instance, "SELECT * FROM orders") == stored
    # The registry recorded the second arrival as a duplicate of the first.
    assert query(instance, "SELECT outcome, count(*) FROM import_files GROUP BY 1 ORDER BY 1"
                 ) == [("duplicate", 4), ("loaded", 4)]
    # Both copies are archived; the second under a name carrying its checksum.
    archived = sorted(p.name for p in (instance.archive / "20250101").iterdir())
    checksum = report_of(again, files["orders"]).checksum or ""
    assert f"ICOMMKT_ORDERS_DEMO_20250101.{checksum[:12]}.txt" in archived
    assert len(archived) == 8


def test_same_rows_in_a_new_file_are_unchanged(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query, counts: Counts,
        report_of: ReportOf) -> None:
    write_day(drop / "d1", instance, DAY1)
    run_import(instance, [drop / "d1"])
    before = counts(instance)
    # Day 2 re-sends the customer and the order unchanged (a different file: other checksum).
    files = write_day(drop / "d2", instance, DAY2, orders=[
        "o1|S1|u1|01/01/2025|3|2|30.00|25.00|0|0", "o2|S1|u1|02/01/2025|1|1|10|10|0|0"],
        lines=[], categories=[])

    result = run_import(instance, [drop / "d2"])

    orders = report_of(result, files["orders"])
    assert (orders.inserted, orders.replaced, orders.unchanged) == (1, 0, 1)
    customers = report_of(result, files["customers"])
    assert (customers.outcome, customers.inserted, customers.unchanged) == ("loaded", 0, 1)
    assert counts(instance)["replaced_rows"] == before["replaced_rows"] == 0
    # An unchanged row keeps its first provenance.
    assert query(instance, "SELECT order_number, batch_day FROM orders ORDER BY 1") == [
        ("o1", DAY1), ("o2", DAY2)]


def test_changed_row_replaces_the_old_one_and_is_logged(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    first = write_day(drop / "d1", instance, DAY1)
    run_import(instance, [drop / "d1"])
    [(key,)] = query(instance, "SELECT order_key FROM orders WHERE order_number = 'o1'")
    second = write_day(drop / "d2", instance, DAY2, customers=[],
                       orders=["o0|S1|u1|02/01/2025|1|1|5|5|0|0",
                               "o1|S1|u1|01/01/2025|3|2|27.00|25.00|3.00|0"],
                       lines=[], categories=[])

    result = run_import(instance, [drop / "d2"])

    orders = report_of(result, second["orders"])
    assert (orders.inserted, orders.replaced, orders.unchanged) == (1, 1, 0)
    assert query(instance, "SELECT total_amount::VARCHAR, discounts_amount::VARCHAR, "
                           "batch_day, source_file, source_line FROM orders "
                           "WHERE order_number = 'o1'") == [
        ("27.00", "3.00", DAY2, second["orders"].name, 3)]
    assert query(instance, """
        SELECT table_name, row_key, batch_day, source_file, source_line,
               previous_batch_day, previous_file, previous_line FROM replaced_rows""") == [
        ("orders", "S1|o1", DAY2, second["orders"].name, 3, DAY1, first["orders"].name, 2)]
    assert query(instance, "SELECT count(*) FROM orders") == [(2,)]
    # The re-sent order keeps its key (its lines still carry it) and its old version too; the
    # new order takes the next one.
    assert query(instance, "SELECT order_number, order_key FROM orders ORDER BY 1") == [
        ("o0", key + 1), ("o1", key)]
    assert query(instance, "SELECT order_key, superseded_on FROM order_versions") == [(key, DAY2)]
    assert query(instance, "SELECT DISTINCT order_key FROM order_lines") == [(key,)]


def test_lines_and_categories_find_their_order_by_store_and_number(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    # Two stores both number an order o1; day 2 sends lines for the first day's order of S2.
    write_day(drop / "d1", instance, DAY1, orders=[
        "o1|S1|u1|01/01/2025|3|2|30.00|25.00|0|0", "o1|S2|u1|01/01/2025|1|1|10|10|0|0"])
    run_import(instance, [drop / "d1"])
    files = write_day(drop / "d2", instance, DAY2, customers=[], orders=[
        "o2|S1|u1|02/01/2025|1|1|10|10|0|0"], lines=["S2|o1|1|1|SKU9|10.00",
                                                    "S1|o2|1|1|SKU1|10.00"],
        categories=["S2|o1|1|Hogar", "S1|o2|1|Ropa", "S1|o2|7|Ropa"])

    result = run_import(instance, [drop / "d2"])

    assert report_of(result, files["lines"]).inserted == 2
    categories = report_of(result, files["categories"])
    assert (categories.inserted, categories.rejected_by_reason) == (2, {"unknown_order_line": 1})
    for table in ("order_lines", "order_line_categories"):
        assert query(instance, f"""
            SELECT t.store_code, t.order_number, count(*) FILTER (t.order_key = o.order_key)
            FROM {table} t JOIN orders o USING (store_code, order_number)
            GROUP BY ALL ORDER BY 1, 2""") == [("S1", "o1", 2), ("S1", "o2", 1), ("S2", "o1", 1)]


def test_resent_categories_replace_the_line_set(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    write_day(drop / "d1", instance, DAY1, categories=[
        "S1|o1|1|Ropa", "S1|o1|1|Ofertas", "S1|o1|2|Calzado"])
    run_import(instance, [drop / "d1"])
    files = write_day(drop / "d2", instance, DAY2, customers=[], orders=[], lines=[],
                      categories=["S1|o1|1|Ropa", "S1|o1|1|Invierno"])

    result = run_import(instance, [drop / "d2"])

    categories = report_of(result, files["categories"])
    assert (categories.inserted, categories.unchanged, categories.removed) == (1, 1, 1)
    assert query(instance, "SELECT line_number, category FROM order_line_categories "
                           "ORDER BY 1, 2") == [(1, "Invierno"), (1, "Ropa"), (2, "Calzado")]


def test_header_totals_that_disagree_are_reported(
        instance: Instance, drop: Path, write_day: WriteDay, report_of: ReportOf,
        report_json: Callable[[FileReport], dict[str, Any]]) -> None:
    files = write_day(
        drop, instance, DAY1,
        # o1 agrees (3 units, 2 products); o2 has them swapped; o3 is simply wrong.
        orders=["o1|S1|u1|01/01/2025|3|2|30|25|0|0", "o2|S1|u1|01/01/2025|2|3|30|25|0|0",
                "o3|S1|u1|01/01/2025|9|9|30|25|0|0"],
        lines=["S1|o1|1|2|SKU1|10", "S1|o1|2|1|SKU2|10", "S1|o2|1|2|SKU1|10",
               "S1|o2|2|1|SKU2|10", "S1|o3|1|1|SKU1|10"],
        categories=[])

    result = run_import(instance, [drop])

    totals = report_of(result, files["orders"]).header_totals
    assert totals is not None
    assert (totals.orders_checked, totals.disagreeing, totals.swapped, totals.examples) == (
        3, 2, 1, ["S1/o2", "S1/o3"])
    assert report_json(report_of(result, files["orders"]))["header_totals"] == {
        "orders_checked": 3, "disagreeing": 2, "swapped": 1, "examples": ["S1/o2", "S1/o3"]}


def test_correction_for_an_older_day_does_not_undo_a_newer_day(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    write_day(drop / "d1", instance, DAY1)
    write_day(drop / "d2", instance, DAY2,
              orders=("o1|S1|u1|01/01/2025|3|2|25.00|25.00|5|0",))
    run_import(instance, [drop / "d1", drop / "d2"])
    # Day 1 is corrected after day 2 came: o1 from day 2 stays, a new order of day 1 loads.
    corrected = write_day(drop / "fix", instance, DAY1, customers=None, lines=None,
                          categories=None, orders=("o1|S1|u1|01/01/2025|3|2|29.00|25.00|1|0",
                                                   "o2|S1|u1|01/01/2025|1|1|9.00|9.00|0|0"))

    result = run_import(instance, [drop / "fix"])

    file_report = report_of(result, corrected["orders"])
    assert (file_report.inserted, file_report.replaced, file_report.kept_newer) == (1, 0, 1)
    assert query(instance, "SELECT order_number, total_amount::VARCHAR, batch_day::VARCHAR "
                           "FROM orders ORDER BY 1") == [("o1", "25.00", "2025-01-02"),
                                                         ("o2", "9.00", "2025-01-01")]


def test_the_same_file_imported_three_times_is_archived_three_times(
        instance: Instance, drop: Path, write_day: WriteDay) -> None:
    write_day(drop, instance, DAY1)
    for _ in range(3):
        run_import(instance, [drop])

    archived = sorted(p.name for p in (instance.archive / "20250101").iterdir())
    assert len(archived) == 12
    assert not list(instance.inbox.iterdir())
