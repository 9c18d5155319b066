"""`clientela run` and `export profiles` end to end on a generated retailer: the run publishes
every profile, the single-profile path equals the full run, a replay as of a past day equals
the run made that day, an interrupted run leaves the previous one whole, exports in each
format."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner, Result

from clientela.cli.main import app
from clientela.config import Instance, create_instance, open_instance
from clientela.generate import generate_retailer
from clientela.indicators import compute
from clientela.indicators.catalog import indicator_names
from clientela.indicators.compile import Parts
from clientela.indicators.compute import compute_one, compute_selected
from clientela.ingest.importer import run_import
from clientela.run.pipeline import last_cut_points, run
from clientela.stores import analytics, operational

LAST_DAY = date(2026, 11, 24)
DAYS = 40
REPLAY_DAY = LAST_DAY - timedelta(days=12)
"""The snapshot: what the store held after this business day."""


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(home of the full instance, home of its snapshot after REPLAY_DAY). 400 customers over
    40 days, store-scoped ids, in America/Santiago; neither has run yet."""
    files = tmp_path_factory.mktemp("files")
    generate_retailer(files, customers=400, days=DAYS, seed=7)
    home = tmp_path_factory.mktemp("home")
    snapshot = tmp_path_factory.mktemp("snapshot")
    instance = create_instance("demo", timezone="America/Santiago", currency="CLP",
                               store_scoped_customer_ids=True, home=home)
    by_day = sorted(files.glob("ICOMMKT_*_DEMO_*.txt"), key=lambda p: p.stem[-8:])
    early = [p for p in by_day if p.stem[-8:] <= f"{REPLAY_DAY:%Y%m%d}"]
    assert run_import(instance, early).days_loaded[-1] == REPLAY_DAY
    # The re-sent correction is for a day before REPLAY_DAY: a replay takes corrections as
    # their business day's data (docs/indicators.md), so the snapshot holds it too.
    resent = sorted((files / "resent").glob("*"))
    assert resent and all(p.stem[-8:] <= f"{REPLAY_DAY:%Y%m%d}" for p in resent)
    run_import(instance, resent)
    shutil.copytree(instance.root, snapshot / "demo")
    late = [p for p in by_day if p not in early]
    assert run_import(instance, late).days_loaded[-1] == LAST_DAY
    return home, snapshot


@pytest.fixture
def demo(homes: tuple[Path, Path], tmp_path: Path) -> Instance:
    """A private copy of the full instance."""
    shutil.copytree(homes[0] / "demo", tmp_path / "home" / "demo")
    return open_instance("demo", home=tmp_path / "home")


@pytest.fixture
def store(demo: Instance) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
    opened: list[duckdb.DuckDBPyConnection] = []

    def query(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        if not opened:
            opened.append(analytics.connect(demo))
        return opened[0].execute(sql, params or []).fetchall()
    yield query
    for con in opened:
        con.close()


def _rows(instance: Instance) -> dict[int, dict[str, Any]]:
    con = analytics.connect(instance)
    try:
        cursor = con.execute("SELECT * FROM profile_indicators")
        names = [d[0] for d in cursor.description or ()]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    finally:
        con.close()


def _cli(instance: Instance, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--instance", instance.name],
                              env={"CLIENTELA_HOME": str(instance.root.parent)})


def test_run_publishes_every_profile_and_records_the_run(demo: Instance) -> None:
    first = _cli(demo, "run", "--as-of", LAST_DAY.isoformat())
    assert first.exit_code == 0, first.output
    assert f"Run 1 as of {LAST_DAY}" in first.output
    assert "RFM segments" in first.output and "LOYAL_CHAMPIONS" in first.output

    rows = _rows(demo)
    con = analytics.connect(demo)
    try:
        profiles = con.execute("SELECT count(*) FROM profiles").fetchone()
        runs = con.execute("SELECT run_id, as_of, profiles FROM indicator_runs").fetchall()
        points = con.execute("SELECT count(*), count(DISTINCT window_name) FROM rfm_cut_points "
                             "WHERE run_id = 1").fetchone()
    finally:
        con.close()
    assert profiles == (len(rows),)
    assert runs == [(1, LAST_DAY, len(rows))]
    assert points is not None and points[1] == 6 and points[0] > 6 * 3
    ops = operational.connect(demo)
    try:
        served = dict(ops.execute("SELECT client_id, indicators FROM serving_profiles"
                                  ).fetchall())
        assert ops.execute("SELECT run_id, as_of, profiles FROM serving_runs").fetchall() == [
            (1, LAST_DAY.isoformat(), len(rows))]
    finally:
        ops.close()
    assert served.keys() == rows.keys()
    buyer = next(r for r in rows.values() if r["Total_Purchases"] > 2)
    published = json.loads(served[buyer["client_id"]])
    assert list(published) == ["client_id", *indicator_names()]
    assert published["Total_Brands"] == buyer["Total_Brands"]
    assert published["Last_Purchase_Date"] == buyer["Last_Purchase_Date"].isoformat()
    assert published["RFM_Segment"] == buyer["RFM_Segment"]

    again = _cli(demo, "run", "--as-of", LAST_DAY.isoformat(), "--json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output)
    assert (summary["run_id"], summary["segment_changes"], summary["new_profiles"]) == (2, 0, 0)
    assert sum(summary["segments"].values()) == len(rows)


def test_the_single_profile_path_equals_the_full_run(demo: Instance) -> None:
    run(demo, LAST_DAY)
    rows = _rows(demo)
    con = analytics.connect(demo)
    try:
        found = last_cut_points(con)
        assert found is not None
        buyers = sorted(c for c, r in rows.items() if r["Total_Purchases"])[:60]
        prospects = sorted(c for c, r in rows.items() if not r["Total_Purchases"])[:5]
        assert len(buyers) == 60 and prospects
        for client_id in buyers + prospects:
            one = compute_one(con, demo.settings, LAST_DAY, client_id, found[1])
            assert one == rows[client_id], client_id
        assert compute_one(con, demo.settings, LAST_DAY, 10**9, found[1]) is None
    finally:
        con.close()


def test_the_set_path_on_two_connections_equals_the_full_run(demo: Instance) -> None:
    """Stages made two at a time (as the realtime worker makes them), for one set of profiles
    after another: a stage made before one it reads would show the previous set's rows."""
    run(demo, LAST_DAY)
    rows = _rows(demo)
    con = analytics.connect(demo)
    try:
        helper = analytics.cursor(con, demo)
        found = last_cut_points(con)
        assert found is not None
        buyers = sorted(c for c, r in rows.items() if r["Total_Purchases"])
        assert len(buyers) >= 120
        for group in (buyers[:40], buyers[40:41], buyers[41:120]):
            compute_selected(con, demo.settings, LAST_DAY, group, found[1], helper)
            cursor = con.execute(f"SELECT * FROM {compute.SELECTED}")
            names = [d[0] for d in cursor.description or ()]
            got = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
            assert got == {c: rows[c] for c in group}
    finally:
        con.close()


def test_a_run_made_in_parts_equals_a_run_in_one(demo: Instance,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A memory limit too small for the lists makes those stages and the result in parts of
    profiles; every value must be what one part gives."""
    run(demo, LAST_DAY)
    whole = _rows(demo)
    parted: list[str] = []

    def three(con: Any, parts: Parts, memory_bytes: int) -> int:
        parted.append(parts.rows_of)
        return 3
    monkeypatch.setattr(compute, "part_count", three)
    run(demo, LAST_DAY)
    # The lists of brands, categories, promo codes and stores; the result.
    assert sorted(parted) == ["ind_stream_brand", "ind_stream_category",
                              "ind_stream_promo_code", "ind_stream_store", "profiles"]
    assert _rows(demo) == whole


def test_a_replay_as_of_a_past_day_equals_the_run_made_that_day(
        demo: Instance, homes: tuple[Path, Path]) -> None:
    """The snapshot holds what was known after REPLAY_DAY; the full instance has 12 more days,
    with status changes and returns of earlier orders. As of REPLAY_DAY both must agree for
    every profile the later days did not merge with another."""
    then = open_instance("demo", home=homes[1])
    shutil.copytree(then.root, demo.root.parent.parent / "then" / "demo")
    then = open_instance("demo", home=demo.root.parent.parent / "then")
    run(then, REPLAY_DAY)
    run(demo, REPLAY_DAY)
    made_then, replayed = _rows(then), _rows(demo)
    con = analytics.connect(demo)
    try:
        versions = con.execute("SELECT count(*) FROM order_versions WHERE superseded_on > ?",
                               [REPLAY_DAY]).fetchone()
        merged_later = {c for (c,) in con.execute(
            "SELECT client_id FROM profile_history WHERE event = 'merged' AND happened_at > "
            "(SELECT max(happened_at) FROM profile_history WHERE event <> 'merged'"
            " AND happened_at < (SELECT min(loaded_at) FROM orders WHERE batch_day > ?))",
            [REPLAY_DAY]).fetchall()}
    finally:
        con.close()
    assert versions is not None and versions[0] > 0, "the later days re-sent no order"
    compared = [c for c in made_then if c in replayed and c not in merged_later]
    assert len(compared) >= 0.95 * len(made_then)
    rfm_fields = {n for n in indicator_names() if "RFM" in n}
    same_population = not merged_later
    for client_id in compared:
        expected, got = made_then[client_id], replayed[client_id]
        for name in indicator_names():
            if name in rfm_fields and not same_population:
                continue
            assert got[name] == expected[name], (client_id, name)


def test_an_interrupted_run_leaves_the_previous_one_whole(
        demo: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    run(demo, LAST_DAY - timedelta(days=1))
    before = _rows(demo)

    from clientela.run import pipeline

    real = pipeline.compute

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "compute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(demo, LAST_DAY)
    assert _rows(demo) == before
    con = analytics.connect(demo)
    try:
        assert con.execute("SELECT max(run_id) FROM indicator_runs").fetchone() == (1,)
    finally:
        con.close()
    ops = operational.connect(demo)
    try:
        assert ops.execute("SELECT run_id FROM serving_runs").fetchall() == [(1,)]
    finally:
        ops.close()


def test_export_profiles_in_each_format_and_naming(demo: Instance, tmp_path: Path) -> None:
    refused = _cli(demo, "export", "profiles", "-o", str(tmp_path / "early.csv"))
    assert refused.exit_code == 1
    assert "run `clientela run` first" in refused.output
    run(demo, LAST_DAY)
    rows = _rows(demo)
    buyer = next(r for r in rows.values() if len(r["Total_Brands"]) > 1)

    result = _cli(demo, "export", "profiles", "--format", "csv", "--naming", "icommkt",
                  "-o", str(tmp_path / "p.csv"))
    assert result.exit_code == 0, result.output
    with (tmp_path / "p.csv").open(encoding="utf-8", newline="") as handle:
        exported = {int(r["client_id"]): r for r in csv.DictReader(handle)}
    assert exported.keys() == rows.keys()
    row = exported[buyer["client_id"]]
    assert row["ICOMMKT_Total_Brands"] == "##".join(buyer["Total_Brands"])
    assert row["ICOMMKT_Total_Purchases"] == str(buyer["Total_Purchases"])
    assert row["RFM_Segment"] == buyer["RFM_Segment"]
    assert "Items_30_Days" not in row and "ICOMMKT_RFM_Group" not in row
    assert row["identifiers"].startswith("user_id:")
    assert {"FirstName", "email", "recognized"} <= row.keys()

    result = _cli(demo, "export", "profiles", "--format", "jsonl", "--recognized-only",
                  "-o", str(tmp_path / "p.jsonl"))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text("utf-8").splitlines()]
    recognized = {c for c, r in exported.items() if r["recognized"] == "true"}
    assert {r["client_id"] for r in lines} == recognized and recognized != set(rows)
    as_json = next(r for r in lines if r["client_id"] == buyer["client_id"])
    assert as_json["Total_Brands"] == buyer["Total_Brands"]

    result = _cli(demo, "export", "profiles", "--format", "parquet", "-o",
                  str(tmp_path / "out" / "p.parquet"))
    assert result.exit_code == 0, result.output
    con = duckdb.connect()
    parquet = con.execute("SELECT count(*), max(len(\"Total_Categories\")) FROM "
                          f"'{tmp_path / 'out' / 'p.parquet'}'").fetchone()
    assert parquet == (len(rows), max(len(r["Total_Categories"]) for r in rows.values()))
    assert not list((tmp_path / "out").glob(".*partial"))


def test_forget_leaves_no_indicators(demo: Instance) -> None:
    run(demo, LAST_DAY)
    con = analytics.connect(demo)
    try:
        client_id, user = con.execute("""
            SELECT m.client_id, i.scope || ':' || i.value FROM identity_members m
            JOIN identifiers i ON i.id = m.identifier WHERE i.type = 'user_id'
            ORDER BY m.client_id LIMIT 1""").fetchone() or (0, "")
    finally:
        con.close()
    result = _cli(demo, "forget", f"user_id:{user}", "--yes")
    assert result.exit_code == 0, result.output
    assert client_id not in _rows(demo)
    ops = operational.connect(demo)
    try:
        assert ops.execute("SELECT count(*) FROM serving_profiles WHERE client_id = ?",
                           (client_id,)).fetchone() == (0,)
    finally:
        ops.close()
