"""How columns and cells map to the stores: names, extras, attributes, dates, statuses, lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from clientela.config import Instance, open_instance
from clientela.ingest.importer import ImportResult, run_import
from clientela.ingest.report import FileReport

DAY = date(2025, 1, 1)
ORDERS_HEADER = ("OrderNumber|StoreCode|UserId|Date|TotalItems|TotalProducts|TotalAmount|"
                 "ItemsAmount|DiscountsAmount|ShippingAmount")

WriteDay = Callable[..., dict[str, Path]]
Query = Callable[..., list[tuple[Any, ...]]]
ReportOf = Callable[[ImportResult, str | Path], FileReport]
RejectsOf = Callable[[FileReport], list[dict[str, str]]]


def _orders(header: str, *rows: str) -> bytes:
    return "".join(f"{line}\n" for line in (header, *rows)).encode()


def test_columns_match_case_insensitively_in_any_order(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, orders=_orders(
        "SHIPPINGAMOUNT|discountsamount|ItemsAmount|totalamount|TotalProducts|TOTALITEMS|date|"
        "userid|Storecode|ordernumber",
        "1.50|2.00|25.00|30.00|2|3|01/01/2025|u1|S1|o1"),
        lines=_orders("price|ItemCode|QUANTITY|linenumber|ordernumber|storecode",
                      "10.00|SKU1|2|1|o1|S1", "10.00|SKU2|1|2|o1|S1"))

    result = run_import(instance, [drop])

    orders = report_of(result, files["orders"])
    assert (orders.inserted, orders.rejected, orders.unmapped_columns) == (1, 0, [])
    assert query(instance, """
        SELECT store_code, order_number, user_id, order_ts, total_items::VARCHAR,
               total_products::VARCHAR, total_amount::VARCHAR, items_amount::VARCHAR,
               discounts_amount::VARCHAR, shipping_amount::VARCHAR FROM orders""") == [
        ("S1", "o1", "u1", datetime(2025, 1, 1, tzinfo=UTC), "3.00", "2.00", "30.00", "25.00",
         "2.00", "1.50")]
    assert query(instance, "SELECT line_number, item_code, quantity::VARCHAR FROM order_lines "
                           "ORDER BY 1") == [(1, "SKU1", "2.00"), (2, "SKU2", "1.00")]


def test_unknown_order_columns_are_kept_as_extra_and_reported_unmapped(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, report_json: Callable[[FileReport], dict[str, Any]]) -> None:
    files = write_day(
        drop, instance, DAY,
        orders=_orders(ORDERS_HEADER + "|Canal|CodigoVendedor",
                       "o1|S1|u1|01/01/2025|3|2|30|25|0|0|WEB|V07",
                       "o2|S1|u1|01/01/2025|1|1|10|10|0|0|TIENDA|"),
        lines=_orders("StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Price|Talla",
                      "S1|o1|1|2|SKU1|10.00|M"))

    result = run_import(instance, [drop])

    orders = report_of(result, files["orders"])
    assert orders.unmapped_columns == ["Canal", "CodigoVendedor"]
    assert report_json(orders)["unmapped_columns"] == ["Canal", "CodigoVendedor"]
    assert report_of(result, files["lines"]).unmapped_columns == ["Talla"]
    # Blank extra cells are left out of the map.
    assert query(instance, "SELECT order_number, extra FROM orders ORDER BY 1") == [
        ("o1", {"Canal": "WEB", "CodigoVendedor": "V07"}), ("o2", {"Canal": "TIENDA"})]
    assert query(instance, "SELECT extra FROM order_lines") == [({"Talla": "M"},)]


def test_customer_unknown_columns_become_attributes(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, customers=(
        b'UserId|Email|Tier|Attr1|Attr2\n'
        b'u1|a@example.com|Gold|{"Key":"Segment","Value":"VIP"}|'
        b'"{""Key"":""Club"",""Value"":""Runners""}"\n'
        b"u2|b@example.com||{not json}|\n"))

    result = run_import(instance, [drop])

    customers = report_of(result, files["customers"])
    assert (customers.inserted, customers.rejected, customers.unmapped_columns) == (2, 0, [])
    assert query(instance, "SELECT user_id, attributes FROM customers ORDER BY 1") == [
        ("u1", {"Tier": "Gold", "Segment": "VIP", "Club": "Runners"}),
        ("u2", {"Attr1": "{not json}"})]


def test_blank_email_is_kept_and_counted(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, report_json: Callable[[FileReport], dict[str, Any]]) -> None:
    files = write_day(drop, instance, DAY, customers=[
        "u1|ana@example.com|Ana|Pérez", "u2||Bea|Soto", "u3|  |Carla|Díaz"])

    result = run_import(instance, [drop])

    customers = report_of(result, files["customers"])
    assert (customers.inserted, customers.rejected, customers.customers_without_email) == (
        3, 0, 2)
    assert report_json(customers)["customers_without_email"] == 2
    assert query(instance, "SELECT user_id, email FROM customers ORDER BY 1") == [
        ("u1", "ana@example.com"), ("u2", None), ("u3", None)]


def test_order_of_unknown_customer_is_kept_and_counted(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, orders=[
        "o1|S1|u1|01/01/2025|3|2|30.00|25.00|0|0", "o2|S1|ghost|01/01/2025|1|1|10|10|0|0"])

    result = run_import(instance, [drop])

    orders = report_of(result, files["orders"])
    assert (orders.inserted, orders.rejected, orders.orders_without_customer) == (2, 0, 1)
    assert query(instance, "SELECT order_number, user_id FROM orders ORDER BY 1") == [
        ("o1", "u1"), ("o2", "ghost")]


def test_customer_loaded_on_an_earlier_day_counts_as_known(
        instance: Instance, drop: Path, write_day: WriteDay, report_of: ReportOf) -> None:
    write_day(drop / "d1", instance, DAY)
    files = write_day(drop / "d2", instance, date(2025, 1, 2), customers=[],
                      orders=["o2|S1|u1|02/01/2025|1|1|10|10|0|0"], lines=[], categories=[])

    result = run_import(instance, [drop])

    assert report_of(result, files["orders"]).orders_without_customer == 0


DATES = [
    # (as sent, the UTC instant, the local order date); Santiago is UTC-3 in January.
    ("2025-01-01T23:30:00-03:00", datetime(2025, 1, 2, 2, 30, tzinfo=UTC), date(2025, 1, 1)),
    ("01/01/2025 23:30", datetime(2025, 1, 2, 2, 30, tzinfo=UTC), date(2025, 1, 1)),
    ("01/01/2025 23:30:15", datetime(2025, 1, 2, 2, 30, 15, tzinfo=UTC), date(2025, 1, 1)),
    ("2025-01-01 23:30", datetime(2025, 1, 2, 2, 30, tzinfo=UTC), date(2025, 1, 1)),
    ("2025-01-01T23:30:00", datetime(2025, 1, 2, 2, 30, tzinfo=UTC), date(2025, 1, 1)),
    ("2025-01-02T02:30:00Z", datetime(2025, 1, 2, 2, 30, tzinfo=UTC), date(2025, 1, 1)),
    ("2025-01-02T02:30:00+00:00", datetime(2025, 1, 2, 2, 30, tzinfo=UTC), date(2025, 1, 1)),
    ("2025-01-01T20:30:00-0600", datetime(2025, 1, 2, 2, 30, tzinfo=UTC), date(2025, 1, 1)),
    ("2025-01-02T01:00:00+01:00", datetime(2025, 1, 2, 0, 0, tzinfo=UTC), date(2025, 1, 1)),
    ("2025-01-02T04:00:00+01:00", datetime(2025, 1, 2, 3, 0, tzinfo=UTC), date(2025, 1, 2)),
    ("01/01/2025", datetime(2025, 1, 1, 3, 0, tzinfo=UTC), date(2025, 1, 1)),
    ("2025-01-01", datetime(2025, 1, 1, 3, 0, tzinfo=UTC), date(2025, 1, 1)),
    # Winter: Santiago is UTC-4.
    ("01/07/2025 23:30", datetime(2025, 7, 2, 3, 30, tzinfo=UTC), date(2025, 7, 1)),
    ("2025-07-01T23:30:00-04:00", datetime(2025, 7, 2, 3, 30, tzinfo=UTC), date(2025, 7, 1)),
]


def test_dates_give_the_utc_instant_and_the_local_order_date(
        make_instance: Callable[..., Instance], drop: Path, write_day: WriteDay,
        query: Query) -> None:
    instance = make_instance(timezone="America/Santiago")
    write_day(drop, instance, DAY, lines=[], categories=[], orders=[
        f"o{n}|S1|u1|{sent}|3|2|30.00|25.00|0|0" for n, (sent, _, _) in enumerate(DATES)])

    result = run_import(instance, [drop])

    assert result.rows_rejected == 0
    stored = {int(number[1:]): (ts, epoch, day) for number, ts, epoch, day in query(
        instance, "SELECT order_number, order_ts, epoch(order_ts), order_date FROM orders")}
    assert {DATES[n][0]: got for n, got in stored.items()} == {
        sent: (utc, utc.timestamp(), local_date) for sent, utc, local_date in DATES}


def test_order_date_follows_the_instance_time_zone(
        make_instance: Callable[..., Instance], drop: Path, write_day: WriteDay,
        query: Query) -> None:
    tokyo = make_instance("tokyo", timezone="Asia/Tokyo")
    write_day(drop, tokyo, DAY, orders=["o1|S1|u1|2025-01-01T20:00:00Z|3|2|30|25|0|0"])

    run_import(tokyo, [drop])

    assert query(tokyo, "SELECT order_ts, order_date FROM orders") == [
        (datetime(2025, 1, 1, 20, 0, tzinfo=UTC), date(2025, 1, 2))]


def test_status_absent_means_fulfilled(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query) -> None:
    write_day(drop, instance, DAY)

    run_import(instance, [drop])

    assert query(instance, "SELECT status FROM orders") == [("fulfilled",)]


def test_status_values_and_unknown_status_rejected(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, orders=_orders(
        ORDERS_HEADER + "|Status",
        "o1|S1|u1|01/01/2025|3|2|30|25|0|0|",
        "o2|S1|u1|01/01/2025|1|1|10|10|0|0|Cancelled",
        "o3|S1|u1|01/01/2025|1|1|10|10|0|0|perdido"))

    result = run_import(instance, [drop])

    assert query(instance, "SELECT order_number, status FROM orders ORDER BY 1") == [
        ("o1", "fulfilled"), ("o2", "cancelled")]
    assert [(r["line"], r["column"], r["reason"])
            for r in rejects_of(report_of(result, files["orders"]))] == [
        ("4", "Status", "'perdido' is not a status of the order pipeline (placed, paid, sent, "
                        "delivered, fulfilled, cancelled, returned)")]


def test_currency_absent_means_the_instance_currency(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    files = write_day(drop, instance, DAY, orders=_orders(
        ORDERS_HEADER + "|Currency",
        "o1|S1|u1|01/01/2025|3|2|30|25|0|0|",
        "o2|S1|u1|01/01/2025|1|1|10|10|0|0|usd",
        "o3|S1|u1|01/01/2025|1|1|10|10|0|0|PESOS"))

    result = run_import(instance, [drop])

    assert query(instance, "SELECT order_number, currency FROM orders ORDER BY 1") == [
        ("o1", "CLP"), ("o2", "USD")]
    assert [(r["line"], r["column"], r["reason"])
            for r in rejects_of(report_of(result, files["orders"]))] == [
        ("4", "Currency", "'PESOS' is not an ISO 4217 currency code")]


def test_currency_column_absent_uses_the_instance_currency(
        make_instance: Callable[..., Instance], drop: Path, write_day: WriteDay,
        query: Query) -> None:
    peru = make_instance("peru", currency="PEN")
    write_day(drop, peru, DAY)

    run_import(peru, [drop])

    assert query(peru, "SELECT currency FROM orders") == [("PEN",)]


def test_hash_joined_lists_become_arrays(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query) -> None:
    write_day(drop, instance, DAY, orders=_orders(
        ORDERS_HEADER + "|PromoCodes|PaymentMethod|PaymentMethodDetail|PaymentMethodEntity|"
        "PaymentTerms",
        "o1|S1|u1|01/01/2025|3|2|30|25|0|0|VERANO25##CYBER|VISA## GIFTCARD ##|"
        "Tarjeta de crédito##Gift card|Banco Estado|3CUOTAS",
        "o2|S1|u1|01/01/2025|1|1|10|10|0|0||EFECTIVO|||"))

    run_import(instance, [drop])

    assert query(instance, """
        SELECT order_number, promo_codes, payment_method, payment_method_detail,
               payment_method_entity, payment_terms FROM orders ORDER BY 1""") == [
        ("o1", ["VERANO25", "CYBER"], ["VISA", "GIFTCARD"],
         ["Tarjeta de crédito", "Gift card"], ["Banco Estado"], "3CUOTAS"),
        ("o2", None, ["EFECTIVO"], None, None, None)]


def test_optional_line_columns(instance: Instance, drop: Path, write_day: WriteDay,
                               query: Query) -> None:
    write_day(drop, instance, DAY, lines=_orders(
        "StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|ItemName|Brand|Price|ListPrice|"
        "SellingPrice|ParentItemCode|Seller",
        "S1|o1|1|2|SKU1-M|Polera|Acme|10.00|12.50|8.40|SKU1|S01-V03",
        "S1|o1|2|1|SKU2|Jeans||10.00|0|||"))

    run_import(instance, [drop])

    assert query(instance, """
        SELECT line_number, item_name, brand, list_price::VARCHAR, selling_price::VARCHAR,
               parent_item_code, seller FROM order_lines ORDER BY 1""") == [
        (1, "Polera", "Acme", "12.50", "8.40", "SKU1", "S01-V03"),
        (2, "Jeans", None, "0.00", None, None, None)]


def _store_scoped(home: Path, instance: Instance) -> Instance:
    text = instance.config_path.read_text("utf-8")
    assert "store_scoped_customer_ids = false" in text
    instance.config_path.write_text(
        text.replace("store_scoped_customer_ids = false", "store_scoped_customer_ids = true"),
        "utf-8")
    scoped = open_instance(instance.name, home=home)
    assert scoped.settings.files.store_scoped_customer_ids
    return scoped


def test_store_scoped_customer_ids(
        home: Path, instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf, rejects_of: RejectsOf) -> None:
    scoped = _store_scoped(home, instance)
    files = write_day(
        drop, scoped, DAY,
        customers=_orders("UserId|StoreCode|Email", "7|S1|ana@example.com",
                          "7|S2|bea@example.com", "8||carla@example.com"),
        orders=["o1|S1|7|01/01/2025|3|2|30|25|0|0", "o1|S2|7|01/01/2025|1|1|10|10|0|0",
                "o2|S3|7|01/01/2025|1|1|10|10|0|0"],
        lines=[], categories=[])

    result = run_import(scoped, [drop])

    assert query(scoped, "SELECT scope_store, user_id, store_code, email FROM customers "
                         "ORDER BY 1") == [("S1", "7", "S1", "ana@example.com"),
                                           ("S2", "7", "S2", "bea@example.com")]
    customers = report_of(result, files["customers"])
    assert [(r["line"], r["column"], r["reason"]) for r in rejects_of(customers)] == [
        ("4", "StoreCode", "StoreCode is required: this instance numbers customer ids per "
                           "store")]
    # Customer 7 of store S3 does not exist, even though 7 exists in S1 and S2.
    assert report_of(result, files["orders"]).orders_without_customer == 1


def test_store_scoped_customers_file_without_store_column_rejects_every_row(
        home: Path, instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    scoped = _store_scoped(home, instance)
    files = write_day(drop, scoped, DAY)

    result = run_import(scoped, [drop])

    customers = report_of(result, files["customers"])
    assert (customers.inserted, customers.rejected_by_reason) == (0, {"required": 1})
    assert query(scoped, "SELECT count(*) FROM orders") == [(1,)]


def test_same_user_id_without_store_scope_is_one_customer(
        instance: Instance, drop: Path, write_day: WriteDay, query: Query,
        report_of: ReportOf) -> None:
    files = write_day(drop, instance, DAY, customers=_orders(
        "UserId|StoreCode|Email", "7|S1|ana@example.com", "7|S2|bea@example.com"))

    result = run_import(instance, [drop])

    assert report_of(result, files["customers"]).rejected_by_reason == {"duplicate_key": 1}
    assert query(instance, "SELECT scope_store, user_id, store_code FROM customers") == [
        ("", "7", "S2")]
