"""One small generated retailer shared by the generate tests, and readers for its files.

Helpers are fixtures, as in the root conftest: `summary`, `truth`, `daily_files`, `read`, `rows`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from clientela.generate import GenerationSummary, generate_retailer

Rows = list[dict[str, str]]


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationSummary, Path]:
    folder = tmp_path_factory.mktemp("retailer")
    summary = generate_retailer(folder / "daily", customers=500, days=20,
                                truth_path=folder / "truth.csv")
    return summary, folder / "daily"


@pytest.fixture(scope="session")
def summary(generated: tuple[GenerationSummary, Path]) -> GenerationSummary:
    """500 customers over 20 days ending 2026-11-24, seed 42, with a truth file."""
    return generated[0]


@pytest.fixture(scope="session")
def truth(summary: GenerationSummary) -> dict[tuple[str, str], str]:
    """(StoreCode, UserId) -> the person the record really is."""
    assert summary.truth_file is not None
    with summary.truth_file.open(encoding="utf-8", newline="") as handle:
        return {(r["store_code"], r["user_id"]): r["person_id"] for r in csv.DictReader(handle)}


@pytest.fixture(scope="session")
def daily_files(generated: tuple[GenerationSummary, Path]) -> Callable[[str], list[Path]]:
    """`daily_files(tag)`: the files of one kind (`CUSTOMERS`, `ORDERS`...), day after day."""
    def files(tag: str) -> list[Path]:
        return sorted(generated[1].glob(f"ICOMMKT_{tag}_DEMO_*.txt"))
    return files


def _read(path: Path) -> Rows:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter="|", strict=True))


@pytest.fixture(scope="session")
def read() -> Callable[[Path], Rows]:
    """`read(path)`: a daily file's rows as dicts, decoded as UTF-8 or else Windows-1252."""
    return _read


@pytest.fixture(scope="session")
def rows(daily_files: Callable[[str], list[Path]]) -> Callable[[str], Rows]:
    """`rows(tag)`: the rows of every file of that kind, day after day (read once: do not
    modify)."""
    @cache
    def all_rows(tag: str) -> Rows:
        return [row for path in daily_files(tag) for row in _read(path)]
    return all_rows
