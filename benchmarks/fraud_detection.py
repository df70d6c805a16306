"""Physics as the fraud check: detection and false positives against inflation and noise.

The community of ``scenarios/fraud_subtle.toml`` (fraud scenario's pinned nodes), its nodes'
profile powers on whole days (batteries idle), the fast power flow as the truth. One device
inflates its claims by a factor; the meters (substation import, smart-meter voltages) carry
Gaussian noise at three levels. Each day is estimated as the run's grid-side check does
(:class:`twin.layers.physics.PhysicsCheck`: pandapower WLS per generating interval, matched
filter of the normalized residuals per bus, ``localize`` then ``attribute``).

* **localized**: days on which the inflating device itself is flagged;
* **false positives**: honest rewarded device-days flagged, over every day and factor
  (factor 1.0: no liar at all).

Run: ``.venv/bin/python benchmarks/fraud_detection.py [--days 2]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "fraud_subtle.toml"
FACTORS = (1.0, 1.02, 1.05, 1.1, 1.2, 1.3)
#: (label, voltage std [p.u.], substation power std [-])
NOISE = (
    ("class 0.5 V / class 1 P (defaults)", 0.005, 0.01),
    ("0.1 % V / 0.5 % P", 0.001, 0.005),
    ("0.02 % V / 0.2 % P (15-min means)", 0.0002, 0.002),
)
#: Windy, sunny days of SimBench's 2016 profiles (the wind lie has something to move).
DAYS = ("2016-07-25", "2016-04-15", "2016-07-27", "2016-08-12")
TARGETS = ("wind-0", "pv-5")
Z_THRESHOLD, MARGIN = 5.0, 2.0


def _day(start: str) -> tuple[object, np.ndarray, np.ndarray, object]:
    from twin.build import build, profile_powers
    from twin.scenario import load_scenario

    scenario = load_scenario(SCENARIO, [f"run.start={start}T00:00:00Z"])
    twin = build(scenario)
    p, q = profile_powers(twin, 96)
    return twin, p, q, twin.solver.solve(p, q)


def _flagged(
    twin: object,
    p: np.ndarray,
    q: np.ndarray,
    flow: object,
    target: int,
    factor: float,
    v_std: float,
    p_std: float,
    seed: int,
) -> tuple[int, float]:
    from grid.detection import attribute, day_scores, localize
    from grid.estimation import InjectionEstimator
    from grid.measurements import MeterNoise, measure

    table = twin.nodes.table  # type: ignore[attr-defined]
    kinds = table["kind"].to_numpy()
    eligible = kinds != "consumer"
    noise = MeterNoise(voltage_std_pu=v_std, power_std=p_std)
    est = InjectionEstimator(twin.net, table["bus"].to_numpy(), noise)  # type: ignore[attr-defined]
    vm, imp = measure(flow.vm_pu, flow.import_mw, noise, np.random.default_rng(seed))  # type: ignore[attr-defined]
    claimed = p.copy()
    claimed[:, target] *= factor
    output = np.where(eligible, np.clip(-claimed, 0.0, None), 0.0)
    weight = np.zeros((len(p), len(est.buses)))
    np.add.at(weight.T, est.node_col, output.T)
    todo = np.asarray((weight > 0).any(axis=1), dtype=bool)
    res = est.residuals(claimed, q, vm, imp, twin.solver.layout.bus, estimate=todo)  # type: ignore[attr-defined]
    scores = day_scores(res.rn, weight, len(p))[0]
    bus = localize(scores, Z_THRESHOLD, MARGIN)
    if bus < 0:
        return -1, float(scores.max())
    candidates = np.flatnonzero((est.node_col == bus) & eligible)
    return int(candidates[attribute(res.rn[:, bus], output[:, candidates])]), float(scores.max())


def detection_table(days: int = 2, out: Path | None = None) -> str:
    """Measure; return the markdown table (and write the plot next to this file)."""
    rows = []
    t0 = time.perf_counter()
    estimated = 0
    data = {}
    for d, start in enumerate(DAYS[:days]):
        twin, p, q, flow = _day(start)
        names = twin.nodes.table["node_id"].to_numpy()  # type: ignore[attr-defined]
        honest_n = int((twin.nodes.table["kind"].to_numpy() != "consumer").sum()) - 1  # type: ignore[attr-defined]
        for label, v_std, p_std in NOISE:
            for tname in TARGETS:
                target = int(np.flatnonzero(names == tname)[0])
                factors = FACTORS if tname == "wind-0" or label == NOISE[0][0] else (1.1,)
                for f in factors:
                    if tname == "pv-5" and f == 1.0:
                        continue
                    hit, top = _flagged(twin, p, q, flow, target, f, v_std, p_std, 1000 + d)
                    estimated += 96
                    key = (label, tname, f)
                    agg = data.setdefault(key, [0, 0, 0, 0, []])
                    agg[0] += 1
                    agg[1] += int(hit == target and f > 1.0)
                    agg[2] += int(hit >= 0 and (hit != target or f == 1.0))
                    agg[3] += honest_n + (1 if f == 1.0 else 0)
                    agg[4].append(top)
    wall = time.perf_counter() - t0
    lines = [
        "| noise | liar | factor | days | localized | honest device-days flagged | top score |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for (label, tname, f), (n, ok, fp, honest, tops) in data.items():
        liar = "none" if f == 1.0 else tname
        lines.append(
            f"| {label} | {liar} | {f:.2f} | {n} | {ok}/{n} | {fp}/{honest} | "
            + ", ".join(f"{t:.1f}" for t in tops)
            + " |"
        )
        rows.append((label, tname, f, ok / n))
    lines.append("")
    lines.append(
        f"{estimated:,} interval estimations in {wall:.0f} s "
        f"({wall / max(estimated, 1) * 1e3:.0f} ms each, pandapower WLS + normalized residuals); "
        f"threshold z > {Z_THRESHOLD}, lead > {MARGIN}."
    )
    table = "\n".join(lines)
    _plot(rows, out or Path(__file__).with_name("fraud_detection.png"))
    return table


def _plot(rows: list[tuple[str, str, float, float]], path: Path) -> None:
    """The wind liar's localization rate against the factor, one line per noise level: a PNG
    with matplotlib or plotly + kaleido if installed, else plotly's HTML."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for label, _, _ in NOISE:
        pts = [(f, r) for lab, t, f, r in rows if lab == label and t == "wind-0" and f > 1.0]
        fig.add_trace(go.Scatter(x=[x for x, _ in pts], y=[y for _, y in pts], name=label))
    fig.update_layout(
        title="wind-0 inflating: share of days localized",
        xaxis_title="inflation factor [-]",
        yaxis_title="days localized [-]",
    )
    try:
        fig.write_image(str(path))
        print(f"plot written to {path}")
    except (ValueError, ImportError, RuntimeError) as err:
        html = path.with_suffix(".html")
        fig.write_html(str(html), include_plotlyjs="cdn")
        print(f"no PNG ({type(err).__name__}: kaleido missing?); plot written to {html}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=2)
    print(detection_table(parser.parse_args().days))


if __name__ == "__main__":
    main()
