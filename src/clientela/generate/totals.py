"""Order amounts from the lines, and how they add up.

    PreShippingAmount = sum(Quantity * Price) - DiscountsAmount
    TotalAmount       = PreShippingAmount + ShippingAmount           (taxes included)
    ItemsAmount       = sum(Quantity * SellingPrice)                 (without taxes)
    TaxAmount         = TotalAmount - TotalAmount / 1.19, or 0 where the ERP does not itemise it
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clientela.generate.batch import IntArray, OrderBatch
from clientela.generate.catalog import TAX_RATE, Catalog
from clientela.generate.stores import STORES

_ITEMISES_TAX = np.array([s.itemises_tax for s in STORES])


def per_order(batch: OrderBatch, values: IntArray) -> IntArray:
    """Sum of a line column per order (exact: cents stay far below 2**53)."""
    return np.rint(np.bincount(batch.line_order, weights=values,
                               minlength=batch.orders)).astype(np.int64)


def gross(batch: OrderBatch, catalog: Catalog) -> IntArray:
    """Sum of Quantity * Price per order, in cents."""
    return per_order(batch, batch.quantity * catalog.price[batch.level, batch.product])


@dataclass(frozen=True)
class Totals:
    units: IntArray
    distinct: IntArray
    items: IntArray
    pre_shipping: IntArray
    total: IntArray
    tax: IntArray


def totals(batch: OrderBatch, catalog: Catalog) -> Totals:
    key = np.sort(batch.line_order * catalog.size + batch.product)
    first = np.diff(key, prepend=-1) != 0
    distinct = np.bincount(key[first] // catalog.size, minlength=batch.orders)
    pre_shipping = gross(batch, catalog) - batch.discount
    total = pre_shipping + batch.shipping
    tax = total - np.rint(total / (1 + TAX_RATE)).astype(np.int64)
    return Totals(
        units=per_order(batch, batch.quantity),
        distinct=distinct.astype(np.int64),
        items=per_order(batch, batch.quantity * catalog.selling_price[batch.level, batch.product]),
        pre_shipping=pre_shipping,
        total=total,
        tax=np.where(_ITEMISES_TAX[batch.store], tax, 0),
    )
