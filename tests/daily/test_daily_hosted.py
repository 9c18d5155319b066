"""`clientela serve` runs the daily service beside the API: a day dropped while the API serves
is imported through the instance's API worker, and its orders are served at once."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

from tests.api.conftest import new_key, start_server

from clientela.api.keys import Scope
from clientela.config import create_instance
from clientela.generate import generate_retailer


def test_a_day_dropped_while_serving_is_imported_through_the_worker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    acme = create_instance("acme", timezone="America/Santiago", currency="CLP", home=home)
    generated = tmp_path / "generated"
    generate_retailer(generated, customers=40, days=1, instance="acme")
    day = sorted(generated.glob("ICOMMKT_*_ACME_*.txt"))
    assert len(day) == 4
    with next(p for p in day if "_ORDERS_" in p.name).open(encoding="utf-8",
                                                          newline="") as orders:
        numbers = {row["OrderNumber"] for row in csv.DictReader(orders, delimiter="|")}
    key = new_key(acme, Scope.READ)
    running = start_server(home, "acme", daily=True)
    try:
        for path in day:
            shutil.copyfile(path, acme.drop / path.name)
            (acme.drop / f"{path.name}.done").touch()
        served: set[str] = set()
        deadline = time.monotonic() + 60
        with running.client(key) as api:
            while time.monotonic() < deadline and served != numbers:
                page: str | None = ""
                served = set()
                while page is not None:
                    answer = api.get("/v1/orders", params={"limit": 500} | (
                        {"after": page} if page else {}))
                    assert answer.status_code == 200, answer.text
                    served |= {o["order_number"] for o in answer.json()["orders"]}
                    page = answer.json()["next"]
                time.sleep(0.5)
        assert served == numbers
    finally:
        assert running.stop() == 0, running.log.read_text()
    assert sorted(p.name for p in acme.drop.iterdir()) == []
    assert len(list(acme.archive.rglob("ICOMMKT_*"))) == 4
