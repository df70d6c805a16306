"""Physics as the fraud check: detection and false positives against inflation and noise.

Whole one-day runs of ``scenarios/fraud_subtle.toml`` (embedded chain, daily uploads, batteries
by the self-consumption rule), each with one device inflating its signed readings by a factor
(or none), by run seed (meter and load noise) and meter noise (the scenario's meter classes,
0.5 % voltage and 1 % substation power, and twice that). The inflater is the 30 kW turbine
(``wind-0``) or a 6 kW rooftop PV (``pv-5``); the per-device checks pass the turbine at
every factor and the PV below 1.2 (its peers' tolerance). The meter noise scales every grid
meter alike: voltages, the substation's power and the home meters' net power (1 % and its
50 W floor at the meter classes). The days are judged by both blame rules side by side, on
the same meter readings (``devices.physics_check.method``; the ``physics_checks`` table):
``hypotheses`` (every generating device's inflation fitted to the meters, the home meters'
net power included, ``grid/localization.py``) and ``state_estimation`` (pandapower WLS,
largest matched-filtered normalized residual, ``grid/estimation.py``: voltages and the
substation only; for its ~20 s a day, only at the meter classes, factors 1.1 and 1.3 and the
attack-free runs, and not with ``--hypotheses-only``).

* **lie seen**: runs whose strongest hypothesis (device; bus for ``state_estimation``)
  exceeds the threshold, placed or not;
* **liar flagged**: runs whose inflater is flagged (its day's readings earn nothing), and the
  hours from the start to the flag (the end of its upload period);
* **neighbour blamed**: runs in which an honest device is flagged instead of or beside it;
* **honest device-days flagged**: over the rewarded (generating) devices' days, attack-free
  runs (factor 1.00) included.

Run: ``.venv/bin/python benchmarks/fraud_detection.py [--quick] [--hypotheses-only]``.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "fraud_subtle.toml"
FACTORS = (1.05, 1.1, 1.2, 1.3)
SEEDS = (1, 2, 3)
TARGETS = ("wind-0", "pv-5")
#: (label, multiple of the scenario's meter noise)
NOISE = (("meter classes (0.5 % V, 1 % P, 1 % home)", 1.0), ("2x (1 % V, 2 % P, 2 % home)", 2.0))
METHODS = ("hypotheses", "state_estimation")
SE_FLAG = 64  # settlement.depin.plausibility.FLAGS["state_estimation"]


@dataclass(frozen=True)
class Case:
    """One run: who inflates by how much, under which noise and seed."""

    target: str  # "" for an attack-free run
    factor: float
    noise: float
    seed: int
    wls: bool = False  # pandapower's WLS judges the day too


@dataclass(frozen=True)
class Verdict:
    """One method's verdict on one run."""

    method: str
    liar_flagged: bool
    hours_to_flag: float  # NaN when not flagged
    honest_flagged: int
    honest_devices: int
    liar_flagged_share: float  # of the liar's readings flagged by the applied method
    seen: bool  # the strongest hypothesis exceeds the threshold (placed or not)


def one_run(case: Case) -> tuple[Case, list[Verdict], float, float]:
    """Run a case (both methods judge the same day); its verdicts, the share of the liar's
    readings the per-device checks flag, and the run's wall time [s]."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from twin.engine import run_scenario
    from twin.results import open_run
    from twin.scenario import load_scenario

    attacks = (
        f'[{{node_id="{case.target}", kind="inflate", inflate_factor={case.factor}}}]'
        if case.target
        else "[]"
    )
    overrides = [
        f"devices.attacks={attacks}",
        f"run.seed={case.seed}",
        f"devices.physics_check.voltage_std_pu={0.005 * case.noise}",
        f"devices.physics_check.power_std={0.01 * case.noise}",
        f"devices.physics_check.home_power_std={0.01 * case.noise}",
        f"devices.physics_check.home_power_floor_mw={0.00005 * case.noise}",
        # both rules judge the same day where pandapower's WLS runs (~20 s a day)
        f"devices.physics_check.method={'state_estimation' if case.wls else 'hypotheses'}",
        "forecasting.battery_control=self_consumption",
        "economy.enabled=false",
    ]
    t0 = time.perf_counter()
    # one BLAS thread a worker: the runs are the parallelism (several threads each oversubscribe
    # the cores and slowed the grid ~3x)
    with TemporaryDirectory() as tmp, threadpool_limits(1):
        out = Path(tmp) / "run"
        scenario = load_scenario(SCENARIO, overrides)
        run_scenario(scenario, out)
        run = open_run(out)
        checks = run.table("physics_checks")
        readings = run.table("readings")
        nodes = run.table("nodes")
    wall = time.perf_counter() - t0
    period_h = scenario.devices.upload_intervals * scenario.run.interval_s / 3600
    start = checks["time"].min()
    rewarded = set(nodes.loc[nodes["kind"].astype(str) != "consumer", "node_id"].astype(str))
    honest = rewarded - {case.target}
    node = readings["node_id"].astype(str)
    liar = readings[node == case.target]
    flags = liar["flags"].to_numpy()
    per_device = float(((flags & ~SE_FLAG) > 0).mean()) if len(flags) else 0.0
    se_share = float(((flags & SE_FLAG) > 0).mean()) if len(flags) else 0.0
    verdicts = []
    for method in METHODS:
        rows = checks[checks["method"].astype(str) == method]
        if not len(rows):
            continue
        blamed = rows["flagged_node"].astype(str)
        hit = rows[blamed == case.target] if case.target else rows.iloc[0:0]
        hours = (
            float((hit["time"].min() - start).total_seconds() / 3600 + period_h)
            if len(hit)
            else float("nan")
        )
        days = {(t, n) for t, n in zip(rows["time"], blamed, strict=True) if n in honest}
        verdicts.append(
            Verdict(
                method,
                bool(len(hit)),
                hours,
                len(days),
                len(honest) * len(rows),
                se_share if method == "state_estimation" else float(np.nan),
                bool((rows["top_z"] > scenario.devices.physics_check.z_threshold).any()),
            )
        )
    return case, verdicts, per_device, wall


def _both(noise: float, factor: float) -> bool:
    """Runs judged by both rules: the meter classes, factors 1.1 and 1.3 and no lie."""
    return noise == 1.0 and factor in (1.0, 1.1, 1.3)


def cases(quick: bool, wls: bool = True) -> list[Case]:
    """The measured grid: targets x factors x noise x seeds, and attack-free runs."""
    factors = (1.1, 1.3) if quick else FACTORS
    seeds = SEEDS[:2] if quick else SEEDS
    out = [Case("", 1.0, n, s, wls and _both(n, 1.0)) for _, n in NOISE for s in seeds]
    out += [
        Case(t, f, n, s, wls and _both(n, f))
        for t in TARGETS
        for f in factors
        for _, n in NOISE
        for s in seeds
    ]
    return out


def detection_table(
    quick: bool = False, out: Path | None = None, workers: int = 2, wls: bool = True
) -> str:
    """Measure; return the markdown table (and write the HTML plot)."""
    t0 = time.perf_counter()
    todo = cases(quick, wls)
    results: list[tuple[Case, list[Verdict], float, float]] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(one_run, todo):
            case, verdicts, _, run_s = result
            print(
                f"{case.target or 'none'} x{case.factor} noise x{case.noise} seed {case.seed}: "
                + ", ".join(
                    f"{v.method} liar {v.liar_flagged} honest {v.honest_flagged}" for v in verdicts
                )
                + f" ({run_s:.0f} s)",
                flush=True,
            )
            results.append(result)
    wall = time.perf_counter() - t0
    label = {n: lab for lab, n in NOISE}
    groups: dict[tuple[str, float, float, str], list[tuple[Verdict, float]]] = {}
    for case, verdicts, per_device, _ in results:
        for v in verdicts:
            key = (case.target or "none", case.factor, case.noise, v.method)
            groups.setdefault(key, []).append((v, per_device))
    lines = [
        "| inflater | factor | meter noise | method | runs | lie seen | liar flagged "
        "| hours to flag | neighbour blamed | honest device-days flagged "
        "| per-device checks flag the liar |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = []
    for (target, factor, noise, method), vs in sorted(groups.items(), key=_order):
        n = len(vs)
        caught = sum(v.liar_flagged for v, _ in vs)
        hours = [v.hours_to_flag for v, _ in vs if v.liar_flagged]
        neighbour = sum(v.honest_flagged > 0 for v, _ in vs)
        fp = sum(v.honest_flagged for v, _ in vs)
        days = sum(v.honest_devices for v, _ in vs)
        per_dev = sum(p for _, p in vs) / n
        liar = "-" if target == "none" else f"{caught}/{n}"
        seen = sum(v.seen for v, _ in vs)
        lines.append(
            f"| {target} | {factor:.2f} | {label[noise]} | {method} | {n} | {seen}/{n} | {liar} | "
            f"{(f'{max(hours):.0f}' if hours else '-')} | "
            f"{'-' if target == 'none' else f'{neighbour}/{n}'} | {fp}/{days} | "
            f"{'-' if target == 'none' else f'{per_dev:.0%}'} |"
        )
        rows.append((target, factor, noise, method, caught / n, fp / max(days, 1)))
    summary = {}
    for method in METHODS:
        fp = sum(v.honest_flagged for _, vs, _, _ in results for v in vs if v.method == method)
        days = sum(v.honest_devices for _, vs, _, _ in results for v in vs if v.method == method)
        summary[method] = f"{fp}/{days} ({fp / max(days, 1):.1%})"
    walls = [r[3] for r in results]
    lines += [
        "",
        f"Honest device-days flagged over all runs: hypotheses {summary['hypotheses']}, "
        f"state_estimation {summary['state_estimation']}. {len(results)} one-day runs in "
        f"{wall:.0f} s on {workers} processes ({sum(walls) / len(walls):.0f} s a run: build, "
        "chain, the check); threshold z > 5, lead > 2 (the scenario's).",
    ]
    table = "\n".join(lines)
    _plot(rows, out or Path(__file__).with_name("fraud_detection.html"))
    return table


def _order(item: tuple[tuple[str, float, float, str], object]) -> tuple[int, float, float, int]:
    target, factor, noise, method = item[0]
    rank = ("none", *TARGETS).index(target)
    return rank, factor, noise, METHODS.index(method)


def _plot(rows: list[tuple[str, float, float, str, float, float]], path: Path) -> None:
    """Share of runs whose liar is flagged against the factor (one line per inflater, noise
    and method), and the honest device-days flagged: plotly's HTML (no image engine)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("liar flagged [share of runs]", "honest device-days flagged [share]"),
    )
    label = {n: lab for lab, n in NOISE}
    for target in TARGETS:
        for _, noise in NOISE:
            for method in METHODS:
                pts = [r for r in rows if r[0] == target and r[2] == noise and r[3] == method]
                dash = "solid" if method == "hypotheses" else "dot"
                name = f"{target}, {label[noise]}, {method}"
                fig.add_trace(
                    go.Scatter(
                        x=[r[1] for r in pts],
                        y=[r[4] for r in pts],
                        name=name,
                        line={"dash": dash},
                        legendgroup=name,
                    ),
                    row=1,
                    col=1,
                )
                fig.add_trace(
                    go.Scatter(
                        x=[r[1] for r in pts],
                        y=[r[5] for r in pts],
                        name=name,
                        line={"dash": dash},
                        legendgroup=name,
                        showlegend=False,
                    ),
                    row=1,
                    col=2,
                )
    fig.update_xaxes(title_text="inflation factor [-]")
    fig.update_yaxes(range=[-0.05, 1.05], row=1, col=1)
    fig.update_layout(title="Physics as the fraud check: one day of fraud_subtle, 3 seeds")
    fig.write_html(str(path), include_plotlyjs="cdn")
    print(f"plot written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 factors, 2 seeds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--hypotheses-only", action="store_true", help="no pandapower WLS (~20 s a day)"
    )
    args = parser.parse_args()
    print(detection_table(args.quick, workers=args.workers, wls=not args.hypotheses_only))


if __name__ == "__main__":
    main()
