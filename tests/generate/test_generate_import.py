"""The sample retailer imports as a retailer's data would: everything loads but the rows broken
on purpose, each rejected with its reason."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from clientela.config import create_instance
from clientela.generate import generate_retailer
from clientela.ingest.importer import run_import
from clientela.stores import analytics


def test_generated_retailer_imports_with_only_its_defects_rejected(tmp_path: Path) -> None:
    files = tmp_path / "files"
    summary = generate_retailer(files, customers=150, days=61, seed=3)
    instance = create_instance("demo", timezone="America/Santiago", currency="CLP",
                               store_scoped_customer_ids=True, home=tmp_path / "home")

    result = run_import(instance, sorted(files.glob("ICOMMKT_*")))

    assert len(result.days_loaded) == 61
    assert result.waiting is None
    assert summary.defective_rows == 5
    assert result.rows_rejected == 5
    reasons: Counter[str] = Counter()
    for report in result.reports:
        reasons.update(report.rejected_by_reason)
    assert reasons == Counter({"not_date": 1, "decimal_comma": 1, "unknown_status": 1,
                               "unknown_order": 1, "not_decimal": 1})
    assert not [r for r in result.reports if r.outcome == "refused"]
    con = analytics.connect(instance, read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM orders WHERE order_number LIKE 'ERR%'").fetchone()
    finally:
        con.close()
    assert row == (0,)
