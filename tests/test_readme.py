"""The README against the code: every default its scenario key table states is the model's
default, every scenario key is in that table, and ``scenarios/default.toml`` is the defaults."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
from pydantic import BaseModel

from tests.conftest import DEFAULT, ROOT
from twin.scenario import Scenario, load_scenario

README = ROOT / "README.md"
#: Where a stated default says "no value".
UNSET = {"unset"}


def key_table() -> list[tuple[list[str], str]]:
    """The rows of the README's scenario key table: the dotted keys of a row, its default."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## The scenario format", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith(("`", "[")):
            continue
        rows.append((dotted_keys(cells[0]), cells[1]))
    assert len(rows) > 40, "the README's key table was not found"
    return rows


def dotted_keys(cell: str) -> list[str]:
    """``a.b``, ``c`` -> [a.b, a.c]; ``a.x_soc_min``, ``_soc_max`` -> [.., a.x_soc_max];
    ``[[a.b]]`` ``c`` -> [a.b.c]."""
    names = re.findall(r"`([^`]+)`", cell)
    table = re.fullmatch(r"\[\[(.+)\]\]", names[0])
    if table:
        return [f"{table.group(1)}.{n}" for n in names[1:]]
    section, first = names[0].split(".", 1)
    keys = [names[0]]
    for name in names[1:]:
        if "." in name:
            keys.append(name)
        elif name.startswith("_"):  # an abbreviated suffix of the first key's name
            stem = first[: first.index("_" + name.split("_")[1])]
            keys.append(f"{section}.{stem}{name}")
        else:
            keys.append(f"{section}.{name}")
    return keys


def split_defaults(cell: str) -> list[str]:
    """A row's defaults, one a key: split at the commas outside brackets."""
    parts, depth, current = [], 0, ""
    for char in cell:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and not depth:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


def parse(value: str) -> Any:
    """A default as the README writes it, as a Python value."""
    value = value.strip("`")
    if value in UNSET:
        return None
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value  # a bare string: fast, Europe/Berlin


def model_default(key: str) -> Any:
    """The default of a dotted key in the scenario models (tuples as lists, as TOML reads)."""
    node: Any = Scenario()
    for part in key.split("."):
        node = getattr(node, part)
    return list(node) if isinstance(node, tuple) else node


def stated_defaults() -> list[tuple[str, str]]:
    """Every (key, stated default) of the table, where the row states defaults."""
    out: list[tuple[str, str]] = []
    for keys, cell in key_table():
        if not cell:
            continue  # no default: a choice (grid.example, grid.file) or a list's fields
        values = split_defaults(cell)
        assert len(values) == len(keys), f"README row {keys}: {len(values)} defaults"
        out += zip(keys, values, strict=True)
    return out


@pytest.mark.parametrize(("key", "stated"), stated_defaults())
def test_every_default_the_readme_states_is_the_models(key: str, stated: str) -> None:
    expected = model_default(key)
    assert parse(stated) == expected, f"README says {key} = {stated}, the model {expected!r}"


def test_every_scenario_key_is_in_the_readme() -> None:
    documented = {k for keys, _ in key_table() for k in keys}
    missing = []
    for section, field in Scenario.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue  # name
        for name in model.model_fields:
            key = f"{section}.{name}"
            if key not in documented and not any(d.startswith(key + ".") for d in documented):
                missing.append(key)
    assert not missing, f"scenario keys the README's key table does not describe: {missing}"


def test_the_default_scenario_file_holds_the_defaults() -> None:
    # "every key is optional (the defaults are those of scenarios/default.toml)"
    assert load_scenario(DEFAULT).model_dump() == Scenario(name="default").model_dump()
