"""Flexible loads against the tariff and the peak: smart + flexible vs uncontrolled + fixed.

``scenarios/flex.toml`` (SimBench's future LV grid, six chargers, twelve heat pumps, from 11
January), one seed, in fresh processes, side by side in one table:

(a) **uncontrolled + fixed**: chargers charge at full power on arrival, heat pumps follow
    their SimBench profile (``flex.ev.mode=uncontrolled``, ``flex.heat_pump.mode=fixed``);
(b) **smart + flexible, day-before base**: the peak term planned against the day-before
    forecast of the other nodes' import alone (``flex.base_forecast_days=1``,
    ``flex.base_forecast_window_h=0``: the forecast before issue #18 was met);
(c) **smart + flexible, cautious base**: the scenario's cautious base forecast
    (``flex.base_forecast_days``, ``flex.base_forecast_window_h``: the largest import seen at
    that time of day over the last days);
(d) **smart + flexible, no peak term**: the flex LP on the tariff alone
    (``flex.peak_penalty_eur_per_kw=0``);
(e) **smart + flexible, cautious base, joint batteries**: as (c), with the home batteries
    planned in the flex LP (``flex.joint_batteries=true``): the tariff and the peak term
    steer them with the chargers and heat pumps, and the battery LP plans them no more.

Each under the time-of-use tariff and, with ``--day-ahead CSV``, under the dynamic tariff of
that day-ahead price series (``tariffs.day_ahead_csv``; no series ships with gridtwin).
Columns: community cost (bills, P2P market on), peak import at the slack [kW], EV sessions
that left short (count, kWh), heat pumps' comfort violation [K h], wall time.

Run: ``.venv/bin/python benchmarks/flex_peak_bench.py [--days 30] [--seed 42]
[--day-ahead prices.csv]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import engine_bench  # noqa: E402

SCENARIO = "scenarios/flex.toml"
#: The chain changes no bill or physics here; leave it (and the devices) out of these runs.
NO_CHAIN = ["chain.enabled=false", "devices.enabled=false"]
CONTROLS = {
    "(a) uncontrolled + fixed": ["flex.ev.mode=uncontrolled", "flex.heat_pump.mode=fixed"],
    "(b) smart + flexible, day-before base": [
        "flex.base_forecast_days=1",
        "flex.base_forecast_window_h=0",
    ],
    "(c) smart + flexible, cautious base": [],
    "(d) smart + flexible, no peak term": ["flex.peak_penalty_eur_per_kw=0"],
    "(e) smart + flexible, cautious base, joint batteries": ["flex.joint_batteries=true"],
}


def flex_table(days: int, day_ahead: Path | None = None, seed: int | None = None) -> str:
    """One row a tariff and control (module docs); ``seed``: the scenario's unless given."""
    seeded = [] if seed is None else [f"run.seed={seed}"]
    tariffs: dict[str, list[str]] = {"time-of-use": []}
    if day_ahead is not None:
        tariffs["dynamic"] = [f'tariffs.day_ahead_csv="{day_ahead.resolve()}"']
    lines = [
        "| tariff | control | community cost [EUR] | peak import [kW] | EV sessions short "
        "| EV shortfall [kWh] | comfort violation [K h] | flex plans | wall [s] |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tariff, prices in tariffs.items():
        for label, overrides in CONTROLS.items():
            run: dict[str, Any] = engine_bench.measure_in_subprocess(
                SCENARIO, [f"run.days={days}", *seeded, *prices, *overrides, *NO_CHAIN]
            )
            k = run["kpis"]
            lines.append(
                f"| {tariff} | {label} | {k['community_cost_eur']:,.2f} "
                f"| {k['peak_import_mw'] * 1e3:.1f} | {k['ev_sessions_short']:.0f} "
                f"| {k['ev_shortfall_kwh']:.2f} | {k['hp_comfort_violation_kelvin_hours']:.2f} "
                f"| {k.get('flex_plans', 0.0):.0f} | {run['wall_s']:.1f} |"
            )
            print(f"  {tariff}, {label}: {run['wall_s']:.1f} s", flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=None, help="run.seed (default: the scenario's)")
    parser.add_argument("--day-ahead", type=Path, default=None, help="day-ahead price CSV")
    args = parser.parse_args()
    print(flex_table(args.days, args.day_ahead, args.seed))


if __name__ == "__main__":
    main()
