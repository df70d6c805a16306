"""Where the nodes sit: consumers on the grid's loads, PV and batteries on a seeded share of
them, community wind turbines on seeded buses; each node gets its pandapower element.

Node kinds and their pandapower elements (load convention for the node's ``p_mw``):

========== =========== =====================================================
kind       element     node p_mw
========== =========== =====================================================
consumer   ``load``    consumption, >= 0
solar      ``sgen``    generation, <= 0 (``sgen.p_mw = -p_mw``)
wind       ``sgen``    generation, <= 0
battery    ``storage`` charging > 0, discharging < 0 (as ``storage.p_mw``)
========== =========== =====================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandapower as pp
import pandas as pd

KINDS = ("consumer", "solar", "wind", "battery")
ELEMENT_OF_KIND = {"consumer": "load", "solar": "sgen", "wind": "sgen", "battery": "storage"}


@dataclass(frozen=True)
class NodeSet:
    """The static table of nodes, one row a node, in the order of every per-node array.

    Columns: ``node_id``, ``kind``, ``bus``, ``p_max_mw``, ``capacity_kwh``, ``owner``,
    ``element``, ``element_index``, ``host`` (row of the consumer a PV or battery sits behind,
    -1 otherwise), ``profile``.
    """

    table: pd.DataFrame

    def __len__(self) -> int:
        return len(self.table)

    def rows(self, kind: str) -> np.ndarray:
        """Row positions of the nodes of one kind."""
        return np.flatnonzero(self.table["kind"].to_numpy() == kind)

    def position(self, node_id: str) -> int:
        """Row position of a node by its id."""
        hits = np.flatnonzero(self.table["node_id"].to_numpy() == node_id)
        if not len(hits):
            raise KeyError(f"no node {node_id!r}")
        return int(hits[0])


def _choose(rng: np.random.Generator, pool: np.ndarray, share: float, total: int) -> np.ndarray:
    count = min(round(share * total), len(pool))
    return np.sort(rng.choice(pool, size=count, replace=False)) if count else pool[:0]


def feeder_distance_km(net: pp.pandapowerNet, buses: np.ndarray) -> np.ndarray:
    """Line length from the external grid to each of ``buses`` along the network [km]."""
    import networkx as nx
    from pandapower.topology import create_nxgraph

    graph = create_nxgraph(net, respect_switches=True)
    sources = net.ext_grid.bus.to_numpy().tolist()
    dist = nx.multi_source_dijkstra_path_length(graph, sources, weight="weight")
    return np.array([dist.get(int(b), np.inf) for b in buses], dtype=float)


def place_nodes(
    net: pp.pandapowerNet,
    *,
    pv_share: float,
    pv_p_max_kw: float,
    pv_profile: str,
    battery_share: float,
    battery_capacity_kwh: float,
    battery_p_max_kw: float,
    wind_turbines: int,
    wind_p_max_kw: float,
    wind_profile: str,
    load_scale: float,
    rng: np.random.Generator,
    pv_placement: str = "random",
) -> NodeSet:
    """Place the nodes on a prepared net and create their pandapower elements (in place).

    Parameters
    ----------
    net : pandapowerNet
        A net from :func:`grid.network.build_net`.
    pv_share, battery_share : float
        Share of consumers with rooftop PV / a home battery [0..1]; batteries go to PV homes
        first.
    pv_p_max_kw, battery_p_max_kw, wind_p_max_kw : float
        Rated power of each PV system, battery and turbine [kW].
    battery_capacity_kwh : float
        Usable capacity of each battery [kWh].
    load_scale : float
        Factor on every consumer's reference power [-].
    rng : numpy.random.Generator
        Placement randomness (seeded by the run).
    pv_placement : {"random", "feeder_end"}
        PV on randomly chosen homes, or on the homes farthest (by line length) from the
        external grid.
    """
    load_idx = net.load.index.to_numpy()
    n = len(load_idx)
    load_bus = net.load.bus.to_numpy(dtype=np.int64)
    consumers = pd.DataFrame(
        {
            "node_id": [f"load-{i}" for i in load_idx],
            "kind": "consumer",
            "bus": load_bus,
            "p_max_mw": net.load.p_mw.to_numpy(dtype=float) * load_scale,
            "capacity_kwh": 0.0,
            "owner": [f"member-{pos:04d}" for pos in range(n)],
            "element": "load",
            "element_index": load_idx,
            "host": -1,
            "profile": net.load.profile.astype(str).to_numpy(),
        }
    )
    positions = np.arange(n)
    if pv_placement == "feeder_end":
        far = np.argsort(-feeder_distance_km(net, load_bus), kind="stable")
        pv_hosts = np.sort(far[: min(round(pv_share * n), n)])
    elif pv_placement == "random":
        pv_hosts = _choose(rng, positions, pv_share, n)
    else:
        raise ValueError(f"unknown pv_placement {pv_placement!r}")
    k_bat = min(round(battery_share * n), n)
    if k_bat <= len(pv_hosts):
        bat_hosts = np.sort(rng.choice(pv_hosts, size=k_bat, replace=False))
    else:
        rest = np.setdiff1d(positions, pv_hosts)
        extra = rng.choice(rest, size=k_bat - len(pv_hosts), replace=False)
        bat_hosts = np.sort(np.concatenate([pv_hosts, extra]))
    buses = np.unique(load_bus)
    wind_bus = rng.choice(buses, size=wind_turbines) if wind_turbines else buses[:0]

    solar = _attached(consumers, pv_hosts, "solar", "pv", pv_p_max_kw, 0.0, "sgen", pv_profile)
    solar["element_index"] = _create(pp.create_sgens, net, solar, p_mw=solar["p_max_mw"].to_numpy())
    wind = pd.DataFrame(
        {
            "node_id": [f"wind-{t}" for t in range(wind_turbines)],
            "kind": "wind",
            "bus": wind_bus.astype(np.int64),
            "p_max_mw": wind_p_max_kw / 1e3,
            "capacity_kwh": 0.0,
            "owner": "community",
            "element": "sgen",
            "host": -1,
            "profile": wind_profile,
        }
    )
    wind["element_index"] = _create(pp.create_sgens, net, wind, p_mw=wind["p_max_mw"].to_numpy())
    battery = _attached(
        consumers,
        bat_hosts,
        "battery",
        "bat",
        battery_p_max_kw,
        battery_capacity_kwh,
        "storage",
        "",
    )
    battery["element_index"] = _create(
        pp.create_storages,
        net,
        battery,
        p_mw=0.0,
        max_e_mwh=battery["capacity_kwh"].to_numpy() / 1e3,
    )
    table = pd.concat([consumers, solar, wind, battery], ignore_index=True)
    for column in ("bus", "element_index", "host"):
        table[column] = table[column].astype("int64")
    return NodeSet(table[list(consumers.columns)])


def _create(make: Any, net: pp.pandapowerNet, rows: pd.DataFrame, **values: Any) -> np.ndarray:
    """Create the pandapower elements of ``rows`` in one call; their indices."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    index = make(net, rows["bus"].to_numpy(), name=rows["node_id"].tolist(), **values)
    return np.asarray(index, dtype=np.int64)


def _attached(
    consumers: pd.DataFrame,
    hosts: np.ndarray,
    kind: str,
    prefix: str,
    p_max_kw: float,
    capacity_kwh: float,
    element: str,
    profile: str,
) -> pd.DataFrame:
    """Nodes behind the meters of the consumers at positions ``hosts``."""
    home = consumers.iloc[hosts]
    return pd.DataFrame(
        {
            "node_id": [f"{prefix}-{i}" for i in home["element_index"]],
            "kind": kind,
            "bus": home["bus"].to_numpy(),
            "p_max_mw": p_max_kw / 1e3,
            "capacity_kwh": capacity_kwh,
            "owner": home["owner"].to_numpy(),
            "element": element,
            "host": hosts.astype(np.int64),
            "profile": profile,
        }
    )
