"""The sample retailer's brand, its physical stores and web shop, and who sells in them."""

from __future__ import annotations

from dataclasses import dataclass

BRAND = "Austral"
DOMAIN = "austral.cl"
STORE_DEFAULT_EMAIL = f"ventas@{DOMAIN}"
"""Typed by cashiers instead of the customer's address: one e-mail on many customer ids."""


@dataclass(frozen=True)
class Store:
    code: str
    city: str
    share: float
    """Share of the physical-store customers and sales."""
    uppercase_names: bool = False
    """Older POS software stores names in capitals."""
    itemises_tax: bool = True
    """A store whose ERP does not itemise tax sends TaxAmount 0."""
    json_attributes: bool = False
    """Its ERP writes custom attributes as `{"Key":"Segment","Value":"VIP"}` objects."""
    currency: str = ""
    last_order_number: int = 0
    """Numbering continues from here; several stores start at 1, so order numbers repeat."""
    swaps_totals: bool = False
    """Its ERP writes units in TotalProducts and distinct products in TotalItems."""


STORES: tuple[Store, ...] = (
    Store("S01", "Santiago", 0.16, currency="CLP"),
    Store("S02", "La Florida", 0.13),
    Store("S03", "Providencia", 0.12, currency="CLP"),
    Store("S04", "Maipú", 0.11, uppercase_names=True, last_order_number=1200),
    Store("S05", "Puente Alto", 0.10, uppercase_names=True),
    Store("S06", "Viña del Mar", 0.09, json_attributes=True, last_order_number=350),
    Store("S07", "Concepción", 0.09, json_attributes=True),
    Store("S08", "La Serena", 0.06, json_attributes=True, swaps_totals=True, last_order_number=80),
    Store("S09", "Temuco", 0.07, itemises_tax=False),
    Store("S10", "Puerto Montt", 0.07, itemises_tax=False),
    Store("WEB", "Santiago", 0.0, currency="CLP", last_order_number=1_000_000),
)
WEB = len(STORES) - 1
"""Index of the web shop; the physical stores come first."""
PHYSICAL = WEB

CASHIERS_PER_STORE = 12
MARKETPLACE_SELLERS = 24


def seller_codes() -> list[str]:
    """Store cashiers (`S03-V07`), then the web shop's own code, then marketplace sellers."""
    cashiers = [f"{s.code}-V{k + 1:02d}"
                for s in STORES[:PHYSICAL] for k in range(CASHIERS_PER_STORE)]
    return [*cashiers, BRAND.upper(), *(f"MKP{k + 1:04d}" for k in range(MARKETPLACE_SELLERS))]


WEB_OWN_SELLER = PHYSICAL * CASHIERS_PER_STORE
"""Index in `seller_codes()` of the web shop's own seller; marketplace sellers follow it."""
