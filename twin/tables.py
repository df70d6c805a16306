"""Writing a chunk of the engine's results into the results store's tables.

The engine computes; these functions only shape its arrays into the declared tables of
:mod:`twin.results` (one row group a chunk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from grid.powerflow import GridLayout, PowerFlowBatch
from twin.results import RunWriter, tiled_ids


@dataclass
class ChunkResults:
    """One chunk of results, as the engine has them.

    ``times`` are the chunk's interval starts (UTC, naive ``datetime64[us]``); ``p_mw`` the
    metered (curtailed) node powers; ``plan_*`` the batteries' plans in force (``None``
    without forecast-driven dispatch); ``forecast_mw`` the forecast in force per series.
    """

    times: np.ndarray
    p_mw: np.ndarray
    flow: PowerFlowBatch
    violations: np.ndarray
    curtailed_mw: np.ndarray
    curtailed_wh: np.ndarray
    nodes_out: np.ndarray
    flags: list[str]
    soc_kwh: np.ndarray
    plan_mw: np.ndarray | None
    plan_issued: np.ndarray | None
    forecast_mw: np.ndarray
    market: dict[str, Any]


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
    c: ChunkResults,
    *,
    stamps: np.ndarray,
    layout: GridLayout,
    node_ids: np.ndarray,
    bat_rows: np.ndarray,
    series_rows: np.ndarray | None,
    interval_s: int,
) -> None:
    """Append a chunk to the physical tables, ``intervals`` and ``imbalances``."""
    n, times, p, flow = len(c.times), c.times, c.p_mw, c.flow
    wh_per_mw = interval_s / 3600.0 * 1e6
    bat_ids = node_ids[bat_rows]
    n_nodes, n_bus, n_branch, n_bat = p.shape[1], len(layout.bus), len(layout.branch), len(bat_rows)
    w.append(
        "node_power",
        {"time": np.repeat(times, n_nodes), "node_id": tiled_ids(node_ids, n), "p_mw": p.ravel()},
    )
    if n_bat:
        w.append(
            "battery_state",
            {
                "time": np.repeat(times, n_bat),
                "node_id": tiled_ids(bat_ids, n),
                "soc_kwh": c.soc_kwh.ravel(),
            },
        )
    if n_bat and c.plan_mw is not None and c.plan_issued is not None:
        w.append(
            "dispatch_plans",
            {
                "time": np.repeat(times, n_bat),
                "issued": np.repeat(stamps[c.plan_issued], n_bat),
                "node_id": tiled_ids(bat_ids, n),
                "planned_p_mw": c.plan_mw.ravel(),
                "actual_p_mw": p[:, bat_rows].ravel(),
            },
        )
    moved = np.abs(c.curtailed_mw) > 0
    if moved.any():
        t_i, node_i = np.nonzero(moved)
        w.append(
            "curtailments",
            {
                "time": times[t_i],
                "node_id": node_ids[node_i],
                "curtailed_wh": np.rint(c.curtailed_mw[t_i, node_i] * wh_per_mw).astype(np.int64),
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
    w.append(
        "intervals",
        {
            "time": times,
            "converged": flow.converged,
            "violations": c.violations.astype(np.int64),
            "curtailed_wh": c.curtailed_wh.astype(np.int64),
            "nodes_out": c.nodes_out,
            "clearing_price_eur_per_mwh": c.market["clearing_price"],
            "traded_wh": c.market["traded_wh"],
            "flags": c.flags,
        },
    )
    if series_rows is not None and len(series_rows):
        ids = node_ids[series_rows]
        actual = p[:, series_rows]
        wh = np.rint((actual - c.forecast_mw) * wh_per_mw)
        w.append(
            "imbalances",
            {
                "time": np.repeat(times, len(ids)),
                "node_id": tiled_ids(ids, n),
                "forecast_mw": c.forecast_mw.ravel(),
                "actual_mw": actual.ravel(),
                "imbalance_wh": np.nan_to_num(wh.ravel()).astype(np.int64),
            },
        )


def write_market(
    w: RunWriter, times: np.ndarray, market: dict[str, Any], owners: np.ndarray, batch: np.ndarray
) -> None:
    """Append a chunk's ``orders`` and ``trades`` (``batch``: each trade's batch id)."""
    names = pa.array(owners)

    def who(codes: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), names)

    o, t = market["orders"], market["trades"]
    w.append(
        "orders",
        {
            "time": times[o["interval"]],
            "participant": who(o["participant"]),
            "side": pa.DictionaryArray.from_arrays(
                pa.array((o["side"] < 0).astype(np.int8)), pa.array(["buy", "sell"])
            ),
            "energy_wh": o["energy_wh"],
            "limit_price_eur_per_mwh": o["limit_eur_per_mwh"],
        },
    )
    w.append(
        "trades",
        {
            "time": times[t["interval"]],
            "trade_id": t["trade_id"],
            "batch_id": batch,
            "seller": who(t["seller"]),
            "buyer": who(t["buyer"]),
            "energy_wh": t["energy_wh"],
            "price_eur_per_mwh": t["price_eur_per_mwh"],
            "payment_micro_eur": t["payment_micro_eur"],
            "grid_fee_micro_eur": t["grid_fee_micro_eur"],
            "curtailed_wh": t["curtailed_wh"],
        },
    )


def write_forecasts(
    w: RunWriter, cols: dict[str, Any], ids: np.ndarray, stamps: np.ndarray, n_intervals: int
) -> None:
    """Append the kept forecasts (``ForecastDispatchPolicy.forecasts_table`` columns)."""
    target = np.minimum(cols["target"].astype(np.int64), n_intervals - 1)
    inside = cols["target"] < n_intervals
    codes = pa.array(cols["series"][inside].astype(np.int32))
    w.append(
        "forecasts",
        {
            "time": stamps[target[inside]],
            "issued": stamps[cols["issue"][inside].astype(np.int64)],
            "node_id": pa.DictionaryArray.from_arrays(codes, pa.array(ids)),
            "horizon_steps": cols["horizon"][inside].astype(np.int64),
            "predicted_mw": cols["predicted_mw"][inside],
            "actual_mw": cols["actual_mw"][inside],
        },
    )


def write_settlement(w: RunWriter, result: dict[str, Any], start: np.datetime64) -> None:
    """Append ``batches`` and ``participants`` from :meth:`SettlementLayer.finish`."""
    batches, times = result["batches"], result["times"]

    def when(seconds: list[float]) -> pa.Array:
        us = np.array([round(s * 1e6) if np.isfinite(s) else 0 for s in seconds], dtype=np.int64)
        stamp = start.astype("datetime64[us]") + us.astype("timedelta64[us]")
        return pa.array(stamp, mask=~np.isfinite(np.array(seconds, dtype=float)))

    w.append(
        "batches",
        {
            "batch_id": [b.batch_id for b in batches],
            "first_time": np.array([b.first_time for b in batches], dtype="datetime64[us]"),
            "last_time": np.array([b.last_time for b in batches], dtype="datetime64[us]"),
            "trades_root": ["0x" + b.trades_root.hex() for b in batches],
            "trade_count": [b.trade_count for b in batches],
            "energy_wh": [b.energy_wh for b in batches],
            "accounts": [len(b.accounts) for b in batches],
            "tx_hash": [b.tx_hash for b in batches],
            "nonce": [b.nonce for b in batches],
            "block": [b.block for b in batches],
            "gas_used": [b.gas_used for b in batches],
            "state": [b.state for b in batches],
            "sends": [b.sends for b in batches],
            "closed": when([times[b.batch_id].closed_s for b in batches]),
            "sent": when([times[b.batch_id].sent_s for b in batches]),
            "final": when([times[b.batch_id].final_s for b in batches]),
        },
    )
    w.append("participants", result["participants"])
