"""Forecasting at the edge: every device's own small model against the central pooled model.

The default scenario from its start (2016-06-06, 28 days of warm-up history before it), run
once with ``forecasting.placement = "central"`` and once with ``"edge"``, same seed. Accuracy
is read from the ``forecasts`` table (every consumer, PV and wind node at the recorded
horizons, against the metered actuals): MAE over all nodes and nMAE (MAE over the mean
absolute actual). Compute is the CPU time (``time.process_time``) of the forecaster's fits and
predictions in the run (manifest ``forecasting``), per forecast device: a fit's, and per day
with one fit every ``retrain_days`` (28) and the run's predictions. Model size is
the pickle of the fitted model(s): per device at the edge; the central model whole and shared
out per device. Bytes upstream count what forecasting needs to leave a device: central, every
reading (``readings`` table), each as the ``abi.encode(deviceId, interval, energyWh)`` row the
device signs (96 B), plus one signed upload header per upload (deviceId, period, root, nonce
and a 65 B signature: 193 B); edge, every forecast value the run issued, in the same 96 B row
(the interval it forecasts and its energy in Wh), plus one signed header per forecast issue.
Readings still go upstream for settlement and rewards under either placement; the column is
what forecasting adds or needs. Dispatch and market: the run's KPIs.

Run: ``.venv/bin/python benchmarks/edge_bench.py [--quick] [--days 14]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT = "scenarios/default.toml"
PLACEMENTS = ("central", "edge")
#: Bytes of one reading (or forecast value) as the device signs it: abi.encode(uint256,
#: uint64, int64), three 32-byte words (``settlement/depin/leaves.py``).
ROW_BYTES = 3 * 32
#: Bytes of one signed upload's header: deviceId, period, readingsRoot, nonce (32 B each) and
#: the 65-byte EIP-712 signature (``settlement/depin/uploads.py``).
HEADER_BYTES = 4 * 32 + 65


def measure(placement: str, days: int) -> dict[str, Any]:
    """Run the default scenario for ``days`` with ``placement``; return the bench's figures."""
    sys.path.insert(0, str(ROOT))
    from twin.engine import run_scenario
    from twin.results import open_run
    from twin.scenario import load_scenario

    sc = load_scenario(ROOT / DEFAULT, [f"run.days={days}", f"forecasting.placement={placement}"])
    with tempfile.TemporaryDirectory() as tmp:
        run_scenario(sc, Path(tmp) / "run")
        run = open_run(Path(tmp) / "run")
        info = run.manifest["forecasting"]
        forecasts = run.table("forecasts")
        readings = run.table("readings")
        kpis = run.table("kpis").set_index("name")["value"]
    devices = int(info["devices"])
    forecast_nodes = set(forecasts["node_id"].astype(str))
    readings = readings[readings["node_id"].astype(str).isin(forecast_nodes)]
    uploads = readings.groupby(["node_id", "uploaded_at"], observed=True).ngroups
    accuracy = {}
    for h, group in forecasts.groupby("horizon_steps"):
        error = (group["predicted_mw"] - group["actual_mw"]).abs()
        accuracy[int(h)] = (error.mean(), error.mean() / group["actual_mw"].abs().mean())
    issues = forecasts["issued"].nunique()
    return {
        "placement": placement,
        "days": days,
        "devices": devices,
        "accuracy": accuracy,
        "fits": info["fits"],
        "retrain_days": run.manifest["config"]["forecasting"]["retrain_days"],
        "fit_cpu_s": info["fit_cpu_s"],
        "predict_cpu_s": info["predict_cpu_s"],
        "model_bytes": info["model_bytes"],
        "readings_bytes": len(readings) * ROW_BYTES + uploads * HEADER_BYTES,
        "forecast_bytes": info["values_issued"] * ROW_BYTES + issues * devices * HEADER_BYTES,
        "kpis": {k: float(kpis[k]) for k in KPIS},
    }


#: KPIs compared: name, label, scale, format.
KPIS = {
    "community_cost_eur": ("community cost with the P2P market [EUR]", 1.0, ",.2f"),
    "baseline_cost_eur": ("community cost at the utility's tariffs [EUR]", 1.0, ",.2f"),
    "forecast_error_cost_eur": ("forecast-error cost [EUR]", 1.0, ",.2f"),
    "self_sufficiency": ("self-sufficiency [%]", 100.0, ".2f"),
    "self_consumption": ("self-consumption [%]", 100.0, ".2f"),
    "peak_import_mw": ("peak import [kW]", 1e3, ",.2f"),
    "p2p_traded_mwh": ("P2P traded energy [kWh]", 1e3, ",.1f"),
}


def measure_in_subprocess(placement: str, days: int) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter (no cache warmed by the other placement)."""
    cmd = [sys.executable, str(HERE / "edge_bench.py"), "--measure", placement, "--days", str(days)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out["accuracy"] = {int(h): v for h, v in out["accuracy"].items()}
    return out


def rows(run: dict[str, Any]) -> dict[str, float]:
    """A run's figures, one a row of the table."""
    n, days = run["devices"], run["days"]
    sizes = run["model_bytes"]
    upstream = run["readings_bytes"] if run["placement"] == "central" else run["forecast_bytes"]
    out = {}
    for h, (mae_mw, nmae) in sorted(run["accuracy"].items()):
        out[f"MAE at {h} step(s) ahead [W]"] = mae_mw * 1e6
        out[f"nMAE at {h} step(s) ahead [%]"] = nmae * 100
    fit_ms = run["fit_cpu_s"] / max(run["fits"], 1) / n * 1e3
    predict_ms = run["predict_cpu_s"] / n / days * 1e3
    out["CPU of one fit per device [ms]"] = fit_ms
    out[f"CPU per device per day, fit (one every {run['retrain_days']} d) [ms]"] = (
        fit_ms / run["retrain_days"]
    )
    out["CPU per device per day, predict [ms]"] = predict_ms
    out["CPU per device per day, fit + predict [ms]"] = fit_ms / run["retrain_days"] + predict_ms
    out["models"] = len(sizes)
    out["model size, one model [kB]"] = sum(sizes) / len(sizes) / 1e3
    out["model size, all models [kB]"] = sum(sizes) / 1e3
    out["model size, per device's share [kB]"] = sum(sizes) / n / 1e3
    out["upstream for forecasting per device per day [kB]"] = upstream / n / days / 1e3
    out["readings upstream per device per day [kB]"] = run["readings_bytes"] / n / days / 1e3
    for name, (label, scale, _) in KPIS.items():
        out[label] = run["kpis"][name] * scale
    return out


def edge_table(days: int) -> str:
    """Central against edge placement on the default scenario, as a markdown table."""
    runs = [measure_in_subprocess(p, days) for p in PLACEMENTS]
    central, edge = (rows(r) for r in runs)
    fmt = {label: f for label, _, f in KPIS.values()}
    lines = [
        f"| default scenario, 2016-06-06 + {days} d, {runs[0]['devices']} forecast devices "
        "| central (pooled) | edge (own model) | edge - central |",
        "|---|---:|---:|---:|",
    ]
    for label, c in central.items():
        e = edge[label]
        f = fmt.get(label, ",.0f" if label == "models" else ",.3f")
        lines.append(f"| {label} | {c:{f}} | {e:{f}} | {e - c:+{f}} |")
    return "\n".join(lines)


def main() -> None:
    """Command line: print the table (or, with ``--measure``, one placement's JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 days instead of 14")
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--measure", choices=PLACEMENTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    days = args.days or (3 if args.quick else 14)
    if args.measure:
        print(json.dumps(measure(args.measure, days)))
        return
    print(edge_table(days))


if __name__ == "__main__":
    main()
