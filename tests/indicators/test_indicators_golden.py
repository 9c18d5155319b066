"""A hand-made golden dataset: every expected value below was worked out on paper from the spec
(../shared/spec/indicators.md) and docs/indicators.md, never by running code.

The instance is in America/Santiago with store-scoped customer ids. As of D = 2025-05-29 an
order's age is D - d in days (d its local date); it is in window W when 0 <= age < W. Ages are
counted from 2024-06-01 = day 0 (Jul 1 = 30, Aug 1 = 61, Sep 1 = 92, Oct 1 = 122, Nov 1 = 153,
Dec 1 = 183, Jan 1 = 214, Feb 1 = 245, Mar 1 = 273, Apr 1 = 304, May 1 = 334; D = 362).

People (customer id of a store -> person), and their orders with their age as of D:

- ana: customers 101 of S1 and 201 of S2 share an email, so they are one profile.
    S1/1000  2024-06-03  age 360  fulfilled  CAP x1 (Koru, 15)               15.00
    S1/1001  2024-06-04  age 359  fulfilled  TEE-M x2 (Vela, 10)             20.00  VERANO
    S2/2001  2025-01-15  age 134  fulfilled  JEANS x1 (Vela, 30),            40.00  VERANO, CYBER
                                             TEE-L x1 (Vela, 10)
    S1/1004  2025-03-20  age 70   cancelled  BAG x5 (Koru, 50)              250.00  BLACK
    S2/2008  2025-04-29  age 30   sent       SOCKS x3 (Koru, 5)              15.00  AMIGO
    S1/1007  2025-04-30  age 29   placed, re-sent the next day fulfilled:
                                             SHOES x1 (Bolt, 60)             60.00
    S1/1005  2025-05-20 15:00     fulfilled  SOCKS x1 (Koru, 5)               5.00
    S2/2005  2025-05-20 15:00     fulfilled  TEE-M x2 (Vela, 10),            35.00  CYBER, AMIGO
             (same instant, age 9)           CAP x1 (Koru, 15)
    S2/2002  2025-05-25  age 4    fulfilled  return: JEANS x-1 (Vela, 30)   -30.00  DEVUELTO
- bea (102 of S1): S1/3001 at 2025-03-01T02:30:00Z, i.e. 2025-02-28 23:30 local,
  age 90, DRESS x1 (Vela, 50) 50.00; S1/3003 2025-05-10 HAT x2 (Koru, 20) 40.00, fulfilled,
  re-sent the next day cancelled.
- carla (103 of S1): S1/4001 2025-05-15, age 14, BELT x1 (Koru, 25) 25.00.
- diego (104 of S2): S2/5001 2025-05-15, age 14, BELT x1 (Koru, 25) 25.00.
- fede (301 of S3): S3/6001 2024-09-10 (age 261) JEANS x1 30.00; S3/6002 and S3/6003 both at
  2024-11-20 12:00 (age 190): TEE-M x2 20.00 and CAP x1 15.00.
- gabi (205 of S2): S2/7001 2025-04-08 (age 51) HAT x2 40.00; S2/7002 2025-05-15 (age 14)
  BELT x1 25.00.
- eva (105 of S1): a prospect, no orders.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from clientela.config import Instance, create_instance, open_instance
from clientela.indicators.compute import compute_indicators
from clientela.ingest.importer import ImportResult, run_import
from clientela.stores import analytics

WriteDay = Callable[..., dict[str, Path]]
Query = Callable[..., list[tuple[Any, ...]]]
Row = dict[str, Any]

AS_OF = date(2025, 5, 29)
FIRST_DAY = date(2025, 5, 28)
"""Business day of every order (dated up to 2025-05-25)."""
SECOND_DAY = AS_OF
"""Business day re-sending two orders with a new status."""

PEOPLE = {
    "ana": ("S1", "101"), "bea": ("S1", "102"), "carla": ("S1", "103"), "diego": ("S2", "104"),
    "fede": ("S3", "301"), "gabi": ("S2", "205"), "eva": ("S1", "105"),
}
"""Each person by one of their customer ids (store, UserId)."""

CUSTOMERS = "UserId|StoreCode|Email"
ORDERS = ("OrderNumber|StoreCode|UserId|Date|TotalItems|TotalProducts|TotalAmount|ItemsAmount|"
          "DiscountsAmount|ShippingAmount|PromoCodes|PaymentMethod|DeliveryType|Status")
LINES = "StoreCode|OrderNumber|LineNumber|Quantity|ItemCode|Brand|Price|Seller|ParentItemCode"
CATEGORIES = "StoreCode|OrderNumber|LineNumber|Category"

FIRST_DAY_ROWS = {
    "customers": [
        "101|S1|ana@example.com", "201|S2|ana@example.com", "102|S1|bea@example.com",
        "103|S1|carla@example.com", "104|S2|diego@example.com", "301|S3|fede@example.com",
        "205|S2|gabi@example.com", "105|S1|eva@example.com",
    ],
    "orders": [
        "1000|S1|101|03/06/2024 12:00|1|1|15.00|15.00|0|0||CASH|PICKUP|fulfilled",
        "1001|S1|101|04/06/2024 12:00|2|1|20.00|20.00|0|0|VERANO|VISA|HOME|fulfilled",
        "2001|S2|201|15/01/2025 12:00|2|2|40.00|40.00|0|0|VERANO##CYBER|VISA##GIFT|HOME|"
        "fulfilled",
        "1004|S1|101|20/03/2025 12:00|5|1|250.00|250.00|0|0|BLACK|VISA|HOME|cancelled",
        "2008|S2|201|29/04/2025 12:00|3|1|15.00|15.00|0|0|AMIGO|CASH|PICKUP|sent",
        "1007|S1|101|30/04/2025 12:00|1|1|60.00|60.00|0|0||VISA|HOME|placed",
        # 15:00 in Santiago is 19:00 UTC in May (UTC-4): the same instant written two ways.
        "1005|S1|101|20/05/2025 15:00|1|1|5.00|5.00|0|0||CASH|PICKUP|fulfilled",
        "2005|S2|201|2025-05-20T19:00:00Z|3|2|35.00|35.00|0|0|CYBER##AMIGO|VISA##DEBIT|HOME|"
        "fulfilled",
        "2002|S2|201|25/05/2025 12:00|-1|1|-30.00|-30.00|0|0|DEVUELTO|VISA|HOME|fulfilled",
        # 02:30 UTC on March 1st is 23:30 on February 28th in Santiago (UTC-3 in summer).
        "3001|S1|102|2025-03-01T02:30:00Z|1|1|50.00|50.00|0|0||VISA|HOME|fulfilled",
        "3003|S1|102|10/05/2025 12:00|2|1|40.00|40.00|0|0||CASH|PICKUP|fulfilled",
        "4001|S1|103|15/05/2025 12:00|1|1|25.00|25.00|0|0||CASH|PICKUP|fulfilled",
        "5001|S2|104|15/05/2025 18:00|1|1|25.00|25.00|0|0||VISA|HOME|fulfilled",
        "6001|S3|301|10/09/2024 12:00|1|1|30.00|30.00|0|0||VISA|HOME|fulfilled",
        "6003|S3|301|20/11/2024 12:00|1|1|15.00|15.00|0|0||CASH|PICKUP|fulfilled",
        "6002|S3|301|20/11/2024 12:00|2|1|20.00|20.00|0|0||VISA|HOME|fulfilled",
        "7001|S2|205|08/04/2025 12:00|2|1|40.00|40.00|0|0||VISA|HOME|fulfilled",
        "7002|S2|205|15/05/2025 10:00|1|1|25.00|25.00|0|0||CASH|PICKUP|fulfilled",
    ],
    "lines": [
        "S1|1000|1|1|CAP|Koru|15.00|V1|",
        "S1|1001|1|2|TEE-M|Vela|10.00|V1|TEE",
        "S2|2001|1|1|JEANS|Vela|30.00|V2|",
        "S2|2001|2|1|TEE-L|Vela|10.00|V2|TEE",
        "S1|1004|1|5|BAG|Koru|50.00|V1|",
        "S2|2008|1|3|SOCKS|Koru|5.00|V2|",
        "S1|1007|1|1|SHOES|Bolt|60.00|V1|",
        "S1|1005|1|1|SOCKS|Koru|5.00|V1|",
        "S2|2005|1|2|TEE-M|Vela|10.00|V2|TEE",
        "S2|2005|2|1|CAP|Koru|15.00|V3|",
        "S2|2002|1|-1|JEANS|Vela|30.00|V2|",
        "S1|3001|1|1|DRESS|Vela|50.00|V1|",
        "S1|3003|1|2|HAT|Koru|20.00|V1|",
        "S1|4001|1|1|BELT|Koru|25.00|V1|",
        "S2|5001|1|1|BELT|Koru|25.00|V3|",
        "S3|6001|1|1|JEANS|Vela|30.00|V4|",
        "S3|6003|1|1|CAP|Koru|15.00|V4|",
        "S3|6002|1|2|TEE-M|Vela|10.00|V4|TEE",
        "S2|7001|1|2|HAT|Koru|20.00|V2|",
        "S2|7002|1|1|BELT|Koru|25.00|V2|",
    ],
    "categories": [
        "S1|1000|1|Accesorios",
        "S1|1001|1|Ropa > Poleras",
        "S2|2001|1|Ropa",
        "S2|2001|1|Ofertas",
        "S2|2001|2|Ropa > Poleras",
        "S1|1004|1|Accesorios",
        "S2|2008|1|Accesorios",
        "S1|1007|1|Calzado",
        "S1|1005|1|Accesorios",
        "S2|2005|1|Ropa > Poleras",
        "S2|2005|2|Accesorios",
        "S2|2002|1|Ropa",
        "S1|3001|1|Ropa",
        "S1|3003|1|Accesorios",
        "S1|4001|1|Accesorios",
        "S2|5001|1|Accesorios",
        "S3|6001|1|Ropa",
        "S3|6003|1|Accesorios",
        "S3|6002|1|Ropa > Poleras",
        "S2|7001|1|Accesorios",
        "S2|7002|1|Accesorios",
    ],
}
SECOND_DAY_ROWS: dict[str, list[str]] = {
    "customers": [],
    "orders": [
        "1007|S1|101|30/04/2025 12:00|1|1|60.00|60.00|0|0||VISA|HOME|fulfilled",
        "3003|S1|102|10/05/2025 12:00|2|1|40.00|40.00|0|0||CASH|PICKUP|cancelled",
    ],
    "lines": [],
    "categories": [],
}
HEADERS = {"customers": CUSTOMERS, "orders": ORDERS, "lines": LINES, "categories": CATEGORIES}

CLIENT_OF = """
    SELECT m.client_id FROM identity_members m JOIN identifiers i ON i.id = m.identifier
    WHERE i.type = 'user_id' AND i.scope = ? AND i.value = ?
"""
WINDOW_SUFFIXES = ("30_Days", "60_Days", "90_Days", "180_Days", "360_Days")
FAMILIES = ("Items", "Products", "Brands", "Brands_Count", "Categories", "Categories_Count",
            "Purchases", "Value", "Average_Value", "RFM", "Promo_Codes", "Promo_Codes_Count",
            "Stores", "Stores_Count")


def _file(header: str, rows: Sequence[str]) -> bytes:
    return "".join(f"{line}\n" for line in (header, *rows)).encode("utf-8")


def _import_day(instance: Instance, folder: Path, day: date, rows: dict[str, list[str]],
                write_day: WriteDay) -> ImportResult:
    files = write_day(folder, instance, day,
                      **{kind: _file(HEADERS[kind], rows[kind]) for kind in HEADERS})
    return run_import(instance, list(files.values()))


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory, write_day: WriteDay) -> Instance:
    """The dataset imported: every order on the first business day, the re-sent statuses on
    the second (a separate import, so the first day's versions are superseded by a later day).
    Imported once for the module; tests only read it (or copy it)."""
    home = tmp_path_factory.mktemp("golden-home")
    drop = tmp_path_factory.mktemp("golden-drop")
    instance = create_instance("golden", timezone="America/Santiago", currency="CLP",
                               store_scoped_customer_ids=True, home=home)
    for day, rows in ((FIRST_DAY, FIRST_DAY_ROWS), (SECOND_DAY, SECOND_DAY_ROWS)):
        result = _import_day(instance, drop / f"drop-{day:%Y%m%d}", day, rows, write_day)
        assert result.days_loaded == [day]
        assert result.rows_rejected == 0
    return instance


def _family(family: str, values: Sequence[Any]) -> Row:
    """`family`'s six fields (30, 60, 90, 180, 360 days, Total) with the given values."""
    names = [*(f"{family}_{suffix}" for suffix in WINDOW_SUFFIXES), f"Total_{family}"]
    return dict(zip(names, values, strict=True))


def _decimals(*values: str) -> list[Decimal]:
    return [Decimal(v) for v in values]


def _client_id(con: duckdb.DuckDBPyConnection, person: str) -> int:
    found = con.execute(CLIENT_OF, list(PEOPLE[person])).fetchall()
    assert len(found) == 1, f"{person}: {found}"
    return int(found[0][0])


def _indicators(instance: Instance, as_of: date) -> dict[str, Row]:
    """Compute every profile's indicators as of `as_of`; each person's row, by name."""
    con = analytics.connect(instance)
    try:
        assert compute_indicators(con, instance.settings, as_of) == 7
        rows = {}
        for person in PEOPLE:
            cursor = con.execute("SELECT * FROM profile_indicators WHERE client_id = ?",
                                 [_client_id(con, person)])
            names = [column[0] for column in cursor.description]
            found = cursor.fetchall()
            assert len(found) == 1, f"{person}: {len(found)} rows"
            rows[person] = dict(zip(names, found[0], strict=True))
        return rows
    finally:
        con.close()


@pytest.fixture(scope="module")
def indicators(golden: Instance) -> dict[str, Row]:
    """Every person's indicators as of D, after both business days."""
    return _indicators(golden, AS_OF)


def _fields(row: Row, *names: str) -> Row:
    return {name: row[name] for name in names}


# --- the dataset itself (no indicator engine needed) ---------------------------------------


def test_the_dataset_loads_as_designed(golden: Instance, query: Query) -> None:
    assert query(golden, "SELECT count(*) FROM orders") == [(18,)]
    # The near-midnight order belongs to February 28th locally, not to March 1st (UTC).
    assert query(golden, "SELECT order_date FROM orders WHERE order_number = '3001'") == [
        (date(2025, 2, 28),)]
    # Ana's two orders of May 20th, written in local time and in UTC, are one instant.
    assert query(golden, """
        SELECT count(DISTINCT order_ts), min(order_date) FROM orders
        WHERE order_number IN ('1005', '2005')""") == [(1, date(2025, 5, 20))]
    assert query(golden, """
        SELECT order_number, status, batch_day FROM orders
        WHERE order_number IN ('1007', '3003') ORDER BY 1""") == [
        ("1007", "fulfilled", SECOND_DAY), ("3003", "cancelled", SECOND_DAY)]


def test_two_store_scoped_ids_sharing_an_email_are_one_profile(
        golden: Instance, query: Query) -> None:
    clients = dict(query(golden, """
        SELECT i.scope || ':' || i.value, m.client_id
        FROM identity_members m JOIN identifiers i ON i.id = m.identifier
        WHERE i.type = 'user_id'"""))
    assert clients["S1:101"] == clients["S2:201"]
    assert len(set(clients.values())) == len(PEOPLE) == 7
    assert query(golden, "SELECT count(*) FROM profiles") == [(7,)]


# --- every field of one profile, and of a prospect -----------------------------------------


def test_every_field_of_the_merged_profile(indicators: dict[str, Row]) -> None:
    """Ana as of D. Windows: 30 = {1007, 1005, 2005, return 2002}; 60 and 90 add 2008
    (age 30); 180 adds 2001; 360 adds 1001 (age 359); Total adds 1000 (age 360). The cancelled
    1004 is nowhere. The return nets Items and Value only."""
    expected: Row = {
        # 30: 1 + 1 + 3 - 1 = 4; +3 = 7; +2 = 9; +2 = 11; +1 = 12.
        **_family("Items", _decimals("4.00", "7.00", "7.00", "9.00", "11.00", "12.00")),
        # 30: SHOES, SOCKS, TEE-M, CAP; 180 adds JEANS, TEE-L (variant level).
        **_family("Products", [4, 4, 4, 6, 6, 6]),
        # Units: 30 Vela 2 = Koru 2 > Bolt 1 (tie by name); 60 Koru 5; 180 Koru 5 > Vela 4;
        # 360 Vela 6 > Koru 5; Total Koru 6 = Vela 6 (tie by name again).
        **_family("Brands", [["Koru", "Vela", "Bolt"], ["Koru", "Vela", "Bolt"],
                             ["Koru", "Vela", "Bolt"], ["Koru", "Vela", "Bolt"],
                             ["Vela", "Koru", "Bolt"], ["Koru", "Vela", "Bolt"]]),
        **_family("Brands_Count", [3, 3, 3, 3, 3, 3]),
        # 30: Accesorios 2 = Ropa > Poleras 2 > Calzado 1; 180 adds Ofertas 1 and Ropa 1 (the
        # JEANS line carries both); 360: Accesorios 5 = Ropa > Poleras 5; Total 6 > 5.
        **_family("Categories", [
            ["Accesorios", "Ropa > Poleras", "Calzado"],
            ["Accesorios", "Ropa > Poleras", "Calzado"],
            ["Accesorios", "Ropa > Poleras", "Calzado"],
            ["Accesorios", "Ropa > Poleras", "Calzado", "Ofertas", "Ropa"],
            ["Accesorios", "Ropa > Poleras", "Calzado", "Ofertas", "Ropa"],
            ["Accesorios", "Ropa > Poleras", "Calzado", "Ofertas", "Ropa"]]),
        **_family("Categories_Count", [3, 3, 3, 5, 5, 5]),
        **_family("Purchases", [3, 4, 4, 5, 6, 7]),
        # 30: 60 + 5 + 35 - 30 = 70; +15 = 85; +40 = 125; +20 = 145; +15 = 160.
        **_family("Value", _decimals("70.00", "85.00", "85.00", "125.00", "145.00", "160.00")),
        **_family("Average_Value", [pytest.approx(70 / 3), pytest.approx(21.25),
                                    pytest.approx(21.25), pytest.approx(25.0),
                                    pytest.approx(145 / 6), pytest.approx(160 / 7)]),
        # Worked out in test_rfm_ties_score_equal_with_groups_and_segments.
        **_family("RFM", ["444", "444", "444", "555", "555", "555"]),
        # Units of the orders carrying the code: 30 AMIGO 3 = CYBER 3; 60 AMIGO 6;
        # 180 CYBER 5, VERANO 2; 360 VERANO 4. DEVUELTO (return) and BLACK (cancelled) never.
        **_family("Promo_Codes", [["AMIGO", "CYBER"], ["AMIGO", "CYBER"], ["AMIGO", "CYBER"],
                                  ["AMIGO", "CYBER", "VERANO"], ["AMIGO", "CYBER", "VERANO"],
                                  ["AMIGO", "CYBER", "VERANO"]]),
        **_family("Promo_Codes_Count", [2, 2, 2, 3, 3, 3]),
        # S2 3 > S1 2 at 30, and S2 stays ahead (6/2, 8/2, 8/4, 8/5).
        **_family("Stores", [["S2", "S1"]] * 6),
        **_family("Stores_Count", [2, 2, 2, 2, 2, 2]),
        "First_Purchase_Date": date(2024, 6, 3),
        # The last purchase: S2/2005 beats S1/1005 at the same instant (greater StoreCode);
        # the later return of May 25th is never the last purchase.
        "Last_Purchase_Date": date(2025, 5, 20),
        "Days_Since_First_Purchase": 360,
        "Days_Since_Last_Purchase": 9,
        "Last_Purchase_Amount": Decimal("35.00"),
        "Last_Purchase_Payment_Methods": ["DEBIT", "VISA"],
        "Last_Purchase_Shipping_Methods": ["HOME"],
        "Last_Purchase_Items": ["TEE-M", "CAP"],
        "Last_Purchase_Brands": ["Vela", "Koru"],
        "Last_Purchase_Categories": ["Ropa > Poleras", "Accesorios"],
        "Last_Purchase_Sellers": ["V2", "V3"],
        "Last_Purchase_Stores": ["S2"],
        "Last_Purchase_Promo_Codes": ["AMIGO", "CYBER"],
        # (2025-05-20 - 2024-06-03) / (7 - 1) = 351 / 6.
        "Average_Days_Between_Purchases": pytest.approx(58.5),
        # Units over all purchases: S2 8 > S1 5; Accesorios 6 > Ropa > Poleras 5.
        "Favorite_Store": "S2",
        # Koru 6 = Vela 6 units; value Vela 20 + 30 + 10 + 20 = 80 > Koru 15 + 15 + 5 + 15 = 50,
        # so Vela although Koru comes first by name (and first in Total_Brands).
        "Favorite_Brand": "Vela",
        "Favorite_Category": "Accesorios",
        # Fulfilled orders: 15 + 20 + 40 + 60 (1007, now fulfilled) + 5 + 35 - 30 (return)
        # = 145; 2008 is only "sent".
        "LTV": Decimal("145.00"),
        "RFM_Group": "LOYAL",
        "RFM_Segment": "LOYAL_CHAMPIONS",
    }
    ana = indicators["ana"]
    assert set(ana) == {"client_id", *expected}
    assert len(expected) == 104
    assert {k: v for k, v in ana.items() if k != "client_id"} == expected


def test_a_prospect_has_zeros_empty_lists_and_nulls(indicators: dict[str, Row]) -> None:
    """Eva has no orders: counts and sums 0, lists [], everything else null."""
    empty_by_family = {
        "Items": Decimal(0), "Products": 0, "Brands": [], "Brands_Count": 0, "Categories": [],
        "Categories_Count": 0, "Purchases": 0, "Value": Decimal(0), "Average_Value": None,
        "RFM": None, "Promo_Codes": [], "Promo_Codes_Count": 0, "Stores": [], "Stores_Count": 0,
    }
    expected: Row = {}
    for family in FAMILIES:
        expected |= _family(family, [empty_by_family[family]] * 6)
    expected |= {
        "First_Purchase_Date": None, "Last_Purchase_Date": None,
        "Days_Since_First_Purchase": None, "Days_Since_Last_Purchase": None,
        "Last_Purchase_Amount": None, "Last_Purchase_Payment_Methods": [],
        "Last_Purchase_Shipping_Methods": [], "Last_Purchase_Items": [],
        "Last_Purchase_Brands": [], "Last_Purchase_Categories": [], "Last_Purchase_Sellers": [],
        "Last_Purchase_Stores": [], "Last_Purchase_Promo_Codes": [],
        "Average_Days_Between_Purchases": None, "Favorite_Store": None, "Favorite_Brand": None,
        "Favorite_Category": None, "LTV": Decimal(0), "RFM_Group": "PROSPECTS",
        "RFM_Segment": "PROSPECTS",
    }
    eva = indicators["eva"]
    assert {k: v for k, v in eva.items() if k != "client_id"} == expected


# --- the rules one by one ------------------------------------------------------------------


def test_window_edges(indicators: dict[str, Row]) -> None:
    """0 <= D - d < W: an order W days old is out of W, one W - 1 days old is in."""
    ana = indicators["ana"]
    # 2008 (2025-04-29) is 30 days old: out of 30, in 60. 1007 (2025-04-30), 29 days: in 30.
    # Within 30 days: 1 + 1 + 3 - 1 = 4 units (2008's 3 SOCKS would make 7), and Bolt, the
    # brand of 1007's SHOES.
    assert _fields(ana, "Purchases_30_Days", "Purchases_60_Days", "Items_30_Days",
                   "Brands_30_Days") == {
        "Purchases_30_Days": 3, "Purchases_60_Days": 4, "Items_30_Days": Decimal("4.00"),
        "Brands_30_Days": ["Koru", "Vela", "Bolt"]}
    # 1001 (2024-06-04) is 359 days old: in 360; 1000 (2024-06-03), 360 days: Total only.
    assert _fields(ana, "Purchases_360_Days", "Total_Purchases", "Value_360_Days",
                   "Total_Value") == {
        "Purchases_360_Days": 6, "Total_Purchases": 7, "Value_360_Days": Decimal("145.00"),
        "Total_Value": Decimal("160.00")}
    # Gabi's 7001 (2025-04-08, 51 days) is in 60 and 90, not in 30.
    assert _fields(indicators["gabi"], "Purchases_30_Days", "Purchases_60_Days",
                   "Purchases_90_Days") == {
        "Purchases_30_Days": 1, "Purchases_60_Days": 2, "Purchases_90_Days": 2}


def test_the_local_date_near_midnight_decides_the_window(indicators: dict[str, Row]) -> None:
    """Bea's 2025-03-01T02:30:00Z is 23:30 on 2025-02-28 in Santiago: 90 days before D, so out
    of the 90-day window (its UTC date, 89 days before D, would have been in). Her 3003 was
    re-sent cancelled, so it is her only purchase."""
    bea = indicators["bea"]
    assert _fields(bea, "First_Purchase_Date", "Last_Purchase_Date",
                   "Days_Since_First_Purchase", "Days_Since_Last_Purchase") == {
        "First_Purchase_Date": date(2025, 2, 28), "Last_Purchase_Date": date(2025, 2, 28),
        "Days_Since_First_Purchase": 90, "Days_Since_Last_Purchase": 90}
    assert _fields(bea, "Items_90_Days", "Purchases_90_Days", "Value_90_Days",
                   "Average_Value_90_Days", "RFM_90_Days", "Stores_90_Days") == {
        "Items_90_Days": Decimal(0), "Purchases_90_Days": 0, "Value_90_Days": Decimal(0),
        "Average_Value_90_Days": None, "RFM_90_Days": None, "Stores_90_Days": []}
    assert _fields(bea, "Items_180_Days", "Purchases_180_Days", "Value_180_Days",
                   "Average_Value_180_Days", "Stores_180_Days", "Brands_180_Days") == {
        "Items_180_Days": Decimal("1.00"), "Purchases_180_Days": 1,
        "Value_180_Days": Decimal("50.00"), "Average_Value_180_Days": pytest.approx(50.0),
        "Stores_180_Days": ["S1"], "Brands_180_Days": ["Vela"]}


def test_a_return_nets_items_and_value_but_is_no_purchase(indicators: dict[str, Row]) -> None:
    """Ana's credit note S2/2002 (May 25th, -30.00, JEANS x-1) is her latest document."""
    ana = indicators["ana"]
    # 30 days: purchases 1007, 1005, 2005 give 5 units and 100.00; the return nets 1 and 30.
    assert _fields(ana, "Items_30_Days", "Value_30_Days", "Purchases_30_Days") == {
        "Items_30_Days": Decimal("4.00"), "Value_30_Days": Decimal("70.00"),
        "Purchases_30_Days": 3}
    # 70.00 over 3 purchases: the return is not a fourth.
    assert ana["Average_Value_30_Days"] == pytest.approx(70 / 3)
    # Not the last purchase (that is May 20th's 2005, 9 days ago, not 4).
    assert _fields(ana, "Last_Purchase_Date", "Days_Since_Last_Purchase",
                   "Last_Purchase_Amount") == {
        "Last_Purchase_Date": date(2025, 5, 20), "Days_Since_Last_Purchase": 9,
        "Last_Purchase_Amount": Decimal("35.00")}
    # It adds nothing to what she bought: no JEANS product, Ropa category or DEVUELTO code
    # within 30 days.
    assert _fields(ana, "Products_30_Days", "Categories_30_Days", "Promo_Codes_30_Days") == {
        "Products_30_Days": 4,
        "Categories_30_Days": ["Accesorios", "Ropa > Poleras", "Calzado"],
        "Promo_Codes_30_Days": ["AMIGO", "CYBER"]}


def test_cancelled_orders_and_status_changes(indicators: dict[str, Row]) -> None:
    ana, bea = indicators["ana"], indicators["bea"]
    # Ana's cancelled 1004 (BAG x5, 250.00, BLACK, 70 days old) takes no part in 90 days.
    assert _fields(ana, "Items_90_Days", "Value_90_Days", "Purchases_90_Days",
                   "Products_90_Days", "Promo_Codes_90_Days") == {
        "Items_90_Days": Decimal("7.00"), "Value_90_Days": Decimal("85.00"),
        "Purchases_90_Days": 4, "Products_90_Days": 4, "Promo_Codes_90_Days": ["AMIGO", "CYBER"]}
    # 1007 went placed -> fulfilled: now in LTV (85 + 60 = 145); 2008 stays "sent" (a purchase,
    # not fulfilled), so LTV is below Total_Value (160.00).
    assert ana["LTV"] == Decimal("145.00")
    # Bea's 3003 was re-sent cancelled: no purchase on May 10th, LTV 50.00 only.
    assert _fields(bea, "Total_Purchases", "Total_Value", "LTV", "Purchases_30_Days",
                   "Last_Purchase_Amount", "Average_Days_Between_Purchases") == {
        "Total_Purchases": 1, "Total_Value": Decimal("50.00"), "LTV": Decimal("50.00"),
        "Purchases_30_Days": 0, "Last_Purchase_Amount": Decimal("50.00"),
        "Average_Days_Between_Purchases": None}


def test_a_replay_before_the_status_change_sees_the_versions_of_that_day(
        golden: Instance) -> None:
    """As of 2025-05-28 (day 361), before the re-sends: Ana's 1007 was placed, Bea's 3003
    fulfilled (docs/indicators.md, "Data known on D")."""
    rows = _indicators(golden, FIRST_DAY)
    ana, bea = rows["ana"], rows["bea"]
    # Ana: 145.00 - 60.00 (1007 only placed); still a purchase.
    assert _fields(ana, "LTV", "Total_Purchases", "Total_Value") == {
        "LTV": Decimal("85.00"), "Total_Purchases": 7, "Total_Value": Decimal("160.00")}
    # Bea: 3001 (50.00) and 3003 (40.00, 2025-05-10 = day 343, 18 days before day 361).
    assert _fields(bea, "Total_Purchases", "Total_Value", "LTV", "Last_Purchase_Date",
                   "Days_Since_Last_Purchase", "Last_Purchase_Items") == {
        "Total_Purchases": 2, "Total_Value": Decimal("90.00"), "LTV": Decimal("90.00"),
        "Last_Purchase_Date": date(2025, 5, 10), "Days_Since_Last_Purchase": 18,
        "Last_Purchase_Items": ["HAT"]}


def test_ties_for_the_last_purchase(indicators: dict[str, Row]) -> None:
    # Ana: S1/1005 and S2/2005 at one instant; the greater StoreCode (S2) wins.
    assert _fields(indicators["ana"], "Last_Purchase_Stores", "Last_Purchase_Amount",
                   "Last_Purchase_Shipping_Methods") == {
        "Last_Purchase_Stores": ["S2"], "Last_Purchase_Amount": Decimal("35.00"),
        "Last_Purchase_Shipping_Methods": ["HOME"]}
    # Fede: S3/6002 and S3/6003 at one instant in one store; the greater OrderNumber wins.
    assert _fields(indicators["fede"], "Last_Purchase_Date", "Last_Purchase_Amount",
                   "Last_Purchase_Items", "Last_Purchase_Payment_Methods",
                   "Last_Purchase_Shipping_Methods", "Last_Purchase_Sellers") == {
        "Last_Purchase_Date": date(2024, 11, 20), "Last_Purchase_Amount": Decimal("15.00"),
        "Last_Purchase_Items": ["CAP"], "Last_Purchase_Payment_Methods": ["CASH"],
        "Last_Purchase_Shipping_Methods": ["PICKUP"], "Last_Purchase_Sellers": ["V4"]}


def test_average_days_between_purchases(indicators: dict[str, Row]) -> None:
    """(last - first purchase date) / (Total_Purchases - 1); null below 2 purchases."""
    assert {person: row["Average_Days_Between_Purchases"]
            for person, row in indicators.items()} == {
        # (2025-05-20 - 2024-06-03) / (7 - 1) = 351 / 6.
        "ana": pytest.approx(58.5),
        # (2024-11-20 - 2024-09-10) / (3 - 1) = 71 / 2.
        "fede": pytest.approx(35.5),
        # (2025-05-15 - 2025-04-08) / (2 - 1) = 37 / 1.
        "gabi": pytest.approx(37.0),
        # One purchase each, or none.
        "bea": None, "carla": None, "diego": None, "eva": None,
    }


def test_merged_identities_pool_their_orders(indicators: dict[str, Row]) -> None:
    """Ana's orders as customer 101 of S1 (1000, 1001, 1005, 1007) and as customer 201 of S2
    (2001, 2005, 2008) are one profile's: 7 purchases in 2 stores."""
    assert _fields(indicators["ana"], "Total_Purchases", "Total_Stores",
                   "Total_Stores_Count", "First_Purchase_Date", "Favorite_Store") == {
        "Total_Purchases": 7, "Total_Stores": ["S2", "S1"], "Total_Stores_Count": 2,
        "First_Purchase_Date": date(2024, 6, 3), "Favorite_Store": "S2"}


def test_lists_order_by_units_then_name_and_count_distinct(
        indicators: dict[str, Row]) -> None:
    ana = indicators["ana"]
    # Total units: Koru 6 = Vela 6 (name decides), Bolt 1; at 360 Vela 6 > Koru 5.
    assert ana["Total_Brands"] == ["Koru", "Vela", "Bolt"]
    assert ana["Brands_360_Days"] == ["Vela", "Koru", "Bolt"]
    # A category gets the units of each line it categorises: the JEANS line counts once for
    # Ropa and once for Ofertas.
    assert ana["Categories_180_Days"] == [
        "Accesorios", "Ropa > Poleras", "Calzado", "Ofertas", "Ropa"]
    assert ana["Categories_Count_180_Days"] == 5
    # A promo code gets the units of its orders: AMIGO 3 + 3, CYBER 3 + 2, VERANO 2 + 2.
    assert ana["Total_Promo_Codes"] == ["AMIGO", "CYBER", "VERANO"]
    # TEE-M bought three times is one product.
    assert _fields(ana, "Total_Products", "Products_360_Days") == {
        "Total_Products": 6, "Products_360_Days": 6}
    # Fede: Vela 2 + 1 = 3 > Koru 1.
    assert _fields(indicators["fede"], "Total_Brands", "Total_Brands_Count",
                   "Total_Categories", "Favorite_Brand", "Favorite_Category") == {
        "Total_Brands": ["Vela", "Koru"], "Total_Brands_Count": 2,
        "Total_Categories": ["Ropa > Poleras", "Accesorios", "Ropa"],
        "Favorite_Brand": "Vela", "Favorite_Category": "Ropa > Poleras"}


def test_rfm_ties_score_equal_with_groups_and_segments(indicators: dict[str, Row]) -> None:
    """Score = 1 + floor(5 * below / n), below = profiles with a strictly worse value.

    Total (n = 6; R days, F purchases, M value):
      ana (9, 7, 160)  bea (90, 1, 50)  carla (14, 1, 25)  diego (14, 1, 25)
      fede (190, 3, 65)  gabi (14, 2, 65)
    R: ana below 5 -> 1 + floor(25/6) = 5; carla, diego, gabi below 2 (90, 190) -> 1 + 1 = 2;
       bea below 1 -> 1 + floor(5/6) = 1; fede 0 -> 1.
    F: ana 5 -> 5; fede below 4 -> 1 + floor(20/6) = 4; gabi below 3 -> 1 + floor(15/6) = 3;
       bea, carla, diego 0 -> 1.
    M: ana 5 -> 5; fede, gabi (65) below 3 -> 1 + 2 = 3; bea below 2 -> 1 + 1 = 2;
       carla, diego 0 -> 1.
    360 days: the same population and scores (ana's F 6 and M 145 still the greatest).
    180 days (n = 5, fede out, age 190): ana (9, 5, 125) 555; gabi (14, 2, 65): R below 1 ->
       2, F below 3 -> 4, M below 3 -> 4: 244; bea (90, 1, 50): 1, 1, below 2 -> 3: 113;
       carla, diego: R below 1 -> 2, 1, 1: 211.
    90 and 60 days (n = 4, bea out at 90 days): ana (9, 4, 85) below 3 -> 1 + floor(15/4) = 4
       each: 444; gabi (14, 2, 65): R 1, F below 2 -> 1 + floor(10/4) = 3, M 3: 133; carla,
       diego 111.
    30 days (n = 4, bea's 3003 cancelled): ana (9, 3, 70) 444; carla, diego, gabi
       (14, 1, 25) all 111.
    """
    codes = {person: [row[f"RFM_{s}"] for s in WINDOW_SUFFIXES] + [row["Total_RFM"]]
             for person, row in indicators.items()}
    assert codes == {
        "ana": ["444", "444", "444", "555", "555", "555"],
        "bea": [None, None, None, "113", "112", "112"],
        "carla": ["111", "111", "111", "211", "211", "211"],
        "diego": ["111", "111", "111", "211", "211", "211"],
        "fede": [None, None, None, None, "143", "143"],
        "gabi": ["111", "133", "133", "244", "233", "233"],
        "eva": [None] * 6,
    }
    assert {person: (row["RFM_Group"], row["RFM_Segment"])
            for person, row in indicators.items()} == {
        "ana": ("LOYAL", "LOYAL_CHAMPIONS"),
        "bea": ("BEGINNERS", "BEGINNERS_LOSE_IT"),
        "carla": ("BEGINNERS", "BEGINNERS_LOSE_IT"),
        "diego": ("BEGINNERS", "BEGINNERS_LOSE_IT"),
        "fede": ("LOYAL", "LOYAL_CANT_LOSE_THEM"),
        "gabi": ("FREQUENT", "FREQUENT_AT_RISK"),
        "eva": ("PROSPECTS", "PROSPECTS"),
    }


def test_products_at_parent_level(tmp_path: Path, golden: Instance) -> None:
    """With `product_level = "parent"`, TEE-M and TEE-L are the product TEE: Ana's Total
    products are CAP, TEE, JEANS, SHOES, SOCKS (5, not 6)."""
    home = tmp_path / "home"
    shutil.copytree(golden.root, home / golden.name)
    copy = open_instance(golden.name, home=home)
    text = copy.config_path.read_text("utf-8")
    assert 'product_level = "variant"' in text
    copy.config_path.write_text(
        text.replace('product_level = "variant"', 'product_level = "parent"'), "utf-8")
    parent = open_instance(golden.name, home=home)
    ana = _indicators(parent, AS_OF)["ana"]
    assert _fields(ana, "Products_30_Days", "Products_180_Days", "Total_Products",
                   "Last_Purchase_Items") == {
        "Products_30_Days": 4, "Products_180_Days": 5, "Total_Products": 5,
        "Last_Purchase_Items": ["TEE", "CAP"]}
