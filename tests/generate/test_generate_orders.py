"""Orders and their lines add up, and carry what real retail exports carry."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from clientela.generate import GenerationSummary
from clientela.generate.writer import RESENT_FOLDER

Rows = list[dict[str, str]]
RowsOf = Callable[[str], Rows]
Files = Callable[[str], list[Path]]
Reader = Callable[[Path], Rows]
SWAPPED_STORE = "S08"


def _day_orders(daily_files: Files, read: Reader) -> list[tuple[Rows, Rows]]:
    """Per day: (Orders rows, OrderDetails rows)."""
    return [(read(o), read(d)) for o, d in zip(daily_files("ORDERS"), daily_files("ORDERSDETAIL"),
                                                strict=True)]


def _lines_by_order(lines: Rows) -> dict[tuple[str, str], Rows]:
    by_order: dict[tuple[str, str], Rows] = defaultdict(list)
    for line in lines:
        by_order[line["StoreCode"], line["OrderNumber"]].append(line)
    return by_order


def test_totals_match_the_lines_except_where_the_erp_swaps_them(daily_files: Files,
                                                                read: Reader) -> None:
    swapped = 0
    for orders, lines in _day_orders(daily_files, read):
        by_order = _lines_by_order(lines)
        for order in orders:
            mine = by_order[order["StoreCode"], order["OrderNumber"]]
            assert 1 <= len(mine) <= 6
            assert [int(line["LineNumber"]) for line in mine] == list(range(1, len(mine) + 1))
            units = sum(Decimal(line["Quantity"]) for line in mine)
            distinct = Decimal(len({line["ItemCode"] for line in mine}))
            if order["StoreCode"] == SWAPPED_STORE:
                assert (Decimal(order["TotalProducts"]), Decimal(order["TotalItems"])) == (
                    units, distinct)
                swapped += units != distinct
            else:
                assert (Decimal(order["TotalItems"]), Decimal(order["TotalProducts"])) == (
                    units, distinct)
    assert swapped


def test_amounts_add_up(daily_files: Files, read: Reader) -> None:
    for orders, lines in _day_orders(daily_files, read):
        by_order = _lines_by_order(lines)
        for order in orders:
            mine = by_order[order["StoreCode"], order["OrderNumber"]]
            gross = sum(Decimal(line["Quantity"]) * Decimal(line["Price"]) for line in mine)
            net = sum(Decimal(line["Quantity"]) * Decimal(line["SellingPrice"]) for line in mine)
            pre_shipping = gross - Decimal(order["DiscountsAmount"])
            assert Decimal(order["PreShippingAmount"]) == pre_shipping
            assert Decimal(order["TotalAmount"]) == pre_shipping + Decimal(order["ShippingAmount"])
            assert Decimal(order["ItemsAmount"]) == net
            tax = Decimal(order["TaxAmount"])
            assert tax == 0 or abs(Decimal(order["TotalAmount"]) * Decimal("0.19") / Decimal("1.19")
                                   - tax) <= Decimal("0.01")


def test_prices_are_consistent(rows: RowsOf) -> None:
    for line in rows("ORDERSDETAIL"):
        price, list_price = Decimal(line["Price"]), Decimal(line["ListPrice"])
        assert 0 < price <= list_price
        assert abs(price / Decimal("1.19") - Decimal(line["SellingPrice"])) <= Decimal("0.005")


def test_amounts_have_two_decimals_and_dates_a_time(rows: RowsOf) -> None:
    for order in rows("ORDERS"):
        assert all(order[c].split(".")[1:] and len(order[c].split(".")[1]) == 2
                   for c in ("TotalAmount", "ItemsAmount", "TotalItems", "TaxAmount"))
        day, time = order["Date"].split(" ")
        assert len(day) == 10 and day[2] == day[5] == "/"
        assert len(time) == 8


def test_order_numbers_repeat_across_stores(rows: RowsOf) -> None:
    stores_by_number: dict[str, set[str]] = defaultdict(set)
    for order in rows("ORDERS"):
        stores_by_number[order["OrderNumber"]].add(order["StoreCode"])
    assert len(stores_by_number["1"]) >= 2


def test_statuses_and_later_resends(rows: RowsOf) -> None:
    orders = rows("ORDERS")
    assert Counter(o["Status"] for o in orders).keys() == {"", "placed", "fulfilled", "cancelled"}
    assert Counter(o["Status"] for o in orders).most_common(1)[0][0] == ""
    sent: dict[tuple[str, str], list[str]] = defaultdict(list)
    for order in orders:
        sent[order["StoreCode"], order["OrderNumber"]].append(order["Status"])
    histories = {tuple(statuses) for statuses in sent.values() if len(statuses) > 1}
    assert ("placed", "fulfilled") in histories
    assert ("", "cancelled") in histories or ("placed", "cancelled") in histories
    assert all(len(h) == 2 and h[1] in ("fulfilled", "cancelled") for h in histories)


def test_returns_give_back_bought_items_with_negative_amounts(rows: RowsOf) -> None:
    orders, lines = rows("ORDERS"), rows("ORDERSDETAIL")
    returns = [o for o in orders if Decimal(o["TotalAmount"]) < 0]
    assert returns
    bought: dict[tuple[str, str], set[str]] = defaultdict(set)
    user_of = {(o["StoreCode"], o["OrderNumber"]): o["UserId"] for o in orders}
    for line in lines:
        if Decimal(line["Quantity"]) > 0:
            bought[line["StoreCode"], user_of[line["StoreCode"], line["OrderNumber"]]].add(
                line["ItemCode"])
    returned = _lines_by_order(lines)
    for order in returns:
        mine = returned[order["StoreCode"], order["OrderNumber"]]
        assert all(Decimal(line["Quantity"]) < 0 for line in mine)
        assert Decimal(order["TotalItems"]) < 0
        assert {line["ItemCode"] for line in mine} <= bought[order["StoreCode"], order["UserId"]]


def test_web_orders_have_carriers_promo_codes_and_split_payments(rows: RowsOf) -> None:
    orders = rows("ORDERS")
    web = [o for o in orders if o["StoreCode"] == "WEB" and Decimal(o["TotalAmount"]) > 0]
    assert {o["DeliveryType"] for o in web} == {"HOME", "PICKUP"}
    assert all(o["DeliveryCompany"] for o in web if o["DeliveryType"] == "HOME")
    assert {o["DeliveryType"] for o in orders if o["StoreCode"] != "WEB"} <= {"STORE", ""}
    assert any("##" in o["PromoCodes"] for o in orders)
    split = [o for o in orders if "##" in o["PaymentMethod"]]
    assert split
    for order in split:
        parts = len(order["PaymentMethod"].split("##"))
        assert len(order["PaymentMethodDetail"].split("##")) == parts
        assert len(order["PaymentMethodEntity"].split("##")) == parts
    assert any(o["PaymentTerms"].endswith("CUOTAS") for o in orders)
    assert {o["Currency"] for o in orders} == {"", "CLP"}


def test_lines_carry_product_data_and_categories(daily_files: Files, read: Reader) -> None:
    for lines_file, categories_file in zip(daily_files("ORDERSDETAIL"),
                                           daily_files("ORDERSDETAILCATEGORIES"), strict=True):
        lines, categories = read(lines_file), read(categories_file)
        assert all(line["ItemName"] and line["Brand"] and line["ImageUrl"].startswith("https://")
                   for line in lines)
        per_line = Counter((c["StoreCode"], c["OrderNumber"], c["LineNumber"])
                           for c in categories)
        assert set(per_line.values()) <= {1, 2}
        assert len(per_line) == len(lines)


def test_variants_hierarchies_and_long_tail(rows: RowsOf) -> None:
    lines = rows("ORDERSDETAIL")
    assert any(line["ParentItemCode"] for line in lines)
    assert any(not line["ParentItemCode"] for line in lines)
    assert any(c["Category"].count(" > ") == 2 for c in rows("ORDERSDETAILCATEGORIES"))
    sold = Counter(line["ItemCode"] for line in lines).most_common()
    # A few best sellers, many SKUs sold once.
    assert sold[0][1] >= 10 * sold[len(sold) // 2][1]


def test_names_with_quotes_and_the_delimiter_are_quoted(daily_files: Files,
                                                        rows: RowsOf) -> None:
    raw = "".join(p.read_text("utf-8") for p in daily_files("ORDERSDETAIL"))
    assert '""' in raw
    tricky = [line for line in rows("ORDERSDETAIL") if "|" in line["ItemName"]
              or "|" in line["Description"]]
    assert tricky
    assert any('"' in line["ItemName"] for line in tricky)


def test_one_day_is_resent_with_a_few_corrected_amounts(summary: GenerationSummary,
                                                        read: Reader) -> None:
    assert len(summary.resent_files) == 1
    corrected = summary.resent_files[0]
    assert corrected.parent.name == RESENT_FOLDER
    original = corrected.parent.parent / corrected.name
    before, after = read(original), read(corrected)
    assert [o["OrderNumber"] for o in before] == [o["OrderNumber"] for o in after]
    changed = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert 1 <= len(changed) <= 5
    for b, a in changed:
        assert {k for k in b if b[k] != a[k]} <= {"DiscountsAmount", "TotalAmount", "TaxAmount",
                                                  "PreShippingAmount"}
        assert Decimal(a["DiscountsAmount"]) > Decimal(b["DiscountsAmount"])
