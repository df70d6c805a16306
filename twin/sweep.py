"""Parameter sweeps: scenarios x parameter grid x seeds, run on dask.distributed.

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

Each run writes its run folder under the sweep folder, named from its parameters, seed and a
hash of its whole validated scenario (``default__pv_share=0.2__battery_share=0.4__seed=1__
3fa2c1d0``): a rerun skips the runs whose folder is complete (has ``manifest.json``) and
retries the others. A failed run is reported with its error; the sweep goes on.
``sweep.parquet`` in the sweep folder (written atomically) has one row a run: ``run_folder``,
``scenario``, a column per parameter, ``seed``, ``status`` (``ok`` / ``failed``), ``skipped``
(finished earlier), ``error``, ``wall_time_s`` and the KPIs (units in the metadata key
``gridtwin.kpi_units``).

Runs go to a dask ``LocalCluster`` (worker processes, one thread each) or to the scheduler at
a given address, whose workers need gridtwin installed and the sweep folder at the same path
(a shared file system). Each run is single-threaded in its worker: a worker is a core.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import re
import tomllib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.scenario import Scenario, ScenarioError, scenario_from_dict

if TYPE_CHECKING:
    from distributed import Client

#: The sweep table's file name inside the sweep folder.
TABLE = "sweep.parquet"
#: Environment of LocalCluster workers: one thread in every OpenMP / BLAS pool.
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
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


@dataclass(frozen=True)
class RunOutcome:
    """What became of one run (returned by the worker that ran it)."""

    name: str
    status: str
    error: str | None = None
    skipped: bool = False
    wall_time_s: float | None = None
    kpis: dict[str, float] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)


Progress = Callable[[RunOutcome, int, int], None]


# -- loading --------------------------------------------------------------------------------


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


def _format(value: Any) -> str:
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
        f"{short if last.count(short) == 1 else key}={_format(value)}"
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
                described = ", ".join(f"{k}={_format(v)}" for k, v in overrides.items())
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


# -- running --------------------------------------------------------------------------------


def single_threaded() -> None:
    """Make this process's runs single-threaded (called in each worker before a run).

    OpenMP / BLAS pools are limited around each run with threadpoolctl (:func:`execute`);
    the environment variables cover libraries loaded later. power-grid-model's batch
    threads do not read them: the fast solver has its own switch
    (:data:`grid.fastflow.SINGLE_THREAD_ENV`).
    """
    from grid import fastflow

    for name, value in SINGLE_THREAD_ENV.items():
        os.environ.setdefault(name, value)
    os.environ[fastflow.SINGLE_THREAD_ENV] = "1"


def _finished(name: str, folder: Path) -> RunOutcome:
    """The outcome of a run whose folder is complete, read from the folder."""
    frame = pd.read_parquet(folder / "kpis.parquet")
    kpis = {str(n): float(v) for n, v in zip(frame["name"], frame["value"], strict=True)}
    units = {str(n): str(u) for n, u in zip(frame["name"], frame["unit"], strict=True)}
    wall = json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("wall_time_s")
    return RunOutcome(name, "ok", None, True, wall, kpis, units)


def execute(name: str, config: dict[str, Any], scenario_file: str, sweep_dir: str) -> RunOutcome:
    """Run one sweep run into ``sweep_dir/name`` (the task each worker executes).

    ``config``: the scenario as JSON data (:func:`task`), validated again here, so a worker
    whose gridtwin differs fails with a validation error, not a half-unpickled model. A
    failing run returns its error; a run whose folder is complete is skipped.
    """
    folder = Path(sweep_dir) / name
    if (folder / "manifest.json").is_file():
        return _finished(name, folder)
    try:
        single_threaded()
        from threadpoolctl import threadpool_limits

        from twin.engine import run_scenario

        scenario = Scenario.model_validate(config)
        with threadpool_limits(limits=1):
            result = run_scenario(scenario, folder, scenario_file=scenario_file)
    except Exception as err:
        return RunOutcome(name, "failed", f"{type(err).__name__}: {err}")
    kpis = {k: float(v) for k, (v, _) in result.kpis.items()}
    units = {k: u for k, (_, u) in result.kpis.items()}
    return RunOutcome(name, "ok", None, False, round(result.wall_time_s, 3), kpis, units)


def task(run: SweepRun) -> tuple[str, dict[str, Any], str]:
    """:func:`execute`'s arguments for ``run`` but the sweep folder: plain data only."""
    return run.name, run.scenario.model_dump(mode="json"), run.scenario_file


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler`` (``tcp://HOST:PORT``), or else of a new
    LocalCluster of ``workers`` processes (default: the CPU count), one thread each."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if workers is not None:
            raise ValueError("workers applies to a local cluster, not to a scheduler address")
        with Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=SINGLE_THREAD_ENV,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    client: Client | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Run every run of ``sweep`` not finished yet under ``out``; write ``out/sweep.parquet``.

    Parameters
    ----------
    sweep : Sweep
        A loaded sweep (:func:`load_sweep`).
    out : str or Path
        The sweep folder (created); each run's folder goes inside it.
    client : distributed.Client, optional
        Run on this client's cluster; else on ``scheduler``'s (``tcp://HOST:PORT``), else on
        a new LocalCluster of ``workers`` processes (see :func:`dask_client`).
    scheduler : str, optional
    workers : int, optional
    progress : callable, optional
        Called as ``progress(outcome, done, total)`` after each run, skipped ones included.

    Returns
    -------
    DataFrame
        The sweep table (see the module's docstring), one row a run in the sweep's order.
    """
    out = Path(out)
    pending = [r for r in sweep.runs if not (out / r.name / "manifest.json").is_file()]
    if pending and client is None:  # connect first: an unreachable scheduler writes nothing
        with dask_client(scheduler, workers) as own:
            return run_sweep(sweep, out, own, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, RunOutcome] = {}

    def record(outcome: RunOutcome) -> None:
        outcomes[outcome.name] = outcome
        if progress is not None:
            progress(outcome, len(outcomes), len(sweep.runs))

    todo = {r.name for r in pending}
    for run in sweep.runs:
        if run.name not in todo:
            record(_finished(run.name, out / run.name))
    try:
        if pending and client is not None:
            _submit(client, pending, out, record)
    finally:
        frame = sweep_table(sweep, outcomes)
        write_table(frame, out / TABLE, sweep, outcomes)
    return frame


def _submit(
    client: Client, runs: list[SweepRun], out: Path, record: Callable[[RunOutcome], None]
) -> None:
    from distributed import as_completed

    where = str(out.resolve())
    futures = {client.submit(execute, *task(run), where, pure=False): run for run in runs}
    try:
        for future in as_completed(futures):
            run = futures[future]
            if future.status == "error":
                err = future.exception()
                record(RunOutcome(run.name, "failed", f"{type(err).__name__}: {err}"))
            else:
                record(future.result())
    finally:
        client.cancel(list(futures))


def sweep_table(sweep: Sweep, outcomes: dict[str, RunOutcome]) -> pd.DataFrame:
    """One row a run: identity, parameters, seed, outcome and KPIs (NaN where none)."""
    kpi_names = dict.fromkeys(k for o in outcomes.values() for k in o.kpis)
    rows = []
    for run in sweep.runs:
        o = outcomes.get(run.name) or RunOutcome(run.name, "cancelled", "not run (interrupted)")
        rows.append(
            {
                "run_folder": run.name,
                "scenario": run.scenario.name,
                **run.parameters,
                "seed": run.scenario.run.seed,
                "status": o.status,
                "skipped": o.skipped,
                "error": o.error,
                "wall_time_s": o.wall_time_s,
                **{k: o.kpis.get(k, float("nan")) for k in kpi_names},
            }
        )
    frame = pd.DataFrame(rows)
    for key in sweep.config.parameters:
        values = frame[key]
        if values.dtype == object and len({type(v) for v in values}) > 1:
            frame[key] = values.map(_format)
    return frame.astype({"wall_time_s": float})


def write_table(
    frame: pd.DataFrame, path: Path, sweep: Sweep, outcomes: dict[str, RunOutcome]
) -> None:
    """Write the sweep table atomically (temporary file, then rename), units in metadata."""
    units = {k: u for o in outcomes.values() for k, u in o.units.items()}
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"gridtwin.kpi_units"] = json.dumps(units, sort_keys=True).encode()
    meta[b"gridtwin.sweep"] = sweep.config.model_dump_json().encode()
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        pq.write_table(table.replace_schema_metadata(meta), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_sweep(path: str | Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """A sweep folder's table and its KPIs' units (``{kpi: unit}``)."""
    path = Path(path)
    file = path / TABLE if path.is_dir() else path
    table = pq.read_table(file)
    units = json.loads((table.schema.metadata or {}).get(b"gridtwin.kpi_units", b"{}"))
    return table.to_pandas(), units
