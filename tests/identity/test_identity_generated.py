"""On the sample retailer's data, with its truth: quality, incremental = full, stable ids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clientela.config import Instance, create_instance
from clientela.generate import generate_retailer
from clientela.identity.quality import pairwise_quality
from clientela.identity.resolve import run_resolution
from clientela.ingest.importer import run_import
from clientela.stores import analytics

Groups = Callable[[Instance], set[frozenset[str]]]
Profiles = Callable[[Instance], dict[str, int]]


@pytest.fixture(scope="module")
def retailer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("retailer")
    generate_retailer(folder / "files", customers=700, days=40, seed=11,
                      truth_path=folder / "truth.csv")
    return folder / "files", folder / "truth.csv"


def _new(home: Path) -> Instance:
    return create_instance("demo", timezone="America/Santiago", currency="CLP",
                           store_scoped_customer_ids=True, home=home)


def _days(files: Path) -> list[list[Path]]:
    by_day: dict[str, list[Path]] = {}
    for path in sorted(files.glob("ICOMMKT_*")):
        by_day.setdefault(path.name.rsplit("_", 1)[1][:8], []).append(path)
    return [by_day[day] for day in sorted(by_day)]


def test_profiles_match_the_truth(retailer: tuple[Path, Path], tmp_path: Path) -> None:
    files, truth = retailer
    instance = _new(tmp_path)
    run_import(instance, sorted(files.glob("ICOMMKT_*")))

    con = analytics.connect(instance, read_only=True)
    try:
        quality = pairwise_quality(con, truth, store_scoped=True)
        # No profile holds two ids of one store, nor a quarantined or blocked identifier.
        assert con.execute("""
            SELECT count(*) FROM (
                SELECT m.client_id, i.scope FROM identity_members m
                JOIN identifiers i ON i.id = m.identifier AND i.type = 'user_id'
                GROUP BY ALL HAVING count(*) > 1)
        """).fetchone() == (0,)
        assert con.execute("""
            SELECT count(*) FROM identity_members m JOIN identifiers i ON i.id = m.identifier
            WHERE i.status NOT IN ('active', 'released')
        """).fetchone() == (0,)
        # The shop's default address and the junk ones are quarantined or blocked.
        assert con.execute("SELECT status FROM identifiers WHERE value = 'ventas@austral.cl' "
                           "AND type = 'email'").fetchone() == ("quarantined",)
    finally:
        con.close()
    assert quality.unresolved == 0
    assert quality.precision >= 0.995
    assert quality.linkable_recall >= 0.98
    # What no evidence links is out of anyone's reach; the rest is found.
    assert quality.recall >= 0.8
    assert quality.true_pairs > 150


def test_day_by_day_equals_all_at_once_and_rebuild(
        retailer: tuple[Path, Path], tmp_path: Path, groups: Groups,
        profiles: Profiles) -> None:
    files, _ = retailer
    daily = _new(tmp_path / "daily")
    for day in _days(files):
        run_import(daily, day)
    at_once = _new(tmp_path / "once")
    run_import(at_once, sorted(files.glob("ICOMMKT_*")))

    assert groups(daily) == groups(at_once)
    before = profiles(daily)
    con = analytics.connect(daily)
    try:
        result = run_resolution(con, daily.settings, reason="test", full=True)
    finally:
        con.close()
    assert result.created == result.merged == result.split == 0
    assert profiles(daily) == before


def test_more_days_only_merge_into_older_profiles(
        retailer: tuple[Path, Path], tmp_path: Path, profiles: Profiles) -> None:
    files, _ = retailer
    instance = _new(tmp_path)
    days = _days(files)
    for day in days[:30]:
        run_import(instance, day)
    before = profiles(instance)
    for day in days[30:]:
        run_import(instance, day)
    after = profiles(instance)

    con = analytics.connect(instance, read_only=True)
    try:
        aliases = dict(con.execute("SELECT alias, client_id FROM profile_aliases").fetchall())
        alive = {row[0] for row in con.execute("SELECT client_id FROM profiles").fetchall()}
    finally:
        con.close()
    renamed = 0
    for label, client in before.items():
        now = after.get(label)
        if now is None or now == client:
            continue
        renamed += 1
        # Moved: either merged into an older profile, or quarantined away from it.
        assert now < client or client in alive, label
        if client not in alive:
            assert aliases[client] == now
    assert renamed < len(before) // 50
