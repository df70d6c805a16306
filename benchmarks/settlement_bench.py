"""On-chain settlement: gas per settled trade and the chain layer's wall time by batch period.

Whole runs of the default community (self-consumption rule, so the chain layer dominates
what differs), same seed, on the embedded chain. "gas per trade" counts every batch
transaction, net payments included; "chain s / year" scales the layer's wall time to 365 days.

Run: ``.venv/bin/python benchmarks/settlement_bench.py [--days 7]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.toml"
PERIODS = (1, 6, 24, 168)


def _run(overrides: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    from twin.engine import run_scenario
    from twin.scenario import load_scenario

    sc = load_scenario(DEFAULT, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_scenario(sc, Path(tmp) / "run")
    return {k: v for k, (v, _) in result.kpis.items()}, result.timings_s


def settlement_table(days: int = 7) -> str:
    """Markdown: the 1-day default run's gas per trade, then the batch period's trade-off."""
    kpis, timings = _run(["run.days=1"])
    lines = [
        f"1-day default run (every layer at its defaults): {kpis['settled_trades']:,.0f} "
        f"trades in {kpis['batches']:.0f} batch(es), {kpis['gas_per_trade']:,.0f} gas per "
        f"settled trade (bar: <= 1,000), chain layer {timings['chain']:.2f} s.",
        "",
        f"Batch period on the default community, {days} d, self-consumption rule:",
        "",
        "| batch [h] | batches | trades | gas per trade | gas per batch | chain [s] "
        "| chain s / year |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for hours in PERIODS:
        overrides = [
            f"run.days={days}",
            f"chain.batch_hours={hours}",
            "forecasting.battery_control=self_consumption",
        ]
        k, t = _run(overrides)
        lines.append(
            f"| {hours} | {k['batches']:,.0f} | {k['settled_trades']:,.0f} "
            f"| {k['gas_per_trade']:,.0f} | {k['gas_used'] / k['batches']:,.0f} "
            f"| {t['chain']:.1f} | {t['chain'] * 365 / days:,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    print(settlement_table(args.days))


if __name__ == "__main__":
    main()
