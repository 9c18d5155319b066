"""Same seed, same bytes; another seed, other data."""

from __future__ import annotations

import hashlib
from pathlib import Path

from clientela.generate import generate_retailer


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _generate(folder: Path, seed: int) -> dict[str, str]:
    generate_retailer(folder / "daily", customers=300, days=12, seed=seed,
                      truth_path=folder / "truth.csv")
    return _hashes(folder)


def test_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    first = _generate(tmp_path / "a", seed=7)
    second = _generate(tmp_path / "b", seed=7)
    assert len(first) == 4 * 12 + 2  # the daily files, the re-sent one, the truth
    assert first == second


def test_another_seed_writes_other_data(tmp_path: Path) -> None:
    first = _generate(tmp_path / "a", seed=7)
    other = _generate(tmp_path / "b", seed=8)
    orders = [name for name in first if "ORDERS_" in name]
    assert all(first[name] != other[name] for name in orders if "20261124" in name)
    assert first["truth.csv"] != other["truth.csv"]
