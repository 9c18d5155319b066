"""Match a file's header to its record schema, by name and case-insensitively."""

from __future__ import annotations

from dataclasses import dataclass

from clientela.ingest.probe import FileRefusedError
from clientela.schema import RESERVED_ATTRIBUTE_NAMES, Field, RecordSchema


@dataclass(frozen=True)
class HeaderMap:
    positions: dict[str, int]
    """Schema field name -> 1-based position in the line, for the fields the file carries."""
    extras: list[tuple[str, int]]
    """Columns the schema does not know: (name as sent, 1-based position)."""
    width: int
    named_width: int
    """Columns up to the last named one: unnamed trailing columns may be missing on a line."""
    reserved: list[str]
    """Customers columns named like something Clientela computes: not taken as attributes."""

    def position(self, field: Field) -> int | None:
        return self.positions.get(field.name)


def map_header(schema: RecordSchema, header: list[str]) -> HeaderMap:
    seen: dict[str, int] = {}
    named_width = len(header)
    while named_width and not header[named_width - 1]:
        named_width -= 1
    for index, name in enumerate(header[:named_width], start=1):
        if not name:
            raise FileRefusedError(f"column {index} of the header has no name")
        if name.lower() in seen:
            raise FileRefusedError(f"column {name!r} appears twice in the header "
                              f"(columns {seen[name.lower()]} and {index})")
        seen[name.lower()] = index
    positions = {f.name: seen[f.name.lower()] for f in schema.fields if f.name.lower() in seen}
    known = {f.name.lower() for f in schema.fields}
    extras = [(name, index) for index, name in enumerate(header[:named_width], start=1)
              if name.lower() not in known]
    reserved = [name for name, _ in extras if schema.extra_columns_are_attributes
                and name.lower() in RESERVED_ATTRIBUTE_NAMES]
    extras = [(name, index) for name, index in extras if name not in reserved]
    if not positions:
        expected = ", ".join(f.name for f in schema.header_fields)
        raise FileRefusedError(
            f"the first line is not a header: it names none of the columns of "
            f"{schema.file_tag} ({expected}); the file must start with a header row"
        )
    missing = [f.name for f in schema.header_fields if f.name not in positions]
    if missing:
        raise FileRefusedError(f"missing required column(s) {', '.join(missing)}; "
                          f"the header has {', '.join(header)}")
    return HeaderMap(positions, extras, len(header), named_width, reserved)
