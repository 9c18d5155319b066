"""How orders reach the customer: DeliveryType, DeliverySubType, DeliveryCompany, shipping."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clientela.generate.chance import normalised
from clientela.generate.stores import PHYSICAL, STORES

FREE_SHIPPING_FROM = 49_990
"""Standard home delivery is free from this amount (pesos, after discounts)."""

IN_STORE = 0
"""Index of the in-store sale option."""
NO_DELIVERY = 1
"""Index of the empty option, used on return documents."""


@dataclass(frozen=True)
class Delivery:
    cells: list[str]
    """`DeliveryType|DeliverySubType|DeliveryCompany`, pre-joined."""
    shipping: npt.NDArray[np.int64]
    """Shipping charged, in cents, tax included."""
    free_above_threshold: npt.NDArray[np.bool_]
    web_p: npt.NDArray[np.float64]


def build_delivery() -> Delivery:
    options: list[tuple[str, str, str, int, bool, float]] = [
        ("STORE", "VENTA SALA", "", 0, False, 0.0),
        ("", "", "", 0, False, 0.0),
        ("HOME", "STANDARD", "Chilexpress", 3990, True, 0.2),
        ("HOME", "STANDARD", "Starken", 3990, True, 0.14),
        ("HOME", "STANDARD", "Blue Express", 3990, True, 0.14),
        ("HOME", "STANDARD", "Correos de Chile", 3990, True, 0.05),
        ("HOME", "EXPRESS", "Chilexpress", 5990, False, 0.1),
        ("HOME", "SAME_DAY", "Despacho Austral", 6990, False, 0.05),
        ("PICKUP", "PUNTO BLUE", "Blue Express", 1990, False, 0.07),
    ]
    # Click and collect: picked up in one of the stores, in proportion to their size.
    options.extend(
        ("PICKUP", f"RETIRO {s.code}", "", 0, False, 0.25 * s.share) for s in STORES[:PHYSICAL]
    )
    web = np.array([o[5] for o in options])
    return Delivery(
        cells=[f"{t}|{sub}|{company}" for t, sub, company, _, _, _ in options],
        shipping=np.array([o[3] * 100 for o in options], dtype=np.int64),
        free_above_threshold=np.array([o[4] for o in options], dtype=np.bool_),
        web_p=normalised(web),
    )
