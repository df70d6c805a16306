"""On-chain settlement: gas per settled trade, what it costs at an L1 and an L2 gas price,
and the chain layer's wall time by batch period.

Whole runs of the default community (self-consumption rule, so the chain layer dominates
what differs), same seed, on the embedded chain. "commit gas / trade" counts the batch commits
alone; "all gas / trade" every transaction the run sent (deployments, roles, minting,
registration, rewards, the DAO: the ``transactions`` table), one-off included. The cost per MWh
settled converts all gas at ``chain.gas_price_l1_gwei`` and ``chain.gas_price_l2_gwei`` (the
scenario's L1 and L2 profiles) and ``chain.eth_eur``, side by side; "chain s / year" scales the
layer's wall time to 365 days.

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
        f"trades in {kpis['batches']:.0f} batch(es), {kpis['commit_gas_per_trade']:,.0f} commit "
        f"gas and {kpis['gas_all_per_trade']:,.0f} gas of all transactions per settled trade, "
        f"chain layer {timings['chain']:.2f} s.",
        "",
        f"Batch period on the default community, {days} d, self-consumption rule:",
        "",
        "| batch [h] | batches | trades | commit gas / trade | all gas / trade "
        "| one-off share | L1 [EUR/MWh] | L2 [EUR/MWh] | chain [s] | chain s / year |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
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
            f"| {k['commit_gas_per_trade']:,.0f} | {k['gas_all_per_trade']:,.0f} "
            f"| {k['gas_one_off'] / k['gas_all']:.0%} "
            f"| {k['settlement_cost_l1_eur_per_mwh']:,.1f} "
            f"| {k['settlement_cost_l2_eur_per_mwh']:,.3f} "
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
