"""The `clientela` command: init, import, status, skip-day, and its one-line errors."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from clientela.cli import errors, imports, instances
from clientela.cli.main import app
from clientela.config import open_instance

DAY1 = date(2025, 1, 1)
DAY3 = date(2025, 1, 3)

WriteDay = Callable[..., dict[str, Path]]


@pytest.fixture
def run(home: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`run(*args)`: the CLI with $CLIENTELA_HOME set to the test's home.

    The output width comes from `columns` (1000 unless told): the consoles are made at import,
    when a test runner may have fixed their width (pytest-xdist sets COLUMNS=80).
    """
    for console in (errors.err_console, imports.console, instances.console):
        monkeypatch.setattr(console, "_width", None)
    runner = CliRunner()

    def invoke(*args: str, columns: int = 1000) -> Result:
        return runner.invoke(app, list(args), env={"CLIENTELA_HOME": str(home),
                                                   "COLUMNS": str(columns)})
    return invoke


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout.strip() == ""  # (a transient progress bar may leave a newline)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_init_creates_the_instance_and_its_stores(run: Callable[..., Result],
                                                  home: Path) -> None:
    result = run("init", "demo", "--timezone", "America/Santiago", "--currency", "CLP")

    assert result.exit_code == 0, result.output
    assert f"Created instance demo in {home / 'demo'}" in result.stdout
    instance = open_instance("demo", home=home)
    assert (instance.settings.instance.timezone, instance.settings.instance.currency) == (
        "America/Santiago", "CLP")
    assert instance.analytics_path.is_file()
    assert instance.operational_path.is_file()


def test_init_twice_is_an_error(run: Callable[..., Result], home: Path) -> None:
    run("init", "demo")

    line = _one_error_line(run("init", "demo"))

    assert line == f"Error: instance 'demo' already exists at {home / 'demo'}"


def test_import_prints_a_summary(run: Callable[..., Result], drop: Path,
                                 write_day: WriteDay) -> None:
    run("init", "demo")
    write_day(drop, "demo", DAY1, lines=["S1|o1|1|2|SKU1|10.00", "S1|o9|1|1|SKU1|10.00"])

    result = run("import", str(drop))

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Loaded 1 day(s), 2025-01-01 to 2025-01-01." in out
    rows = {cells[0]: cells[1:] for cells in (
        [c.strip() for c in line.strip("│ ").split("│")] for line in out.splitlines()
        if line.startswith("│ "))}
    # files, read, new, replaced, same, rejected
    assert rows == {"CUSTOMERS": ["1", "1", "1", "0", "0", "0"],
                    "ORDERS": ["1", "1", "1", "0", "0", "0"],
                    "ORDERSDETAIL": ["1", "2", "1", "0", "0", "1"],
                    "ORDERSDETAILCATEGORIES": ["1", "2", "1", "0", "0", "1"]}
    assert "1 rejected in ICOMMKT_ORDERSDETAIL_DEMO_20250101.txt (unknown_order 1)" in out


def test_import_json(run: Callable[..., Result], home: Path, drop: Path,
                     write_day: WriteDay) -> None:
    run("init", "demo")
    write_day(drop, "demo", DAY1)
    write_day(drop, "demo", DAY3)
    (drop / "notes.txt").write_text("hello")

    result = run("import", str(drop), "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["days_loaded"] == ["2025-01-01"]
    assert data["waiting"] == {"day": "2025-01-02", "missing": [
        "CUSTOMERS", "ORDERS", "ORDERSDETAIL", "ORDERSDETAILCATEGORIES"],
        "waiting_days": ["2025-01-03"]}
    by_file = {r["file"]: r for r in data["reports"]}
    assert by_file["notes.txt"]["outcome"] == "refused"
    orders = by_file["ICOMMKT_ORDERS_DEMO_20250101.txt"]
    assert (orders["outcome"], orders["inserted"], orders["kind"], orders["day"]) == (
        "loaded", 1, "orders", "2025-01-01")
    assert len(data["reports"]) == 5


def test_import_of_nothing(run: Callable[..., Result]) -> None:
    run("init", "demo")

    result = run("import")

    assert result.exit_code == 0, result.output
    assert "No day loaded." in result.stdout


def test_status_text_and_json(run: Callable[..., Result], drop: Path,
                              write_day: WriteDay) -> None:
    run("init", "demo")
    write_day(drop, "demo", DAY1)
    write_day(drop, "demo", DAY3)
    run("import", str(drop))

    text = run("status")
    as_json = run("status", "--json")

    assert text.exit_code == 0, text.output
    assert "Instance demo" in text.stdout
    assert "days loaded: 1 (2025-01-01 to 2025-01-01)" in text.stdout
    assert "files waiting in the inbox: 4" in text.stdout
    assert "Waiting for 2025-01-02: no file of that day has arrived; 1 later day(s) wait " \
           "behind it." in text.stdout
    assert "last import: " in text.stdout and "succeeded, 1 day(s)" in text.stdout
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert (data["instance"], data["days_loaded"], data["first_day"], data["last_day"],
            data["skipped"], data["files_in_inbox"]) == (
        "demo", 1, "2025-01-01", "2025-01-01", [], 4)
    assert data["waiting"]["day"] == "2025-01-02"
    assert data["last_run"]["outcome"] == "succeeded"


def test_skip_day_lets_the_queue_go_on(run: Callable[..., Result], drop: Path,
                                       write_day: WriteDay) -> None:
    run("init", "demo")
    write_day(drop, "demo", DAY1)
    write_day(drop, "demo", DAY3)
    run("import", str(drop))

    skipped = run("skip-day", "20250102")
    imported = run("import", "--json")
    status = json.loads(run("status", "--json").stdout)

    assert skipped.exit_code == 0, skipped.output
    assert "Skipped 2025-01-02." in skipped.stdout
    assert json.loads(imported.stdout)["days_loaded"] == ["2025-01-03"]
    assert (status["skipped"], status["days_loaded"], status["waiting"]) == (
        ["2025-01-02"], 2, None)


def test_skip_day_of_a_loaded_day_is_an_error(run: Callable[..., Result], drop: Path,
                                              write_day: WriteDay) -> None:
    run("init", "demo")
    write_day(drop, "demo", DAY1)
    run("import", str(drop))

    line = _one_error_line(run("skip-day", "2025-01-01"))

    assert line == "Error: 2025-01-01 is already loaded; there is nothing to skip"


def test_unknown_instance_is_an_error(run: Callable[..., Result], home: Path) -> None:
    run("init", "demo")

    line = _one_error_line(run("status", "--instance", "nope"))

    assert line == (f"Error: no instance 'nope' in {home}: create it with "
                    "`clientela init nope`")


def test_bad_day_format_is_an_error(run: Callable[..., Result]) -> None:
    run("init", "demo")

    line = _one_error_line(run("skip-day", "2025-13-01"))

    assert line == "Error: '2025-13-01' is not a day: use YYYY-MM-DD or YYYYMMDD"


def test_bad_config_is_an_error(run: Callable[..., Result], home: Path) -> None:
    run("init", "demo")
    config = home / "demo" / "clientela.toml"
    config.write_text(config.read_text().replace('timezone = "UTC"',
                                                 'timezone = "Mars/Olympus"'))

    line = _one_error_line(run("status"))

    assert line.startswith(f"Error: {config}: ")
    assert "timezone = 'Mars/Olympus': unknown time zone; use an IANA name such as " \
           "'America/Santiago' or 'UTC'" in line


def test_bad_init_value_is_an_error(run: Callable[..., Result]) -> None:
    line = _one_error_line(run("init", "demo", "--currency", "pesos"))

    assert line == ("Error: currency = 'pesos': use a three-letter upper-case ISO 4217 code "
                    "such as 'CLP'")


def test_missing_path_is_an_error(run: Callable[..., Result], tmp_path: Path) -> None:
    run("init", "demo")

    line = _one_error_line(run("import", str(tmp_path / "nowhere")))

    assert line == f"Error: {tmp_path / 'nowhere'}: no such file or folder"


def test_error_prefix_is_red(run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch) -> None:
    captured = io.StringIO()
    monkeypatch.setattr(errors, "err_console", Console(file=captured, force_terminal=True,
                                                       color_system="standard", width=200))

    result = run("status", "--instance", "nope")

    assert result.exit_code == 1
    assert captured.getvalue().startswith("\x1b[31mError:\x1b[0m no instance 'nope'")


def test_config_section_name_survives_in_the_error(run: Callable[..., Result],
                                                   home: Path) -> None:
    run("init", "demo")
    config = home / "demo" / "clientela.toml"
    config.write_text(config.read_text().replace('currency = "CLP"', 'currency = "clp"')
                      .replace('currency = "USD"', 'currency = "usd"'))

    line = _one_error_line(run("status"))

    assert "[instance] currency = 'usd'" in line


def test_long_error_stays_on_one_line_at_80_columns(run: Callable[..., Result]) -> None:
    run("init", "demo")

    _one_error_line(run("status", "--instance", "a-rather-long-instance-name-" * 3,
                        columns=80))
