"""`generate_retailer`: daily files of a Chilean fashion and home retailer, with the truth."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from clientela.generate.accounts import NEVER, Accounts, build_accounts
from clientela.generate.batch import IntArray, OrderBatch, Status, concat
from clientela.generate.calendar import DEFAULT_END, build_calendar
from clientela.generate.catalog import build_catalog
from clientela.generate.cells import user_id_cells
from clientela.generate.chance import Stream, stream
from clientela.generate.customers import CustomerRows
from clientela.generate.delivery import build_delivery
from clientela.generate.followups import FollowUps
from clientela.generate.order_rows import OrderRows
from clientela.generate.orders import Checkout, OrderNumbers, new_orders, return_documents
from clientela.generate.payments import build_payments
from clientela.generate.people import build_people
from clientela.generate.prices import sale_levels
from clientela.generate.promotions import build_promotions
from clientela.generate.schedule import Schedule, build_schedule
from clientela.generate.stores import STORES
from clientela.generate.summary import GenerationSummary
from clientela.generate.totals import gross
from clientela.generate.writer import DailyFiles

CORRECTED_ORDERS = 5
"""Orders whose discount the re-sent day corrects."""
_TRUTH_CHUNK = 200_000


def _catalog_parents(customers: int) -> int:
    return min(4000, 200 + customers // 25)


def _by_day(days: npt.NDArray[np.integer[Any]], records: IntArray,
            total_days: int) -> tuple[IntArray, IntArray]:
    """Records sorted by day, and where each day starts."""
    order = np.argsort(days, kind="stable")
    bounds = np.searchsorted(days[order], np.arange(total_days + 1))
    return records[order], bounds.astype(np.int64)


class _UnpromptedRecords:
    """Customer records sent on a day without an order: registrations and attribute changes."""

    def __init__(self, accounts: Accounts, schedule: Schedule, days: int) -> None:
        every = np.arange(accounts.size, dtype=np.int64)
        changes = np.concatenate([accounts.city_changes, accounts.phone_changes])
        changed = changes != NEVER
        self._registered = _by_day(schedule.first_day, every, days)
        self._changed = _by_day(changes[changed], np.concatenate([every, every])[changed], days)

    def on(self, day: int) -> IntArray:
        return np.concatenate([records[bounds[day]:bounds[day + 1]]
                               for records, bounds in (self._registered, self._changed)])


def _correct(rng: np.random.Generator, documents: OrderBatch,
             checkout: Checkout) -> OrderBatch | None:
    """A late 10% discount on a few orders, which makes the ERP send the day's Orders again."""
    candidates = np.flatnonzero(~documents.is_return & (documents.status == Status.BLANK))
    if not len(candidates):
        return None
    picked = rng.choice(candidates, size=min(CORRECTED_ORDERS, len(candidates)), replace=False)
    items = gross(documents, checkout.catalog)[picked]
    discount = documents.discount.copy()
    extra = np.rint(items / 1000).astype(np.int64) * 100
    discount[picked] = np.minimum(discount[picked] + extra, items // 200 * 100)
    return documents.with_columns(discount=discount)


def _write_truth(path: Path, accounts: Accounts, schedule: Schedule) -> None:
    """`store_code,user_id,person_id` for every customer record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    codes = [s.code for s in STORES]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("store_code", "user_id", "person_id"))
        for begin in range(0, accounts.size, _TRUTH_CHUNK):
            chunk = np.arange(begin, min(begin + _TRUTH_CHUNK, accounts.size))
            store = accounts.store[chunk]
            writer.writerows(zip([codes[s] for s in store.tolist()],
                                 user_id_cells(schedule.local_id[chunk], store),
                                 accounts.person[chunk].tolist(), strict=True))


def generate_retailer(out_dir: Path, *, customers: int = 20_000, days: int = 365, seed: int = 42,
                      instance: str = "demo", start: date | None = None,
                      truth_path: Path | None = None,
                      progress: Callable[[int, int], None] | None = None) -> GenerationSummary:
    """Write `days` daily batches of a sample retailer with `customers` persons into `out_dir`.

    About three orders per person in all, however many days; the same seed gives the same bytes.
    """
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be at least 1")
    calendar = build_calendar(start or DEFAULT_END - timedelta(days=days - 1), days)
    checkout = Checkout(build_catalog(stream(seed, Stream.CATALOG), _catalog_parents(customers)),
                        build_payments(), build_delivery(), build_promotions())
    people = build_people(stream(seed, Stream.PEOPLE), customers)
    accounts = build_accounts(stream(seed, Stream.ACCOUNTS), people, calendar)
    schedule = build_schedule(stream(seed, Stream.SCHEDULE), people, accounts, calendar)
    summary = GenerationSummary(start=calendar.start, end=calendar.dates[-1], days=days,
                                persons=people.size, customer_records=accounts.size)
    files = DailyFiles(out_dir, instance, calendar, OrderRows(checkout, calendar, schedule),
                       CustomerRows(people, accounts, schedule), summary)
    unprompted = _UnpromptedRecords(accounts, schedule, days)
    followups = FollowUps(calendar)
    numbers = OrderNumbers()
    for day in range(days):
        rng = stream(seed, Stream.DAY, day)
        levels = sale_levels(seed, calendar, day, checkout.catalog.size)
        new = new_orders(rng, day, schedule.day(day), accounts, checkout, calendar, levels)
        returns = [return_documents(rng, day, b) for b in followups.returns(day)]
        updates = followups.updates(day)
        documents = numbers.assign(concat([new, *returns]))
        batch = concat([documents, *updates])
        files.orders(day, batch)
        corrected = (_correct(rng, documents, checkout)
                     if not summary.resent_files and day >= days // 2 else None)
        if corrected is not None:
            files.resent_orders(day, concat([corrected, *updates]))
            # Later re-sends carry the corrected amounts.
            documents = corrected
        followups.plan(rng, day, documents.take(np.flatnonzero(~documents.is_return)))
        records = np.unique(np.concatenate([batch.account, unprompted.on(day)]))
        customer_rows = files.customers(day, records)
        summary.returns += sum(r.orders for r in returns)
        summary.status_updates += sum(u.orders for u in updates)
        summary.cancellations += sum(int((u.status == Status.CANCELLED).sum()) for u in updates)
        if not batch.orders and not customer_rows:
            summary.header_only_days.append(calendar.dates[day])
        if progress is not None:
            progress(day + 1, days)
    if truth_path is not None:
        _write_truth(truth_path, accounts, schedule)
        summary.truth_file = truth_path
    return summary
