"""What happened to each file: the import report, and where its rejects went."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class HeaderTotals:
    """Orders whose TotalItems / TotalProducts disagree with their lines (reported, not trusted)."""

    orders_checked: int = 0
    disagreeing: int = 0
    swapped: int = 0
    """Of those, how many hold units in TotalProducts and distinct products in TotalItems."""
    examples: list[str] = field(default_factory=list)


@dataclass
class FileReport:
    file: str
    outcome: str
    """`loaded`, `duplicate` (already imported) or `refused` (not loaded at all)."""
    kind: str | None = None
    day: str | None = None
    message: str | None = None
    checksum: str | None = None
    bytes: int = 0
    encoding: str | None = None
    delimiter: str | None = None
    rows_read: int = 0
    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    kept_newer: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    reserved_columns: list[str] = field(default_factory=list)
    customers_without_email: int | None = None
    orders_without_customer: int | None = None
    header_totals: HeaderTotals | None = None
    seconds: float = 0.0
    report_path: str | None = None
    rejects_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def write_json(path: Path, data: Any) -> None:
    """Write through a temp file and rename, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n",
                       encoding="utf-8")
    partial.replace(path)


def free_path(folder: Path, name: str, checksum: str | None) -> Path:
    """`folder/name`, or the first free name carrying the checksum and then a counter."""
    path = folder / name
    stem, dot, suffix = name.partition(".")
    tag = checksum[:12] if checksum else "copy"
    attempt = 1
    while path.exists():
        counter = f"-{attempt}" if attempt > 1 else ""
        path = folder / f"{stem}.{tag}{counter}{dot}{suffix}"
        attempt += 1
    return path
