"""Instances and `clientela.toml`: every setting listed, wrong values explained, env honoured."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from clientela.config import (
    ConfigError,
    Instance,
    InstanceError,
    Settings,
    create_instance,
    open_instance,
)

MakeInstance = Callable[..., Instance]


def _set(instance: Instance, section: str, line: str) -> None:
    """Replace (or add) one `key = value` line of a section in the instance's TOML."""
    key = line.split("=", 1)[0].strip()
    text = instance.config_path.read_text("utf-8")
    head, marker, rest = text.partition(f"[{section}]\n")
    assert marker, f"no [{section}] in\n{text}"
    body, _, tail = rest.partition("\n[")
    body_lines = [x for x in body.split("\n") if not re.match(rf"{re.escape(key)}\s*=", x)]
    body_lines.insert(0, line)
    new = head + marker + "\n".join(body_lines) + ("\n[" + tail if tail else "")
    instance.config_path.write_text(new, "utf-8")


def _load_error(instance: Instance) -> str:
    with pytest.raises(ConfigError) as caught:
        open_instance(instance.name, home=instance.root.parent)
    return str(caught.value)


def test_clientela_toml_lists_every_setting_with_a_comment(instance: Instance) -> None:
    text = instance.config_path.read_text("utf-8")
    lines = text.splitlines()
    data = tomllib.loads(text)

    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type)
        assert f"[{section}]" in lines
        for key, setting in model.model_fields.items():
            assert key in data[section], f"[{section}] {key} missing from clientela.toml"
            index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} = "))
            assert lines[index - 1] == f"# {setting.description}"
            assert setting.description
    assert data["instance"] == {"name": "demo", "timezone": "UTC", "currency": "CLP"}
    assert data["files"]["prefix"] == "ICOMMKT_"
    assert data["files"]["store_scoped_customer_ids"] is False
    assert data["orders"]["default_status"] == "fulfilled"


def test_rendered_file_loads_back_to_the_same_settings(instance: Instance) -> None:
    loaded = Settings.load(instance.config_path)

    assert loaded == instance.settings
    assert loaded.render() == instance.config_path.read_text("utf-8")


def test_create_instance_makes_its_folders(instance: Instance, home: Path) -> None:
    assert instance.root == home / "demo"
    assert all(folder.is_dir() for folder in instance.folders())
    assert [p.name for p in instance.folders()] == ["inbox", "archive", "rejected", "reports",
                                                    "tmp", "drop", "processing"]
    assert not list(instance.root.glob("*.part"))


def test_create_instance_twice_is_refused(instance: Instance, home: Path) -> None:
    with pytest.raises(InstanceError, match=r"^instance 'demo' already exists at "):
        create_instance("demo", home=home)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "mi tienda"}, "name = 'mi tienda': use letters, digits, '_' or '-' (at most 63, "
                            "starting with a letter or digit)"),
    ({"timezone": "Mars/Olympus"}, "timezone = 'Mars/Olympus': unknown time zone; use an IANA "
                                   "name such as 'America/Santiago' or 'UTC'"),
    ({"currency": "clp"}, "currency = 'clp': use a three-letter upper-case ISO 4217 code such "
                          "as 'CLP'"),
])
def test_create_instance_with_a_wrong_value(home: Path, kwargs: dict[str, str],
                                            message: str) -> None:
    name = kwargs.get("name", "demo")
    with pytest.raises(ConfigError) as caught:
        create_instance(name, timezone=kwargs.get("timezone", "UTC"),
                        currency=kwargs.get("currency", "USD"), home=home)
    assert str(caught.value) == message
    assert not (home / name).exists()


@pytest.mark.parametrize(("section", "line", "expected"), [
    ("instance", 'timezone = "Mars/Olympus"',
     "[instance] timezone = 'Mars/Olympus': unknown time zone; use an IANA name such as "
     "'America/Santiago' or 'UTC'"),
    ("instance", 'currency = "pesos"',
     "[instance] currency = 'pesos': use a three-letter upper-case ISO 4217 code such as 'CLP'"),
    ("files", "max_line_length = 10",
     "[files] max_line_length = 10: Input should be greater than or equal to 1024"),
    ("files", 'store_scoped_customer_ids = "perhaps"',
     "[files] store_scoped_customer_ids = 'perhaps': use true or false (a TOML boolean, "
     "without quotes)"),
    ("files", 'store_scoped_customer_ids = "yes"',
     "[files] store_scoped_customer_ids = 'yes': use true or false (a TOML boolean, "
     "without quotes)"),
    ("storage", 'memory_limit = "lots"',
     "[storage] memory_limit = 'lots': use a size such as '1GB' or '512MB'"),
    ("storage", "threads = -1",
     "[storage] threads = -1: Input should be greater than or equal to 0"),
    ("orders", 'purchase_statuses = ["paid", "shipped"]',
     "[orders]: purchase_statuses names ['shipped'], which are not in statuses"),
    ("orders", 'default_status = "new"', "[orders]: default_status 'new' is not in statuses"),
    ("orders", 'statuses = ["paid", " "]',
     "[orders] statuses = ['paid', ' ']: statuses cannot be empty strings"),
])
def test_wrong_value_names_key_value_and_what_is_allowed(
        instance: Instance, section: str, line: str, expected: str) -> None:
    _set(instance, section, line)

    message = _load_error(instance)

    assert message == f"{instance.config_path}: {expected}"


def test_unknown_keys_are_refused(instance: Instance) -> None:
    _set(instance, "files", 'delimiter = ";"')

    message = _load_error(instance)

    assert message == (f"{instance.config_path}: [files] delimiter: unknown setting; allowed "
                       "here: prefix, store_scoped_customer_ids, max_line_length")


def test_unknown_section_is_refused(instance: Instance) -> None:
    with instance.config_path.open("a", encoding="utf-8") as toml:
        toml.write("\n[imports]\nparallel = true\n")

    message = _load_error(instance)

    assert message == (f"{instance.config_path}: [imports]: unknown setting; allowed here: "
                       "instance, files, orders, storage, identity, indicators, rfm, sftp, "
                       "schedule, alerts, api")


def test_every_problem_is_listed(instance: Instance) -> None:
    _set(instance, "instance", 'timezone = "Nowhere"')
    _set(instance, "files", "typo = 1")

    message = _load_error(instance)

    assert message.splitlines() == [
        f"{instance.config_path}: 2 problem(s):",
        "  [instance] timezone = 'Nowhere': unknown time zone; use an IANA name such as "
        "'America/Santiago' or 'UTC'",
        "  [files] typo: unknown setting; allowed here: prefix, store_scoped_customer_ids, "
        "max_line_length"]


def test_missing_instance_name_is_reported(instance: Instance) -> None:
    text = instance.config_path.read_text("utf-8")
    instance.config_path.write_text(text.replace('name = "demo"\n', ""), "utf-8")

    assert _load_error(instance) == (f"{instance.config_path}: [instance] name: missing; "
                                     "it is required")


def test_invalid_toml_is_reported(instance: Instance) -> None:
    instance.config_path.write_text("[instance\nname = demo\n", "utf-8")

    message = _load_error(instance)

    assert message.startswith(f"{instance.config_path}: not valid TOML: ")


def test_folder_and_name_must_agree(instance: Instance) -> None:
    _set(instance, "instance", 'name = "other"')

    message = _load_error(instance)

    assert message == (f"{instance.config_path}: [instance] name = 'other' but the folder is "
                       "'demo'")


def test_settings_are_read_back_from_the_file(instance: Instance, home: Path) -> None:
    _set(instance, "files", 'prefix = "ACME_"')
    _set(instance, "orders", 'default_status = "Paid"')

    reopened = open_instance("demo", home=home)

    assert reopened.settings.files.prefix == "ACME_"
    assert reopened.settings.orders.default_status == "Paid"


def test_clientela_home_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENTELA_HOME", str(tmp_path / "data"))

    created = create_instance("acme")
    opened = open_instance("acme")

    assert created.root == tmp_path / "data" / "acme"
    assert (tmp_path / "data" / "acme" / "clientela.toml").is_file()
    assert opened.root == created.root


def test_only_instance_is_chosen_without_a_name(make_instance: MakeInstance,
                                                home: Path) -> None:
    make_instance("acme")

    assert open_instance(home=home).name == "acme"


def test_clientela_instance_chooses_among_several(
        make_instance: MakeInstance, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_instance("acme")
    make_instance("peru")

    with pytest.raises(InstanceError) as caught:
        open_instance(home=home)
    assert str(caught.value) == (f"several instances in {home} (acme, peru): choose one with "
                                 "--instance NAME or $CLIENTELA_INSTANCE")

    monkeypatch.setenv("CLIENTELA_INSTANCE", "peru")
    assert open_instance(home=home).name == "peru"
    # An explicit name wins over the environment.
    assert open_instance("acme", home=home).name == "acme"


def test_no_instance_and_unknown_instance(make_instance: MakeInstance, home: Path) -> None:
    home.mkdir()
    with pytest.raises(InstanceError) as caught:
        open_instance(home=home)
    assert str(caught.value) == (f"no instance in {home}: create one with "
                                 "`clientela init NAME`")

    make_instance("acme")
    with pytest.raises(InstanceError) as caught:
        open_instance("peru", home=home)
    assert str(caught.value) == (f"no instance 'peru' in {home}: create it with "
                                 "`clientela init peru`")
