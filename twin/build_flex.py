"""The flexible loads of a built twin (``[flex]``): which consumers are EV chargers and heat
pumps, the series the forecasters learn without them, and their node models and LP.

The part of :mod:`twin.build` that builds :class:`grid.flex.FlexNodes`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecasting.flex_dispatch import FlexDispatcher, JointBatteries
from forecasting.flex_policy import FlexDispatchPolicy
from grid.curtailment import Sensitivities
from grid.dimming import DimmingOperator, controllable
from grid.flex import (
    EvFleet,
    FlexNodes,
    HeatPumpFleet,
    ProfilePolicy,
    ev_sessions,
    heat_pump_cop,
    outdoor_temperature_c,
)
from grid.placement import NodeSet
from grid.profiles import window
from twin.prices import run_prices
from twin.scenario import Scenario, ScenarioError

if TYPE_CHECKING:
    from twin.build import Twin


def flex_rows(nodes: NodeSet, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the consumers that ``[flex]`` makes chargers and heat pumps (none when off).

    A consumer is a charger when its SimBench profile starts with one of ``flex.ev.profiles``,
    a heat pump when it starts with one of ``flex.heat_pump.profiles``.
    """
    flex = scenario.flex
    consumers = nodes.rows("consumer")
    if not flex.enabled:
        return consumers[:0], consumers[:0]
    profile = nodes.table["profile"].to_numpy().astype(str)[consumers]

    def matching(prefixes: tuple[str, ...]) -> np.ndarray:
        hit = np.zeros(len(consumers), dtype=bool)
        for prefix in prefixes:
            hit |= np.char.startswith(profile, prefix)
        return hit

    ev = matching(flex.ev.profiles)
    return consumers[ev], consumers[matching(flex.heat_pump.profiles) & ~ev]


def forecast_series(nodes: NodeSet, scenario: Scenario) -> np.ndarray:
    """The nodes whose power the forecasters learn: all but batteries and flexible loads
    (whose power is a decision of the dispatch, not a series to forecast)."""
    ev, hp = flex_rows(nodes, scenario)
    keep = nodes.table["kind"].to_numpy() != "battery"
    keep[ev] = keep[hp] = False
    return np.flatnonzero(keep)


def _no_flex_loads(nodes: NodeSet, scenario: Scenario) -> str:
    """The error for ``[flex]`` on a grid none of whose consumers it can make flexible."""
    consumers = nodes.rows("consumer")
    profiles = sorted({str(p) for p in nodes.table["profile"].to_numpy()[consumers]})
    shown = ", ".join(profiles[:8]) + (", ..." if len(profiles) > 8 else "")
    flex = scenario.flex
    return (
        f"flex.enabled: no consumer of this grid has a profile starting with "
        f"flex.ev.profiles {list(flex.ev.profiles)} or flex.heat_pump.profiles "
        f"{list(flex.heat_pump.profiles)} (its profiles: {shown}); SimBench's future grids "
        'have them, e.g. grid.simbench_code = "1-LV-semiurb4--2-sw" (scenarios/flex.toml)'
    )


def _rating_kw(profile: str) -> float | None:
    """The charger rating in a SimBench charging profile's name (``HLS_A_11.0``) [kW]."""
    try:
        return float(profile.rsplit("_", 1)[-1])
    except ValueError:
        return None


def build_flex(twin: Twin, library: dict[str, pd.DataFrame]) -> FlexNodes:
    """The chargers and heat pumps of ``[flex]``, with their sessions, heat demand and policy.

    Their uncontrolled / fixed power is their SimBench profile without the consumers' noise
    (:mod:`grid.flex` says how sessions and heat demand are derived from it); smart charging
    or flexible heat pumps are planned by :class:`forecasting.flex_dispatch.FlexDispatcher`.
    """
    sc = twin.scenario
    run, flex = sc.run, sc.flex
    ev_rows, hp_rows = flex_rows(twin.nodes, sc)
    if not len(ev_rows) and not len(hp_rows):
        raise ScenarioError(_no_flex_loads(twin.nodes, sc))
    table = twin.nodes.table
    per_day = 86_400 // run.interval_s
    horizon = sc.forecasting.horizon_steps
    step = pd.Timedelta(seconds=run.interval_s)
    start = pd.Timestamp(run.start)
    n = run.n_intervals
    loads = window(library["load"], start - per_day * step, per_day + n + horizon, run.interval_s)

    def profile_mw(rows: np.ndarray) -> np.ndarray:
        names = table["profile"].to_numpy().astype(str)[rows]
        ref = table["p_max_mw"].to_numpy()[rows]
        return loads[[f"{p}_pload" for p in names]].to_numpy() * ref

    ev_profile = profile_mw(ev_rows)[per_day : per_day + n]
    names = table["profile"].to_numpy().astype(str)
    ratings = [_rating_kw(p) for p in names[ev_rows]]
    rated_kw = [flex.ev.charger_kw or r or 0.0 for r in ratings]
    ev_p_max = np.asarray(rated_kw, dtype=float) / 1e3
    ev_p_max = np.where(ev_p_max > 0, ev_p_max, ev_profile.max(axis=0, initial=0.0))
    sessions = ev_sessions(ev_profile, run.interval_s, flex.ev.dwell_h)
    hp_cfg = flex.heat_pump
    hp_all = profile_mw(hp_rows)
    times = pd.date_range(start - per_day * step, periods=len(loads), freq=step)
    outdoor = outdoor_temperature_c(times)
    ground = np.char.startswith(names[hp_rows], "Soil")
    cop = np.empty_like(hp_all)
    for is_ground in (False, True):
        cols = ground == is_ground
        if cols.any():
            cop[:, cols] = heat_pump_cop(outdoor, hp_cfg.supply_temperature_c, is_ground)[:, None]
    heat_kw = hp_all * 1e3 * cop
    hp_p_max = np.maximum(table["p_max_mw"].to_numpy()[hp_rows], hp_all.max(axis=0, initial=0.0))
    hp_profile = hp_all[per_day : per_day + n]
    hp = HeatPumpFleet(
        p_max_mw=hp_p_max,
        heat_kw=heat_kw[per_day : per_day + n],
        cop=cop[per_day : per_day + n],
        kwh_per_k=hp_cfg.store_kwh_per_k,
        comfort_min_c=hp_cfg.comfort_min_c,
        comfort_max_c=hp_cfg.comfort_max_c,
        store_kwh=np.full(
            len(hp_rows), (hp_cfg.initial_c - hp_cfg.comfort_min_c) * hp_cfg.store_kwh_per_k
        ),
    )
    smart_ev, flexible_hp = flex.ev.mode == "smart", hp_cfg.mode == "flexible"
    policy: ProfilePolicy | FlexDispatchPolicy = ProfilePolicy(ev_p_max, hp_profile)
    if smart_ev or flexible_hp:
        retail = run_prices(sc, n + horizon).retail_eur_per_mwh
        joint = None
        battery_policy = twin.forecast_policy
        if flex.joint_batteries and battery_policy is not None and len(twin.batteries.rows):
            fleet = twin.batteries
            joint = JointBatteries(policy=battery_policy, soc_kwh=lambda: fleet.soc_kwh)
            battery_policy.joint = True  # its own LP plans them no more
        dispatcher = FlexDispatcher(
            horizon_steps=horizon,
            interval_s=run.interval_s,
            ev_p_max_mw=ev_p_max,
            hp_p_max_mw=hp_p_max,
            hp_store_max_kwh=hp.store_max_kwh,
            hp_kwh_per_k=hp_cfg.store_kwh_per_k,
            shortfall_eur_per_kwh=flex.ev.shortfall_penalty_eur_per_kwh,
            comfort_eur_per_kelvin_hour=hp_cfg.comfort_penalty_eur_per_kelvin_hour,
            peak_eur_per_kw=flex.peak_penalty_eur_per_kw,
            battery_spec=None if joint is None else joint.policy.dispatcher.spec,
        )
        policy = FlexDispatchPolicy(
            dispatcher=dispatcher,
            import_eur_per_mwh=retail,
            hp_cop=cop[per_day:],
            hp_heat_history_kw=heat_kw[: per_day + n],
            intervals_per_day=per_day,
            replan_intervals=sc.forecasting.replan_intervals,
            smart_ev=smart_ev,
            flexible_hp=flexible_hp,
            ev_p_max_mw=ev_p_max,
            hp_profile_mw=hp_profile,
            base_history_mw=(
                _base_history_mw(twin, library, loads, ev_rows, hp_rows)
                if flex.peak_penalty_eur_per_kw > 0
                else None
            ),
            base_days=flex.base_forecast_days,
            base_window_steps=flex.base_forecast_window_h * 3600 // run.interval_s,
            batteries=joint,
        )
    return FlexNodes(
        ev_rows=ev_rows,
        hp_rows=hp_rows,
        ev=EvFleet(p_max_mw=ev_p_max, sessions=sessions),
        hp=hp,
        interval_s=run.interval_s,
        policy=policy,
    )


def _base_history_mw(
    twin: Twin,
    library: dict[str, pd.DataFrame],
    loads: pd.DataFrame,
    ev_rows: np.ndarray,
    hp_rows: np.ndarray,
) -> np.ndarray:
    """:func:`_base_mw` from ``flex.base_forecast_days`` days before the run to the run's end
    and a horizon (``loads``: from one day before)."""
    sc = twin.scenario
    run, days = sc.run, sc.flex.base_forecast_days
    step = pd.Timedelta(seconds=run.interval_s)
    per_day = 86_400 // run.interval_s
    first = pd.Timestamp(run.start) - days * per_day * step
    if days > 1:
        loads = window(library["load"], first, (days - 1) * per_day + len(loads), run.interval_s)
    return _base_mw(twin, library, loads, ev_rows, hp_rows, first)


def _base_mw(
    twin: Twin,
    library: dict[str, pd.DataFrame],
    loads: pd.DataFrame,
    ev_rows: np.ndarray,
    hp_rows: np.ndarray,
    first: pd.Timestamp,
) -> np.ndarray:
    """The community's import without the flexible loads and the batteries, from ``first``
    over ``loads``' rows [MW]: the other consumers' SimBench load profiles (without the
    meters' noise) less the PV and wind profiles (the peak term's forecast base)."""
    table = twin.nodes.table
    kind = table["kind"].to_numpy()
    names = table["profile"].to_numpy().astype(str)
    p_max = table["p_max_mw"].to_numpy()
    consumers = np.setdiff1d(np.flatnonzero(kind == "consumer"), np.concatenate([ev_rows, hp_rows]))
    base = loads[[f"{p}_pload" for p in names[consumers]]].to_numpy() @ p_max[consumers]
    generators = np.flatnonzero((kind == "solar") | (kind == "wind"))
    if len(generators):
        run = twin.scenario.run
        renewables = window(library["renewables"], first, len(loads), run.interval_s)
        base -= renewables[list(names[generators])].to_numpy() @ p_max[generators]
    return np.asarray(base, dtype=float)


def build_dimming(twin: Twin, flex: FlexNodes) -> DimmingOperator:
    """The grid operator of ``[flex.dimming]``: who it may dim, its limits, its solver."""
    sc = twin.scenario
    cfg, grid = sc.flex.dimming, sc.grid
    floor_mw = cfg.floor_kw / 1e3
    solve = twin.solver.solve
    cache: list[Sensitivities] = []

    def sensitivities() -> Sensitivities:
        if not cache:
            cache.append(Sensitivities.of(solve, twin.nodes.table["bus"].to_numpy()))
        return cache[0]

    return DimmingOperator(
        devices=controllable(flex, twin.batteries, floor_mw),
        floor_mw=floor_mw,
        mode=cfg.mode,
        solve=solve,
        sensitivities=sensitivities,
        flex=flex,
        batteries=twin.batteries,
        vm_min=grid.vm_min_pu,
        vm_max=grid.vm_max_pu,
        max_loading=grid.max_loading_percent,
        rounds=cfg.rounds,
        n_intervals=sc.run.n_intervals,
    )
