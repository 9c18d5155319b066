"""When each order is placed and with which customer record, and the ids stores give records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from clientela.generate.accounts import Accounts
from clientela.generate.calendar import Calendar
from clientela.generate.chance import normalised
from clientela.generate.people import People
from clientela.generate.stores import STORES, WEB

# How often a person with a record there buys in the home store, a second store, on the web.
_CHANNEL_PREFERENCE = np.array([0.6, 0.15, 0.35])


@dataclass(frozen=True)
class Schedule:
    account: npt.NDArray[np.int64]
    """Customer record of each order, orders sorted by day."""
    bounds: npt.NDArray[np.int64]
    """Orders of day d are `account[bounds[d]:bounds[d + 1]]`."""
    first_day: npt.NDArray[np.int64]
    """Per record, the day it first appears in a Customers file."""
    local_id: npt.NDArray[np.int64]
    """Per record, its number in its store (or on the web shop), from 1."""

    def day(self, d: int) -> npt.NDArray[np.int64]:
        return self.account[self.bounds[d]:self.bounds[d + 1]]


def _draw_days(rng: np.random.Generator, weights: npt.NDArray[np.float64],
               n: int) -> npt.NDArray[np.int64]:
    if weights.sum() <= 0:  # e.g. one day on which the stores are closed
        weights = np.ones_like(weights)
    cumulative = np.cumsum(normalised(weights))
    return np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"),
                      len(weights) - 1).astype(np.int64)


def _number_records(rng: np.random.Generator, store: npt.NDArray[np.integer[Any]],
                    first_day: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each store numbers its records 1, 2, ... in the order they were registered."""
    order = np.lexsort((rng.random(len(store)), first_day, store))
    counts = np.bincount(store, minlength=len(STORES))
    starts = np.cumsum(counts) - counts
    local = np.empty(len(store), dtype=np.int64)
    local[order] = np.arange(len(store)) - np.repeat(starts, counts) + 1
    return local


def _order_records(rng: np.random.Generator, people: People) -> npt.NDArray[np.int64]:
    """The customer record of each order, person after person."""
    channels = people.channels
    # Per person: cumulative chance of each channel among those with a record, and the index of
    # the record of each channel (records are grouped by person in channel order).
    cumulative = np.cumsum(channels * _CHANNEL_PREFERENCE, axis=1)
    cumulative /= cumulative[:, -1:]
    records = channels.sum(axis=1)
    record = (np.cumsum(records) - records)[:, None] + np.cumsum(channels, axis=1) - 1
    buyer = np.repeat(np.arange(people.size, dtype=np.int64), people.orders)
    u = rng.random(len(buyer))
    kind = (u > cumulative[buyer, 0]).astype(np.int64) + (u > cumulative[buyer, 1])
    return np.asarray(record[buyer, kind], dtype=np.int64)


def build_schedule(rng: np.random.Generator, people: People, accounts: Accounts,
                   calendar: Calendar) -> Schedule:
    account = _order_records(rng, people)
    web = accounts.store[account] == WEB
    day = np.where(web, _draw_days(rng, calendar.web_weight, len(account)),
                   _draw_days(rng, calendar.pos_weight, len(account)))
    order = np.argsort(day, kind="stable")
    account, day = account[order], day[order]
    # A record first appears on its first order, or on the day it registers without buying.
    web_record = accounts.store == WEB
    first_day = np.where(web_record, _draw_days(rng, calendar.web_weight, accounts.size),
                         _draw_days(rng, calendar.pos_weight, accounts.size))
    used, first = np.unique(account, return_index=True)
    first_day[used] = day[first]
    return Schedule(
        account=account,
        bounds=np.searchsorted(day, np.arange(calendar.days + 1)).astype(np.int64),
        first_day=first_day,
        local_id=_number_records(rng, accounts.store, first_day),
    )
