"""Every setting of an instance, declared once with its default and a one-line help.

`clientela.toml` is rendered from these declarations, so the file a user edits always lists every
setting with its default and what it does; unknown keys and wrong values fail at start and name
the key, the value and what is allowed.
"""

from __future__ import annotations

import re
import threading
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_PURCHASE_STATUSES = ["placed", "fulfilled", "paid", "sent", "delivered"]
DEFAULT_FULFILLED_STATUSES = ["fulfilled", "delivered"]
DEFAULT_STATUSES = ["placed", "paid", "sent", "delivered", "fulfilled", "cancelled", "returned"]
DEFAULT_TRANSITIONS = {
    "placed": ["paid", "sent", "delivered", "fulfilled", "cancelled"],
    "paid": ["sent", "delivered", "fulfilled", "cancelled", "returned"],
    "sent": ["delivered", "fulfilled", "returned"],
    "delivered": ["fulfilled", "returned"],
    "fulfilled": ["returned"],
}
"""Status -> the statuses an order may move to from it; a status with no entry is final."""


_local = threading.local()


def _re2() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB, to check RE2 patterns with the engine that runs them
    (duckdb's module-level connection is shared by every thread and not safe to share)."""
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect()
    return con


class ConfigError(Exception):
    """A `clientela.toml` that cannot be used; the message lists every problem found."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class InstanceSection(_Section):
    name: Annotated[str, Field(description="Instance name, as it appears in the daily file names")]
    timezone: Annotated[str, Field(
        description="IANA time zone; days and windows are computed in it")] = "UTC"
    currency: Annotated[str, Field(
        description="ISO 4217 code of amounts that carry no Currency column")] = "USD"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", value):
            raise ValueError("use letters, digits, '_' or '-' (at most 63, starting with a "
                             "letter or digit)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone; use an IANA name such as "
                             "'America/Santiago' or 'UTC'") from None
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("use a three-letter upper-case ISO 4217 code such as 'CLP'")
        return value


class FilesSection(_Section):
    prefix: Annotated[str, Field(
        description="Prefix of the daily file names")] = "ICOMMKT_"
    store_scoped_customer_ids: Annotated[StrictBool, Field(
        description="Customer ids are numbered per store: a customer is (StoreCode, UserId)"
    )] = False
    max_line_length: Annotated[int, Field(
        ge=1024, description="Longest line accepted in a daily file, in bytes")] = 1_048_576


class OrdersSection(_Section):
    statuses: Annotated[list[str], Field(
        description="Every order status the instance's pipeline knows (lower-case)")] = (
        DEFAULT_STATUSES)
    purchase_statuses: Annotated[list[str], Field(
        description="Statuses that count an order as a purchase")] = DEFAULT_PURCHASE_STATUSES
    fulfilled_statuses: Annotated[list[str], Field(
        description="Statuses that count towards LTV")] = DEFAULT_FULFILLED_STATUSES
    default_status: Annotated[str, Field(
        description="Status of an order sent without one")] = "fulfilled"
    transitions: Annotated[dict[str, list[str]], Field(
        description="Status -> statuses an order may move to (API status changes); a status "
                    "without an entry is final; {} allows every move")] = DEFAULT_TRANSITIONS

    @field_validator("statuses", "purchase_statuses", "fulfilled_statuses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        cleaned = [s.strip().lower() for s in value]
        if any(not s for s in cleaned):
            raise ValueError("statuses cannot be empty strings")
        return cleaned

    @model_validator(mode="after")
    def _statuses_known(self) -> Self:
        known = set(self.statuses)
        for key in ("purchase_statuses", "fulfilled_statuses"):
            unknown = [s for s in getattr(self, key) if s not in known]
            if unknown:
                raise ValueError(f"{key} names {unknown}, which are not in statuses")
        if self.default_status.lower() not in known:
            raise ValueError(f"default_status {self.default_status!r} is not in statuses")
        if "transitions" not in self.model_fields_set and self.statuses != DEFAULT_STATUSES:
            # The default map is written for the default pipeline; a custom pipeline without
            # its own map allows every move between its statuses.
            self.__dict__["transitions"] = {}
        named = {s.lower() for source, targets in self.transitions.items()
                 for s in (source, *targets)}
        if named - known:
            raise ValueError(f"transitions names {sorted(named - known)}, which are not in "
                             "statuses")
        return self

    def may_move(self, current: str, new: str) -> bool:
        """Whether an order may change from status `current` to `new`."""
        if current == new or not self.transitions:
            return True
        allowed = {s.lower() for s in self.transitions.get(current, [])}
        return new in allowed


MEMORY_PATTERN = r"(\d+(\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)"
MEMORY_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
                "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


class StorageSection(_Section):
    memory_limit: Annotated[str, Field(
        description="DuckDB memory limit; larger work spills to the temp folder")] = "2GB"
    threads: Annotated[int, Field(
        ge=0, description="Threads for the analytics store (0 = one per core)")] = 0

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not re.fullmatch(MEMORY_PATTERN, value):
            raise ValueError("use a size such as '1GB' or '512MB'")
        return value

    @property
    def memory_bytes(self) -> int:
        match = re.fullmatch(MEMORY_PATTERN, self.memory_limit)
        assert match, self.memory_limit  # validated on load
        return int(float(match[1]) * MEMORY_UNITS[match[3]])


class ApiSection(_Section):
    host: Annotated[str, Field(
        description="Address `clientela serve` listens on")] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535, description="Port `clientela serve` listens on")] = (
        8080)
    max_body_bytes: Annotated[int, Field(
        ge=1024, description="Largest request body accepted, in bytes (larger: 413)")] = (
        10_485_760)
    max_batch: Annotated[int, Field(
        ge=1, le=100_000, description="Most orders, customers or events in one POST")] = 1000
    rate_limit: Annotated[float, Field(
        ge=0, description="Requests per second allowed per API key, per API process "
                          "(0: no limit)")] = 5000.0
    rate_burst: Annotated[int, Field(
        ge=1, description="Requests a key may send at once above its rate")] = 10_000
    micro_batch: Annotated[int, Field(
        ge=1, description="Most records the worker applies in one micro-batch")] = 20_000
    poll_ms: Annotated[int, Field(
        ge=1, le=10_000, description="How often the worker looks for new calls when idle, in "
                                     "milliseconds")] = 20
    wait_seconds: Annotated[float, Field(
        gt=0, description="Longest a `?wait=true` call waits for its write to be applied")] = 30.0
    idempotency_hours: Annotated[int, Field(
        ge=1, description="How long an Idempotency-Key is remembered")] = 24
    log_retention_days: Annotated[int, Field(
        ge=1, description="How long applied calls stay in the ingest log")] = 7


IDENTIFIER_TYPES = ("user_id", "email", "email_sha256", "phone", "cookie")
"""Built-in identifier types; `custom:NAME` adds one (a loyalty card, a CRM id...)."""

DEFAULT_IDENTIFIER_FIELDS = {
    "UserId": "user_id", "userId": "user_id", "id": "user_id", "custom_id": "user_id",
    "Email": "email", "EmailSha256": "email_sha256", "Phone": "phone",
    "LoyaltyCard": "custom:loyalty_card", "loyalty_card": "custom:loyalty_card",
    "cookie": "cookie", "anonymous_id": "cookie", "anonymousId": "cookie",
}
"""Field names (matched case-insensitively) that carry an identifier, by channel."""


def _identifier_type(value: str) -> str:
    if value in IDENTIFIER_TYPES or re.fullmatch(r"custom:[a-z][a-z0-9_]{0,40}", value):
        return value
    raise ValueError(f"{value!r} is not an identifier type; use one of "
                     f"{', '.join(IDENTIFIER_TYPES)} or custom:NAME (lower-case)")


class IdentitySection(_Section):
    main_identifier: Annotated[str, Field(
        description="What identifies one person: email, user_id or custom:NAME")] = "email"
    phone_country: Annotated[str, Field(
        description="ISO 3166 country of phone numbers written without +country "
                    "('' accepts international numbers only)")] = ""
    shared_fan_out: Annotated[int, Field(
        ge=2, description="An email, phone or cookie on more customer ids than this is "
                          "quarantined")] = 10
    quarantine_on_conflict: Annotated[StrictBool, Field(
        description="An email, phone or cookie on two customer ids that cannot be one person "
                    "(two ids of one store) is quarantined too")] = True
    blocked_values: Annotated[list[str], Field(
        description="Identifier values that never link (besides the built-in junk list)")] = []
    blocked_patterns: Annotated[list[str], Field(
        description="Regular expressions of identifier values that never link")] = []
    fields: Annotated[dict[str, str], Field(
        description="Field name -> identifier type, for every channel")] = (
        DEFAULT_IDENTIFIER_FIELDS)
    attribute_priority: Annotated[dict[str, list[str]], Field(
        description="Attribute -> sources (store codes, 'api') whose values win over newer "
                    "ones")] = {}

    @field_validator("main_identifier")
    @classmethod
    def _main(cls, value: str) -> str:
        if _identifier_type(value) not in ("email", "user_id") and not value.startswith(
                "custom:"):
            raise ValueError("use email, user_id or custom:NAME")
        return value

    @field_validator("phone_country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("use a two-letter upper-case ISO 3166 code such as 'CL', or ''")
        return value

    @field_validator("blocked_patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        # The patterns run in DuckDB, whose regular expressions are RE2 (no look-around).
        for pattern in value:
            try:
                _re2().execute("SELECT regexp_full_match('', ?)", [pattern])
            except duckdb.Error as error:
                reason = str(error).split(": ", 1)[-1]
                raise ValueError(f"{pattern!r} is not an RE2 regular expression: "
                                 f"{reason}") from None
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: _identifier_type(kind) for name, kind in value.items()}


RFM_CODES = [f"{r}{f}{m}" for r in "12345" for f in "12345" for m in "12345"]

DEFAULT_RFM_GROUPS = {"BEGINNERS": ".1.", "FREQUENT": ".[23].", "LOYAL": ".[45]."}
DEFAULT_RFM_SEGMENTS = {
    "BEGINNERS_NEW": "51.", "BEGINNERS_PROMISING": "41.", "BEGINNERS_NEEDS_ATTENTION": "31.",
    "BEGINNERS_AT_RISK": "[12]1[345]", "BEGINNERS_LOSE_IT": "[12]1[12]",
    "FREQUENT_ACTIVE": "5[23].", "FREQUENT_POTENTIAL_LOYALIST": "4[23].",
    "FREQUENT_NEEDS_ATTENTION": "3[23].", "FREQUENT_AT_RISK": "[12][23][345]",
    "FREQUENT_HIBERNATING": "[12][23][12]",
    "LOYAL_CHAMPIONS": "5[45].", "LOYAL_ACTIVE": "4[45].", "LOYAL_NEEDS_ATTENTION": "3[45].",
    "LOYAL_CANT_LOSE_THEM": "[12][45][345]", "LOYAL_HIBERNATING": "[12][45][12]",
}
"""The spec's map: name -> RE2 pattern over the three-digit code "RFM"; the first match wins."""
RFM_WINDOWS = ("30", "60", "90", "180", "360", "total")


class IndicatorsSection(_Section):
    product_level: Annotated[Literal["variant", "parent"], Field(
        description="Count products by ItemCode (variant) or by ParentItemCode when given "
                    "(parent)")] = "variant"


class RfmSection(_Section):
    window: Annotated[str, Field(
        description="Window whose RFM code gives RFM_Group and RFM_Segment: 30, 60, 90, 180, "
                    "360 or total")] = "total"
    groups: Annotated[dict[str, str], Field(
        description="RFM_Group name -> RE2 pattern over the RFM code; first match wins")] = (
        DEFAULT_RFM_GROUPS)
    segments: Annotated[dict[str, str], Field(
        description="RFM_Segment name -> RE2 pattern over the RFM code; first match wins")] = (
        DEFAULT_RFM_SEGMENTS)

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if value not in RFM_WINDOWS:
            raise ValueError(f"use one of {', '.join(RFM_WINDOWS)}")
        return value

    @field_validator("groups", "segments")
    @classmethod
    def _map(cls, value: dict[str, str]) -> dict[str, str]:
        uncovered = set(RFM_CODES)
        for name, pattern in value.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,62}", name):
                raise ValueError(f"{name!r}: names are upper-case letters, digits and '_'")
            try:
                # RE2 (what DuckDB runs) is checked through DuckDB itself.
                matched = _re2().execute("SELECT list_filter(?, lambda c: regexp_full_match(c, ?))",
                                         [RFM_CODES, pattern]).fetchone()
            except duckdb.Error as error:
                reason = str(error).split(": ", 1)[-1]
                raise ValueError(f"{name} = {pattern!r} is not an RE2 regular expression: "
                                 f"{reason}") from None
            uncovered -= set(matched[0] if matched else [])
        if uncovered:
            left = sorted(uncovered)
            shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
            raise ValueError(f"every RFM code 111-555 needs a match; none for {shown}")
        return value


def _local_time(value: str, *, optional: bool) -> str:
    if optional and value == "":
        return value
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", value)
    if not match:
        raise ValueError("use a 24-hour local time HH:MM such as '06:00'"
                         + (", or '' for none" if optional else ""))
    return value


class SftpSection(_Section):
    drop_folder: Annotated[str, Field(
        description="Folder the SFTP account lands in and the watcher takes files from "
                    "(relative to the instance folder, or absolute)")] = "drop"
    complete_when: Annotated[Literal["auto", "marker"], Field(
        description="auto: upload closed on the built-in server, a .done marker, or size stable; "
                    "marker: only a NAME.done marker")] = "auto"
    stable_seconds: Annotated[int, Field(
        ge=1, le=86_400, description="Seconds a file's size must stay unchanged before it is "
                                     "taken (files not uploaded through the built-in server)"
    )] = 60

    @field_validator("drop_folder")
    @classmethod
    def _drop_folder(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give a folder, such as 'drop' or '/srv/sftp/acme/in'")
        return value


class ScheduleSection(_Section):
    daily_run: Annotated[StrictBool, Field(
        description="Run import, identity, indicators and publish every day at run_at")] = True
    run_at: Annotated[str, Field(
        description="Local time (instance time zone) of the daily run, HH:MM")] = "06:00"

    @field_validator("run_at")
    @classmethod
    def _run_at(cls, value: str) -> str:
        return _local_time(value, optional=False)


class AlertsSection(_Section):
    files_due_at: Annotated[str, Field(
        description="Local time by which yesterday's four files must have arrived, HH:MM "
                    "('' = no check)")] = "05:00"
    reject_rate: Annotated[float, Field(
        ge=0, le=1, description="Alert when a file rejects more than this share of its rows")] = (
        0.05)
    webhook_url: Annotated[str, Field(
        description="POST every alert here as JSON ('' = log and status only)")] = ""
    webhook_secret: Annotated[str, Field(
        description="Sign the webhook body with HMAC-SHA256 under this secret "
                    "('' = unsigned)")] = ""
    webhook_attempts: Annotated[int, Field(
        ge=1, le=20, description="Tries per alert; the wait doubles from 1 s up to 5 min")] = 10

    @field_validator("files_due_at")
    @classmethod
    def _due(cls, value: str) -> str:
        return _local_time(value, optional=True)

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("use an http:// or https:// URL, or '' for none")
        return value


class Settings(_Section):
    instance: InstanceSection
    files: FilesSection = FilesSection()
    orders: OrdersSection = OrdersSection()
    storage: StorageSection = StorageSection()
    identity: IdentitySection = IdentitySection()
    indicators: IndicatorsSection = IndicatorsSection()
    rfm: RfmSection = RfmSection()
    sftp: SftpSection = SftpSection()
    schedule: ScheduleSection = ScheduleSection()
    alerts: AlertsSection = AlertsSection()
    api: ApiSection = ApiSection()

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise ConfigError(_explain(path, error, data)) from None

    def render(self) -> str:
        """The TOML file, every setting with its value and a one-line comment."""
        out = ["# Clientela instance configuration. Every setting is listed with its default;",
               "# see docs/configuration.md. Checked at every start.", ""]
        for section_name in type(self).model_fields:
            section = getattr(self, section_name)
            out.append(f"[{section_name}]")
            for key, field in type(section).model_fields.items():
                out.append(f"# {field.description}")
                out.append(f"{key} = {toml_value(getattr(section, key))}")
            out.append("")
        return "\n".join(out)


def toml_value(value: object) -> str:
    """A value as `clientela.toml` writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_value(k)} = {toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} to TOML")


def _explain(path: Path, error: ValidationError, data: dict[str, Any]) -> str:
    """One line for one problem (`path: [section] key = value: why`), else one line each."""
    lines = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        section, key = [*location, ""][:2]
        where = f"[{section}] {key}".strip() if key else f"[{section}]"
        value = data.get(section, {}).get(key) if isinstance(data.get(section), dict) else None
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(location[:-1])
            message = f"unknown setting; allowed here: {', '.join(allowed)}"
        elif problem["type"] in ("bool_type", "bool_parsing"):
            message = "use true or false (a TOML boolean, without quotes)"
        elif problem["type"] == "missing":
            message = "missing; it is required"
        shown = (f" = {value!r}" if value is not None and problem["type"] != "extra_forbidden"
                 else "")
        lines.append(f"{where}{shown}: {message}")
    if len(lines) == 1:
        return f"{path}: {lines[0]}"
    return "\n  ".join([f"{path}: {len(lines)} problem(s):", *lines])


def _allowed_keys(location: list[str]) -> list[str]:
    model: type[BaseModel] = Settings
    for part in location:
        annotation = model.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)

