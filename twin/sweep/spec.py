"""Sweep files: scenarios x parameter grid x seeds, every run's scenario validated up front.

A sweep file is TOML; every key but ``scenarios`` is optional and unknown keys are errors::

    name = "pv-battery"                          # default: the file's stem
    scenarios = ["../scenarios/default.toml"]    # relative to the sweep file
    seeds = [1, 2, 3]                            # default: each scenario's run.seed

    [fixed]                                      # overrides of every run
    run.days = 7
    forecasting.battery_control = "self_consumption"

    [parameters]                                 # the grid: dotted key -> list of values
    nodes.pv_share = [0.2, 0.4, 0.6]
    nodes.battery_share = [0.0, 0.2, 0.4]

The runs are the cartesian product scenarios x parameters x seeds. Keys are scenario keys as
in ``gridtwin run --set``; TOML dotted and quoted keys (``"nodes.pv_share" = [...]``) both
work. :func:`load_sweep` validates every run's scenario before anything runs; a bad file
fails with :class:`SweepError`, naming the file, the key and the reason.

Each run's folder is named from its parameters, seed and a hash of its whole validated
scenario (:func:`run_name`: ``default__pv_share=0.2__battery_share=0.4__seed=1__3fa2c1d0``).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.scenario import Scenario, ScenarioError, scenario_from_dict

#: Longest parameter part of a run folder's name [characters] (the hash keeps names unique).
_MAX_SLUG = 150


class SweepError(ValueError):
    """A sweep file that cannot be used; the message names the file, the key and the reason."""


class SweepConfig(BaseModel):
    """A sweep file, validated (keys flattened to dotted scenario keys)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$")] | None = None
    scenarios: Annotated[list[Path], Field(min_length=1)]
    seeds: Annotated[list[Annotated[int, Field(ge=0, lt=2**63)]], Field(min_length=1)] | None = None
    fixed: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)

    @field_validator("seeds", "parameters")
    @classmethod
    def _unique(cls, v: Any) -> Any:
        for key, values in v.items() if isinstance(v, dict) else [("", v or [])]:
            if len({json.dumps(x, sort_keys=True, default=str) for x in values}) != len(values):
                raise ValueError(f"{key}{': ' if key else ''}values must be unique")
        return v


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its validated scenario and where it comes from."""

    name: str
    scenario: Scenario
    scenario_file: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """A loaded sweep file: its configuration and every run, validated."""

    name: str
    source: str
    config: SweepConfig
    runs: list[SweepRun]


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"nodes": {"pv_share": x}}`` -> ``{"nodes.pv_share": x}``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def _set(raw: dict[str, Any], key: str, value: Any, source: str) -> None:
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ScenarioError(f"{source}: {key}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def format_value(value: Any) -> str:
    """A parameter value as run names and the sweep table show it (TOML-like, compact)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, default=str, separators=(",", ":"))


def run_name(scenario: Scenario, parameters: dict[str, Any]) -> str:
    """The run folder's name: scenario, parameters, seed and a hash of the whole scenario.

    Parameters
    ----------
    scenario : Scenario
        The run's validated scenario (the hash covers all of it, seed included).
    parameters : dict
        The run's grid values by dotted key; a key is shortened to its last part unless two
        keys share it.
    """
    last = [k.rsplit(".", 1)[-1] for k in parameters]
    parts = [
        f"{short if last.count(short) == 1 else key}={format_value(value)}"
        for (key, value), short in zip(parameters.items(), last, strict=True)
    ]
    slug = re.sub(r"[^A-Za-z0-9._=+-]+", "-", "__".join(parts))[:_MAX_SLUG]
    config = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    digest = hashlib.sha256(config.encode()).hexdigest()[:8]
    head = re.sub(r"[^A-Za-z0-9._+-]+", "-", scenario.name)
    return "__".join(p for p in (head, slug, f"seed={scenario.run.seed}", digest) if p)


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SweepError(f"{path}: cannot read: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise SweepError(f"{path}: not valid TOML: {err}") from None


def _config(raw: dict[str, Any], path: str) -> SweepConfig:
    for section in ("fixed", "parameters"):
        if isinstance(raw.get(section), dict):
            raw[section] = _flatten(raw[section])
    try:
        config = SweepConfig.model_validate(raw)
    except ValidationError as err:
        lines = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
            msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
            msg = msg.removeprefix("Value error, ")
            lines.append(f"{path}: {loc}: {msg}")
        raise SweepError("\n".join(lines)) from None
    both = sorted(set(config.fixed) & set(config.parameters))
    if both:
        raise SweepError(f"{path}: {', '.join(both)}: both in [fixed] and in [parameters]")
    if config.seeds is not None:
        for section, keys in (("fixed", config.fixed), ("parameters", config.parameters)):
            if "run.seed" in keys:
                raise SweepError(f"{path}: {section}.run.seed: give the seeds in `seeds`")
    return config


def load_sweep(path: str | Path) -> Sweep:
    """Load a sweep file and validate every run's scenario; nothing runs.

    Parameters
    ----------
    path : str or Path
        The sweep TOML file; its scenario paths are relative to its folder.

    Raises
    ------
    SweepError
        Unreadable or bad file, unknown key, or an override a run's scenario rejects; each
        line names the file, the key and the reason.
    """
    path = Path(path)
    raw = _read_toml(path, "sweep")
    raw.setdefault("name", re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem))
    return sweep_from_dict(raw, str(path), path.parent)


def sweep_from_dict(
    raw: dict[str, Any], source: str = "<sweep>", base_dir: str | Path = "."
) -> Sweep:
    """Validate a sweep file's content (``source``: its name in errors) and all its runs.

    Relative scenario paths start from ``base_dir``; raises :class:`SweepError` as
    :func:`load_sweep`.
    """
    path, base_dir = source, Path(base_dir)
    config = _config(copy.deepcopy(raw), path)
    keys = list(config.parameters)
    grid = list(itertools.product(*config.parameters.values()))
    seeds: list[int | None] = list(config.seeds) if config.seeds else [None]
    runs: list[SweepRun] = []
    errors: dict[str, None] = {}
    for scenario_path in config.scenarios:
        file = scenario_path if scenario_path.is_absolute() else base_dir / scenario_path
        base = _read_toml(file, "scenario")
        base.setdefault("name", file.stem)
        for values in grid:
            parameters = dict(zip(keys, values, strict=True))
            for seed in seeds:
                overrides = {**config.fixed, **parameters}
                if seed is not None:
                    overrides["run.seed"] = seed
                described = ", ".join(f"{k}={format_value(v)}" for k, v in overrides.items())
                source = f"{path}: {file}" + (f" with {described}" if described else "")
                raw = copy.deepcopy(base)
                try:
                    for key, value in overrides.items():
                        _set(raw, key, value, source)
                    scenario = scenario_from_dict(raw, source=source, base_dir=file.parent)
                except ScenarioError as err:  # its lines name source, key and reason
                    errors.update(dict.fromkeys(str(err).splitlines()))
                    continue
                runs.append(
                    SweepRun(run_name(scenario, parameters), scenario, str(file), parameters)
                )
    if errors:
        lines = list(errors)
        more = f"\n... and {len(lines) - 10} more" if len(lines) > 10 else ""
        raise SweepError("\n".join(lines[:10]) + more)
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise SweepError(f"{path}: two runs have the same scenario (repeated scenario file?)")
    return Sweep(config.name or "sweep", path, config, runs)
