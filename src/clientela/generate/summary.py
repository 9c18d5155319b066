"""What a generation run wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path


@dataclass
class GenerationSummary:
    start: date
    end: date
    days: int
    persons: int
    """People behind the customer records (the truth)."""
    customer_records: int
    """Distinct (StoreCode, UserId)."""
    files: list[Path] = field(default_factory=list)
    """The daily files, four per day."""
    customers: int = 0
    """Customers rows written (a record appears again on each day it buys or changes)."""
    orders: int = 0
    """Orders rows written, re-sends and return documents included."""
    order_lines: int = 0
    category_rows: int = 0
    returns: int = 0
    """Return documents (negative amounts)."""
    status_updates: int = 0
    """Orders re-sent on a later day with status fulfilled or cancelled."""
    cancellations: int = 0
    """Of the status updates, those to cancelled."""
    resent_files: list[Path] = field(default_factory=list)
    """Corrected versions of daily files, same names, under `resent/`."""
    legacy_encoded_files: list[Path] = field(default_factory=list)
    """Files written in Windows-1252 instead of UTF-8."""
    header_only_days: list[date] = field(default_factory=list)
    defective_rows: int = 0
    """Broken rows written on purpose (see generate/defects.py); the importer rejects them."""
    truth_file: Path | None = None
