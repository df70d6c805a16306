"""Reading a scenario: a TOML file, ``KEY=VALUE`` overrides, and errors that name the file,
the key and the reason."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from settlement.market.day_ahead import FixedParts
from twin.scenario.base import ScenarioError
from twin.scenario.day_ahead_csv import read_day_ahead_csv
from twin.scenario.model import MISFIT, Scenario


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``"a.b=value"`` into its key path and its value (TOML-typed where it parses)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ScenarioError(f"--set {item!r}: expected KEY=VALUE, e.g. grid.solver=pandapower")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


def _apply(raw: dict[str, Any], path: list[str], value: Any) -> None:
    node = raw
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ScenarioError(f"--set {'.'.join(path)}: {part!r} is not a section")
        node = child
    node[path[-1]] = value


def _describe(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == MISFIT:  # a check across sections names its own key
            loc, msg = e["ctx"]["key"], e["ctx"]["reason"]
        lines.append(f"{source}: {loc}: {msg}")
    return "\n".join(lines)


def scenario_from_dict(
    raw: dict[str, Any], source: str = "<scenario>", base_dir: Path | None = None
) -> Scenario:
    """Validate a raw mapping as a :class:`Scenario`; file paths resolve against ``base_dir``."""
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    grid = raw.get("grid")
    if isinstance(grid, dict) and isinstance(grid.get("file"), str) and base_dir is not None:
        grid["file"] = str((base_dir / grid["file"]).resolve())
    tariffs = raw.get("tariffs")
    prices = tariffs.get("day_ahead_csv") if isinstance(tariffs, dict) else None
    if isinstance(tariffs, dict) and isinstance(prices, str) and base_dir is not None:
        tariffs["day_ahead_csv"] = str((base_dir / prices).resolve())
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(_describe(err, source)) from None
    path = scenario.grid.file
    if path is not None and not path.is_file():
        raise ScenarioError(f"{source}: grid.file: no such file {str(path)!r}")
    prices = scenario.tariffs.day_ahead_csv
    if prices is not None:
        try:  # validated before anything runs; the build reads it again
            read_day_ahead_csv(
                prices,
                scenario.run.start,
                scenario.run.n_intervals * scenario.run.interval_s,
                FixedParts(
                    scenario.tariffs.network_eur_per_mwh,
                    scenario.tariffs.levies_eur_per_mwh,
                    scenario.tariffs.supplier_margin_eur_per_mwh,
                    scenario.tariffs.vat_share,
                ),
            )
        except ScenarioError as err:
            raise ScenarioError(f"{source}: {err}") from None
    return scenario


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Load, override and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        The TOML file.
    overrides : list of str, optional
        ``KEY=VALUE`` items applied after the file is read and before it is validated.

    Raises
    ------
    ScenarioError
        Missing or unreadable file, bad TOML, unknown key, bad value; the message names the
        file (or ``--set``), the key and the reason.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML: {err}") from None
    raw.setdefault("name", path.stem)
    source = str(path)
    for item in overrides or []:
        keys, value = parse_override(item)
        _apply(raw, keys, value)
    if overrides:
        source = f"{path} (with --set {', '.join(overrides)})"
    return scenario_from_dict(raw, source=source, base_dir=path.parent)
