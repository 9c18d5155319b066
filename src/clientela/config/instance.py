"""An instance: one retailer brand / country / business unit with its own folder and stores."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from clientela.config.settings import (
    ConfigError,
    FilesSection,
    IdentitySection,
    InstanceSection,
    Settings,
)

CONFIG_FILE = "clientela.toml"


class InstanceError(Exception):
    """An instance that does not exist, already exists, or cannot be chosen."""


def data_home() -> Path:
    return Path(os.environ.get("CLIENTELA_HOME", "clientela-data")).absolute()


@dataclass(frozen=True)
class Instance:
    root: Path
    settings: Settings

    @property
    def name(self) -> str:
        return self.settings.instance.name

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def operational_path(self) -> Path:
        return self.root / "operational.sqlite"

    @property
    def ingest_log_path(self) -> Path:
        """The API's ingest log: a file of its own, so that acknowledging a call never waits
        for the worker's writes to the operational store."""
        return self.root / "ingest.sqlite"

    @property
    def analytics_path(self) -> Path:
        return self.root / "analytics.duckdb"

    @property
    def inbox(self) -> Path:
        """Files received and waiting for their business day to be loaded."""
        return self.root / "inbox"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def rejected(self) -> Path:
        """Files refused whole (unknown name, other instance, no header...)."""
        return self.root / "rejected"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def temp(self) -> Path:
        """Scratch space: decompressed and transcoded files, DuckDB spill files."""
        return self.root / "tmp"

    @property
    def drop(self) -> Path:
        """Where the retailer's files arrive (the SFTP account's folder); the watcher takes
        complete files from it."""
        return self.root / self.settings.sftp.drop_folder

    @property
    def processing(self) -> Path:
        """Files the watcher took from the drop folder, on their way into the inbox."""
        return self.root / "processing"

    def folders(self) -> tuple[Path, ...]:
        return (self.inbox, self.archive, self.rejected, self.reports, self.temp, self.drop,
                self.processing)


def create_instance(name: str, *, timezone: str = "UTC", currency: str = "USD",
                    store_scoped_customer_ids: bool = False,
                    home: Path | None = None) -> Instance:
    """Create the instance folder and its `clientela.toml`; the stores are made on first open."""
    try:
        settings = Settings(
            instance=InstanceSection(name=name, timezone=timezone, currency=currency),
            files=FilesSection(store_scoped_customer_ids=store_scoped_customer_ids),
            identity=IdentitySection(phone_country=country_of(timezone)))
    except ValueError as error:
        raise ConfigError(_first_message(error)) from None
    root = (home or data_home()) / name
    if (root / CONFIG_FILE).exists():
        raise InstanceError(f"instance {name!r} already exists at {root}")
    root.mkdir(parents=True, exist_ok=True)
    instance = Instance(root, settings)
    for folder in instance.folders():
        folder.mkdir(exist_ok=True)
    partial = root / (CONFIG_FILE + ".part")
    partial.write_text(settings.render(), encoding="utf-8")
    partial.replace(root / CONFIG_FILE)
    return instance


def open_instance(name: str | None = None, *, home: Path | None = None) -> Instance:
    """Open an instance by name, `$CLIENTELA_INSTANCE`, or the only one in the data home."""
    home = home or data_home()
    name = name or os.environ.get("CLIENTELA_INSTANCE")
    if not name:
        existing = sorted(p.parent.name for p in home.glob(f"*/{CONFIG_FILE}"))
        if len(existing) == 1:
            name = existing[0]
        elif not existing:
            raise InstanceError(f"no instance in {home}: create one with `clientela init NAME`")
        else:
            raise InstanceError(f"several instances in {home} ({', '.join(existing)}): choose "
                                "one with --instance NAME or $CLIENTELA_INSTANCE")
    root = home / name
    if not (root / CONFIG_FILE).exists():
        raise InstanceError(f"no instance {name!r} in {home}: create it with "
                            f"`clientela init {name}`")
    settings = Settings.load(root / CONFIG_FILE)
    if settings.instance.name != name:
        raise ConfigError(f"{root / CONFIG_FILE}: [instance] name = "
                          f"{settings.instance.name!r} but the folder is {name!r}")
    instance = Instance(root, settings)
    for folder in instance.folders():
        folder.mkdir(exist_ok=True)
    return instance


def country_of(timezone: str) -> str:
    """The country of an IANA zone (`America/Santiago` -> `CL`), '' for zones like UTC."""
    table = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    for line in table.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and not line.startswith("#") and fields[2] == timezone:
            return fields[0]
    return ""


def _first_message(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        # `key = value: what is allowed`, as in the messages about clientela.toml.
        problem = error.errors()[0]
        key = str(problem["loc"][-1]) if problem["loc"] else ""
        reason = problem["msg"].removeprefix("Value error, ")
        return f"{key} = {problem['input']!r}: {reason}"
    text = str(error)
    match = re.search(r"\n(\w+)\n\s+(?:Value error, )?(.+?)(?: \[type=|$)", text)
    return f"{match.group(1)}: {match.group(2)}" if match else text
