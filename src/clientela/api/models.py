"""The API's request bodies, derived from the one schema module (`clientela.schema`).

Every field of an order, a line or a customer is built from its `schema.Field` definition: the
API name is the snake-cased file column (`PaymentMethodDetail` -> `payment_method_detail`), and
the type, the required flag, the text length and the decimal precision are the file's. What only
the API has (nested lines and categories, tags, consents, events) is declared here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    StringConstraints,
    Tag,
    WithJsonSchema,
    create_model,
    field_validator,
)
from pydantic import Field as Property

from clientela.schema import (
    CUSTOMERS,
    ORDER_LINES,
    ORDERS,
    RESERVED_ATTRIBUTE_NAMES,
    Field,
    FieldType,
    RecordSchema,
)
from clientela.schema.records import LIST_SEPARATOR, snake_case

MAX_LINES = 500
"""Lines in one order."""
MAX_CATEGORIES = 20
"""Categories of one line."""
MAX_INTEGER = 999_999_999
"""The files' whole numbers have at most 9 digits."""

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
AttributeValue = Annotated[str, StringConstraints(max_length=1000)]
Attributes = dict[Name, AttributeValue]


def api_name(field: Field) -> str:
    """The JSON name of a file column."""
    return snake_case(field.name)


def _list_item(value: str) -> str:
    if LIST_SEPARATOR in value:
        raise ValueError(f"a list item cannot contain {LIST_SEPARATOR!r}: send the values as "
                         "separate items")
    return value


def _annotation(field: Field) -> Any:
    """The pydantic type of a field, with the constraints the file importer checks."""
    match field.type:
        case FieldType.TEXT:
            return Annotated[str, StringConstraints(
                strip_whitespace=True, min_length=1 if field.required else 0,
                max_length=field.max_length,
                pattern=r"^[A-Za-z]{3}$" if field.name == "Currency" else None)]
        case FieldType.DECIMAL:
            # Checked as the file importer checks a cell (a pattern, in pydantic's Rust core)
            # and kept as that text: a `Decimal` cost ~1.2 us a field, a third of an order's
            # validation. A JSON number is taken as the text it is written as.
            pattern = f"^{field.decimal_format}$"
            return Annotated[str, StringConstraints(strip_whitespace=True, pattern=pattern),
                             Property(coerce_numbers_to_str=True),
                             WithJsonSchema({"anyOf": [{"type": "number"},
                                                       {"type": "string", "pattern": pattern}]})]
        case FieldType.INTEGER:
            return Annotated[int, Property(ge=-MAX_INTEGER, le=MAX_INTEGER)]
        case FieldType.DATE:
            return date
        case FieldType.DATETIME:
            return datetime
        case FieldType.LIST:
            return list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                         max_length=500),
                                  AfterValidator(_list_item)]]
        case _:
            raise AssertionError(field.type)


DECIMAL_FIELDS = {api_name(f): f for schema in (ORDERS, ORDER_LINES, CUSTOMERS)
                  for f in schema.fields if f.type is FieldType.DECIMAL}
"""By API name, to explain a decimal that does not match its pattern as the files' import does."""


def empty(kind: type[list[Any]] | type[dict[str, Any]], **constraints: Any) -> Any:
    """An optional list or map, empty when left out: a new one per record (a shared `[]`
    default is deep-copied for every record, 32 ms of a 1,000-order batch), documented as the
    default it is."""
    return Property(default_factory=kind, json_schema_extra={"default": kind()}, **constraints)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _fields(schema: RecordSchema, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    declared: dict[str, Any] = {}
    for field in schema.fields:
        if field.name in skip:
            continue
        kind = _annotation(field)
        description = f"{field.name} in the daily files ({field.describe()})"
        if field.required:
            declared[api_name(field)] = (kind, Property(description=description))
        else:
            declared[api_name(field)] = (kind | None, Property(None, description=description))
    return declared


def _check_attribute_names(schema: RecordSchema, attributes: dict[str, str]) -> dict[str, str]:
    known = {f.name.lower() for f in schema.fields} | {api_name(f) for f in schema.fields}
    for name in attributes:
        if name.lower() in known:
            raise ValueError(f"{name!r} is a field of its own: send it as `{name.lower()}`, "
                             "not as an attribute")
        if name.lower() in RESERVED_ATTRIBUTE_NAMES:
            raise ValueError(f"{name!r} is computed by Clientela and cannot be sent")
    return attributes


class _LineExtras(Strict):
    categories: Annotated[list[Annotated[str, StringConstraints(
        strip_whitespace=True, min_length=1, max_length=500)]], empty(
        list, max_length=MAX_CATEGORIES,
        description="OrderDetailCategories of the line; `A > B > C` is a hierarchy")]
    attributes: Annotated[Attributes, empty(
        dict,
        description="Columns the schema does not know, kept as extras of the line")]

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_attribute_names(ORDER_LINES, value)


OrderLine = create_model("OrderLine", __base__=_LineExtras,
                         **_fields(ORDER_LINES, skip=("StoreCode", "OrderNumber")))


class _OrderExtras(Strict):
    lines: Annotated[list[OrderLine], empty(  # type: ignore[valid-type]
        list, max_length=MAX_LINES,
        description="OrderDetails, each with its categories")]
    attributes: Annotated[Attributes, empty(
        dict,
        description="Order attributes the schema has no column for (expected delivery date, "
                    "channel...), kept as extras of the order")]

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_attribute_names(ORDERS, value)

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, value: list[Any]) -> list[Any]:
        numbers = [line.line_number for line in value]
        if len(set(numbers)) < len(numbers):
            repeated = sorted({n for n in numbers if numbers.count(n) > 1})
            raise ValueError(f"line_number {repeated} appears more than once")
        return value


Order = create_model("Order", __base__=_OrderExtras, **_fields(ORDERS))


class Consent(Strict):
    channel: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,30}$")] = Property(
        description="email, sms, push, ...")
    granted: bool = Property(description="true: granted; false: withdrawn")
    stated_at: datetime | None = Property(None, description="When; default: when received")
    proof: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=2000)] = Property(
        description="The text the person agreed to, or the form that asked")


Tags = list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=100)]]


class _CustomerExtras(Strict):
    attributes: Annotated[Attributes, empty(
        dict,
        description="Custom attributes by name (a Customers column the schema does not know)"
    )]
    tags: Annotated[Tags, empty(list, description="Tags to add")]
    remove_tags: Annotated[Tags, empty(list, description="Tags to remove")]
    consents: list[Consent] = empty(list)

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_attribute_names(CUSTOMERS, value)


Customer = create_model("Customer", __base__=_CustomerExtras, **_fields(CUSTOMERS))

IdentifierName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_:]{0,60}$")]
IdentifierValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                   max_length=254)]


class Event(Strict):
    event: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")] = (
        Property(description="page_view, product_view, add_to_cart, form.submit or a custom "
                             "name"))
    occurred_at: datetime | None = Property(None, description="When; default: when received")
    identifiers: Annotated[dict[IdentifierName, IdentifierValue], Property(
        min_length=1, description="Every identifier the event carries, by field name (cookie, "
                                  "email, user_id, phone, custom:NAME, or a name mapped in "
                                  "[identity] fields); `store_code` scopes a store-scoped "
                                  "user_id")]
    properties: dict[str, Any] = empty(dict, description="Anything else, kept as sent")


class Identify(Strict):
    identifiers: Annotated[dict[IdentifierName, IdentifierValue], Property(
        min_length=2, description="Identifiers of one person to link, e.g. a cookie and an "
                                  "email")]
    occurred_at: datetime | None = None


class StatusChange(Strict):
    status: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True,
                                             min_length=1)] = Property(
        description="The new status, one of the instance's order pipeline")
    attributes: Annotated[Attributes, empty(
        dict,
        description="Order attributes to add or change (delivery company, tracking...)")]

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_attribute_names(ORDERS, value)


def _batch(name: str, item: Any, key: str) -> Any:
    records: Any = Annotated[list[item], Property(
        min_length=1, description="Up to [api] max_batch records")]
    fields: dict[str, Any] = {key: (records, ...)}
    return create_model(name, __base__=Strict, **fields)


OrderBatch = _batch("OrderBatch", Order, "orders")
CustomerBatch = _batch("CustomerBatch", Customer, "customers")
EventBatch = _batch("EventBatch", Event, "events")


def _one_or_batch(key: str) -> Any:
    def which(body: Any) -> str:
        return "batch" if isinstance(body, dict) and key in body else "one"
    return Discriminator(which)


# The models are made by create_model: mypy cannot read them as types.
OrdersBody = Annotated[Annotated[OrderBatch, Tag("batch")]  # type: ignore[valid-type]
                       | Annotated[Order, Tag("one")],  # type: ignore[valid-type]
                       _one_or_batch("orders")]
CustomersBody = Annotated[Annotated[CustomerBatch, Tag("batch")]  # type: ignore[valid-type]
                          | Annotated[Customer, Tag("one")],  # type: ignore[valid-type]
                          _one_or_batch("customers")]
EventsBody = Annotated[Annotated[EventBatch, Tag("batch")]  # type: ignore[valid-type]
                       | Annotated[Event, Tag("one")], _one_or_batch("events")]


class Accepted(BaseModel):
    ingest_id: int = Property(description="The call's id in the ingest log")
    state: Literal["pending", "applied", "failed"]
    records: int
    replayed: bool = Property(False, description="An Idempotency-Key seen before: this is the "
                                                 "first call's answer")
    outcome: dict[str, Any] | None = Property(None, description="What applying did (with "
                                                               "?wait=true)")


class FieldError(BaseModel):
    field: str = Property(description="Where, e.g. `orders.3.lines.0.price`")
    code: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] = empty(list)
