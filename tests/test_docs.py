"""The docs are checked against the code: settings, CLI help, rejection codes and indicators.

- every setting of `clientela.toml` has a row in docs/configuration.md, with its default;
- every command, and every subcommand of a group (`clientela identity explain`), has a section in
  docs/cli.md whose help block is the current `--help` output;
- every rejection code the importer can write is explained in docs/importing.md;
- every indicator family and single field of the catalog is listed in docs/indicators.md.

When the CLI changes, regenerate the help blocks of docs/cli.md with either of

    UPDATE_DOCS=1 .venv/bin/python -m pytest tests/test_docs.py
    .venv/bin/python -m tests.test_docs --write

and review the diff. Only the fenced help blocks are rewritten; the prose around them is kept, and
a command without a section gets a new one at the end of the file.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel
from typer import rich_utils
from typer.testing import CliRunner

from clientela.cli.main import app
from clientela.config.settings import Settings, toml_value
from clientela.indicators.catalog import FAMILIES, SINGLE_FIELDS
from clientela.schema import RECORDS, FieldType

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
CLI_REFERENCE = DOCS / "cli.md"
IMPORTING = DOCS / "importing.md"
INDICATORS = DOCS / "indicators.md"
INGEST = ROOT / "src" / "clientela" / "ingest"

HELP_ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FENCE = "```"


# --- settings -------------------------------------------------------------------------------

def _sections() -> list[tuple[str, type[BaseModel]]]:
    sections = []
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel), name
        sections.append((name, annotation))
    return sections


def _settings() -> list[tuple[str, str]]:
    return [(section, key) for section, model in _sections() for key in model.model_fields]


def _setting_row(text: str, section: str, key: str) -> str | None:
    """The table row documenting `section.key`, if any."""
    for line in text.splitlines():
        if line.startswith("|") and f"`{section}.{key}`" in line:
            return line
    return None


@pytest.mark.parametrize(("section", "key"), _settings(), ids=[f"{s}.{k}" for s, k in _settings()])
def test_every_setting_is_documented_with_its_default(section: str, key: str) -> None:
    row = _setting_row(CONFIGURATION.read_text("utf-8"), section, key)
    assert row is not None, f"docs/configuration.md has no table row for `{section}.{key}`"
    field = dict(_sections())[section].model_fields[key]
    if field.is_required():
        assert "required" in row, f"`{section}.{key}` is required; its row should say so"
    else:
        default = toml_value(field.get_default(call_default_factory=True))
        assert f"`{default}`" in row, (
            f"`{section}.{key}`: the default `{default}` is not in its row of "
            f"docs/configuration.md:\n{row}")


def test_configuration_documents_no_unknown_setting() -> None:
    known = {f"{section}.{key}" for section, key in _settings()}
    documented = set()
    for line in CONFIGURATION.read_text("utf-8").splitlines():
        match = re.match(r"\|\s*`(\w+\.\w+)`", line)
        if match:
            documented.add(match.group(1))
    assert documented - known == set(), "settings documented but not declared in Settings"


# --- CLI reference --------------------------------------------------------------------------

def _commands() -> list[str]:
    """Every command, and every subcommand of a group (`identity explain`), in help order."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    commands: list[str] = []
    for name, command in group.commands.items():
        commands.append(name)
        if isinstance(command, typer.core.TyperGroup):
            commands += [f"{name} {sub}" for sub in command.commands]
    return commands


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip("\n")


def current_help(command: str | None) -> str:
    """`clientela [COMMAND] --help` as a 100-column terminal without colours shows it."""
    args = [*command.split(), "--help"] if command else ["--help"]
    # Typer reads TERMINAL_WIDTH, FORCE_COLOR and GITHUB_ACTIONS once, at import: neutralise
    # what the caller's environment made of them, so the width and styling come from HELP_ENV.
    saved = rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL
    rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL = None, None
    try:
        result = CliRunner().invoke(app, args, env=HELP_ENV, prog_name="clientela")
    finally:
        rich_utils.MAX_WIDTH, rich_utils.FORCE_TERMINAL = saved
    assert result.exit_code == 0, result.output
    return _normalise(ANSI.sub("", result.output))


def _heading(command: str | None) -> str:
    return f"## `clientela {command}`" if command else "## `clientela`"


def _block_span(text: str, command: str | None) -> tuple[int, int] | None:
    """Offsets of the help text in the first ```text fence of the command's section.

    The span runs from the line after the opening fence to the start of the closing fence line.
    """
    heading = re.search(rf"^{re.escape(_heading(command))}[ \t]*$", text, flags=re.MULTILINE)
    if heading is None:
        return None
    next_heading = re.compile(r"^## ", flags=re.MULTILINE).search(text, heading.end())
    end = next_heading.start() if next_heading else len(text)
    opening = re.compile(rf"^{FENCE}text[ \t]*\n", flags=re.MULTILINE).search(
        text, heading.end(), end)
    if opening is None:
        return None
    closing = re.compile(rf"^{FENCE}[ \t]*$", flags=re.MULTILINE).search(text, opening.end(), end)
    if closing is None:
        return None
    return opening.end(), closing.start()


def documented_help(text: str, command: str | None) -> str | None:
    span = _block_span(text, command)
    return None if span is None else _normalise(text[span[0]:span[1]])


def write_cli_reference(path: Path = CLI_REFERENCE) -> None:
    """Rewrite every help block of docs/cli.md from the CLI; add sections for new commands."""
    text = path.read_text("utf-8")
    for command in [None, *_commands()]:
        block = current_help(command)
        span = _block_span(text, command)
        if span is None:
            text = (text.rstrip("\n") + f"\n\n{_heading(command)}\n\n{FENCE}text\n{block}\n"
                    f"{FENCE}\n")
        else:
            text = text[:span[0]] + block + "\n" + text[span[1]:]
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


@pytest.fixture(scope="module")
def cli_reference() -> str:
    if os.environ.get("UPDATE_DOCS"):
        write_cli_reference()
    return CLI_REFERENCE.read_text("utf-8")


@pytest.mark.parametrize("command", [None, *_commands()],
                         ids=["clientela", *(f"clientela {c}" for c in _commands())])
def test_cli_reference_shows_current_help(cli_reference: str, command: str | None) -> None:
    documented = documented_help(cli_reference, command)
    assert documented is not None, (
        f"docs/cli.md has no section `{_heading(command)}` with a ```text block; "
        "run `UPDATE_DOCS=1 pytest tests/test_docs.py` to add it")
    assert documented == current_help(command), (
        f"the help of `clientela {command or ''}` changed; run "
        "`UPDATE_DOCS=1 pytest tests/test_docs.py` and review docs/cli.md")


def test_cli_reference_documents_no_removed_command(cli_reference: str) -> None:
    documented = set(re.findall(r"^## `clientela ([\w -]+)`", cli_reference, flags=re.MULTILINE))
    assert documented - set(_commands()) == set(), "docs/cli.md documents commands that are gone"


# --- rejection codes ------------------------------------------------------------------------

def rejection_codes() -> set[str]:
    """Codes given to `error_struct(column, code, reason)` and `checks.add(cond, code, reason)`,
    and the decimal problems the schema module words for the importer and the API."""
    codes = {code for schema in RECORDS for field in schema.fields
             if field.type is FieldType.DECIMAL for _, code, _ in field.decimal_problems()}
    for path in sorted(INGEST.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            func = node.func
            named = (isinstance(func, ast.Name) and func.id == "error_struct") or (
                isinstance(func, ast.Attribute) and func.attr == "add"
                and isinstance(func.value, ast.Name) and func.value.id == "checks")
            code = node.args[1]
            if named and isinstance(code, ast.Constant) and isinstance(code.value, str):
                codes.add(code.value)
    return codes


def documented_codes() -> set[str]:
    """Codes in the first column of the table under `## Rejection codes` in importing.md."""
    text = IMPORTING.read_text("utf-8")
    section = re.search(r"^## Rejection codes\n(.*?)(?=^## |\Z)", text,
                        flags=re.MULTILINE | re.DOTALL)
    assert section is not None, "docs/importing.md has no `## Rejection codes` section"
    return set(re.findall(r"^\|\s*`(\w+)`\s*\|", section.group(1), flags=re.MULTILINE))


def test_rejection_codes_are_found_in_the_code() -> None:
    # Guards the AST search itself: if the ingest code changes shape, this test says so.
    assert {"required", "duplicate_key", "unknown_order", "field_count"} <= rejection_codes()


@pytest.mark.parametrize("code", sorted(rejection_codes()))
def test_every_rejection_code_is_documented(code: str) -> None:
    assert code in documented_codes(), (
        f"rejection code `{code}` is used in src/clientela/ingest/ but not explained in the "
        "`## Rejection codes` table of docs/importing.md")


def test_importing_documents_no_unused_rejection_code() -> None:
    assert documented_codes() - rejection_codes() == set(), (
        "docs/importing.md explains rejection codes the importer no longer writes")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_docs --write")
    write_cli_reference()
    print(f"rewrote the help blocks of {CLI_REFERENCE.relative_to(ROOT)}")


# --- indicators -----------------------------------------------------------------------------

@pytest.mark.parametrize("family", [f.name for f in FAMILIES])
def test_every_indicator_family_is_documented(family: str) -> None:
    text = INDICATORS.read_text("utf-8")
    assert f"`{family}_W_Days`, `Total_{family}`" in text, (
        f"docs/indicators.md does not list the {family} family")


def test_every_single_field_is_documented() -> None:
    text = INDICATORS.read_text("utf-8").replace("\n", " ")
    missing = [f.name for f in SINGLE_FIELDS if f"`{f.name}`" not in text]
    assert missing == [], f"docs/indicators.md does not list {missing}"
