"""The one schema module: what every source (daily files, REST API, browser snippet) may send.

A field means the same thing whichever way it arrives; the file importer and the API both
validate against the definitions here.
"""

from clientela.schema.records import (
    CUSTOMERS,
    ORDER_LINE_CATEGORIES,
    ORDER_LINES,
    ORDERS,
    RECORDS,
    RESERVED_ATTRIBUTE_NAMES,
    Field,
    FieldType,
    RecordKind,
    RecordSchema,
    record_schema,
)

__all__ = [
    "CUSTOMERS",
    "ORDERS",
    "ORDER_LINES",
    "ORDER_LINE_CATEGORIES",
    "RECORDS",
    "RESERVED_ATTRIBUTE_NAMES",
    "Field",
    "FieldType",
    "RecordKind",
    "RecordSchema",
    "record_schema",
]
