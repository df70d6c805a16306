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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandapower as pp
import pandas as pd

KINDS = ("consumer", "solar", "wind", "battery")
ELEMENT_OF_KIND = {"consumer": "load", "solar": "sgen", "wind": "sgen", "battery": "storage"}


class PinError(ValueError):
    """A pinned home or bus the net does not have; the message starts with the pin's key."""


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


def _choose(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    """``count`` of ``pool`` drawn without replacement (at most all of it), sorted."""
    count = min(count, len(pool))
    return np.sort(rng.choice(pool, size=count, replace=False)) if count else pool[:0]


def home_positions(net: pp.pandapowerNet, homes: Sequence[str], key: str) -> np.ndarray:
    """Positions (in ``net.load`` order) of the homes named in ``homes``, sorted.

    A home is named by its consumer node id ``load-<i>`` (``i``: its pandapower load index,
    which the seed does not change) or by its load's name (``net.load.name``, e.g. SimBench's
    ``LV4.101 Load 31``).

    Raises
    ------
    PinError
        A name that matches no load, or several; a home named twice. The message starts with
        ``key``.
    """
    by_id = {f"load-{i}": pos for pos, i in enumerate(net.load.index)}
    by_name: dict[str, list[int]] = {}
    if "name" in net.load.columns:
        for pos, name in enumerate(net.load["name"]):
            if isinstance(name, str) and name:
                by_name.setdefault(name, []).append(pos)
    found = []
    for home in homes:
        if home in by_id:
            found.append(by_id[home])
        elif len(by_name.get(home, ())) == 1:
            found.append(by_name[home][0])
        elif home in by_name:
            raise PinError(
                f"{key}: {home!r} names {len(by_name[home])} loads; name the home by its "
                "consumer node id load-<i> instead"
            )
        else:
            ids = f": {next(iter(by_id))} .. {next(reversed(by_id))}" if by_id else ""
            raise PinError(
                f"{key}: no home {home!r} (name a home by its consumer node id load-<i>, "
                f"i its pandapower load index{ids}, or by its load name in net.load.name)"
            )
    positions = np.array(found, dtype=np.int64)
    if len(np.unique(positions)) < len(positions):
        raise PinError(f"{key}: a home is named twice (by node id and by load name)")
    return np.sort(positions)


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
    pv_homes: Sequence[str] = (),
    battery_homes: Sequence[str] = (),
    wind_buses: Sequence[int] = (),
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
    pv_homes, battery_homes : sequence of str
        Homes that get PV / a battery whatever the seed (:func:`home_positions`); the shares
        add seeded (or, for PV, ``feeder_end``) homes while fewer than ``share`` x consumers
        are pinned.
    wind_buses : sequence of int
        Buses (pandapower index) of the first turbines whatever the seed; seeded buses for
        the rest, while fewer than ``wind_turbines``.

    Notes
    -----
    ``rng`` draws only what the pins leave open, in the order PV, batteries, turbines;
    without pins it is drawn from exactly as it always was, so unpinned scenarios place the
    same nodes for the same seed. The ids of PV and battery nodes derive from their home's
    load index (``pv-<i>``, ``bat-<i>``) and turbines are numbered (``wind-<t>``), pinned
    ones first: a pinned node keeps its id under any seed.
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
    pv_pinned = home_positions(net, pv_homes, "pv_homes")
    bat_pinned = home_positions(net, battery_homes, "battery_homes")
    wind_pinned = np.array(wind_buses, dtype=np.int64)
    unknown = sorted(set(wind_pinned.tolist()) - set(net.bus.index.tolist()))
    if unknown:
        raise PinError(
            f"wind_buses: no bus {unknown[0]} (a pandapower bus index: {net.bus.index.min()} "
            f".. {net.bus.index.max()}, the nodes table's bus column)"
        )
    # homes the shares add to the pinned ones (none pinned: the whole draw, as always)
    pv_free = positions[~np.isin(positions, pv_pinned)]
    pv_extra = max(min(round(pv_share * n), n) - len(pv_pinned), 0)
    if pv_placement == "feeder_end":
        far = np.argsort(-feeder_distance_km(net, load_bus), kind="stable")
        pv_drawn = far[~np.isin(far, pv_pinned)][:pv_extra]
    elif pv_placement == "random":
        pv_drawn = _choose(rng, pv_free, pv_extra)
    else:
        raise ValueError(f"unknown pv_placement {pv_placement!r}")
    pv_hosts = np.sort(np.concatenate([pv_pinned, pv_drawn]))
    bat_extra = max(min(round(battery_share * n), n) - len(bat_pinned), 0)
    pv_first = pv_hosts[~np.isin(pv_hosts, bat_pinned)]  # batteries go to PV homes first
    if bat_extra <= len(pv_first):
        bat_drawn = rng.choice(pv_first, size=bat_extra, replace=False)
    else:
        rest = np.setdiff1d(positions, np.union1d(pv_hosts, bat_pinned))
        extra = rng.choice(rest, size=bat_extra - len(pv_first), replace=False)
        bat_drawn = np.concatenate([pv_first, extra])
    bat_hosts = np.sort(np.concatenate([bat_pinned, bat_drawn]))
    buses = np.unique(load_bus)
    wind_extra = max(wind_turbines - len(wind_pinned), 0)
    wind_drawn = rng.choice(buses, size=wind_extra) if wind_extra else buses[:0]
    wind_bus = np.concatenate([wind_pinned, wind_drawn])
    wind_turbines = len(wind_bus)

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


def add_shared_batteries(
    net: pp.pandapowerNet, nodes: NodeSet, batteries: Sequence[tuple[str, int, float, float]]
) -> NodeSet:
    """``nodes`` with shared (community) batteries appended, each in front of the meters.

    Parameters
    ----------
    net : pandapowerNet
        The grid; each battery becomes a storage element at its bus.
    nodes : NodeSet
        The placed nodes.
    batteries : sequence of (name, bus, p_max_kw, capacity_kwh)
        Each battery's name (its node is ``asset-<name>``, owned by ``asset-<name>``), its
        bus (pandapower index), rated power [kW] and usable capacity [kWh].

    Raises
    ------
    PinError
        A bus the net does not have (the message names the battery).
    """
    if not batteries:
        return nodes
    buses = set(net.bus.index.tolist())
    for name, bus, _p, _e in batteries:
        if bus not in buses:
            raise PinError(
                f"{name}: no bus {bus} (a pandapower bus index: {net.bus.index.min()} .. "
                f"{net.bus.index.max()}, the nodes table's bus column)"
            )
    ids = [f"asset-{name}" for name, *_ in batteries]
    shared = pd.DataFrame(
        {
            "node_id": ids,
            "kind": "battery",
            "bus": np.array([b for _, b, _, _ in batteries], dtype=np.int64),
            "p_max_mw": [p / 1e3 for _, _, p, _ in batteries],
            "capacity_kwh": [e for *_, e in batteries],
            "owner": ids,
            "element": "storage",
            "host": -1,
            "profile": "",
        }
    )
    shared["element_index"] = _create(
        pp.create_storages,
        net,
        shared,
        p_mw=0.0,
        max_e_mwh=shared["capacity_kwh"].to_numpy() / 1e3,
    )
    columns = list(nodes.table.columns)
    table = pd.concat([nodes.table, shared[columns]], ignore_index=True)
    for column in ("bus", "element_index", "host"):
        table[column] = table[column].astype("int64")
    return NodeSet(table)
