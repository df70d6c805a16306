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
    """
    load_idx = net.load.index.to_numpy()
    n = len(load_idx)
    rows: list[dict[str, object]] = []
    for pos, idx in enumerate(load_idx):
        rows.append(
            {
                "node_id": f"load-{idx}",
                "kind": "consumer",
                "bus": int(net.load.at[idx, "bus"]),
                "p_max_mw": float(net.load.at[idx, "p_mw"]) * load_scale,
                "capacity_kwh": 0.0,
                "owner": f"member-{pos:04d}",
                "element": "load",
                "element_index": int(idx),
                "host": -1,
                "profile": str(net.load.at[idx, "profile"]),
            }
        )
    positions = np.arange(n)
    pv_hosts = _choose(rng, positions, pv_share, n)
    k_bat = min(round(battery_share * n), n)
    if k_bat <= len(pv_hosts):
        bat_hosts = np.sort(rng.choice(pv_hosts, size=k_bat, replace=False))
    else:
        rest = np.setdiff1d(positions, pv_hosts)
        bat_hosts = np.sort(
            np.concatenate([pv_hosts, rng.choice(rest, size=k_bat - len(pv_hosts), replace=False)])
        )
    for pos in pv_hosts:
        host = rows[pos]
        idx = pp.create_sgen(
            net, host["bus"], p_mw=pv_p_max_kw / 1e3, name=f"pv-{host['element_index']}", type="PV"
        )
        rows.append(
            _attached(
                "solar",
                f"pv-{host['element_index']}",
                host,
                pos,
                pv_p_max_kw,
                0.0,
                "sgen",
                idx,
                pv_profile,
            )
        )
    buses = np.unique(net.load.bus.to_numpy())
    for t in range(wind_turbines):
        bus = int(rng.choice(buses))
        idx = pp.create_sgen(net, bus, p_mw=wind_p_max_kw / 1e3, name=f"wind-{t}", type="WP")
        rows.append(
            {
                "node_id": f"wind-{t}",
                "kind": "wind",
                "bus": bus,
                "p_max_mw": wind_p_max_kw / 1e3,
                "capacity_kwh": 0.0,
                "owner": "community",
                "element": "sgen",
                "element_index": int(idx),
                "host": -1,
                "profile": wind_profile,
            }
        )
    for pos in bat_hosts:
        host = rows[pos]
        idx = pp.create_storage(
            net,
            host["bus"],
            p_mw=0.0,
            max_e_mwh=battery_capacity_kwh / 1e3,
            name=f"bat-{host['element_index']}",
        )
        rows.append(
            _attached(
                "battery",
                f"bat-{host['element_index']}",
                host,
                pos,
                battery_p_max_kw,
                battery_capacity_kwh,
                "storage",
                idx,
                "",
            )
        )
    table = pd.DataFrame(rows)
    table["bus"] = table["bus"].astype("int64")
    table["element_index"] = table["element_index"].astype("int64")
    table["host"] = table["host"].astype("int64")
    return NodeSet(table)


def _attached(
    kind: str,
    node_id: str,
    host: dict[str, object],
    host_pos: int,
    p_max_kw: float,
    capacity_kwh: float,
    element: str,
    element_index: int,
    profile: str,
) -> dict[str, object]:
    return {
        "node_id": node_id,
        "kind": kind,
        "bus": host["bus"],
        "p_max_mw": p_max_kw / 1e3,
        "capacity_kwh": capacity_kwh,
        "owner": host["owner"],
        "element": element,
        "element_index": int(element_index),
        "host": int(host_pos),
        "profile": profile,
    }
