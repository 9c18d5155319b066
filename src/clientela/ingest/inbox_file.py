"""A daily file waiting in the inbox, with what its name says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from clientela.schema import RecordSchema


@dataclass(frozen=True)
class InboxFile:
    path: Path
    schema: RecordSchema
    day: date
