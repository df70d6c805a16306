"""Voltage zones: the parts of a grid between transformers, and the levels between them.

Used for grid fees by electrical distance: a trade between two zones crosses
``levels[a, b]`` transformers (LV feeder to MV: 1; one LV feeder to another: 2).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandapower as pp
from pandapower.topology import create_nxgraph


def voltage_zones(net: pp.pandapowerNet) -> tuple[dict[int, int], np.ndarray]:
    """Each bus's zone and the transformers between every two zones.

    Parameters
    ----------
    net : pandapowerNet
        The grid; its in-service lines and closed switches join buses into a zone, its
        transformers separate zones.

    Returns
    -------
    zone_of_bus : dict
        Bus index -> zone number (0 .. zones - 1).
    levels : ndarray of int, shape (zone, zone)
        Transformers crossed on the shortest way between two zones.
    """
    inside = create_nxgraph(
        net, respect_switches=True, include_trafos=False, include_trafo3ws=False
    )
    inside.add_nodes_from(net.bus.index.to_numpy().tolist())
    zone_of_bus: dict[int, int] = {}
    for z, buses in enumerate(nx.connected_components(inside)):
        for b in buses:
            zone_of_bus[int(b)] = z
    n = len(set(zone_of_bus.values()))
    between = nx.Graph()
    between.add_nodes_from(range(n))
    trafos = net.trafo[net.trafo.in_service.astype(bool)]
    for hv, lv in zip(trafos.hv_bus, trafos.lv_bus, strict=True):
        between.add_edge(zone_of_bus[int(hv)], zone_of_bus[int(lv)])
    levels = np.zeros((n, n), dtype=np.int64)
    for a, dist in nx.all_pairs_shortest_path_length(between):
        for b, d in dist.items():
            levels[a, b] = d
    return zone_of_bus, levels


def feeders(net: pp.pandapowerNet) -> dict[int, int]:
    """Each bus's feeder: the part of its voltage zone behind one line out of a busbar.

    A busbar is a transformer's (or the external grid's) bus; removing the busbars splits each
    zone into its feeders, numbered 1, 2, ... in order of their lowest bus. A busbar is its
    own feeder 0 (shared by every busbar).

    Parameters
    ----------
    net : pandapowerNet
        The grid (in-service lines and closed switches join buses).

    Returns
    -------
    dict
        Bus index -> feeder number.
    """
    graph = create_nxgraph(net, respect_switches=True, include_trafos=False, include_trafo3ws=False)
    graph.add_nodes_from(net.bus.index.to_numpy().tolist())
    trafos = net.trafo[net.trafo.in_service.astype(bool)]
    busbars = {int(b) for b in trafos.lv_bus} | {int(b) for b in net.ext_grid.bus}
    graph.remove_nodes_from(busbars)
    parts = sorted(sorted(int(b) for b in c) for c in nx.connected_components(graph))
    feeder_of = dict.fromkeys(busbars, 0)
    for f, buses in enumerate(parts, start=1):
        for b in buses:
            feeder_of[b] = f
    return feeder_of
