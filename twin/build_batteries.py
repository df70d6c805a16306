"""The batteries of a built twin that are not simply placed: which batteries sit behind a
home's meter, and the community's shared batteries (``economy.assets`` in service from the
start, ``economy.proposals``' once they execute). Part of :mod:`twin.build`."""

from __future__ import annotations

import numpy as np

from grid.nodes import BatteryNodes, SharedBatteries
from grid.placement import NodeSet
from twin.scenario.economy import AssetConfig
from twin.scenario.world import NodesConfig


def home_batteries(nodes: NodeSet) -> np.ndarray:
    """Rows of the batteries behind a home's meter (not the community's shared ones)."""
    table = nodes.table
    return np.flatnonzero((table["kind"].to_numpy() == "battery") & (table["host"].to_numpy() >= 0))


def shared_batteries(
    nodes: NodeSet,
    cfg: NodesConfig,
    assets: list[tuple[AssetConfig, bool]],
    n_intervals: int,
    interval_s: int,
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
