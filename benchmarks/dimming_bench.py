"""The grid operator's dimming (§14a EnWG) against curtailment alone and switching devices off.

One stressed scenario (``scenarios/flex_stressed.toml``: 22 kW chargers charging uncontrolled
on SimBench's weakest future LV grid, households at three times SimBench's demand), three
operators, side by side in one run, same seed:

(a) **curtailment alone**: today's network-aware mode; it curtails generation, so the
    demand-driven violations (import overload, under-voltage) stay;
(b) **switch off, then curtailment**: the operator's older tool; the controllable devices
    (chargers, heat pumps, home batteries above 4.2 kW) contributing most are switched off,
    whole, until the linear estimate clears the violation (``flex.dimming.mode=switch_off``);
(c) **§14a dimming, then curtailment**: the same devices, chosen by the same sensitivities,
    dimmed to no less than 4.2 kW each (``flex.dimming.mode=dim``).

Columns: violations (bus or branch limits broken, summed over intervals) before the operator
and after everything; the worst voltage and loading left; energy the operator took (dimmed or
switched off) and curtailed; what that cost: EV sessions' shortfall at departure and the
heat pumps' comfort violation; the §14a grid-fee reduction credited (paid by the operator).

Run: ``.venv/bin/python benchmarks/dimming_bench.py [--days 2]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engine_bench  # noqa: E402

SCENARIO = "scenarios/flex_stressed.toml"
#: The chain changes no physics here; leave it out of these runs.
NO_CHAIN = ["chain.enabled=false"]
OPERATORS = {
    "(a) curtailment alone": ["flex.dimming.enabled=false"],
    "(b) switch off, then curtailment": ["flex.dimming.mode=switch_off"],
    "(c) §14a dimming to 4.2 kW, then curtailment": ["flex.dimming.mode=dim"],
}


def dimming_table(days: int) -> str:
    """One row an operator (module docs)."""
    lines = [
        "| operator | violations before | violations after | min voltage [p.u.] "
        "| max loading [%] | energy dimmed / switched off [kWh] | of it EV [kWh] "
        "| curtailed [kWh] | EV shortfall [kWh] | comfort violation [K h] "
        "| grid-fee reduction [EUR] | wall [s] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, overrides in OPERATORS.items():
        run: dict[str, Any] = engine_bench.measure_in_subprocess(
            SCENARIO, [f"run.days={days}", *overrides, *NO_CHAIN]
        )
        k = run["kpis"]
        before = k.get("dimming_violations_before", k["violations_uncurtailed"])
        lines.append(
            f"| {label} | {before:.0f} | {k['violations']:.0f} | {k['min_vm_pu']:.4f} "
            f"| {k['max_loading_percent']:.1f} | {k.get('dimmed_kwh', 0.0):.2f} "
            f"| {k.get('dimmed_ev_kwh', 0.0):.2f} | {k['curtailed_wh'] / 1e3:.2f} "
            f"| {k['ev_shortfall_kwh']:.2f} | {k['hp_comfort_violation_kelvin_hours']:.2f} "
            f"| {k.get('grid_fee_reduction_eur', 0.0):.2f} | {run['wall_s']:.1f} |"
        )
        print(f"  {label}: {run['wall_s']:.1f} s", flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=2)
    args = parser.parse_args()
    print(dimming_table(args.days))


if __name__ == "__main__":
    main()
