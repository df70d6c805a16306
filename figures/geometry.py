"""The network's geometry for the grid page's map, and the power-flow tables as matrices.

:func:`network_geometry` rebuilds the run's pandapower net from the scenario recorded in its
manifest (``config.grid``) and keeps only what a map needs: bus positions (geodata where the
net has it for every bus, a Kamada-Kawai / spring layout of the graph otherwise) and the
branches the power flow reports on (``branch_loading``: in-service lines and transformers),
with closed bus-bus switches as plain links. The rest are pure reshapes of results tables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from grid.network import build_net

#: Above this many buses the fallback layout is a spring layout (Kamada-Kawai is O(n^2)).
KAMADA_KAWAI_MAX_BUSES = 400


@dataclass(frozen=True)
class NetworkGeometry:
    """Where to draw a net.

    Attributes
    ----------
    buses : DataFrame
        Index: pandapower bus index; columns ``x``, ``y`` (map coordinates), ``name``,
        ``vn_kv`` [kV].
    branches : DataFrame
        ``kind`` (line / trafo), ``branch`` (index in its pandapower table), ``from_bus``,
        ``to_bus``.
    links : DataFrame
        ``from_bus``, ``to_bus`` of closed bus-bus switches.
    slack_buses : tuple of int
        Buses of the external grid.
    geographic : bool
        True when positions are the net's geodata (x: longitude scaled by cos(latitude)).
    """

    buses: pd.DataFrame
    branches: pd.DataFrame
    links: pd.DataFrame
    slack_buses: tuple[int, ...]
    geographic: bool


def network_geometry(grid_config: Mapping[str, Any], seed: int = 0) -> NetworkGeometry:
    """The geometry of the net a scenario's ``[grid]`` section names.

    Parameters
    ----------
    grid_config : mapping
        The run manifest's ``config["grid"]``: ``simbench_code``, ``example`` or ``file``.
    seed : int
        Seed of the (irrelevant here) profile draw of non-SimBench loads.
    """
    file = grid_config.get("file")
    net = build_net(
        simbench_code=grid_config.get("simbench_code"),
        example=grid_config.get("example"),
        file=Path(file) if file else None,
        rng=np.random.default_rng(seed),
    )
    buses = pd.DataFrame(
        {"name": net.bus["name"].astype(str), "vn_kv": net.bus["vn_kv"].astype(float)},
        index=net.bus.index.astype(np.int64),
    )
    lines = net.line[net.line["in_service"].astype(bool)]
    branches = pd.concat(
        [
            pd.DataFrame(
                {
                    "kind": "line",
                    "branch": lines.index.astype(np.int64),
                    "from_bus": lines["from_bus"].astype(np.int64),
                    "to_bus": lines["to_bus"].astype(np.int64),
                }
            ),
            pd.DataFrame(
                {
                    "kind": "trafo",
                    "branch": net.trafo.index.astype(np.int64),
                    "from_bus": net.trafo["hv_bus"].astype(np.int64),
                    "to_bus": net.trafo["lv_bus"].astype(np.int64),
                }
            ),
        ],
        ignore_index=True,
    )
    sw = net.switch
    closed = sw[(sw["et"] == "b") & sw["closed"].astype(bool)] if len(sw) else sw
    links = pd.DataFrame(
        {
            "from_bus": np.asarray(closed["bus"] if len(closed) else [], dtype=np.int64),
            "to_bus": np.asarray(closed["element"] if len(closed) else [], dtype=np.int64),
        }
    )
    xy = _geodata(net.bus.get("geo"))
    geographic = xy is not None
    if xy is None:
        xy = _layout(buses.index.to_numpy(), branches, links)
    buses["x"], buses["y"] = xy[:, 0], xy[:, 1]
    slack = tuple(int(b) for b in net.ext_grid["bus"])
    return NetworkGeometry(buses, branches, links, slack, geographic)


def _geodata(geo: pd.Series | None) -> np.ndarray | None:
    """Bus positions from pandapower's GeoJSON ``bus.geo`` column; None unless every bus has one."""
    if geo is None or geo.isna().any() or not len(geo):
        return None
    try:
        points = [json.loads(g)["coordinates"] if isinstance(g, str) else g for g in geo]
        lon, lat = np.asarray(points, dtype=float)[:, :2].T
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    if np.ptp(lon) == 0 and np.ptp(lat) == 0:
        return None
    scale = math.cos(math.radians(float(np.mean(lat)))) if np.all(np.abs(lat) <= 90) else 1.0
    return np.column_stack([lon * scale, lat])


def _layout(bus: np.ndarray, branches: pd.DataFrame, links: pd.DataFrame) -> np.ndarray:
    """A deterministic graph layout of the buses (no geodata)."""
    graph = nx.Graph()
    graph.add_nodes_from(int(b) for b in bus)
    for frame in (branches, links):
        graph.add_edges_from(
            zip(frame["from_bus"].astype(int), frame["to_bus"].astype(int), strict=True)
        )
    if len(bus) <= KAMADA_KAWAI_MAX_BUSES:
        pos = nx.kamada_kawai_layout(graph)
    else:
        pos = nx.spring_layout(graph, seed=0, iterations=50)
    return np.asarray([pos[int(b)] for b in bus], dtype=float)


def voltage_matrix(bus_voltage: pd.DataFrame) -> pd.DataFrame:
    """``bus_voltage`` as a time x bus matrix of vm [p.u.]."""
    return bus_voltage.pivot(index="time", columns="bus", values="vm_pu").sort_index()


def loading_matrix(branch_loading: pd.DataFrame) -> pd.DataFrame:
    """``branch_loading`` as a time x (kind, branch) matrix of loading [%]."""
    frame = branch_loading.assign(kind=branch_loading["kind"].astype(str))
    return frame.pivot(
        index="time", columns=["kind", "branch"], values="loading_percent"
    ).sort_index()


def node_counts(nodes: pd.DataFrame) -> dict[int, int]:
    """Number of nodes at each bus, from the ``nodes`` table."""
    buses, counts = np.unique(nodes["bus"].to_numpy(dtype=np.int64), return_counts=True)
    return {int(b): int(n) for b, n in zip(buses, counts, strict=True)}


def interesting_interval(vm: pd.DataFrame) -> int:
    """Position of the interval with the largest voltage deviation from 1 p.u. (0 if none)."""
    if vm.empty:
        return 0
    deviation = (vm - 1.0).abs().max(axis=1).to_numpy()
    if not np.isfinite(deviation).any():
        return 0
    return int(np.nanargmax(deviation))
