"""The grid's static tables of a run: ``buses`` and ``branches``, with where to draw them.

Written once a run (PyPSA keeps static attributes apart from time series in the same way), so
that no face rebuilds the run's net. Both follow the solver's :class:`~grid.solver.GridLayout`,
so they join the power-flow tables exactly.

``buses``, one row a bus in the order of ``bus_voltage``: ``bus`` (pandapower index),
``name``, ``vn_kv`` [kV], ``slack`` (the external grid is there), ``x``, ``y`` (map
coordinates) and ``geodata``: true when ``x``, ``y`` are the net's geodata (x: longitude
scaled by cos(mean latitude), y: latitude [deg]), false for a schematic layout.

``branches``: one row a branch in the order of ``branch_loading`` (``kind`` line / trafo,
``branch`` the index in ``net.line`` / ``net.trafo``; a transformer's ``from_bus`` is its HV
bus), then the closed bus-bus switches (``kind`` switch, ``branch`` the index in
``net.switch``; drawn as links, the power flow reports no loading for them).
"""

from __future__ import annotations

import numpy as np
import pandapower as pp

from grid.geometry import branch_endpoints, bus_coordinates, switch_links
from grid.solver import GridLayout
from twin.layers.base import Columns
from twin.results import RunWriter


def grid_tables(net: pp.pandapowerNet, layout: GridLayout) -> dict[str, Columns]:
    """The ``buses`` and ``branches`` tables of ``net`` as columns (see :data:`SCHEMAS`)."""
    bus = np.asarray(layout.bus, dtype=np.int64)
    xy, geographic = bus_coordinates(net, layout)
    slack = set(net.ext_grid.loc[net.ext_grid["in_service"].astype(bool), "bus"].astype(int))
    names = net.bus["name"].reindex(bus)
    buses: Columns = {
        "bus": bus,
        "name": names.astype(object).where(names.notna(), "").astype(str).to_numpy(),
        "vn_kv": net.bus["vn_kv"].reindex(bus).to_numpy(dtype=float),
        "slack": np.asarray([int(b) in slack for b in bus], dtype=bool),
        "x": xy[:, 0],
        "y": xy[:, 1],
        "geodata": np.full(len(bus), geographic, dtype=bool),
    }
    ends = branch_endpoints(net, layout)
    links = switch_links(net)
    branches: Columns = {
        "branch": np.concatenate([ends["branch"], links["switch"]]).astype(np.int64),
        "kind": np.concatenate([ends["kind"], np.full(len(links), "switch")]).astype(str),
        "from_bus": np.concatenate([ends["from_bus"], links["from_bus"]]).astype(np.int64),
        "to_bus": np.concatenate([ends["to_bus"], links["to_bus"]]).astype(np.int64),
    }
    return {"buses": buses, "branches": branches}


def write_grid_tables(writer: RunWriter, net: pp.pandapowerNet, layout: GridLayout) -> None:
    """Append the run's ``buses`` and ``branches`` tables (once a run).

    Parameters
    ----------
    writer : RunWriter
        The run folder being written.
    net : pandapowerNet
        The run's net (``Twin.net``).
    layout : GridLayout
        What the run's solver reports on (``Twin.solver.layout``).
    """
    for name, columns in grid_tables(net, layout).items():
        writer.append(name, columns)
