"""Indicators benchmark: the 104 indicators of ~1M profiles (6M orders, 18M lines), against
pandas and against the floor.

The store is made once with DuckDB SQL (no daily files: importing two years of them would take
hours) and cached in bench/data/, keyed by its size, seed and schema. It has the shape of a
retailer's: 11 stores (S01..S10 and WEB, the web the largest), ~50k products bought with a long
tail (log-uniform ranks: a few products in many lines), ~300 brands and ~150 categories (a third
of the products also carry their department, so ~1.3 categories per line), customers' order
counts skewed (~40% one order, the median two, 1% fifty or more), ~8% orders with promo codes,
~3% cancelled, ~2% credit notes (a fifth of their lines with positive quantities), 0.5% orders
without lines, split orders sharing an instant, a few orders dated after the as-of date, ~10% of
the profiles holding two customer ids and ~5% prospects without orders.

Each measured phase runs in its own process, so that its peak memory (max RSS) is its own:
- `clientela`: `compute_indicators` with `[storage] memory_limit = "3GB"` (DuckDB's limit is for
  its buffers: the process takes ~0.4 GB more, and the target is 4 GB of RSS), on a copy of the
  store (it writes `profile_indicators`);
- `clientela-1GB`: the same with `memory_limit = "1GB"`: it must finish, spilling;
- `floor`: one DuckDB query, units and value per profile over the lines joined to their orders
  and to the profiles (through the identifiers): the least any indicator run must do;
- `pandas`: bench/indicators_pandas.py, the 104 indicators as an analyst would write them with
  pandas, the reading of the tables included.
The DuckDB phases are repeated (`--repeat`, 3) and the median shown; pandas runs once.
`--check` builds a small store and compares every indicator of every profile between clientela
and pandas, printing each mismatch.
Run with `python bench/indicators_bench.py [--profiles N] [--repeat N] [--skip-pandas]` or
`python bench/indicators_bench.py --check [--profiles 2000]`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

import indicators_pandas  # beside this script (bench/ is not a package)
from clientela.config import Instance, create_instance, open_instance
from clientela.indicators.catalog import indicator_names
from clientela.indicators.compute import compute_indicators
from clientela.ingest.sql import ident, string_list
from clientela.stores.analytics import STORE, connect, transaction
from clientela.stores.migrations import migrations_for
from measure import as_installed, peak_rss_mb  # beside this script (bench/ is not a package)

DATA = Path(__file__).parent / "data"
AS_OF = date(2026, 11, 24)
DAYS = 730
"""Orders are dated over the two years up to AS_OF (and a few on the day after)."""
ORDERS_PER_PROFILE = 6
LINES_PER_ORDER = 3

STORE_SLOTS = (["WEB"] * 25 + ["S01"] * 15 + ["S02"] * 12 + ["S03"] * 10 + ["S04"] * 8
               + ["S05"] * 7 + ["S06"] * 6 + ["S07"] * 5 + ["S08"] * 5 + ["S09"] * 4
               + ["S10"] * 3)
"""A store drawn from 100 slots: the web sells a quarter, the physical stores less and less."""
DEPARTMENTS = ["Vestuario", "Calzado", "Electrónica", "Hogar", "Juguetería", "Deportes",
               "Belleza", "Librería", "Mascotas", "Ferretería", "Jardín", "Alimentos", "Bebés",
               "Óptica", "Música"]
CATEGORIES = [f"{d} > Línea {n:02d}" for d in DEPARTMENTS for n in range(1, 11)]
BRAND_BASES = ["Austral", "adidas", "Nike", "Puma", "Samsung", "LG", "Sony", "Colloky",
               "Ñandú", "Élite", "Bata", "Hush Puppies", "Lippi", "Doite", "Mattel", "Lego",
               "Hasbro", "Oster", "Thomas", "Mademsa", "Fensa", "L'Oréal", "Maybelline",
               "Nivea", "Purina", "Bosch", "Stanley", "Carozzi", "Soprole", "zara"]
BRAND_SUFFIXES = ["", " Kids", " Pro", " Home", " Sport", " Basics", " Premium", " Outdoor",
                  " Junior", " Lab"]
BRANDS = [b + s for s in BRAND_SUFFIXES for b in BRAND_BASES]
PROMO_CODES = [f"{word}{n}" for word in ("VERANO", "CYBER", "BIENVENIDA", "AMIGO", "BLACK",
                                         "NAVIDAD") for n in range(10, 20)]
PRODUCTS = 50_000


def _pick(values: list[str], position: str) -> str:
    """`values[position]` in SQL, `position` a 0-based SQL expression."""
    return f"{string_list(values)}[1 + ({position})::INT]"


def generation_sql(profiles: int, seed: int) -> list[str]:
    """The statements that fill an empty store (see the module docstring for the shape)."""
    as_of = f"DATE '{AS_OF.isoformat()}'"
    web_payment = """CASE WHEN p < 0.12 THEN ['MERCADOPAGO'] WHEN p < 0.40 THEN ['DEBITO']
                          WHEN p < 0.85 THEN ['CREDITO'] WHEN p < 0.90 THEN ['TRANSFERENCIA']
                          WHEN p < 0.98 THEN ['GIFTCARD', 'CREDITO']
                          ELSE ['CREDITO', 'GIFTCARD', 'CREDITO'] END"""
    store_payment = """CASE WHEN p < 0.20 THEN ['EFECTIVO'] WHEN p < 0.55 THEN ['DEBITO']
                            WHEN p < 0.90 THEN ['CREDITO']
                            WHEN p < 0.95 THEN ['GIFTCARD', 'CREDITO']
                            WHEN p < 0.99 THEN ['EFECTIVO', 'DEBITO']
                            ELSE ['CREDITO', 'CREDITO'] END"""
    return [
        # u(x, tag): a uniform number in [0, 1) drawn from x, tag and the seed.
        f"CREATE TEMP MACRO u(x, tag) AS (hash(x, tag, {seed}) >> 11)::DOUBLE / 9007199254740992",
        # Customer ids 1..P are the profiles' own; P+1..P+P/10 are second ids of 10% of them.
        f"""CREATE TEMP TABLE bench_ids AS
            SELECT range + 1 AS id, range + 1 AS client_id FROM range({profiles})
            UNION ALL
            SELECT {profiles} + k, 10 * k - (hash(k, 'second', {seed}) % 10)::BIGINT
            FROM range(1, {profiles // 10} + 1) t(k)""",
        # Orders per customer id: a Pareto draw (~40% one order, the median 2, 1% fifty or more),
        # none for the ids of prospects.
        f"""CREATE TEMP TABLE bench_buyers AS
            SELECT id AS user_id,
                   least(150, 1 + floor(3.5 * (pow(1 - u(id, 'orders'), -1 / 1.6) - 1)))::INT
                       AS orders,
                   {_pick(STORE_SLOTS, "floor(u(id, 'home') * 100)")} AS home
            FROM temp.bench_ids WHERE u(client_id, 'prospect') >= 0.05""",
        # Orders in time order (their numbers grow with time), ~0.2% dated after the as-of day;
        # 2% of the customers had their second order split from their first (same instant).
        f"""CREATE TEMP TABLE bench_orders AS
            WITH split AS (
                SELECT user_id, home, k,
                       user_id * 1000 + CASE WHEN k = 1 AND u(user_id, 'split') < 0.02 THEN 0
                                             ELSE k END AS draw
                FROM (SELECT user_id, home, unnest(range(orders)) AS k FROM temp.bench_buyers)
            ),
            drawn AS (
                SELECT user_id, home, k,
                       CASE WHEN u(draw, 'future') < 0.002 THEN {as_of} + 1
                            ELSE {as_of} - floor({DAYS} * pow(u(draw, 'day'), 1.25))::INT END
                           AS order_date,
                       9 * 3600 + floor(u(draw, 'time') * 12 * 3600)::INT AS second
                FROM split
            ),
            numbered AS (
                SELECT row_number() OVER (ORDER BY order_date, second, user_id, k) AS oid, *
                FROM drawn
            ),
            placed AS (
                SELECT *, u(oid, 'payment') AS p,
                       CASE WHEN u(oid, 'away') < 0.85 THEN home
                            ELSE {_pick(STORE_SLOTS, "floor(u(oid, 'store') * 100)")} END
                           AS store_code
                FROM numbered
            )
            SELECT oid, user_id::VARCHAR AS user_id, order_date,
                   (order_date + to_seconds(second))::TIMESTAMP::TIMESTAMPTZ AS order_ts,
                   store_code, (10000000 + oid)::VARCHAR AS order_number,
                   u(oid, 'kind') < 0.02 AS credit_note,
                   CASE WHEN credit_note THEN 1 + (u(oid, 'lines') < 0.3)::INT
                        WHEN u(oid, 'lines') < 0.005 THEN 0
                        ELSE least(12, 1 + floor(-ln(1 - u(oid, 'n')) * 2.55))::INT END
                       AS lines,
                   CASE WHEN credit_note THEN CASE WHEN u(oid, 'status') < 0.1 THEN 'placed'
                                             ELSE 'fulfilled' END
                        ELSE CASE WHEN u(oid, 'status') < 0.030 THEN 'cancelled'
                                  WHEN u(oid, 'status') < 0.035 THEN 'returned'
                                  WHEN u(oid, 'status') < 0.055 THEN 'placed'
                                  WHEN u(oid, 'status') < 0.075 THEN 'paid'
                                  WHEN u(oid, 'status') < 0.105 THEN 'sent'
                                  WHEN u(oid, 'status') < 0.300 THEN 'delivered'
                                  ELSE 'fulfilled' END END AS status,
                   CASE WHEN NOT credit_note AND u(oid, 'promo') < 0.08 THEN
                       CASE WHEN u(oid, 'promo2') < 0.1 THEN
                           [{_pick(PROMO_CODES, "floor(pow(u(oid, 'code'), 2) * 60)")},
                            {_pick(PROMO_CODES, "(floor(pow(u(oid, 'code'), 2) * 60) + 1 "
                                   "+ hash(oid, 'code2') % 59) % 60")}]
                       ELSE [{_pick(PROMO_CODES, "floor(pow(u(oid, 'code'), 2) * 60)")}] END
                   END AS promo_codes,
                   CASE WHEN store_code = 'WEB' THEN {web_payment} ELSE {store_payment} END
                       AS payment_method,
                   CASE WHEN credit_note THEN NULL WHEN store_code <> 'WEB' THEN 'STORE'
                        WHEN u(oid, 'delivery') < 0.7 THEN 'HOME' ELSE 'PICKUP' END
                       AS delivery_type
            FROM placed""",
        # Products: log-uniform popularity ranks, brands and categories skewed the same way.
        f"""CREATE TEMP TABLE bench_products AS
            SELECT rank,
                   'SKU-' || lpad(((rank * 7919) % {PRODUCTS})::VARCHAR, 5, '0') AS item_code,
                   CASE WHEN u(rank, 'parent') < 0.4 THEN
                       'P-' || lpad((((rank * 7919) % {PRODUCTS}) // 3)::VARCHAR, 5, '0')
                   END AS parent_item_code,
                   CASE WHEN u(rank, 'brand') >= 0.03 THEN
                       {_pick(BRANDS, f"floor(exp(u(rank, 'which brand') * ln({len(BRANDS)})))"
                              " - 1")} END AS brand,
                   floor(exp(u(rank, 'category') * ln({len(CATEGORIES)})))::INT - 1
                       AS category_index,
                   {_pick(CATEGORIES, "category_index")} AS category,
                   CASE WHEN u(rank, 'department') < 0.3 THEN
                       {_pick(DEPARTMENTS, "category_index // 10")} END AS department,
                   990 + floor(pow(u(rank, 'price'), 2) * 200) * 500 AS price
            FROM range(1, {PRODUCTS} + 1) t(rank)""",
        f"""CREATE TEMP TABLE bench_lines AS
            WITH o AS (
                SELECT oid, store_code, credit_note, unnest(range(lines)) + 1 AS line_number
                FROM temp.bench_orders
            ),
            l AS (
                SELECT *, u(oid * 16 + line_number, 'q') AS q FROM o
            )
            SELECT l.oid, l.line_number, p.item_code, p.parent_item_code, p.brand, p.category,
                   p.department,
                   CASE WHEN l.credit_note THEN
                            (CASE WHEN u(l.oid * 16 + l.line_number, 'sign') < 0.8 THEN -1
                                  ELSE 1 END)
                            * (1 + (u(l.oid * 16 + l.line_number, 'q') < 0.2)::INT)
                        WHEN l.q < 0.85 THEN 1 WHEN l.q < 0.93 THEN 2 WHEN l.q < 0.96 THEN 3
                        WHEN l.q < 0.98 THEN 4 + floor((l.q - 0.96) * 150)
                        ELSE [0.5, 0.25, 1.5, 2.75][1 + floor((l.q - 0.98) * 200)::INT]
                   END::DECIMAL(7, 2) AS quantity,
                   (CASE WHEN u(l.oid * 16 + l.line_number, 'sale') < 0.1
                         THEN round(p.price * 0.8) ELSE p.price END)::DECIMAL(12, 2) AS price,
                   CASE WHEN u(l.oid * 16 + l.line_number, 'seller') < 0.03 THEN NULL
                        WHEN l.store_code <> 'WEB' THEN
                            l.store_code || '-V' || lpad((1 + hash(l.oid, 'clerk') % 20
                                                          )::VARCHAR, 2, '0')
                        WHEN u(l.oid * 16 + l.line_number, 'seller') < 0.8 THEN 'AUSTRAL'
                        ELSE 'MKP-' || lpad((1 + hash(l.oid, l.line_number, 'mkp') % 30
                                             )::VARCHAR, 2, '0') END AS seller
            FROM l JOIN temp.bench_products p
                ON p.rank = least({PRODUCTS}, floor(exp(pow(u(l.oid * 16 + l.line_number,
                                                             'product'), 0.7)
                                                         * ln({PRODUCTS}))))::INT""",
        # Lines go in as an import would have loaded them: day by day.
        """INSERT INTO order_lines
           SELECT o.store_code, o.order_number, l.line_number, l.quantity, l.item_code, NULL,
                  l.brand, NULL, l.price, l.price, l.price, NULL, NULL, l.seller,
                  l.parent_item_code, NULL, hash(l.oid, l.line_number, 'row'), o.order_date,
                  'ICOMMKT_ORDERSDETAIL_BENCH_' || strftime(o.order_date, '%Y%m%d') || '.txt',
                  l.oid * 16 + l.line_number,
                  (o.order_date + INTERVAL 30 HOUR)::TIMESTAMPTZ, l.oid
           FROM temp.bench_lines l JOIN temp.bench_orders o USING (oid)
           ORDER BY l.oid, l.line_number""",
        """INSERT INTO order_line_categories
           SELECT store_code, order_number, line_number, category, NULL,
                  hash(oid, line_number, category), order_date,
                  'ICOMMKT_ORDERSDETAILCATEGORIES_BENCH_' || strftime(order_date, '%Y%m%d')
                      || '.txt',
                  oid * 32 + line_number * 2 + (category <> first_category)::INT,
                  (order_date + INTERVAL 30 HOUR)::TIMESTAMPTZ, oid
           FROM (SELECT o.store_code, o.order_number, l.line_number, l.oid, o.order_date,
                        l.category AS first_category,
                        unnest(CASE WHEN l.department IS NULL THEN [l.category]
                                    ELSE [l.category, l.department] END) AS category
                 FROM temp.bench_lines l JOIN temp.bench_orders o USING (oid))
           ORDER BY oid, line_number, category <> first_category""",
        # Totals from the lines: a 10% discount with a promo code, home delivery charged
        # below 49,990; credit notes refund their lines; orders without lines get an amount.
        """INSERT INTO orders
           WITH sums AS (
               SELECT oid, sum(CASE WHEN quantity < 0 THEN -quantity ELSE quantity END)
                          AS units,
                      count(*) AS products,
                      sum(abs(quantity) * price) AS items_amount
               FROM temp.bench_lines GROUP BY oid
           ),
           priced AS (
               SELECT o.*, coalesce(s.units, 1) AS units, coalesce(s.products, 0) AS products,
                      coalesce(s.items_amount, 990 + hash(o.oid, 'amount') % 90000)
                          AS items_amount,
                      CASE WHEN o.promo_codes IS NOT NULL
                           THEN round(coalesce(s.items_amount, 0) * 0.1) ELSE 0 END
                          AS discounts
               FROM temp.bench_orders o LEFT JOIN sums s USING (oid)
           ),
           totalled AS (
               SELECT *, CASE WHEN delivery_type = 'HOME' AND items_amount - discounts < 49990
                              THEN 3990 ELSE 0 END AS shipping,
                      CASE WHEN credit_note THEN -1 ELSE 1 END AS sign
               FROM priced
           )
           SELECT store_code, order_number, user_id, order_ts, order_date,
                  (sign * units)::DECIMAL(7, 2), products::DECIMAL(7, 2),
                  (sign * (items_amount - discounts + shipping))::DECIMAL(12, 2),
                  (sign * items_amount)::DECIMAL(12, 2), discounts::DECIMAL(12, 2),
                  shipping::DECIMAL(12, 2),
                  round(sign * (items_amount - discounts + shipping) * 19 / 119)::DECIMAL(12, 2),
                  promo_codes, NULL, delivery_type, NULL, NULL, payment_method, NULL, NULL, NULL,
                  status, 'CLP', NULL, hash(oid, 'row'), order_date,
                  'ICOMMKT_ORDERS_BENCH_' || strftime(order_date, '%Y%m%d') || '.txt', oid,
                  (order_date + INTERVAL 30 HOUR)::TIMESTAMPTZ, oid
           FROM totalled ORDER BY oid""",
        """INSERT INTO identifiers
           SELECT id, 'user_id', '', id::VARCHAR, TIMESTAMPTZ '2024-11-01 12:00:00', 'active', 1
           FROM temp.bench_ids ORDER BY id""",
        """INSERT INTO identity_members
           SELECT id, client_id, client_id FROM temp.bench_ids ORDER BY id""",
        """INSERT INTO profiles
           SELECT client_id, TIMESTAMPTZ '2024-11-01 12:00:00', true, count(*)::INT
           FROM temp.bench_ids GROUP BY client_id ORDER BY client_id""",
        f"""UPDATE identity_state SET evidence_until = TIMESTAMPTZ '{AS_OF + timedelta(2)}',
                   resolved_at = TIMESTAMPTZ '{AS_OF + timedelta(2)}',
                   resolved_identifier = (SELECT max(id) FROM temp.bench_ids),
                   resolved_link = 0, last_client_id = {profiles}""",
        f"""INSERT INTO import_days
            SELECT day::DATE, 'loaded', day + INTERVAL 30 HOUR, NULL
            FROM range({as_of} - {DAYS}, {as_of} + 2, INTERVAL 1 DAY) t(day)""",
    ]


def store_folder(profiles: int, seed: int) -> Path:
    """Named by the store's schema too: a changed migration needs a new store."""
    schema = hashlib.sha256("".join(m.sql for m in migrations_for(STORE)).encode())
    return DATA / f"indicators-{profiles}-{seed}-{schema.hexdigest()[:8]}"


def build_store(profiles: int, seed: int) -> Path:
    """Create the bench instance and fill its store (timed, but not against the targets)."""
    folder = store_folder(profiles, seed)
    if folder.exists():
        shutil.rmtree(folder)
    instance = create_instance("bench", timezone="America/Santiago", currency="CLP",
                               home=folder)
    started = time.monotonic()
    con = connect(instance)
    con.execute("SET memory_limit = '12GB'")
    with transaction(con):
        for statement in generation_sql(profiles, seed):
            con.execute(statement)
    con.execute("CHECKPOINT")
    sizes = counts(con)
    con.close()
    (folder / "generated.json").write_text(json.dumps(
        {"seconds": time.monotonic() - started, **sizes}))
    return folder


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute("""
        SELECT (SELECT count(*) FROM profiles), (SELECT count(*) FROM identifiers),
               (SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines),
               (SELECT count(*) FROM order_line_categories),
               (SELECT count(DISTINCT user_id) FROM orders)
    """).fetchone()
    assert row is not None
    names = ("profiles", "customer_ids", "orders", "order_lines", "categories", "buyers")
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def prepared_store(profiles: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The generated store, made once and kept in bench/data/."""
    folder = store_folder(profiles, seed)
    if not (folder / "generated.json").exists():
        build_store(profiles, seed)
    return folder, json.loads((folder / "generated.json").read_text())


def working_copy(folder: Path, memory_limit: str) -> Instance:
    """A copy of the cached store with its own memory limit: every run starts from the same
    state, and the run's writes do not reach the cache."""
    home = Path(tempfile.mkdtemp(dir=DATA, prefix="indicators-work-"))
    (home / "bench").mkdir()
    shutil.copyfile(folder / "bench" / "analytics.duckdb", home / "bench" / "analytics.duckdb")
    settings = open_instance("bench", home=folder).settings
    settings.storage.memory_limit = memory_limit
    (home / "bench" / "clientela.toml").write_text(settings.render(), encoding="utf-8")
    return open_instance("bench", home=home)


def run_clientela(folder: Path, memory_limit: str) -> dict[str, Any]:
    instance = working_copy(folder, memory_limit)
    try:
        con = connect(instance)
        with SpillWatch(instance.temp / "duckdb") as spill:
            started = time.monotonic()
            rows = compute_indicators(con, instance.settings, AS_OF)
            seconds = time.monotonic() - started
        peak = peak_rss_mb()
        con.close()
        return {"seconds": seconds, "peak_rss_mb": peak, "rows": rows,
                "memory_limit": memory_limit, "spilled_mb": spill.peak / 2**20}
    finally:
        shutil.rmtree(instance.root.parent)


class SpillWatch:
    """The largest size DuckDB's spill folder reached, sampled every 0.2 s in a thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(0.2):
            size = 0
            for spill_file in self.folder.glob("*"):
                with contextlib.suppress(FileNotFoundError):  # DuckDB removes them as it goes
                    size += spill_file.stat().st_size
            self.peak = max(self.peak, size)

    def __enter__(self) -> SpillWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


FLOOR_SQL = """
    CREATE TEMP TABLE floor_result AS
    WITH line_units AS (
        SELECT store_code, order_number, sum(quantity) AS units
        FROM order_lines GROUP BY store_code, order_number
    )
    SELECT m.client_id, sum(coalesce(l.units, 0)) AS units, sum(o.total_amount) AS value
    FROM orders o
    JOIN identifiers i ON i.type = 'user_id' AND i.scope = '' AND i.value = o.user_id
    JOIN identity_members m ON m.identifier = i.id
    LEFT JOIN line_units l USING (store_code, order_number)
    WHERE o.order_date <= $as_of AND o.batch_day <= $as_of AND list_contains($statuses, o.status)
    GROUP BY m.client_id
"""
"""Units and value per profile: every line and order read once, joined to the profiles."""


def phase_floor(folder: Path) -> dict[str, Any]:
    instance = open_instance("bench", home=folder)
    con = connect(instance, read_only=True)
    orders = instance.settings.orders
    statuses = sorted(set(orders.purchase_statuses) | set(orders.fulfilled_statuses))
    started = time.monotonic()
    con.execute(FLOOR_SQL, {"as_of": AS_OF, "statuses": statuses})
    seconds = time.monotonic() - started
    row = con.execute("SELECT count(*) FROM floor_result").fetchone()
    con.close()
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "rows": row[0] if row else 0}


def pandas_indicators(instance: Instance) -> pd.DataFrame:
    """The pandas implementation, told the instance's order pipeline and product level."""
    orders = instance.settings.orders
    return indicators_pandas.compute(instance.analytics_path, AS_OF,
                                     purchase_statuses=orders.purchase_statuses,
                                     fulfilled_statuses=orders.fulfilled_statuses,
                                     product_level=instance.settings.indicators.product_level)


def phase_pandas(folder: Path) -> dict[str, Any]:
    instance = open_instance("bench", home=folder)
    started = time.monotonic()
    frame = pandas_indicators(instance)
    seconds = time.monotonic() - started
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "rows": len(frame),
            "read_seconds": indicators_pandas.LAST_READ_SECONDS}


PHASES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "clientela": lambda folder: run_clientela(folder, "3GB"),
    "clientela-1GB": lambda folder: run_clientela(folder, "1GB"),
    "floor": phase_floor,
    "pandas": phase_pandas,
}


def run_phase(name: str, folder: Path) -> dict[str, Any]:
    """The phase's figures; for a phase that failed (out of memory...), its error and the
    seconds until then, so that the other phases are still reported."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--phase", name, "--folder", str(folder)],
                          capture_output=True, text=True)
    if done.returncode:
        errors = [line for line in done.stderr.splitlines()
                  if re.match(r"[\w.]*(Error|Exception)\b", line)]
        return {"failed": (errors or done.stderr.strip().splitlines() or ["?"])[-1][:300],
                "seconds": time.monotonic() - started}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def repeated(name: str, folder: Path, times: int) -> dict[str, Any]:
    """The run of median time among `times` runs, with the range and the largest peak RSS;
    the first failure if a run failed."""
    runs = []
    for _ in range(times):
        runs.append(run_phase(name, folder))
        if "failed" in runs[-1]:
            return runs[-1]
    runs.sort(key=lambda r: r["seconds"])
    return runs[len(runs) // 2] | {
        "fastest": runs[0]["seconds"], "slowest": runs[-1]["seconds"],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "runs": len(runs)}


def verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "NOT met"


def header(title: str) -> str:
    return (f"# {title}, {date.today()}, {platform.node()}, {os.cpu_count()} cores, "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
            f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
            f"pandas {pd.__version__}")


def describe(generated: dict[str, Any]) -> str:
    return (f"store: {generated['profiles']:,} profiles ({generated['buyers']:,} buying "
            f"customer ids of {generated['customer_ids']:,}), {generated['orders']:,} orders, "
            f"{generated['order_lines']:,} lines, {generated['categories']:,} line categories "
            f"over {DAYS} days up to {AS_OF}; made with SQL in {generated['seconds']:.1f} s "
            "(cached, not measured)")


def benchmark(args: argparse.Namespace) -> None:
    folder, generated = prepared_store(args.profiles, args.seed)
    floor = repeated("floor", folder, args.repeat)
    runs: list[tuple[str, dict[str, Any]]] = [
        ("floor: units and value per profile, one DuckDB query", floor)]
    ours = None
    if not args.skip_clientela:
        ours = repeated("clientela", folder, args.repeat)
        low = repeated("clientela-1GB", folder, args.repeat)
        runs += [(f"clientela compute_indicators, memory_limit 3GB (spilled "
                  f"{ours.get('spilled_mb', 0):,.0f} MB)", ours),
                 (f"clientela compute_indicators, memory_limit 1GB (spilled "
                  f"{low.get('spilled_mb', 0):,.0f} MB)", low)]
    theirs = None
    if not args.skip_pandas:
        theirs = run_phase("pandas", folder)
        theirs |= {"fastest": theirs["seconds"], "slowest": theirs["seconds"]}
        runs.append((f"pandas, 104 indicators (reading the tables "
                     f"{theirs.get('read_seconds', 0):.1f} s)", theirs))
    print(header("Indicators benchmark"))
    print(describe(generated))
    print(f"| phase | seconds (median of {args.repeat}; pandas 1 run) | range | peak RSS MB | "
          "× floor |")
    print("|---|---:|---:|---:|---:|")
    for name, run in runs:
        if "failed" in run:
            print(f"| {name} | FAILED after {run['seconds']:.1f} s (copy included): "
                  f"{run['failed']} | | | |")
            continue
        print(f"| {name} | {run['seconds']:.1f} | {run['fastest']:.1f}-{run['slowest']:.1f} | "
              f"{run['peak_rss_mb']:,.0f} | {run['seconds'] / floor['seconds']:.1f} |")
    if ours is not None and "failed" in ours:
        print("targets: NOT met (clientela failed)")
    elif ours is not None:
        print(f"targets: clientela {ours['seconds']:.1f} s <= 30: "
              f"{verdict(ours['seconds'], 30)}; peak RSS {ours['peak_rss_mb']:,.0f} MB <= 4,096: "
              f"{verdict(ours['peak_rss_mb'], 4096)}; "
              f"{ours['seconds'] / floor['seconds']:.1f}x the floor <= 5: "
              f"{verdict(ours['seconds'] / floor['seconds'], 5)}")
    if ours is not None and theirs is not None and "failed" not in ours | theirs:
        speed_up = theirs["seconds"] / ours["seconds"]
        print(f"clientela speed-up over pandas: {speed_up:.1f}x (target >= 10: "
              f"{'met' if speed_up >= 10 else 'NOT met'})")


# The cross-check -------------------------------------------------------------------------------

def comparable(value: Any) -> Any:
    """One indicator value in a form both sides share: exact decimals, lists, None for nulls."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Decimal(value)
    if hasattr(value, "tolist"):
        return comparable(value.tolist())
    if isinstance(value, list | tuple):
        return [comparable(v) for v in value]
    return value


def same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, float) and isinstance(theirs, float | Decimal):
        return math.isclose(ours, float(theirs), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(theirs, float) and isinstance(ours, Decimal):
        return math.isclose(float(ours), theirs, rel_tol=1e-9, abs_tol=1e-9)
    return bool(ours == theirs)


def cross_check(args: argparse.Namespace) -> None:
    """Every indicator of every profile, clientela against pandas, on a small store."""
    folder, generated = prepared_store(args.profiles, args.seed)
    print(header("Indicators cross-check"))
    print(describe(generated))
    names = indicator_names()
    theirs_names = indicators_pandas.INDICATORS
    if names != theirs_names:
        print(f"column lists differ: only clientela {sorted(set(names) - set(theirs_names))}, "
              f"only pandas {sorted(set(theirs_names) - set(names))}, "
              f"same set in another order: {set(names) == set(theirs_names)}")
    instance = working_copy(folder, "4GB")
    try:
        con = connect(instance)
        rows = compute_indicators(con, instance.settings, AS_OF)
        columns = ", ".join(ident(name) for name in names)
        ours = {row[0]: row[1:] for row in con.execute(
            f"SELECT client_id, {columns} FROM profile_indicators").fetchall()}
        con.close()
        frame = pandas_indicators(instance)
    finally:
        shutil.rmtree(instance.root.parent)
    theirs = frame.set_index("client_id")
    print(f"profiles: clientela {rows:,} rows, pandas {len(theirs):,} rows")
    missing = sorted(set(theirs.index) - set(ours))
    extra = sorted(set(ours) - set(theirs.index))
    if missing or extra:
        print(f"profiles only in pandas: {missing[:20]}; only in clientela: {extra[:20]}")
    by_field: dict[str, int] = {}
    shown = 0
    for position, name in enumerate(names):
        if name not in theirs.columns:
            continue
        column = theirs[name]
        for client_id, values in ours.items():
            if client_id not in column.index:
                continue
            mine, other = comparable(values[position]), comparable(column.at[client_id])
            if not same(mine, other):
                by_field[name] = by_field.get(name, 0) + 1
                if by_field[name] <= args.show:
                    print(f"MISMATCH {name} client {client_id}: clientela {mine!r}, "
                          f"pandas {other!r}")
                    shown += 1
    checked = len(ours) * len(names)
    print(f"compared {checked:,} values ({len(ours):,} profiles x {len(names)} indicators): "
          f"{sum(by_field.values()):,} mismatches"
          + ("" if not by_field else " in " + ", ".join(f"{k} ({v})"
                                                          for k, v in by_field.items())))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int,
                        help="profiles in the store (default 1,000,000; 2,000 with --check); "
                             f"~{ORDERS_PER_PROFILE} orders and "
                             f"~{ORDERS_PER_PROFILE * LINES_PER_ORDER} lines each")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the DuckDB phases (median shown)")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--skip-clientela", action="store_true",
                        help="the floor and pandas only (before the engine exists)")
    parser.add_argument("--check", action="store_true",
                        help="compare clientela and pandas on every value of a small store")
    parser.add_argument("--show", type=int, default=20, help="mismatches shown per field")
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.phase:
        if args.phase.startswith("clientela"):
            as_installed()
        print(json.dumps(PHASES[args.phase](args.folder)))
        return
    if args.check:
        args.profiles = args.profiles or 2_000
        cross_check(args)
        return
    args.profiles = args.profiles or 1_000_000
    benchmark(args)


if __name__ == "__main__":
    main()
