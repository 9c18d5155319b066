"""The persons behind the customer records: the truth that identity resolution should recover."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from clientela.generate.chance import normalised
from clientela.generate.names import (
    CITIES,
    EMAIL_DOMAINS,
    EMAIL_PATTERNS,
    FEMALE_NAMES,
    MALE_NAMES,
    SURNAMES,
    ascii_slug,
)
from clientela.generate.stores import PHYSICAL, STORES

BUYER_SHARE = 0.88
"""The others are prospects: registered, never buying."""
ORDERS_PER_PERSON = 3.0
EXTRA_ORDERS_SHAPE = 0.3
"""Gamma shape of the repeat-purchase rate: small, so most buy once and a few are loyal."""
MAX_ORDERS = 150
FAMILY_SHARE = 0.01
"""Families per person: 2-4 persons each, sharing one e-mail address."""
LOYALTY_SHARE = 0.45
_AGES_ON = date(2026, 1, 1).toordinal()
"""Ages are drawn as of this date, whatever the sample's start."""
_PHONE_SPACE = 10**8
_CARD_SPACE = 10**11


def _affine(space: int, rng: np.random.Generator) -> tuple[int, int]:
    """An injective map of 0..space-1 onto itself: unique yet random-looking numbers."""
    multiplier = int(rng.integers(space // 10, space)) | 1
    while multiplier % 5 == 0:
        multiplier += 2
    return multiplier, int(rng.integers(space))


Code = npt.NDArray[np.int8]
"""A small code per row: an index into a short table, or a style."""
Int32 = npt.NDArray[np.int32]


@dataclass(frozen=True)
class People:
    """One row per person, in compact columns (a million people take about 30 MB)."""

    gender: Code
    """0 female, 1 male."""
    first_name: Code
    """Index into FEMALE_NAMES or MALE_NAMES."""
    surname: Code
    second_surname: Code
    birth: Int32
    """Birth date as a proleptic ordinal."""
    city: Code
    home_store: Code
    email_owner: Int32
    """Whose address the person uses: itself, the family's head, or -1 for none."""
    email_pattern: Code
    email_domain: Code
    email_suffix: Int32
    """Number appended to the local part to keep addresses unique; 0 for none."""
    has_loyalty: npt.NDArray[np.bool_]
    in_family: npt.NDArray[np.bool_]
    orders: npt.NDArray[np.int16]
    """Planned number of orders; 0 for prospects."""
    channels: npt.NDArray[np.bool_]
    """Per person: has a record in the home store, in a second store, on the web shop."""
    phone_map: tuple[int, int]
    card_map: tuple[int, int]

    @property
    def size(self) -> int:
        return len(self.gender)

    def phone(self, index: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
        """The 8 digits after the mobile prefix 9. Indexes from `size` on are changed numbers."""
        a, b = self.phone_map
        return (index.astype(np.int64) * a + b) % _PHONE_SPACE

    def loyalty_card(self, person: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
        a, b = self.card_map
        return 7 * _CARD_SPACE + (person.astype(np.int64) * a + b) % _CARD_SPACE


def _weights(pairs: tuple[tuple[str, float], ...]) -> npt.NDArray[np.float64]:
    return normalised([p[1] for p in pairs])


def _order_counts(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    """Most buy once, a few buy often: one order plus a negative-binomial number of repeats."""
    extra_mean = ORDERS_PER_PERSON / BUYER_SHARE - 1
    rate = rng.gamma(EXTRA_ORDERS_SHAPE, extra_mean / EXTRA_ORDERS_SHAPE, n)
    counts = np.minimum(1 + rng.poisson(rate), MAX_ORDERS)
    return np.where(rng.random(n) < BUYER_SHARE, counts, 0).astype(np.int64)


def _email_suffixes(key: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """0 for the first person with a given address shape, distinct numbers for the others."""
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    group = np.repeat(starts, np.diff(np.r_[starts, len(key)]))
    rank = np.empty_like(key)
    rank[order] = np.arange(len(key)) - group
    return np.where(rank > 0, rank + key % 89, 0).astype(np.int64)


def _channels(rng: np.random.Generator, orders: npt.NDArray[np.int64],
              in_family: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Where each person has a customer record: stores only, web only, or both."""
    n = len(orders)
    u = rng.random(n)
    buyer = orders > 0
    # Buyers: 45% stores only, 25% web only, 30% both. Prospects: 60% web sign-ups.
    store = np.where(buyer, u < 0.75, u < 0.4) | in_family
    web = np.where(buyer, u >= 0.45, u >= 0.4)
    second_share = np.where(orders > 5, 0.35, 0.12)
    second = store & buyer & (rng.random(n) < second_share)
    return np.stack([store, second, web], axis=1)


def _families(rng: np.random.Generator, n: int) -> tuple[npt.NDArray[np.int64], ...]:
    """(members, their head) of the families sharing an e-mail address."""
    sizes = rng.integers(2, 5, max(1, round(n * FAMILY_SHARE)) if n >= 8 else 0)
    while sizes.sum() > n // 4:
        sizes = sizes[:-1]
    members = rng.choice(n, size=int(sizes.sum()), replace=False).astype(np.int64)
    heads = np.repeat(members[np.cumsum(sizes) - sizes], sizes)
    return members, heads


def build_people(rng: np.random.Generator, n: int) -> People:
    gender = (rng.random(n) < 0.44).astype(np.int64)
    first = np.where(gender == 0, rng.integers(0, len(FEMALE_NAMES), n),
                     rng.integers(0, len(MALE_NAMES), n))
    surname_p = normalised((np.arange(len(SURNAMES), dtype=np.float64) + 3) ** -0.8)
    surname = rng.choice(len(SURNAMES), size=n, p=surname_p)
    second = rng.choice(len(SURNAMES), size=n, p=surname_p)
    # Adults, most between 25 and 55, a long tail of older customers.
    age = 16 + rng.gamma(3.0, 8.0, n) % 79
    birth = (_AGES_ON - age * 365.25).astype(np.int64)
    store_p = np.array([s.share for s in STORES[:PHYSICAL]])
    home = rng.choice(PHYSICAL, size=n, p=normalised(store_p))
    city_names = [c[0] for c in CITIES]
    store_city = np.array([city_names.index(s.city) for s in STORES[:PHYSICAL]])
    city = np.where(rng.random(n) < 0.65, store_city[home],
                    rng.choice(len(CITIES), size=n, p=_weights(CITIES)))
    pattern = rng.integers(0, len(EMAIL_PATTERNS), n)
    domain = rng.choice(len(EMAIL_DOMAINS), size=n, p=_weights(EMAIL_DOMAINS))
    members, heads = _families(rng, n)
    surname[members] = surname[heads]
    home[members] = home[heads]
    in_family = np.zeros(n, dtype=np.bool_)
    in_family[members] = True
    orders = _order_counts(rng, n)
    channels = _channels(rng, orders, in_family)
    # The web shop takes an address once: only the family's head has a web account with it.
    channels[members[members != heads], 2] = False
    # The web shop asks for an address; in stores some people give none.
    owner = np.where(channels[:, 2] | (rng.random(n) < 0.85), np.arange(n), -1)
    owner[members] = heads
    has_loyalty = (rng.random(n) < LOYALTY_SHARE) | in_family
    # Addresses are built from the name; the key says which people would get the same one.
    initials = np.array([[ord(ascii_slug(name)[0]) for name in names]
                         for names in (FEMALE_NAMES, MALE_NAMES)], dtype=np.int64)
    first_part = np.where(pattern == EMAIL_PATTERNS.index("{i}{l}"), 1000 + initials[gender, first],
                          gender * 100 + first)
    with_middle = pattern == EMAIL_PATTERNS.index("{f}.{l}.{m}")
    key = (((pattern * 2000 + first_part) * 128 + surname) * 128
           + np.where(with_middle, second, 0)) * 16 + domain
    return People(
        gender=gender.astype(np.int8),
        first_name=first.astype(np.int8),
        surname=surname.astype(np.int8),
        second_surname=second.astype(np.int8),
        birth=birth.astype(np.int32),
        city=city.astype(np.int8),
        home_store=home.astype(np.int8),
        email_owner=owner.astype(np.int32),
        email_pattern=pattern.astype(np.int8),
        email_domain=domain.astype(np.int8),
        email_suffix=_email_suffixes(key.astype(np.int64)).astype(np.int32),
        has_loyalty=has_loyalty,
        in_family=in_family,
        orders=orders.astype(np.int16),
        channels=channels,
        phone_map=_affine(_PHONE_SPACE, rng),
        card_map=_affine(_CARD_SPACE, rng),
    )
