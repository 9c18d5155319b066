"""Request examples for the OpenAPI document (shown at /docs), one set per endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import Body

ORDER: dict[str, Any] = {
    "order_number": "100234", "store_code": "WEB", "user_id": "W0000017",
    "date": "2026-03-14T10:32:00-03:00", "total_items": "3", "total_products": "2",
    "total_amount": "35990.00", "items_amount": "30243.70", "discounts_amount": "0",
    "shipping_amount": "2990", "tax_amount": "5746.30", "promo_codes": ["VERANO10"],
    "delivery_type": "HOME", "delivery_company": "Starken", "payment_method": ["CREDIT"],
    "payment_terms": "3CUOTAS", "status": "placed",
    "attributes": {"expected_delivery_date": "2026-03-18"},
    "lines": [
        {"line_number": 1, "quantity": "2", "item_code": "SKU-1001", "item_name": "Polera",
         "brand": "Norte", "price": "9990", "categories": ["Ropa > Poleras"]},
        {"line_number": 2, "quantity": "1", "item_code": "SKU-2002", "item_name": "Jeans",
         "price": "13020", "categories": ["Ropa > Pantalones"]},
    ],
}

EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "orders": {
        "one": {"summary": "One order with its lines", "value": ORDER},
        "batch": {"summary": "A batch (up to [api] max_batch)",
                  "value": {"orders": [ORDER, ORDER | {"order_number": "100235",
                                                       "lines": []}]}},
    },
    "status": {
        "sent": {"summary": "Shipped, with the carrier's tracking number",
                 "value": {"status": "sent", "attributes": {"tracking": "ST123456"}}},
    },
    "customers": {
        "one": {"summary": "A customer with attributes, a tag and a consent", "value": {
            "user_id": "W0000017", "email": "ana.diaz@example.com", "first_name": "Ana",
            "last_name": "Díaz", "city": "Santiago", "birth_date": "1990-05-02",
            "phone": "+56955551234", "attributes": {"loyalty_tier": "gold"},
            "tags": ["newsletter"],
            "consents": [{"channel": "email", "granted": True,
                          "proof": "Checkbox 'Quiero recibir ofertas' on checkout"}]}},
        "batch": {"summary": "A batch", "value": {"customers": [
            {"user_id": "W0000018", "email": "luis@example.com"},
            {"user_id": "W0000019", "remove_tags": ["newsletter"]}]}},
    },
    "events": {
        "page_view": {"summary": "A page view from the browser", "value": {
            "event": "page_view", "identifiers": {"cookie": "7f0c1c52-2d7e-4bbf-9a55-0d1b"},
            "properties": {"url": "https://shop.example.com/ofertas"}}},
        "form": {"summary": "A form submit naming a cookie and an email (they are linked)",
                 "value": {"events": [{
                     "event": "form.submit", "occurred_at": "2026-03-14T10:30:00Z",
                     "identifiers": {"cookie": "7f0c1c52-2d7e-4bbf-9a55-0d1b",
                                     "email": "ana.diaz@example.com"},
                     "properties": {"form": "newsletter"}}]}},
    },
    "identify": {
        "cookie": {"summary": "This browser is Ana", "value": {
            "identifiers": {"cookie": "7f0c1c52-2d7e-4bbf-9a55-0d1b",
                            "email": "ana.diaz@example.com"}}},
    },
}


def body(kind: str) -> Any:
    return Body(openapi_examples=EXAMPLES[kind])  # type: ignore[arg-type]
