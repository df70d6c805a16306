"""Who gains and who loses under each market rule, in four seasons.

The default community (seed 42), 30 days from the first of January, March, June and October,
under every ``market.rule``: today's ex-ante auction (uniform, truthful, orders on forecast
positions) and the rules that settle on metered energy after the interval. Per run: the
community's saving against the utility-only bill of the same metered energy, the members
worse off than utility-only (``bills.savings_micro_eur < 0``) and better off, the Gini
coefficient of the members' savings (``savings_gini``, defined for negative savings), the
worst-off member's saving, and the P2P energy traded beside the part of it physically
delivered (covered by its seller's metered export in the interval). The bar for the default
rule: no member worse off in any of the four months. The chain is off (the market does not
depend on it).

Run: ``.venv/bin/python benchmarks/market_fairness.py [--days N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.toml"
MONTHS = (
    "2016-01-01T00:00:00Z",
    "2016-03-01T00:00:00Z",
    "2016-06-01T00:00:00Z",
    "2016-10-01T00:00:00Z",
)
RULES = ("ex_ante_auction", "ex_post_auction", "mid_market", "static_sharing", "dynamic_sharing")


def _run(overrides: list[str]) -> tuple[dict[str, float], int, int, float]:
    """KPIs, members worse / better off (from ``bills``) and wall time [s] of one run."""
    from twin.engine import run_scenario
    from twin.results import open_run
    from twin.scenario import load_scenario

    sc = load_scenario(DEFAULT, ["chain.enabled=false", *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = run_scenario(sc, Path(tmp) / "run")
        wall = time.perf_counter() - t0
        savings = open_run(Path(tmp) / "run").table("bills")["savings_micro_eur"]
    kpis = {k: v for k, (v, _) in result.kpis.items()}
    return kpis, int((savings < 0).sum()), int((savings > 0).sum()), wall


def fairness_table(days: int, starts: tuple[str, ...] = MONTHS) -> str:
    """One row per month and market rule."""
    lines = [
        f"Default community, {days} d from each start, seed 42, chain off.",
        "",
        "| start | market.rule | saving [EUR] | worse off | better off | Gini of savings "
        "| worst-off member [EUR] | P2P traded [MWh] | delivered [MWh] | wall [s] |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for start in starts:
        for rule in RULES:
            k, worse, better, wall = _run(
                [f"run.days={days}", f"run.start={start}", f"market.rule={rule}"]
            )
            lines.append(
                f"| {start[:10]} | `{rule}` | {k['savings_eur']:,.2f} | {worse} | {better} "
                f"| {k['savings_gini']:.3f} | {k['savings_min_eur']:,.2f} "
                f"| {k['p2p_traded_mwh']:,.3f} | {k['p2p_delivered_mwh']:,.3f} | {wall:.1f} |"
            )
            print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    print()
    print(fairness_table(args.days))


if __name__ == "__main__":
    main()
