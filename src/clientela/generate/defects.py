"""A few broken rows, as real exports have, so that a demo shows rejects explained.

Every 60th day from day 59 carries five rows the importer must reject, each for one reason:
an impossible date, a decimal written with a comma, a status the pipeline does not know, an order
line for an order that was never sent, and a line whose quantity is written in words.
"""

from __future__ import annotations

from datetime import date

from clientela.generate.cells import DELIMITER
from clientela.schema.records import ORDER_LINES, ORDERS, RecordSchema

EVERY = 60
FIRST = 59
ORDER_DEFECTS = 3
LINE_DEFECTS = 2


def is_defect_day(day: int) -> bool:
    return day >= FIRST and (day - FIRST) % EVERY == 0


def _row(schema: RecordSchema, values: dict[str, str]) -> str:
    return DELIMITER.join(values.get(f.name, "") for f in schema.fields)


def _order(number: str, when: str, **overrides: str) -> str:
    values = {"OrderNumber": number, "StoreCode": "S01", "UserId": "1", "Date": when,
              "TotalItems": "1", "TotalProducts": "1", "TotalAmount": "11900.00",
              "ItemsAmount": "10000.00", "DiscountsAmount": "0", "ShippingAmount": "0",
              "TaxAmount": "1900.00", "Currency": "CLP"}
    return _row(ORDERS, values | overrides)


def defect_orders(day: int, on: date) -> list[str]:
    when = on.strftime("%d/%m/%Y 12:00:00")
    return [
        _order(f"ERR{day}A", when, Date=f"31/02/{on.year}"),
        _order(f"ERR{day}B", when, TotalAmount="11.900,00"),
        _order(f"ERR{day}C", when, Status="entregado"),
    ]


def defect_lines(day: int) -> list[str]:
    line = {"StoreCode": "S01", "LineNumber": "1", "Quantity": "1", "ItemCode": "SKU-0",
            "Price": "11900.00"}
    return [
        _row(ORDER_LINES, line | {"OrderNumber": f"ERR{day}Z"}),
        _row(ORDER_LINES, line | {"OrderNumber": f"ERR{day}Y", "Quantity": "dos"}),
    ]
