"""What the P2P market is worth, and what network-aware clearing costs.

Two tables, measured on whole runs (same seed, same dispatch, so the utility-only baseline of
each run is the same community's bill without the market):

1. The default community over 30 days: community cost with the market (by mechanism and
   bidding strategy, and with orders of the last metered power instead of the forecast in
   force) against the utility-only baseline, the P2P share of purchases, prices and how many
   homes (members) gain or lose, and apart how many of the community's generators' accounts
   (its turbine) do.
2. ``scenarios/stressed.toml``: violations, curtailed energy, voltage and loading with
   ``network_aware`` off and on.

Run: ``.venv/bin/python benchmarks/market_value.py [--days N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.toml"
STRESSED = ROOT / "scenarios" / "stressed.toml"
AUCTION = 'market.rule="ex_ante_auction"'
VARIANTS = [
    ("mid-market rate (default)", []),
    ("ex-ante uniform, truthful", [AUCTION]),
    ("ex-ante uniform, zero intelligence", [AUCTION, "market.strategy=zero_intelligence"]),
    ("ex-ante uniform, markup 0.5 (mid-spread)", [AUCTION, "market.strategy=markup"]),
    (
        "ex-ante uniform, truthful, orders of the last metered power",
        [AUCTION, 'market.positions="last_metered"'],
    ),
    (
        "ex-ante pay as bid, zero intelligence",
        [AUCTION, "market.mechanism=pay_as_bid", "market.strategy=zero_intelligence"],
    ),
    ("market off", ["market.enabled=false"]),
]


def _run(scenario: Path, overrides: list[str]) -> tuple[dict[str, float], float]:
    from twin.engine import run_scenario
    from twin.scenario import load_scenario

    sc = load_scenario(scenario, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run_scenario(sc, Path(tmp) / "run")
        wall = time.perf_counter() - t0
    return {k: v for k, (v, _) in result.kpis.items()}, wall


def value_table(days: int, start: str = "2016-06-06T00:00:00Z") -> str:
    """Community cost with and without the market, by mechanism and strategy."""
    lines = [
        f"Default community, {start[:10]} + {days} d, seed 42.",
        "",
        "| market | community cost [EUR] | utility only [EUR] | saving | P2P share "
        "| mean price [EUR/MWh] | homes gaining / losing "
        "| apart: community generators gaining / losing | forecast-error cost [EUR] | wall [s] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, extra in VARIANTS:
        k, wall = _run(DEFAULT, [f"run.days={days}", f"run.start={start}", *extra])
        base, cost = k["baseline_cost_eur"], k["community_cost_eur"]
        lines.append(
            f"| {label} | {cost:,.2f} | {base:,.2f} | {(base - cost) / base:.1%} "
            f"| {k['p2p_share']:.1%} | {k['price_mean_eur_per_mwh']:,.1f} "
            f"| {k['homes_gaining']:.0f} / {k['homes_losing']:.0f} "
            f"| {k['community_generators_gaining']:.0f} / {k['community_generators_losing']:.0f} "
            f"| {k['forecast_error_cost_eur']:,.2f} | {wall:.1f} |"
        )
    return "\n".join(lines)


def stressed_table(days: int) -> str:
    """``stressed.toml`` with network-aware clearing off and on."""
    lines = [
        f"`scenarios/stressed.toml`, {days} d.",
        "",
        "| network_aware | violations | violations before curtailment | curtailed [kWh] "
        "| max vm [p.u.] | max loading [%] | community cost [EUR] | wall [s] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for aware in ("false", "true"):
        k, wall = _run(STRESSED, [f"run.days={days}", f"market.network_aware={aware}"])
        lines.append(
            f"| {aware} | {k['violations']:,.0f} | {k['violations_uncurtailed']:,.0f} "
            f"| {k['curtailed_wh'] / 1e3:,.1f} | {k['max_vm_pu']:.4f} "
            f"| {k['max_loading_percent']:.1f} | {k['community_cost_eur']:,.2f} | {wall:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    print(value_table(args.days))
    print()
    print(stressed_table(min(args.days, 7)))


if __name__ == "__main__":
    main()
