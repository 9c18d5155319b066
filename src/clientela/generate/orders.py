"""A day's new orders and return documents, and the order numbers each store gives them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clientela.generate.accounts import Accounts
from clientela.generate.batch import IntArray, OrderBatch, Status
from clientela.generate.calendar import Calendar
from clientela.generate.catalog import Catalog
from clientela.generate.chance import normalised
from clientela.generate.delivery import FREE_SHIPPING_FROM, IN_STORE, NO_DELIVERY, Delivery
from clientela.generate.payments import Payments
from clientela.generate.promotions import NO_PROMO, Promotions
from clientela.generate.stores import CASHIERS_PER_STORE, STORES, WEB
from clientela.generate.totals import gross

_LINES_P = np.array([0.17, 0.22, 0.22, 0.18, 0.12, 0.09])
"""1 to 6 lines, 3.1 on average."""
_QUANTITY = np.array([1, 2, 3, 4, 6])
_QUANTITY_P = np.array([0.86, 0.09, 0.03, 0.01, 0.01])
_STORE_HOURS = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.8, 1.1, 1.3, 1.0, 0.9, 1.0, 1.2,
                         1.4, 1.3, 0.9, 0.4, 0, 0])
_WEB_HOURS = np.array([0.5, 0.3, 0.15, 0.1, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.05, 1.1, 1.1,
                       1.0, 1.0, 1.0, 1.05, 1.15, 1.3, 1.5, 1.55, 1.3, 0.9])
PLACED_SHARE = 0.35
"""Web orders first sent as `placed`, then re-sent once fulfilled or cancelled."""


@dataclass(frozen=True)
class Checkout:
    """What a checkout can hold: products, payment, delivery and promo options."""

    catalog: Catalog
    payments: Payments
    delivery: Delivery
    promotions: Promotions


def _seconds(rng: np.random.Generator, store: IntArray) -> IntArray:
    web = store == WEB
    hours = np.where(web, rng.choice(24, size=len(store), p=normalised(_WEB_HOURS)),
                     rng.choice(24, size=len(store), p=normalised(_STORE_HOURS)))
    return (hours * 3600 + rng.integers(0, 3600, len(store))).astype(np.int64)


def _either(rng: np.random.Generator, web: npt.NDArray[np.bool_], web_p: npt.NDArray[np.float64],
            store_p: npt.NDArray[np.float64]) -> IntArray:
    """One draw per order, from the web or the store distribution."""
    u = rng.random(len(web))
    on_web = np.searchsorted(np.cumsum(web_p), u, side="right")
    in_store = np.searchsorted(np.cumsum(store_p), u, side="right")
    return np.minimum(np.where(web, on_web, in_store), len(web_p) - 1).astype(np.int64)


def new_orders(rng: np.random.Generator, day: int, account: IntArray, accounts: Accounts,
               checkout: Checkout, calendar: Calendar, levels: IntArray) -> OrderBatch:
    """The orders placed on `day` with the given customer records; numbers are assigned later."""
    n = len(account)
    store = accounts.store[account].astype(np.int64)
    web = store == WEB
    line_order = np.repeat(np.arange(n, dtype=np.int64),
                           rng.choice(len(_LINES_P), size=n, p=_LINES_P) + 1)
    product = checkout.catalog.sample(rng, len(line_order))
    # One cashier rings up a store ticket; on the web each SKU has its seller.
    cashier = store * CASHIERS_PER_STORE + rng.integers(0, CASHIERS_PER_STORE, n)
    seller = np.where(web[line_order], checkout.catalog.web_seller[product], cashier[line_order])
    cyber, december = bool(calendar.cyber[day]), bool(calendar.december[day])
    promo = _either(rng, web,
                    checkout.promotions.probabilities(web=True, cyber=cyber, december=december),
                    checkout.promotions.probabilities(web=False, cyber=cyber, december=december))
    delivery = np.where(web, rng.choice(len(checkout.delivery.web_p), size=n,
                                        p=checkout.delivery.web_p), IN_STORE)
    payment = _either(rng, web, checkout.payments.web_p, checkout.payments.store_p)
    placed = web & (rng.random(n) < PLACED_SHARE)
    zeros = np.zeros(n, dtype=np.int64)
    batch = OrderBatch(
        account=account, store=store, number=zeros, day=np.full(n, day, dtype=np.int64),
        second=_seconds(rng, store), status=np.where(placed, Status.PLACED, Status.BLANK),
        promo=promo, delivery=delivery.astype(np.int64), payment=payment, discount=zeros,
        shipping=zeros, is_return=np.zeros(n, dtype=np.bool_), line_order=line_order,
        product=product, level=levels[product],
        quantity=rng.choice(_QUANTITY, size=len(line_order), p=_QUANTITY_P).astype(np.int64),
        seller=seller.astype(np.int64),
    )
    return _charge(batch, checkout)


def _charge(batch: OrderBatch, checkout: Checkout) -> OrderBatch:
    """Promo discounts (whole pesos, at most half the order) and shipping."""
    items = gross(batch, checkout.catalog)
    promotions = checkout.promotions
    percent_off = np.rint(items * promotions.percent[batch.promo] / 10_000) * 100
    discount = np.minimum(percent_off.astype(np.int64) + promotions.fixed_cents[batch.promo],
                          items // 200 * 100)
    options = checkout.delivery
    above = items - discount >= FREE_SHIPPING_FROM * 100
    free = (options.free_above_threshold[batch.delivery] & above) | promotions.free_shipping[
        batch.promo]
    shipping = np.where(free, 0, options.shipping[batch.delivery])
    return batch.with_columns(discount=discount, shipping=shipping.astype(np.int64))


def return_documents(rng: np.random.Generator, day: int, returned: OrderBatch) -> OrderBatch:
    """Credit notes for the returned lines: same store, customer and items, negative units."""
    n = returned.orders
    zeros = np.zeros(n, dtype=np.int64)
    return returned.with_columns(
        day=np.full(n, day, dtype=np.int64), second=_seconds(rng, returned.store),
        status=np.full(n, Status.BLANK, dtype=np.int64), promo=np.full(n, NO_PROMO, np.int64),
        delivery=np.full(n, NO_DELIVERY, dtype=np.int64), discount=zeros,
        shipping=zeros, is_return=np.ones(n, dtype=np.bool_), quantity=-returned.quantity,
    )


class OrderNumbers:
    """Each store numbers its documents (orders and returns) in time order."""

    def __init__(self) -> None:
        self._last = np.array([s.last_order_number for s in STORES], dtype=np.int64)

    def assign(self, batch: OrderBatch) -> OrderBatch:
        """The batch sorted by store and time, numbered."""
        ordered = batch.take(np.lexsort((batch.second, batch.store)).astype(np.int64))
        counts = np.bincount(ordered.store, minlength=len(STORES)).astype(np.int64)
        rank = np.arange(ordered.orders, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts,
                                                                     counts)
        numbered = ordered.with_columns(number=self._last[ordered.store] + rank + 1)
        self._last += counts
        return numbered
