"""Rows of the three order files: Orders, OrderDetails and OrderDetailCategories."""

from __future__ import annotations

import numpy as np

from clientela.generate.batch import OrderBatch, Status
from clientela.generate.calendar import Calendar
from clientela.generate.cells import DELIMITER, clock_cells, count_cells, money_cells, user_id_cells
from clientela.generate.orders import Checkout
from clientela.generate.schedule import Schedule
from clientela.generate.stores import STORES, seller_codes
from clientela.generate.totals import totals

_SWAPS_TOTALS = np.array([s.swaps_totals for s in STORES])


class OrderRows:
    """Turns order batches into rows of the three order files."""

    def __init__(self, checkout: Checkout, calendar: Calendar, schedule: Schedule) -> None:
        self._checkout = checkout
        self._schedule = schedule
        self._clock = clock_cells()
        self._sellers = seller_codes()
        self._stores = [s.code for s in STORES]
        self._currencies = [s.currency for s in STORES]
        self._dates = [calendar.date_text(d) for d in range(calendar.days)]

    def _keys(self, batch: OrderBatch) -> list[str]:
        """`StoreCode|OrderNumber` per order."""
        stores = self._stores
        return [f"{stores[s]}|{n}" for s, n in zip(batch.store.tolist(), batch.number.tolist(),
                                                    strict=True)]

    def orders(self, batch: OrderBatch) -> list[str]:
        t = totals(batch, self._checkout.catalog)
        # Some ERPs swap units and distinct products.
        swap = _SWAPS_TOTALS[batch.store]
        dates, clock = self._dates, self._clock
        user_ids = user_id_cells(self._schedule.local_id[batch.account], batch.store)
        promos = self._checkout.promotions.cells
        deliveries = self._checkout.delivery.cells
        payments = self._checkout.payments.cells
        columns = (
            [str(n) for n in batch.number.tolist()],
            [self._stores[s] for s in batch.store.tolist()],
            user_ids,
            [f"{dates[d]} {clock[s]}" for d, s in zip(batch.day.tolist(), batch.second.tolist(),
                                                      strict=True)],
            count_cells(np.where(swap, t.distinct, t.units)),
            count_cells(np.where(swap, t.units, t.distinct)),
            money_cells(t.total),
            money_cells(t.items),
            money_cells(batch.discount),
            money_cells(batch.shipping),
            money_cells(t.tax),
            [promos[p] for p in batch.promo.tolist()],
            money_cells(t.pre_shipping),
            [deliveries[d] for d in batch.delivery.tolist()],
            [payments[p] for p in batch.payment.tolist()],
            [Status.CELLS[s] for s in batch.status.tolist()],
            [self._currencies[s] for s in batch.store.tolist()],
        )
        return [DELIMITER.join(cells) for cells in zip(*columns, strict=True)]

    def lines(self, batch: OrderBatch) -> list[str]:
        keys = self._keys(batch)
        catalog = self._checkout.catalog
        sellers = self._sellers
        return [
            f"{keys[o]}|{n}|{q}.00|{catalog.line_cells[lv][p]}|{sellers[s]}|"
            f"{catalog.parent_cells[p]}"
            for o, n, q, lv, p, s in zip(
                batch.line_order.tolist(), batch.line_numbers().tolist(),
                batch.quantity.tolist(), batch.level.tolist(), batch.product.tolist(),
                batch.seller.tolist(), strict=True)
        ]

    def categories(self, batch: OrderBatch) -> list[str]:
        """One row per category of each line's SKU (1 or 2)."""
        catalog = self._checkout.catalog
        keys = self._keys(batch)
        count = catalog.category_count[batch.product]
        line = np.repeat(np.arange(batch.lines), count)
        within = np.arange(len(line)) - np.repeat(np.cumsum(count) - count, count)
        category = catalog.sku_categories[catalog.category_start[batch.product[line]] + within]
        names = catalog.categories
        return [
            f"{keys[o]}|{n}|{names[c]}"
            for o, n, c in zip(batch.line_order[line].tolist(), batch.line_numbers()[line].tolist(),
                               category.tolist(), strict=True)
        ]
