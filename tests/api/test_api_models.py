"""The API's bodies check fields as the daily files' import checks cells, and say so in the
same words."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from tests.api.conftest import order

from clientela.api.models import Customer, OrderLine, OrdersBody
from clientela.api.problems import field_errors

BODY: TypeAdapter[Any] = TypeAdapter(OrdersBody)


def _problems(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(ValidationError) as raised:
        BODY.validate_python(body)
    return [(e.field, e.code, e.message) for e in field_errors(raised.value.errors())]


@pytest.mark.parametrize(("sent", "code", "message"), [
    ("1.234,56", "decimal_comma", "'1.234,56' uses a comma as decimal separator; write it with a "
                                  "dot and no thousands separator (1234.56)"),
    ("12345678901", "decimal_range", "'12345678901' does not fit TotalAmount dec(12,2) (at most "
                                     "10 digits before the dot and 2 after)"),
    ("1.005", "decimal_range", "'1.005' does not fit TotalAmount dec(12,2) (at most 10 digits "
                               "before the dot and 2 after)"),
    ("diez", "not_decimal", "'diez' is not a decimal number"),
    (1e30, "not_decimal", "'1e+30' is not a decimal number"),
])
def test_a_decimal_is_refused_with_the_import_s_reason(sent: Any, code: str,
                                                        message: str) -> None:
    assert _problems({"orders": [order("ok"), order("bad") | {"total_amount": sent}]}) == [
        ("orders.1.total_amount", code, message)]


def test_a_line_decimal_names_its_line() -> None:
    broken: dict[str, Any] = order("bad")
    broken["lines"][0]["price"] = "9,99"
    assert [(f, c) for f, c, _ in _problems(broken)] == [("lines.0.price", "decimal_comma")]


def test_decimals_are_kept_as_written_and_numbers_as_their_text() -> None:
    body = BODY.validate_python(order("n1") | {"total_amount": 99.9, "items_amount": 80,
                                               "shipping_amount": " 4.50 "})
    dumped = body.model_dump(mode="json", exclude_none=True)
    assert (dumped["total_amount"], dumped["items_amount"], dumped["shipping_amount"]) == (
        "99.9", "80", "4.50")


def test_defaults_are_not_shared_between_records() -> None:
    bare = [{k: v for k, v in order(n).items() if k != "attributes"} for n in ("a", "b")]
    first, second = BODY.validate_python({"orders": bare}).orders
    first.attributes["channel"] = "web"
    first.lines[0].attributes["gift"] = "yes"
    assert second.attributes == {} and second.lines[0].attributes == {}


def test_the_schema_documents_the_empty_defaults() -> None:
    schema = Customer.model_json_schema()["properties"]
    assert (schema["tags"]["default"], schema["consents"]["default"],
            schema["attributes"]["default"]) == ([], [], {})
    assert OrderLine.model_json_schema()["properties"]["categories"]["default"] == []
