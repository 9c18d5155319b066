"""Import benchmark: ~1M customers, 3M orders, 9M order lines, against DuckDB's bare read_csv.

Each measured phase runs in its own process so that its peak memory (max RSS) is its own:
- `floor`: DuckDB's read_csv of the same files into bare tables, no validation;
- `clientela`: `clientela import` end to end (probe, parse, validate, upsert, reports).
Run with `make bench` or `python bench/import_bench.py [--customers N] [--days D]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from clientela.config import create_instance
from clientela.generate import generate_retailer
from clientela.ingest.importer import run_import
from clientela.schema import RECORDS
from measure import as_installed, peak_rss_mb  # beside this script (bench/ is not a package)

DATA = Path(__file__).parent / "data"


def dataset(customers: int, days: int) -> Path:
    folder = DATA / f"retailer-{customers}-{days}"
    marker = folder / ".complete"
    if not marker.exists():
        started = time.monotonic()
        generate_retailer(folder, customers=customers, days=days, seed=7, instance="bench")
        marker.write_text(f"{time.monotonic() - started:.1f}\n")
    return folder


def daily_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("ICOMMKT_*") if p.is_file())


def phase_floor(folder: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=DATA) as work:
        con = duckdb.connect(str(Path(work) / "floor.duckdb"))
        started = time.monotonic()
        rows = {}
        for schema in RECORDS:
            pattern = str(folder / f"ICOMMKT_{schema.file_tag}_BENCH_*.txt")
            con.execute(f"CREATE TABLE {schema.table} AS SELECT * FROM read_csv('{pattern}', "
                        "delim = '|', header = true, union_by_name = true, all_varchar = true, "
                        "ignore_errors = true)")
            rows[schema.table] = (con.execute(
                f"SELECT count(*) FROM {schema.table}").fetchone() or (0,))[0]
        seconds = time.monotonic() - started
        con.close()
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), **rows}


def phase_clientela(folder: Path) -> dict[str, float]:
    # The instance holds a copy of every file and its stores (~5 GB at 1M customers).
    with tempfile.TemporaryDirectory(dir=DATA) as work:
        instance = create_instance("bench", timezone="America/Santiago", currency="CLP",
                                   store_scoped_customer_ids=True, home=Path(work))
        started = time.monotonic()
        result = run_import(instance, daily_files(folder))
        seconds = time.monotonic() - started
        con = duckdb.connect(str(instance.analytics_path), read_only=True)
        rows = {s.table: (con.execute(f"SELECT count(*) FROM {s.table}").fetchone() or (0,))[0]
                for s in RECORDS}
        con.close()
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "days": len(result.days_loaded),
            "rejected": result.rows_rejected, **rows}


def run_phase(name: str, folder: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--folder", str(folder)],
        check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--phase", choices=["floor", "clientela"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.phase:
        as_installed()
        phase = phase_floor if args.phase == "floor" else phase_clientela
        print(json.dumps(phase(args.folder)))
        return
    folder = dataset(args.customers, args.days)
    size = sum(p.stat().st_size for p in daily_files(folder)) / 1e9
    floor = run_phase("floor", folder)
    ours = run_phase("clientela", folder)
    lines = ours["order_lines"]
    print(f"# Import benchmark, {date.today()}, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, DuckDB {duckdb.__version__}")
    print(f"dataset: {args.customers:,} customers over {args.days} days, "
          f"{len(daily_files(folder))} files, {size:.2f} GB")
    print(f"rows: customers {ours['customers']:,}, orders {ours['orders']:,}, "
          f"order lines {ours['order_lines']:,}, categories {ours['order_line_categories']:,}")
    print("| run | seconds | order lines/s | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for name, run in (("DuckDB read_csv into bare tables (floor)", floor),
                      ("clientela import (parse, validate, upsert)", ours)):
        print(f"| {name} | {run['seconds']:.1f} | {lines / run['seconds']:,.0f} | "
              f"{run['peak_rss_mb']:,.0f} |")
    print(f"ratio clientela / floor: {ours['seconds'] / floor['seconds']:.2f}x "
          f"(target <= 2x); order lines/s {lines / ours['seconds']:,.0f} (target >= 250,000); "
          f"peak RSS {ours['peak_rss_mb']:,.0f} MB (target < 3,072)")


if __name__ == "__main__":
    main()
