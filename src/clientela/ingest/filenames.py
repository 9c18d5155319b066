"""Names of the daily files: `<PREFIX><TAG>_<INSTANCE>_<YYYYMMDD>[.txt|.csv][.gz|.zip]`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from clientela.schema import RECORDS, RecordSchema

DEFAULT_PREFIX = "ICOMMKT_"
TEXT_EXTENSIONS = (".txt", ".csv")
COMPRESSION_SUFFIXES = (".gz", ".zip")


class FileNameError(ValueError):
    """A file whose name does not follow the daily-file convention, or names another instance."""


@dataclass(frozen=True)
class DailyFileName:
    schema: RecordSchema
    instance: str
    day: date
    compression: str | None
    """`gz`, `zip` or None."""


def daily_file_name(schema: RecordSchema, instance: str, day: date, prefix: str = DEFAULT_PREFIX,
                    extension: str = ".txt") -> str:
    return f"{prefix}{schema.file_tag}_{instance.upper()}_{day:%Y%m%d}{extension}"


def _tags_longest_first() -> list[RecordSchema]:
    # ORDERSDETAILCATEGORIES must be tried before ORDERSDETAIL and ORDERS.
    return sorted(RECORDS, key=lambda r: len(r.file_tag), reverse=True)


def parse_daily_file_name(name: str, instance: str, prefix: str = DEFAULT_PREFIX) -> DailyFileName:
    """Parse a file name, refusing unknown names and files meant for another instance."""
    stem, compression = name, None
    for suffix in COMPRESSION_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem, compression = stem[: -len(suffix)], suffix[1:]
    for extension in TEXT_EXTENSIONS:
        if stem.lower().endswith(extension):
            stem = stem[: -len(extension)]
    expected = (f"{prefix}<CUSTOMERS|ORDERS|ORDERSDETAIL|ORDERSDETAILCATEGORIES>_"
                f"{instance.upper()}_<YYYYMMDD>[.txt|.csv][.gz|.zip]")
    if not stem.upper().startswith(prefix.upper()):
        raise FileNameError(f"unknown file name {name!r}: expected {expected}")
    rest = stem[len(prefix):]
    for schema in _tags_longest_first():
        match = re.fullmatch(rf"{schema.file_tag}_(.+)_(\d{{8}})", rest, flags=re.IGNORECASE)
        if match:
            break
    else:
        raise FileNameError(f"unknown file name {name!r}: expected {expected}")
    file_instance, digits = match.group(1), match.group(2)
    if file_instance.lower() != instance.lower():
        raise FileNameError(
            f"{name!r} is for instance {file_instance!r}, not {instance!r}: not loaded"
        )
    try:
        day = datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        raise FileNameError(f"{name!r}: {digits} is not a valid YYYYMMDD business day") from None
    return DailyFileName(schema, instance, day, compression)
