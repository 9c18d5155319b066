"""Bad inputs: each is refused or rejected with a precise message, and the good rows still load."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clientela.config import Instance
from clientela.ingest.importer import ImportResult, run_import
from clientela.ingest.report import FileReport

DAY = date(2025, 1, 1)
ORDERS_HEADER = ("OrderNumber|StoreCode|UserId|Date|TotalItems|TotalProducts|TotalAmount|"
                 "ItemsAmount|DiscountsAmount|ShippingAmount")

WriteDay = Callable[..., dict[str, Path]]
Query = Callable[..., list[tuple[Any, ...]]]
ReportOf = Callable[[ImportResult, str | Path], FileReport]
RejectsOf = Callable[[FileReport], list[dict[str, str]]]


def _day_loaded(query: Query, instance: Instance, day: date = DAY) -> bool:
    return query(instance, "SELECT state FROM import_days WHERE day = ?", [day]) == [("loaded",)]


def test_missing_required_column_refuses_the_file_and_the_others_load(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, report_json: Callable[[FileReport], dict[str, Any]]) -> None:
    files = write_day(drop, instance, DAY, customers=b"UserId|FirstName\nu1|Ana\n")

    result = run_import(instance, [drop])

    refused = report_of(result, files["customers"])
    assert refused.outcome == "refused"
    assert refused.message == ("missing required column(s) Email; "
                               "the header has UserId, FirstName")
    assert query(instance, "SELECT count(*) FROM customers") == [(0,)]
    # The rest of the day loads, and the day counts as loaded.
    assert query(instance, "SELECT order_number FROM orders") == [("o1",)]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]
    assert query(instance, "SELECT count(*) FROM order_line_categories") == [(2,)]
    assert report_of(result, files["orders"]).orders_without_customer == 1
    assert result.days_loaded == [DAY]
    assert _day_loaded(query, instance)
    # The refused file goes to rejected/<day>/ with its report beside it.
    kept = instance.rejected / "20250101" / files["customers"].name
    assert kept.read_bytes() == b"UserId|FirstName\nu1|Ana\n"
    assert report_json(refused)["outcome"] == "refused"
    assert Path(refused.report_path or "").parent == kept.parent
    assert not list(instance.inbox.iterdir())


def test_missing_required_column_in_orders_leaves_its_lines_orphaned(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    header = ORDERS_HEADER.removesuffix("|ShippingAmount")
    files = write_day(drop, instance, DAY,
                      orders=f"{header}\no1|S1|u1|01/01/2025|3|2|30|25|0\n".encode())

    result = run_import(instance, [drop])

    assert report_of(result, files["orders"]).message == (
        "missing required column(s) ShippingAmount; the header has OrderNumber, StoreCode, "
        "UserId, Date, TotalItems, TotalProducts, TotalAmount, ItemsAmount, DiscountsAmount")
    assert query(instance, "SELECT user_id FROM customers") == [("u1",)]
    lines = report_of(result, files["lines"])
    assert (lines.inserted, lines.rejected_by_reason) == (0, {"unknown_order": 2})


def test_unknown_file_name_is_refused_and_copied_to_rejected_with_a_report(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    write_day(drop, instance, DAY)
    (drop / "ventas_enero.txt").write_text("whatever\n")

    result = run_import(instance, [drop])

    refused = report_of(result, "ventas_enero.txt")
    assert refused.outcome == "refused"
    assert refused.message == (
        "unknown file name 'ventas_enero.txt': expected ICOMMKT_<CUSTOMERS|ORDERS|ORDERSDETAIL|"
        "ORDERSDETAILCATEGORIES>_DEMO_<YYYYMMDD>[.txt|.csv][.gz|.zip]")
    copy = instance.rejected / "unnamed" / "ventas_enero.txt"
    assert copy.read_text() == "whatever\n"
    written = json.loads((copy.parent / "ventas_enero.txt.report.json").read_text())
    assert written["outcome"] == "refused"
    assert written["message"] == refused.message
    assert (drop / "ventas_enero.txt").exists()  # a copy: the sender's file is not taken away
    assert not (instance.inbox / "ventas_enero.txt").exists()
    assert query(instance, "SELECT order_number FROM orders") == [("o1",)]
    assert result.days_loaded == [DAY]


def test_file_for_another_instance_is_refused(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    write_day(drop, instance, DAY)
    other = write_day(drop / "other", "peru", DAY, customers=None, lines=None, categories=None,
                      orders=["o2|S1|u1|01/01/2025|1|1|10|10|0|0"])

    result = run_import(instance, [drop])

    refused = report_of(result, other["orders"])
    assert refused.outcome == "refused"
    assert refused.message == ("'ICOMMKT_ORDERS_PERU_20250101.txt' is for instance 'PERU', "
                               "not 'demo': not loaded")
    assert (instance.rejected / "unnamed" / other["orders"].name).exists()
    assert not (instance.inbox / other["orders"].name).exists()
    assert query(instance, "SELECT order_number FROM orders") == [("o1",)]


def _one_bad_order(instance: Instance, drop: Path, write_day: WriteDay, bad: str,
                   report_of: ReportOf) -> tuple[ImportResult, FileReport]:
    """Orders o1 (good, line 2) and o2 (bad, line 3); lines only for o1."""
    files = write_day(drop, instance, DAY,
                      orders=["o1|S1|u1|01/01/2025|3|2|30.00|25.00|0|0", bad])
    result = run_import(instance, [drop])
    return result, report_of(result, files["orders"])


@pytest.mark.parametrize(("bad", "column", "code", "reason"), [
    ("o2|S1|u1|31/02/2025|1|1|10|10|0|0", "Date", "not_date",
     "'31/02/2025' is not a date (dd/mm/yyyy [HH:MM[:SS]] or ISO 8601)"),
    ("o2|S1|u1|01/01/2025|1|1|1.234,56|10|0|0", "TotalAmount", "decimal_comma",
     "'1.234,56' uses a comma as decimal separator; write it with a dot and no thousands "
     "separator (1234.56)"),
    ("o2|S1|u1|01/01/2025|1|1|99|1234,5|0|0", "ItemsAmount", "decimal_comma",
     "'1234,5' uses a comma as decimal separator; write it with a dot and no thousands "
     "separator (1234.56)"),
    ("o2|S1|u1|01/01/2025|123456|1|10|10|0|0", "TotalItems", "decimal_range",
     "'123456' does not fit TotalItems dec(7,2) (at most 5 digits before the dot and 2 after)"),
    ("o2|S1|u1|01/01/2025|1|1|diez|10|0|0", "TotalAmount", "not_decimal",
     "'diez' is not a decimal number"),
    ("o2|S1||01/01/2025|1|1|10|10|0|0", "UserId", "required", "UserId is required but empty"),
    (f"{'N' * 51}|S1|u1|01/01/2025|1|1|10|10|0|0", "OrderNumber", "too_long",
     "51 characters; OrderNumber allows at most 50"),
], ids=["bad-date", "decimal-comma", "decimal-comma-no-dots", "decimal-range", "not-decimal",
        "required", "too-long"])
def test_bad_cell_rejects_its_line_with_file_line_column_and_reason(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf,
        bad: str, column: str, code: str, reason: str) -> None:
    _, orders = _one_bad_order(instance, drop, write_day, bad, report_of)

    assert (orders.outcome, orders.rows_read, orders.inserted, orders.rejected) == (
        "loaded", 2, 1, 1)
    assert orders.rejected_by_reason == {code: 1}
    assert rejects_of(orders) == [{"file": orders.file, "line": "3", "column": column,
                                   "reason": reason, "raw": bad}]
    assert query(instance, "SELECT reason FROM import_rejects WHERE line = 3") == [(reason,)]
    assert query(instance, "SELECT order_number FROM orders") == [("o1",)]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]
    assert query(instance, "SELECT count(*) FROM customers") == [(1,)]


def test_one_line_reports_every_bad_column(
        instance: Instance, drop: Path, write_day: WriteDay, report_of: ReportOf,
        rejects_of: RejectsOf) -> None:
    _, orders = _one_bad_order(instance, drop, write_day,
                               "o2|S1|u1|31/02/2025|1|1|1.234,56|10|0|0", report_of)

    assert orders.rejected == 1
    assert [(r["line"], r["column"]) for r in rejects_of(orders)] == [
        ("3", "Date"), ("3", "TotalAmount")]


def test_bad_birth_date_names_the_date_forms(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, customers=(
        b"UserId|Email|BirthDate\nu1|a@example.com|31/12/1990\nu2|b@example.com|31/02/1990\n"))

    result = run_import(instance, [drop])

    customers = report_of(result, files["customers"])
    assert [(r["line"], r["column"], r["reason"]) for r in rejects_of(customers)] == [
        ("3", "BirthDate", "'31/02/1990' is not a date (dd/mm/yyyy or yyyy-mm-dd)")]
    assert query(instance, "SELECT user_id, birth_date FROM customers") == [
        ("u1", date(1990, 12, 31))]


def test_duplicate_key_in_one_file_keeps_the_last_line(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, orders=[
        "o1|S1|u1|01/01/2025|3|2|11.00|10|0|0",
        "o1|S2|u1|01/01/2025|1|1|99.00|90|0|0",  # another store: another order
        "o1|S1|u1|01/01/2025|3|2|30.00|25.00|0|0",
    ])

    result = run_import(instance, [drop])

    orders = report_of(result, files["orders"])
    assert (orders.inserted, orders.rejected, orders.rejected_by_reason) == (
        2, 1, {"duplicate_key": 1})
    assert rejects_of(orders) == [{
        "file": orders.file, "line": "2", "column": "",
        "reason": "duplicate key (StoreCode, OrderNumber) = (S1, o1): superseded by line 4",
        "raw": "o1|S1|u1|01/01/2025|3|2|11.00|10|0|0"}]
    assert query(instance, "SELECT store_code, total_amount::VARCHAR, source_line FROM orders "
                           "ORDER BY store_code") == [("S1", "30.00", 4), ("S2", "99.00", 3)]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]
    assert query(instance, "SELECT count(*) FROM customers") == [(1,)]


def test_duplicate_customer_in_one_file(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, customers=[
        "u1|old@example.com|Ana|Pérez", "u2|b@example.com|Bea|Soto", "u1|new@example.com|Ana|P"])

    result = run_import(instance, [drop])

    customers = report_of(result, files["customers"])
    assert [(r["line"], r["reason"]) for r in rejects_of(customers)] == [
        ("2", "duplicate key (UserId) = (u1): superseded by line 4")]
    assert query(instance, "SELECT user_id, email FROM customers ORDER BY 1") == [
        ("u1", "new@example.com"), ("u2", "b@example.com")]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]


def test_header_only_files_load_zero_rows_and_the_day_counts_as_loaded(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        counts: Callable[[Instance], dict[str, int]], report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, customers=[], orders=[], lines=[],
                      categories=b"StoreCode|OrderNumber|LineNumber|Category")  # no final EOL

    result = run_import(instance, [drop])

    for path in files.values():
        file_report = report_of(result, path)
        assert (file_report.outcome, file_report.rows_read, file_report.inserted,
                file_report.rejected) == ("loaded", 0, 0, 0)
    assert result.days_loaded == [DAY]
    assert _day_loaded(query, instance)
    table_counts = counts(instance)
    assert [table_counts[t] for t in ("customers", "orders", "order_lines",
                                      "order_line_categories")] == [0, 0, 0, 0]
    assert result.waiting is None


def test_file_without_header_is_refused_as_not_a_header(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, categories=b"S1|o1|1|Ropa\nS1|o1|2|Ropa\n")

    result = run_import(instance, [drop])

    categories = report_of(result, files["categories"])
    assert categories.outcome == "refused"
    assert categories.message == (
        "the first line is not a header: it names none of the columns of "
        "ORDERSDETAILCATEGORIES (StoreCode, OrderNumber, LineNumber, Category); "
        "the file must start with a header row")
    assert query(instance, "SELECT count(*) FROM order_line_categories") == [(0,)]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]
    assert (instance.rejected / "20250101" / files["categories"].name).exists()


def test_truncated_last_line_is_rejected_and_the_rest_loads(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, lines=(
        b"StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price\n"
        b"S1|o1|1|2|SKU1|10.00\nS1|o1|2|1"))

    result = run_import(instance, [drop])

    lines = report_of(result, files["lines"])
    assert (lines.rows_read, lines.inserted, lines.rejected) == (2, 1, 1)
    assert rejects_of(lines) == [{"file": lines.file, "line": "3", "column": "",
                                  "reason": "has 4 fields; the header has 6",
                                  "raw": "S1|o1|2|1"}]
    assert query(instance, "SELECT line_number FROM order_lines") == [(1,)]
    # The category of the missing line is then an orphan; the other one loads.
    categories = report_of(result, files["categories"])
    assert (categories.inserted, categories.rejected_by_reason) == (1, {"unknown_order_line": 1})


def test_line_with_too_many_fields_is_rejected(
        instance: Instance, drop: Path, write_day: WriteDay, report_of: ReportOf,
        rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, customers=["u1|a@example.com|Ana|Pérez|extra"])

    result = run_import(instance, [drop])

    assert [r["reason"] for r in rejects_of(report_of(result, files["customers"]))] == [
        "has 5 fields; the header has 4"]


@pytest.mark.parametrize("content", [gzip.compress(b""), b""], ids=["gzip-of-nothing",
                                                                    "zero-byte"])
def test_empty_gz_is_refused_and_the_others_load(
        instance: Instance, drop: Path, write_day: WriteDay, file_name: Callable[..., str],
        query: Query, report_of: ReportOf, content: bytes) -> None:
    write_day(drop, instance, DAY, categories=None)
    empty = drop / file_name("categories", instance, DAY, ".txt.gz")
    empty.write_bytes(content)

    result = run_import(instance, [drop])

    refused = report_of(result, empty)
    assert refused.outcome == "refused"
    assert refused.message == ("the file is empty: every daily file needs at least its "
                               "header row")
    assert result.days_loaded == [DAY]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]
    assert (instance.rejected / "20250101" / empty.name).read_bytes() == content


def test_corrupt_gz_is_refused(
        instance: Instance, drop: Path, write_day: WriteDay, file_name: Callable[..., str],
        report_of: ReportOf) -> None:
    write_day(drop, instance, DAY, categories=None)
    corrupt = drop / file_name("categories", instance, DAY, ".txt.gz")
    corrupt.write_bytes(b"StoreCode|OrderNumber|LineNumber|Category\n")

    result = run_import(instance, [drop])

    message = report_of(result, corrupt).message or ""
    assert message.startswith("not a valid gzip file (")


def test_empty_plain_file_is_refused(
        instance: Instance, drop: Path, write_day: WriteDay, report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, categories=b"")

    result = run_import(instance, [drop])

    assert report_of(result, files["categories"]).message == (
        "the file is empty: every daily file needs at least its header row")


def test_duplicate_column_in_header_is_refused(
        instance: Instance, drop: Path, write_day: WriteDay, report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY,
                      customers=b"UserId|Email|email\nu1|a@example.com|b@example.com\n")

    result = run_import(instance, [drop])

    assert report_of(result, files["customers"]).message == (
        "column 'email' appears twice in the header (columns 2 and 3)")


def test_unknown_order_rejects_lines_and_categories(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY,
                      lines=["S1|o1|1|2|SKU1|10.00", "S1|o1|2|1|SKU2|10.00",
                             "S9|o1|1|1|SKU1|10.00"],
                      categories=["S1|o1|1|Ropa", "S1|o9|1|Ropa"])

    result = run_import(instance, [drop])

    assert [(r["line"], r["column"], r["reason"])
            for r in rejects_of(report_of(result, files["lines"]))] == [
        ("4", "OrderNumber", "unknown order (StoreCode, OrderNumber) = (S9, o1): not in this "
                             "batch's Orders nor loaded before")]
    assert [(r["line"], r["column"], r["reason"])
            for r in rejects_of(report_of(result, files["categories"]))] == [
        ("3", "OrderNumber", "unknown order (StoreCode, OrderNumber) = (S1, o9): not in this "
                             "batch's Orders nor loaded before")]
    assert query(instance, "SELECT count(*) FROM order_lines") == [(2,)]
    assert query(instance, "SELECT category FROM order_line_categories") == [("Ropa",)]


def test_line_number_that_is_not_a_whole_number_is_rejected(
        instance: Instance, drop: Path, write_day: Callable[..., dict[str, Path]],
        report_of: Callable[[ImportResult, Path], FileReport],
        rejects_of: Callable[[FileReport], list[dict[str, str]]]) -> None:
    files = write_day(drop, instance, date(2025, 1, 1),
                      lines=("S1|o1|1|2|SKU1|10.00", "S1|o1|1.5|1|SKU2|10.00",
                             "S1|o1|1e2|1|SKU2|10.00"))

    result = run_import(instance, [drop])

    rows = rejects_of(report_of(result, files["lines"]))
    assert [(r["line"], r["column"], r["reason"]) for r in rows] == [
        ("3", "LineNumber", "'1.5' is not a whole number"),
        ("4", "LineNumber", "'1e2' is not a whole number"),
    ]
