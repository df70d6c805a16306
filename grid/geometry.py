"""Where a net's buses and branches are: bus coordinates and branch endpoints, for maps.

Pure functions of a pandapower net and the :class:`~grid.solver.GridLayout` its solver
reports on, so that a map drawn from them joins the power-flow results exactly: buses in the
order of ``layout.bus``, branches in the order of ``layout.branch`` (in-service lines, then
in-service transformers, their index in ``net.line`` / ``net.trafo``).

Bus positions are the net's geodata when every bus has one (x: longitude scaled by
cos(mean latitude), y: latitude [deg]); otherwise a deterministic layout of the graph of
branches and closed bus-bus switches (Kamada-Kawai, or a seeded spring layout for large nets).
"""

from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pandapower as pp
import pandas as pd

from grid.solver import GridLayout

#: Above this many buses the fallback layout is a spring layout (Kamada-Kawai is O(n^2)).
KAMADA_KAWAI_MAX_BUSES = 400


def branch_endpoints(net: pp.pandapowerNet, layout: GridLayout) -> pd.DataFrame:
    """The buses each branch of ``layout`` joins, in the layout's order.

    Returns
    -------
    DataFrame
        ``branch`` (index in ``net.line`` / ``net.trafo``), ``kind`` (line / trafo),
        ``from_bus``, ``to_bus`` (a transformer's HV and LV bus); one row a branch, as
        ``layout.branch``.
    """
    kind = np.asarray(layout.branch_kind, dtype=str)
    branch = np.asarray(layout.branch, dtype=np.int64)
    lines = net.line.loc[branch[kind == "line"]]
    trafos = net.trafo.loc[branch[kind == "trafo"]]
    frame = pd.DataFrame(
        {
            "branch": branch,
            "kind": kind,
            "from_bus": np.zeros(len(branch), dtype=np.int64),
            "to_bus": np.zeros(len(branch), dtype=np.int64),
        }
    )
    is_line, is_trafo = kind == "line", kind == "trafo"
    frame.loc[is_line, "from_bus"] = lines["from_bus"].to_numpy(dtype=np.int64)
    frame.loc[is_line, "to_bus"] = lines["to_bus"].to_numpy(dtype=np.int64)
    frame.loc[is_trafo, "from_bus"] = trafos["hv_bus"].to_numpy(dtype=np.int64)
    frame.loc[is_trafo, "to_bus"] = trafos["lv_bus"].to_numpy(dtype=np.int64)
    return frame


def switch_links(net: pp.pandapowerNet) -> pd.DataFrame:
    """Closed bus-bus switches: ``switch`` (index in ``net.switch``), ``from_bus``, ``to_bus``."""
    sw = net.switch
    if len(sw):
        sw = sw[(sw["et"] == "b") & sw["closed"].astype(bool)]
    return pd.DataFrame(
        {
            "switch": np.asarray(sw.index if len(sw) else [], dtype=np.int64),
            "from_bus": np.asarray(sw["bus"] if len(sw) else [], dtype=np.int64),
            "to_bus": np.asarray(sw["element"] if len(sw) else [], dtype=np.int64),
        }
    )


def bus_coordinates(net: pp.pandapowerNet, layout: GridLayout) -> tuple[np.ndarray, bool]:
    """Map coordinates of the buses of ``layout``, in its order.

    Returns
    -------
    xy : ndarray, shape (bus, 2)
        x, y of each bus of ``layout.bus``.
    geographic : bool
        True when they are the net's geodata, False for a graph layout.
    """
    bus = np.asarray(layout.bus, dtype=np.int64)
    xy = geodata_xy(net, bus)
    if xy is not None:
        return xy, True
    edges = pd.concat(
        [branch_endpoints(net, layout)[["from_bus", "to_bus"]], switch_links(net)],
        ignore_index=True,
    )
    return graph_layout(bus, edges["from_bus"].to_numpy(), edges["to_bus"].to_numpy()), False


def geodata_xy(net: pp.pandapowerNet, bus: np.ndarray) -> np.ndarray | None:
    """Bus positions from pandapower's GeoJSON ``bus.geo``; None unless every bus has one.

    x is the longitude scaled by cos(mean latitude) (so distances look right), y the latitude.
    """
    geo = net.bus["geo"].reindex(bus) if "geo" in net.bus else None
    if geo is None or not len(geo) or geo.isna().any():
        return None
    try:
        points = [json.loads(g)["coordinates"] if isinstance(g, str) else g for g in geo]
        lon, lat = np.asarray(points, dtype=float)[:, :2].T
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        return None
    if np.ptp(lon) == 0 and np.ptp(lat) == 0:
        return None
    scale = math.cos(math.radians(float(np.mean(lat)))) if np.all(np.abs(lat) <= 90) else 1.0
    return np.column_stack([lon * scale, lat])


def graph_layout(bus: np.ndarray, from_bus: np.ndarray, to_bus: np.ndarray) -> np.ndarray:
    """A deterministic layout of the graph of ``bus`` joined by the edges ``from_bus - to_bus``.

    Returns
    -------
    ndarray, shape (bus, 2)
        x, y of each bus (schematic, no unit).
    """
    graph = nx.Graph()
    graph.add_nodes_from(int(b) for b in bus)
    graph.add_edges_from(
        zip(np.asarray(from_bus, dtype=int), np.asarray(to_bus, dtype=int), strict=True)
    )
    if len(bus) <= KAMADA_KAWAI_MAX_BUSES:
        pos = nx.kamada_kawai_layout(graph)
    else:
        pos = nx.spring_layout(graph, seed=0, iterations=50)
    return np.asarray([pos[int(b)] for b in bus], dtype=float).reshape(len(bus), 2)
