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
from forecasting.factory import make_forecaster
from forecasting.policy import ForecastDispatchPolicy
from grid.dimming import DimmingOperator
from grid.flex import FlexNodes
from grid.network import build_net, simbench_scenario
from grid.nodes import BatteryNodes, IdlePolicy, ProfileNodes, SharedBatteries, outage_events
from grid.placement import NodeSet, PinError, add_shared_batteries, place_nodes
from grid.powerflow import PowerFlowSolver, make_solver
from grid.profiles import profile_library
from twin.build_batteries import home_batteries, shared_batteries
from twin.build_flex import build_dimming, build_flex, forecast_series
from twin.build_profiles import fleet_powers, profile_fleets
from twin.prices import run_prices
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
    dimming: DimmingOperator | None = None
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
        twin.shared = shared_batteries(nodes, cfg, assets, run.n_intervals, run.interval_s)
    control = scenario.forecasting.battery_control
    if control == "idle":
        batteries.policy = IdlePolicy()
    elif control == "forecast":
        twin.series_rows = forecast_series(nodes, scenario)
        twin.forecast_policy = _forecast_policy(twin, library, q_ref, rng["history"])
        batteries.policy = twin.forecast_policy
    if scenario.flex.enabled:
        twin.flex = build_flex(twin, library)
        if scenario.flex.dimming.enabled:
            twin.dimming = build_dimming(twin, twin.flex)
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
    prices = run_prices(sc, n + horizon)
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
            placement=fc.placement,
        ),
        kinds=kinds,
        dispatcher=BatteryDispatcher(spec, horizon, run.interval_s),
        history=history,
        warmup=warmup,
        times=times[: warmup + n],
        host_matrix=host_matrix,
        import_eur_per_mwh=prices.retail_eur_per_mwh,
        export_eur_per_mwh=prices.feed_in_eur_per_mwh,
        replan_intervals=fc.replan_intervals,
        retrain_intervals=fc.retrain_days * per_day,
        fit_intervals=warmup,
        record_horizons=list(fc.record_horizons),
        fit_lead=fc.fit_lead_days * per_day,
        background_fit=fc.model == "gb" and not fc.perfect_kinds,
    )


def profile_powers(twin: Twin, n_t: int) -> tuple[np.ndarray, np.ndarray]:
    """The nodes' powers from their profiles over the first ``n_t`` intervals, batteries idle.

    Returns
    -------
    p_mw, q_mvar : ndarray, shape (n_t, node)
        Load convention [MW], [Mvar]; draws from the consumers' noise stream.
    """
    return fleet_powers([twin.consumers, *twin.generators], len(twin.nodes), n_t)


def node_kinds(nodes: NodeSet) -> np.ndarray:
    """Forecasting kind of each node: ``consumer:<profile>``, ``solar``, ``wind``, ``battery``."""
    table = nodes.table
    kind = table["kind"].to_numpy().astype(str)
    profile = table["profile"].to_numpy().astype(str)
    return np.where(kind == "consumer", np.char.add("consumer:", profile), kind)
