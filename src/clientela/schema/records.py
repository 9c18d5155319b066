"""Record schemas of the four daily files (see docs/daily-files.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class FieldType(StrEnum):
    TEXT = "text"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATE = "date"
    """A calendar date (`dd/mm/yyyy` or `yyyy-mm-dd`)."""
    DATETIME = "datetime"
    """A date with an optional time and offset; without an offset it is local to the instance."""
    LIST = "list"
    """Several text values joined with `##`."""


class RecordKind(StrEnum):
    CUSTOMERS = "customers"
    ORDERS = "orders"
    ORDER_LINES = "order_lines"
    ORDER_LINE_CATEGORIES = "order_line_categories"


LIST_SEPARATOR = "##"


@cache
def snake_case(name: str) -> str:
    """`PaymentMethodDetail` -> `payment_method_detail` (storage and API naming)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Field:
    name: str
    """The column name in the daily files (matched case-insensitively)."""
    type: FieldType
    required: bool = False
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    storage: str | None = None
    """Column name in the stores when it differs from the snake-cased file name."""
    column_required: bool = False
    """The column must be in the header even though a cell may be blank (Customers' Email)."""

    @property
    def in_header(self) -> bool:
        return self.required or self.column_required

    @property
    def column(self) -> str:
        """Name of the column in the stores."""
        return self.storage or snake_case(self.name)

    @property
    def decimal_format(self) -> str:
        """The regular expression a decimal cell matches whole: a dot as separator, no
        thousands separator, at most precision - scale digits before it and scale after."""
        assert self.precision is not None and self.scale is not None
        return rf"-?[0-9]{{1,{self.precision - self.scale}}}(\.[0-9]{{1,{self.scale}}})?"

    def decimal_problems(self) -> tuple[tuple[str | None, str, str], ...]:
        """Why a decimal cell that does not match `decimal_format` is wrong: (a regular
        expression the cell matches whole, or None for any cell; the reject code; the reason,
        to follow the quoted cell), tried in order. The file importer and the API both say it
        this way."""
        assert self.precision is not None and self.scale is not None
        return (
            (r"-?([0-9]{1,3}(\.[0-9]{3})*|[0-9]+),[0-9]+", "decimal_comma",
             "uses a comma as decimal separator; write it with a dot and no thousands "
             "separator (1234.56)"),
            (r"-?[0-9]+(\.[0-9]+)?", "decimal_range",
             f"does not fit {self.name} {self.describe()} (at most "
             f"{self.precision - self.scale} digits before the dot and {self.scale} after)"),
            (None, "not_decimal", "is not a decimal number"),
        )

    def decimal_problem(self, cell: str) -> tuple[str, str]:
        """(code, reason) of a decimal cell that does not match `decimal_format`."""
        for pattern, code, reason in self.decimal_problems():
            if pattern is None or re.fullmatch(pattern, cell):
                return code, f"'{cell}' {reason}"
        raise AssertionError("the last problem matches any cell")

    def describe(self) -> str:
        match self.type:
            case FieldType.TEXT if self.max_length:
                return f"text({self.max_length})"
            case FieldType.DECIMAL:
                return f"dec({self.precision},{self.scale})"
            case FieldType.LIST:
                return "text, ##-joined"
            case _:
                return self.type.value


@dataclass(frozen=True)
class RecordSchema:
    kind: RecordKind
    file_tag: str
    """The part of the file name after the prefix, e.g. `ORDERSDETAIL`."""
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    """Field names identifying a record; a re-sent key replaces the earlier version."""
    extra_columns_are_attributes: bool = False
    """Customers turn unknown columns into custom attributes; other files keep them as extras."""

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name.lower() == name.lower():
                return candidate
        raise KeyError(name)

    @property
    def header_fields(self) -> tuple[Field, ...]:
        """Fields whose column every file must carry."""
        return tuple(f for f in self.fields if f.in_header)

    @property
    def table(self) -> str:
        return self.kind.value


def _text(name: str, max_length: int | None = None, *, required: bool = False) -> Field:
    return Field(name, FieldType.TEXT, required=required, max_length=max_length)


def _dec(name: str, precision: int, scale: int, *, required: bool = False) -> Field:
    return Field(name, FieldType.DECIMAL, required=required, precision=precision, scale=scale)


def _list(name: str) -> Field:
    return Field(name, FieldType.LIST)


ORDERS = RecordSchema(
    kind=RecordKind.ORDERS,
    file_tag="ORDERS",
    fields=(
        _text("OrderNumber", 50, required=True),
        _text("StoreCode", 30, required=True),
        _text("UserId", 50, required=True),
        Field("Date", FieldType.DATETIME, required=True, storage="order_ts"),
        _dec("TotalItems", 7, 2, required=True),
        _dec("TotalProducts", 7, 2, required=True),
        _dec("TotalAmount", 12, 2, required=True),
        _dec("ItemsAmount", 12, 2, required=True),
        _dec("DiscountsAmount", 12, 2, required=True),
        _dec("ShippingAmount", 12, 2, required=True),
        _dec("TaxAmount", 12, 2),
        _list("PromoCodes"),
        _dec("PreShippingAmount", 12, 2),
        _text("DeliveryType"),
        _text("DeliverySubType"),
        _text("DeliveryCompany"),
        _list("PaymentMethod"),
        _list("PaymentMethodDetail"),
        _list("PaymentMethodEntity"),
        _text("PaymentTerms"),
        _text("Status"),
        _text("Currency", 3),
    ),
    key=("StoreCode", "OrderNumber"),
)

ORDER_LINES = RecordSchema(
    kind=RecordKind.ORDER_LINES,
    file_tag="ORDERSDETAIL",
    fields=(
        _text("StoreCode", 30, required=True),
        _text("OrderNumber", 50, required=True),
        Field("LineNumber", FieldType.INTEGER, required=True),
        _dec("Quantity", 7, 2, required=True),
        _text("ItemCode", 50, required=True),
        _text("ItemName"),
        _text("Brand"),
        _text("Description"),
        _dec("Price", 12, 2, required=True),
        _dec("ListPrice", 12, 2),
        _dec("SellingPrice", 12, 2),
        _text("ImageUrl"),
        _text("DetailUrl"),
        _text("Seller"),
        _text("ParentItemCode", 50),
    ),
    key=("StoreCode", "OrderNumber", "LineNumber"),
)

ORDER_LINE_CATEGORIES = RecordSchema(
    kind=RecordKind.ORDER_LINE_CATEGORIES,
    file_tag="ORDERSDETAILCATEGORIES",
    fields=(
        _text("StoreCode", 30, required=True),
        _text("OrderNumber", 50, required=True),
        Field("LineNumber", FieldType.INTEGER, required=True),
        _text("Category", 500, required=True),
    ),
    key=("StoreCode", "OrderNumber", "LineNumber", "Category"),
)

CUSTOMERS = RecordSchema(
    kind=RecordKind.CUSTOMERS,
    file_tag="CUSTOMERS",
    fields=(
        _text("UserId", 50, required=True),
        _text("StoreCode", 30),
        Field("Email", FieldType.TEXT, max_length=254, column_required=True),
        _text("FirstName", 100),
        _text("LastName", 100),
        _text("City", 100),
        Field("BirthDate", FieldType.DATE),
        _text("Phone", 50),
        _text("Gender", 20),
    ),
    # Store-scoped instances key customers by (StoreCode, UserId); see ingest.batch.
    key=("UserId",),
    extra_columns_are_attributes=True,
)

RECORDS: tuple[RecordSchema, ...] = (CUSTOMERS, ORDERS, ORDER_LINES, ORDER_LINE_CATEGORIES)
"""In load order: customers first, then orders, then what hangs off orders."""


def record_schema(kind: RecordKind) -> RecordSchema:
    return next(r for r in RECORDS if r.kind is kind)

RESERVED_ATTRIBUTE_NAMES = frozenset({"client_id", "recognized", "identifiers", "rfm_group",
                                      "rfm_segment", "ltv"})
"""Names Clientela computes (lower-case): a Customers column so named is not taken as a custom
attribute, and the import report lists it under `reserved_columns`."""
