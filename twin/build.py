"""Build a twin from a scenario: the net, the nodes, their profiles and models, the solver.

Randomness: one seed per run, split with :class:`numpy.random.SeedSequence` into named
streams, so adding a stream never shifts another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd
import scipy.sparse as sp

from forecasting.dispatch import BatteryDispatcher, BatterySpec
from forecasting.flex_dispatch import FlexDispatcher, FlexDispatchPolicy
from forecasting.oracles import make_forecaster
from forecasting.policy import ForecastDispatchPolicy
from grid.flex import (
    EvFleet,
    FlexNodes,
    HeatPumpFleet,
    ProfilePolicy,
    ev_sessions,
    heat_pump_cop,
    outdoor_temperature_c,
)
from grid.network import build_net, simbench_scenario
from grid.nodes import BatteryNodes, IdlePolicy, ProfileNodes, SharedBatteries, outage_events
from grid.placement import NodeSet, PinError, add_shared_batteries, place_nodes
from grid.powerflow import PowerFlowSolver, make_solver
from grid.profiles import profile_library, window
from settlement.market.tariff import tariff_prices
from twin.scenario import Scenario, ScenarioError
from twin.scenario.world import NodesConfig, unknown_node

#: Named random streams of a run, in spawn order (append only).
STREAMS = (
    "network",
    "placement",
    "consumer_noise",
    "outages",
    "history",
    "market",
    "chain",
)


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators for each named stream of a run seeded with ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {
        name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)
    }


@dataclass
class Twin:
    """A built twin, ready to run."""

    scenario: Scenario
    net: pp.pandapowerNet
    nodes: NodeSet
    times: pd.DatetimeIndex
    consumers: ProfileNodes
    generators: list[ProfileNodes]
    batteries: BatteryNodes
    outages: list[tuple[int, int, bool]]
    solver: PowerFlowSolver
    forecast_policy: ForecastDispatchPolicy | None = None
    series_rows: np.ndarray | None = None
    flex: FlexNodes | None = None
    shared: SharedBatteries | None = None

    @property
    def in_service_from(self) -> np.ndarray | None:
        """First interval each node is in the grid, or None when every node is there from
        the start (a community asset joins when its proposal executes)."""
        if self.shared is None:
            return None
        start = np.zeros(len(self.nodes), dtype=np.int64)
        start[self.shared.rows] = self.shared.in_service_from
        return start


def _profile_nodes(
    nodes: NodeSet,
    kind: str,
    p_table: pd.DataFrame,
    q_table: pd.DataFrame | None,
    suffix: tuple[str, str],
    sign: float,
    noise_std: float,
    rng: np.random.Generator,
    q_ref: np.ndarray | None = None,
) -> ProfileNodes:
    rows = nodes.rows(kind)
    names = nodes.table["profile"].to_numpy()[rows].astype(str)
    unique, column = np.unique(names, return_inverse=True)
    p_cols = [f"{u}{suffix[0]}" for u in unique]
    missing = sorted(set(p_cols) - set(p_table.columns))
    if missing:
        raise ScenarioError(f"{kind} profile(s) not in SimBench's profiles: {', '.join(missing)}")
    q_profiles = None
    if q_table is not None:
        q_profiles = q_table[[f"{u}{suffix[1]}" for u in unique]].to_numpy()
    p_ref = sign * nodes.table["p_max_mw"].to_numpy()[rows]
    return ProfileNodes(
        rows=rows,
        p_profiles=p_table[p_cols].to_numpy(),
        q_profiles=q_profiles,
        column=column.astype(np.int64),
        p_ref_mw=p_ref,
        q_ref_mvar=q_ref if q_ref is not None else np.zeros(len(rows)),
        noise_std=noise_std,
        rng=rng,
    )


def profile_fleets(
    nodes: NodeSet,
    library: dict[str, pd.DataFrame],
    start: pd.Timestamp,
    n_intervals: int,
    interval_s: int,
    q_ref_mvar: np.ndarray,
    noise_std: float,
    rng: np.random.Generator,
) -> tuple[ProfileNodes, list[ProfileNodes]]:
    """The consumer and generator node models over ``n_intervals`` from ``start``.

    Consumers follow their SimBench load profile with seeded noise, generators their PV /
    wind profile; the same nodes over another window (the forecasters' warm-up history) come
    from another call with another random stream.
    """
    loads = window(library["load"], start, n_intervals, interval_s)
    renewables = window(library["renewables"], start, n_intervals, interval_s)
    consumers = _profile_nodes(
        nodes,
        "consumer",
        loads,
        loads,
        ("_pload", "_qload"),
        1.0,
        noise_std,
        rng,
        q_ref=q_ref_mvar,
    )
    generators = [
        _profile_nodes(nodes, kind, renewables, None, ("", ""), -1.0, 0.0, rng)
        for kind in ("solar", "wind")
        if len(nodes.rows(kind))
    ]
    return consumers, generators


def build(scenario: Scenario) -> Twin:
    """Build the twin of ``scenario`` (no output is written)."""
    run, grid, cfg = scenario.run, scenario.grid, scenario.nodes
    rng = streams(run.seed)
    net = build_net(
        simbench_code=grid.simbench_code, example=grid.example, file=grid.file, rng=rng["network"]
    )
    q_ref = net.load["q_mvar"].to_numpy() * cfg.load_scale
    try:
        nodes = scenario_nodes(net, cfg, rng["placement"])
    except PinError as err:  # a pin that names no home or bus of the net
        raise ScenarioError(f"nodes.{err}") from None
    assets = scenario.economy.asset_configs()
    try:
        nodes = add_shared_batteries(
            net, nodes, [(a.name, a.bus, a.p_max_kw, a.capacity_kwh) for a, _ in assets]
        )
    except PinError as err:  # an asset at a bus the net does not have
        raise ScenarioError(f"economy.assets: {err}") from None
    library = profile_library(simbench_scenario(grid.simbench_code))
    start = pd.Timestamp(run.start)
    consumers, generators = profile_fleets(
        nodes,
        library,
        start,
        run.n_intervals,
        run.interval_s,
        q_ref,
        cfg.load_noise_std,
        rng["consumer_noise"],
    )
    table = nodes.table
    bat = home_batteries(nodes)
    behind = np.flatnonzero((table["kind"].to_numpy() == "solar") & (table["host"].to_numpy() >= 0))
    capacity = table["capacity_kwh"].to_numpy()[bat]
    batteries = BatteryNodes(
        rows=bat,
        host_rows=table["host"].to_numpy()[bat],
        behind_rows=behind,
        behind_hosts=table["host"].to_numpy()[behind],
        capacity_kwh=capacity,
        p_max_mw=table["p_max_mw"].to_numpy()[bat],
        eta_charge=cfg.battery_charge_efficiency,
        eta_discharge=cfg.battery_discharge_efficiency,
        soc_min=cfg.battery_soc_min,
        soc_max=cfg.battery_soc_max,
        soc_kwh=cfg.battery_soc_initial * capacity,
        interval_s=run.interval_s,
    )
    scheduled = []
    node_ids = table["node_id"].tolist()
    for k, outage in enumerate(cfg.outages):
        try:
            row = nodes.position(outage.node_id)
        except KeyError:
            key = f"nodes.outages[{k}].node_id"
            raise ScenarioError(unknown_node(key, outage.node_id, node_ids, run.seed)) from None
        scheduled.append((row, outage.start_h, outage.duration_h))
    outages = outage_events(
        scheduled,
        len(nodes),
        cfg.outage_rate_per_day,
        cfg.outage_mean_duration_h,
        run.n_intervals,
        run.interval_s,
        rng["outages"],
    )
    solver = make_solver(grid.solver, net, nodes)
    times = pd.date_range(
        start, periods=run.n_intervals, freq=pd.Timedelta(seconds=run.interval_s), name="time"
    )
    twin = Twin(scenario, net, nodes, times, consumers, generators, batteries, outages, solver)
    if assets:
        twin.shared = _shared_batteries(nodes, cfg, assets, run.n_intervals, run.interval_s)
    control = scenario.forecasting.battery_control
    if control == "idle":
        batteries.policy = IdlePolicy()
    elif control == "forecast":
        twin.series_rows = forecast_series(nodes, scenario)
        twin.forecast_policy = _forecast_policy(twin, library, q_ref, rng["history"])
        batteries.policy = twin.forecast_policy
    if scenario.flex.enabled:
        twin.flex = build_flex(twin, library)
    return twin


def scenario_nodes(net: pp.pandapowerNet, cfg: NodesConfig, rng: np.random.Generator) -> NodeSet:
    """The scenario's nodes on ``net``: pinned where ``[nodes]`` pins them, else drawn.

    Raises
    ------
    grid.placement.PinError
        A pinned home or bus that ``net`` does not have.
    """
    return place_nodes(
        net,
        pv_share=cfg.pv_share,
        pv_p_max_kw=cfg.pv_p_max_kw,
        pv_profile=cfg.pv_profile,
        battery_share=cfg.battery_share,
        battery_capacity_kwh=cfg.battery_capacity_kwh,
        battery_p_max_kw=cfg.battery_p_max_kw,
        wind_turbines=cfg.wind_turbines,
        wind_p_max_kw=cfg.wind_p_max_kw,
        wind_profile=cfg.wind_profile,
        load_scale=cfg.load_scale,
        rng=rng,
        pv_placement=cfg.pv_placement,
        pv_homes=cfg.pv_homes,
        battery_homes=cfg.battery_homes,
        wind_buses=cfg.wind_buses,
    )


def _forecast_policy(
    twin: Twin,
    library: dict[str, pd.DataFrame],
    q_ref: np.ndarray,
    rng: np.random.Generator,
) -> ForecastDispatchPolicy:
    """The forecast-driven battery policy with its warm-up history of actuals."""
    sc = twin.scenario
    run, fc, cfg = sc.run, sc.forecasting, sc.nodes
    per_day = 86_400 // run.interval_s
    warmup, horizon, n = fc.warmup_days * per_day, fc.horizon_steps, run.n_intervals
    step = pd.Timedelta(seconds=run.interval_s)
    series = twin.series_rows
    assert series is not None
    history = np.zeros((warmup + n, len(series)))

    def actual(start: pd.Timestamp, count: int, stream: np.random.Generator) -> np.ndarray:
        consumers, generators = profile_fleets(
            twin.nodes, library, start, count, run.interval_s, q_ref, cfg.load_noise_std, stream
        )
        return fleet_powers([consumers, *generators], len(twin.nodes), count)[0][:, series]

    start = pd.Timestamp(run.start)
    history[:warmup] = actual(start - warmup * step, warmup, rng)
    oracle = None
    if fc.model == "perfect" or fc.perfect_kinds:
        # the run's own noise stream, drawn afresh: the very values the run will meter
        run_actual = actual(start, n, streams(run.seed)["consumer_noise"])
        oracle = np.concatenate([history[:warmup], run_actual])
    times = pd.date_range(start - warmup * step, periods=warmup + n + horizon, freq=step)
    prices = tariff_prices(times[warmup:].hour.to_numpy(), sc.tariffs)
    table = twin.nodes.table
    bat = twin.batteries.rows
    host = table["host"].to_numpy()
    # which series sit behind each battery's meter: its home's consumer and the home's PV
    position = np.full(len(table), -1)
    position[series] = np.arange(len(series))
    battery_of_home = np.full(len(table), -1)
    battery_of_home[host[bat]] = np.arange(len(bat))
    solar = np.flatnonzero(table["kind"].to_numpy() == "solar")
    solar = solar[battery_of_home[host[solar]] >= 0]
    rows = np.concatenate([np.arange(len(bat)), battery_of_home[host[solar]]])
    cols = np.concatenate([position[host[bat]], position[solar]])
    # a home that is a flexible load is no forecast series: its battery plans on its PV alone
    rows, cols = rows[cols >= 0], cols[cols >= 0]
    host_matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(bat), len(series)))
    spec = BatterySpec(
        capacity_kwh=twin.batteries.capacity_kwh,
        p_max_mw=twin.batteries.p_max_mw,
        eta_charge=cfg.battery_charge_efficiency,
        eta_discharge=cfg.battery_discharge_efficiency,
        soc_min=cfg.battery_soc_min,
        soc_max=cfg.battery_soc_max,
    )
    kinds = node_kinds(twin.nodes)[series]
    return ForecastDispatchPolicy(
        forecaster=make_forecaster(
            fc.model,
            oracle,
            times[: warmup + n],
            run.seed,
            fc.training_samples,
            fc.trees,
            fc.learning_rate,
            perfect_kinds=fc.perfect_kinds,
            kinds=kinds,
            site=sc.site.as_site(),
        ),
        kinds=kinds,
        dispatcher=BatteryDispatcher(spec, horizon, run.interval_s),
        history=history,
        warmup=warmup,
        times=times[: warmup + n],
        host_matrix=host_matrix,
        import_eur_per_mwh=prices[0],
        export_eur_per_mwh=prices[1],
        replan_intervals=fc.replan_intervals,
        retrain_intervals=fc.retrain_days * per_day,
        fit_intervals=warmup,
        record_horizons=list(fc.record_horizons),
    )


def home_batteries(nodes: NodeSet) -> np.ndarray:
    """Rows of the batteries behind a home's meter (not the community's shared ones)."""
    table = nodes.table
    return np.flatnonzero((table["kind"].to_numpy() == "battery") & (table["host"].to_numpy() >= 0))


def _shared_batteries(
    nodes: NodeSet, cfg: NodesConfig, assets: list, n_intervals: int, interval_s: int
) -> SharedBatteries:
    """The community's shared batteries: the ``economy.assets`` in service from the start,
    the ``economy.proposals``' never, until a proposal executes."""
    table = nodes.table
    rows = np.array([nodes.position(f"asset-{a.name}") for a, _ in assets], dtype=np.int64)
    capacity = table["capacity_kwh"].to_numpy()[rows]
    fleet = BatteryNodes(
        rows=rows,
        host_rows=np.full(len(rows), -1),
        behind_rows=np.zeros(0, np.int64),
        behind_hosts=np.zeros(0, np.int64),
        capacity_kwh=capacity,
        p_max_mw=table["p_max_mw"].to_numpy()[rows],
        eta_charge=cfg.battery_charge_efficiency,
        eta_discharge=cfg.battery_discharge_efficiency,
        soc_min=cfg.battery_soc_min,
        soc_max=cfg.battery_soc_max,
        soc_kwh=cfg.battery_soc_min * capacity,
        interval_s=interval_s,
    )
    never = n_intervals + 1
    start = np.array([0 if from_start else never for _, from_start in assets], dtype=np.int64)
    return SharedBatteries(rows=rows, fleet=fleet, in_service_from=start)


def profile_powers(twin: Twin, n_t: int) -> tuple[np.ndarray, np.ndarray]:
    """The nodes' powers from their profiles over the first ``n_t`` intervals, batteries idle.

    Returns
    -------
    p_mw, q_mvar : ndarray, shape (n_t, node)
        Load convention [MW], [Mvar]; draws from the consumers' noise stream.
    """
    return fleet_powers([twin.consumers, *twin.generators], len(twin.nodes), n_t)


def fleet_powers(
    fleets: list[ProfileNodes], n_nodes: int, n_t: int
) -> tuple[np.ndarray, np.ndarray]:
    """Powers of the ``fleets``' nodes over their first ``n_t`` intervals, others zero.

    Returns
    -------
    p_mw, q_mvar : ndarray, shape (n_t, n_nodes)
        Load convention [MW], [Mvar].
    """
    p = np.zeros((n_t, n_nodes))
    q = np.zeros_like(p)
    for group in fleets:
        p[:, group.rows], q[:, group.rows] = group.power(0, n_t)
    return p, q


def node_kinds(nodes: NodeSet) -> np.ndarray:
    """Forecasting kind of each node: ``consumer:<profile>``, ``solar``, ``wind``, ``battery``."""
    table = nodes.table
    kind = table["kind"].to_numpy().astype(str)
    profile = table["profile"].to_numpy().astype(str)
    return np.where(kind == "consumer", np.char.add("consumer:", profile), kind)


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
        retail, _ = tariff_prices(times[per_day:].hour.to_numpy(), sc.tariffs)
        dispatcher = FlexDispatcher(
            horizon_steps=horizon,
            interval_s=run.interval_s,
            ev_p_max_mw=ev_p_max,
            hp_p_max_mw=hp_p_max,
            hp_store_max_kwh=hp.store_max_kwh,
            hp_kwh_per_k=hp_cfg.store_kwh_per_k,
            shortfall_eur_per_kwh=flex.ev.shortfall_penalty_eur_per_kwh,
            comfort_eur_per_kelvin_hour=hp_cfg.comfort_penalty_eur_per_kelvin_hour,
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
        )
    return FlexNodes(
        ev_rows=ev_rows,
        hp_rows=hp_rows,
        ev=EvFleet(p_max_mw=ev_p_max, sessions=sessions),
        hp=hp,
        interval_s=run.interval_s,
        policy=policy,
    )
