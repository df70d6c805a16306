"""The network's geometry for the grid page's map, and the power-flow tables as matrices.

:func:`network_geometry` reads the run's static ``buses`` and ``branches`` tables (written
by :mod:`twin.static_tables`; no net is rebuilt) and keeps what a map needs: bus positions
and names, the branches the power flow reports on (``branch_loading``: lines and
transformers) and the closed bus-bus switches drawn as plain links. The rest are pure
reshapes of results tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The tables :func:`network_geometry` reads (older run folders lack them).
GEOMETRY_TABLES = ("buses", "branches")


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


def network_geometry(buses: pd.DataFrame, branches: pd.DataFrame) -> NetworkGeometry:
    """The geometry of a run's net from its ``buses`` and ``branches`` tables.

    Parameters
    ----------
    buses : DataFrame
        The ``buses`` table: ``bus``, ``name``, ``vn_kv`` [kV], ``x``, ``y``, ``slack``,
        ``geodata``.
    branches : DataFrame
        The ``branches`` table: ``branch``, ``kind`` (line / trafo / switch), ``from_bus``,
        ``to_bus``.
    """
    frame = pd.DataFrame(
        {
            "name": buses["name"].astype(str).to_numpy(),
            "vn_kv": buses["vn_kv"].to_numpy(dtype=float),
            "x": buses["x"].to_numpy(dtype=float),
            "y": buses["y"].to_numpy(dtype=float),
        },
        index=pd.Index(buses["bus"].to_numpy(dtype=np.int64), name="bus"),
    )
    kind = branches["kind"].astype(str)
    edges = pd.DataFrame(
        {
            "kind": kind.to_numpy(),
            "branch": branches["branch"].to_numpy(dtype=np.int64),
            "from_bus": branches["from_bus"].to_numpy(dtype=np.int64),
            "to_bus": branches["to_bus"].to_numpy(dtype=np.int64),
        }
    )
    is_link = (kind == "switch").to_numpy()
    slack = buses.loc[buses["slack"].astype(bool), "bus"]
    return NetworkGeometry(
        buses=frame,
        branches=edges[~is_link].reset_index(drop=True),
        links=edges.loc[is_link, ["from_bus", "to_bus"]].reset_index(drop=True),
        slack_buses=tuple(int(b) for b in slack),
        geographic=bool(len(buses)) and bool(buses["geodata"].astype(bool).all()),
    )


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
