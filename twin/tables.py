"""Writing the engine's physical results into the results store's tables.

The engine and the layers compute; these functions only shape a chunk's arrays into the
declared tables of :mod:`twin.results` (one row group a chunk). Each layer writes its own
tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from grid.powerflow import GridLayout
from settlement.units import mw_to_wh
from twin.layers.base import Chunk, Columns
from twin.results import RunWriter, tiled_ids


def interval_flags(
    converged: np.ndarray,
    nodes_out: np.ndarray,
    fallback: np.ndarray,
    curtailed_wh: np.ndarray,
    violations: np.ndarray,
    network_aware: bool,
) -> list[str]:
    """The ``flags`` column: ``;``-joined names of what happened in each interval."""
    return [
        ";".join(
            f
            for f, on in (
                ("infeasible", not ok),
                ("outage", out > 0),
                ("dispatch_fallback", fb),
                ("curtailed", cwh > 0),
                ("unresolved", network_aware and v > 0),
            )
            if on
        )
        for ok, out, fb, cwh, v in zip(
            converged, nodes_out, fallback, curtailed_wh, violations, strict=True
        )
    ]


def write_chunk(
    w: RunWriter,
    c: Chunk,
    *,
    layout: GridLayout,
    node_ids: np.ndarray,
    bat_rows: np.ndarray,
    interval_s: int,
    in_service_from: np.ndarray | None = None,
) -> None:
    """Append a chunk to the physical tables and ``intervals``.

    ``in_service_from``: first interval of each node in the grid (None: all from the start);
    a node's ``node_power`` and ``battery_state`` rows begin at it.
    """
    n, times, p, flow = c.size, c.times, c.p_mw, c.flow
    bat_ids = node_ids[bat_rows]
    n_nodes, n_bus, n_branch, n_bat = p.shape[1], len(layout.bus), len(layout.branch), len(bat_rows)
    node_power: Columns = {
        "time": np.repeat(times, n_nodes),
        "node_id": tiled_ids(node_ids, n),
        "p_mw": p.ravel(),
    }
    battery_state: Columns = {
        "time": np.repeat(times, n_bat),
        "node_id": tiled_ids(bat_ids, n),
        "soc_kwh": c.soc_kwh.ravel(),
    }
    if in_service_from is not None:
        k = (c.first + np.arange(n))[:, None]
        there = (k >= in_service_from[None, :]).ravel()
        bat_there = (k >= in_service_from[bat_rows][None, :]).ravel()
        node_power = {name: _take(col, there) for name, col in node_power.items()}
        battery_state = {name: _take(col, bat_there) for name, col in battery_state.items()}
    w.append("node_power", node_power)
    if n_bat:
        w.append("battery_state", battery_state)
    moved = np.abs(c.curtailed_mw) > 0
    if moved.any():
        t_i, node_i = np.nonzero(moved)
        w.append(
            "curtailments",
            {
                "time": times[t_i],
                "node_id": node_ids[node_i],
                "curtailed_wh": mw_to_wh(c.curtailed_mw[t_i, node_i], interval_s),
            },
        )
    w.append(
        "bus_voltage",
        {
            "time": np.repeat(times, n_bus),
            "bus": np.tile(layout.bus, n),
            "vm_pu": flow.vm_pu.ravel(),
        },
    )
    w.append(
        "branch_loading",
        {
            "time": np.repeat(times, n_branch),
            "branch": np.tile(layout.branch, n),
            "kind": tiled_ids(layout.branch_kind, n, pa.int8()),
            "loading_percent": flow.loading_percent.ravel(),
        },
    )
    w.append(
        "grid_exchange", {"time": times, "import_mw": flow.import_mw, "losses_mw": flow.losses_mw}
    )
    curtailed_wh = mw_to_wh(c.curtailed_mw.sum(axis=1), interval_s)
    w.append(
        "intervals",
        {
            "time": times,
            "converged": flow.converged,
            "violations": c.violations.astype(np.int64),
            "curtailed_wh": curtailed_wh,
            "nodes_out": c.nodes_out,
            "clearing_price_eur_per_mwh": c.clearing_price_eur_per_mwh,
            "traded_wh": c.traded_wh,
            "flags": interval_flags(
                flow.converged, c.nodes_out, c.fallback, curtailed_wh, c.violations, c.curtailing
            ),
        },
    )


def _take(column: object, mask: np.ndarray) -> object:
    """The rows of a column (numpy array or Arrow array) where ``mask`` holds."""
    if isinstance(column, pa.Array):
        return column.filter(pa.array(mask))
    return np.asarray(column)[mask]


#: The ``nodes`` table's device columns of a run without devices.
NO_DEVICE_COLUMNS = ("device_address", "device_id", "attack")


def write_nodes(w: RunWriter, table: pd.DataFrame, device_columns: Columns) -> None:
    """Append the static ``nodes`` table; a run without devices has no device address, device
    id 0 and attack ``none``."""
    n = len(table)
    defaults: Columns = {
        "device_address": [None] * n,
        "device_id": np.zeros(n, np.int64),
        "attack": ["none"] * n,
    }
    w.append(
        "nodes",
        {
            "node_id": table["node_id"],
            "kind": table["kind"],
            "bus": table["bus"],
            "p_max_mw": table["p_max_mw"],
            "capacity_kwh": table["capacity_kwh"],
            "owner": table["owner"],
            **defaults,
            **device_columns,
        },
    )
