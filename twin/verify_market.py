"""``gridtwin verify``'s re-derivations of the market's tables, row by row: each trade's
payment from its energy and price, its protocol fee from its payment, its curtailed energy
from its seller's curtailed generation; each owner's bill from its metered energy
(``node_power``), the trades and the tariff; each order's submission time and status at the
gate from the scenario (``market.gate_closure_s``, ``market.late_orders``), and each trade's
seller and buyer from an order that was not refused (:mod:`settlement.market.gate`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from settlement.economy.fees import protocol_fees
from settlement.market.bills import net_payments
from settlement.market.gate import STATUSES, is_late, submitted_s
from settlement.market.grid_fee import fee_reduction_micro_eur
from settlement.market.tariff import tariff_prices, utility_bill
from settlement.units import mw_to_wh
from twin.checks import Check, row_check
from twin.late_orders import order_delays
from twin.scenario import MarketConfig, TariffsConfig


def verify_trades(
    trades: pd.DataFrame, config: dict[str, Any], curtailed: pd.Series
) -> list[Check]:
    """Each ``trades`` row against what it derives from (module doc); ``curtailed`` is each
    (time, owner)'s curtailed generation [Wh] (``curtailments`` by node owner, empty if none)."""
    energy = trades["energy_wh"].to_numpy(dtype=np.int64)
    price = trades["price_eur_per_mwh"].to_numpy(dtype=np.float64)
    pay = trades["payment_micro_eur"].to_numpy(dtype=np.int64)
    due = np.rint(energy * price).astype(np.int64)
    checks = [
        row_check(
            "trades: payment = energy x price",
            "trades",
            (due != pay) | ~np.isfinite(price) | (price < 0),
            lambda i: (
                f"trade_id {trades['trade_id'].iat[i]}: {energy[i]} Wh x {price[i]} EUR/MWh"
                f" = {due[i]} micro-euro, payment_micro_eur {pay[i]}"
            ),
        )
    ]
    economy = config.get("economy") or {}
    if "protocol_fee_micro_eur" in trades:
        bps = int(economy.get("protocol_fee_bps", 0)) if economy.get("enabled") else 0
        fee = trades["protocol_fee_micro_eur"].to_numpy(dtype=np.int64)
        owed = protocol_fees(pay, bps)
        checks.append(
            row_check(
                f"trades: protocol fee = payment x {bps} bps",
                "trades",
                fee != owed,
                lambda i: (
                    f"trade_id {trades['trade_id'].iat[i]}: protocol_fee_micro_eur "
                    f"{fee[i]}, {owed[i]} due"
                ),
            )
        )
    cut = trades["curtailed_wh"].to_numpy(dtype=np.int64)
    key = pd.MultiIndex.from_arrays([trades["time"], trades["seller"].astype(str)])
    per_seller = pd.Series(cut, index=key).groupby(level=[0, 1]).transform("sum").to_numpy()
    limit = (
        curtailed.reindex(key).fillna(0).to_numpy(dtype=np.int64)
        if len(curtailed)
        else np.zeros(len(trades), dtype=np.int64)
    )
    checks.append(
        row_check(
            "trades: curtailed energy <= the seller's curtailed generation",
            "trades",
            (cut < 0) | ((cut > 0) & (per_seller > limit + 1)),  # the rows claiming it
            lambda i: (
                f"trade_id {trades['trade_id'].iat[i]}: curtailed_wh {cut[i]}, its seller's"
                f" trades {per_seller[i]} Wh at {trades['time'].iat[i]}, curtailed generation"
                f" {limit[i]} Wh"
            ),
        )
    )
    return checks


def verify_bills(
    bills: pd.DataFrame,
    trades: pd.DataFrame,
    node_power: pd.DataFrame,
    nodes: pd.DataFrame,
    config: dict[str, Any],
    reductions: pd.DataFrame | None = None,
    prices: pd.DataFrame | None = None,
) -> Check:
    """Each ``bills`` row recomputed from metered energy, the trades and the tariff, less the
    §14a grid-fee reductions of ``reductions`` (``dimming_devices``: owner and
    ``grid_fee_reduction_micro_eur`` a device; ``None``: none). The tariff is the ``prices``
    table's (retail and feed-in of every interval); ``None``: the time-of-use tariff of
    ``config`` (a run from before that table)."""
    interval_s = int(config["run"]["interval_s"])
    owners = bills["owner"].astype(str).to_numpy()
    index = {o: i for i, o in enumerate(owners)}
    n = len(owners)
    ids = nodes["node_id"].astype(str)
    power = node_power.pivot(index="time", columns="node_id", values="p_mw")
    # a node before it is in service (an asset executed mid-run) or never (a defeated
    # proposal's) has no node_power rows: it metered nothing
    power = power.set_axis(power.columns.astype(str), axis=1).reindex(columns=ids).fillna(0.0)
    times = power.index
    owner_idx = nodes["owner"].astype(str).map(index).to_numpy(dtype=np.int64)
    matrix = sp.csr_matrix(
        (np.ones(len(ids)), (owner_idx, np.arange(len(ids)))), shape=(n, len(ids))
    )
    actual = mw_to_wh((matrix @ power.to_numpy().T).T, interval_s)
    t = times.get_indexer(pd.Index(trades["time"]))
    seller = trades["seller"].astype(str).map(index).to_numpy(dtype=np.int64)
    buyer = trades["buyer"].astype(str).map(index).to_numpy(dtype=np.int64)
    energy = trades["energy_wh"].to_numpy(dtype=np.int64)
    pay = trades["payment_micro_eur"].to_numpy(dtype=np.int64)
    fee = trades["grid_fee_micro_eur"].to_numpy(dtype=np.int64)
    proto = (
        trades["protocol_fee_micro_eur"].to_numpy(dtype=np.int64)
        if "protocol_fee_micro_eur" in trades
        else None
    )
    n_t = len(times)

    def per_owner(who: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.zeros(n_t * n, dtype=np.int64)
        np.add.at(out, t * n + who, values)
        return out.reshape(n_t, n)

    bought, sold = per_owner(buyer, energy), per_owner(seller, energy)
    paid = -net_payments(buyer, seller, pay, fee, n, t, n_t, proto)[:, :n]
    if prices is not None:  # the prices the run settled at (a dynamic tariff's too)
        stored = prices.set_index("time").reindex(times)
        retail = stored["retail_eur_per_mwh"].to_numpy(dtype=np.float64)
        feed_in = stored["feed_in_eur_per_mwh"].to_numpy(dtype=np.float64)
    else:  # a run from before the prices table: the time-of-use tariff of its config
        tariffs = TariffsConfig.model_validate(config["tariffs"])
        retail, feed_in = tariff_prices(pd.DatetimeIndex(times).hour.to_numpy(), tariffs)
    imp, exp, utility = utility_bill(actual - bought + sold, retail[:, None], feed_in[:, None])
    baseline = utility_bill(actual, retail[:, None], feed_in[:, None])[2]
    credit = np.zeros(n, dtype=np.int64)
    if reductions is not None and len(reductions):
        who = reductions["owner"].astype(str).map(index).to_numpy(dtype=np.int64)
        np.add.at(credit, who, reductions["grid_fee_reduction_micro_eur"].to_numpy(np.int64))
    cost = paid.sum(axis=0) + utility.sum(axis=0) - credit
    baseline_cost = baseline.sum(axis=0) - credit
    expected = {
        "import_wh": imp.sum(axis=0),
        "export_wh": exp.sum(axis=0),
        "p2p_bought_wh": bought.sum(axis=0),
        "p2p_sold_wh": sold.sum(axis=0),
        "p2p_paid_micro_eur": paid.sum(axis=0),
        "cost_micro_eur": cost,
        "baseline_cost_micro_eur": baseline_cost,
        "savings_micro_eur": baseline_cost - cost,
    }
    if "grid_fee_reduction_micro_eur" in bills:
        expected["grid_fee_reduction_micro_eur"] = credit
    if proto is not None and "protocol_fee_micro_eur" in bills:
        expected["protocol_fee_micro_eur"] = per_owner(seller, proto).sum(axis=0)
    diff = {c: bills[c].to_numpy(dtype=np.int64) != v for c, v in expected.items()}
    bad = np.logical_or.reduce(list(diff.values()))

    def why(i: int) -> str:
        return f"owner {owners[i]}: " + ", ".join(
            f"{c} {bills[c].iat[i]:,}, derived {expected[c][i]:,}" for c in diff if diff[c][i]
        )

    return row_check(
        "bills = metered energy (node_power) + trades at the tariff - grid-fee reductions",
        "bills",
        bad,
        why,
    )


def verify_fee_reductions(devices: pd.DataFrame, config: dict[str, Any]) -> Check:
    """Each ``dimming_devices`` row's grid-fee reduction: ``flex.dimming``'s annual reduction
    pro rata to the run (:func:`settlement.market.grid_fee.fee_reduction_micro_eur`)."""
    run = config["run"]
    dimming = (config.get("flex") or {}).get("dimming") or {}
    per_year = float(dimming.get("fee_reduction_eur_per_year", 0.0))
    interval_s = int(run["interval_s"])
    run_s = int(run["days"]) * 86_400 // interval_s * interval_s  # whole intervals
    due = fee_reduction_micro_eur(per_year, run_s)
    got = devices["grid_fee_reduction_micro_eur"].to_numpy(dtype=np.int64)
    return row_check(
        f"dimming_devices: grid-fee reduction = {per_year:g} EUR/year pro rata",
        "dimming_devices",
        got != due,
        lambda i: (
            f"node_id {devices['node_id'].iat[i]}: grid_fee_reduction_micro_eur {got[i]:,},"
            f" {due:,} due"
        ),
    )


def verify_orders(
    orders: pd.DataFrame, trades: pd.DataFrame, nodes: pd.DataFrame, config: dict[str, Any]
) -> list[Check]:
    """Each ``orders`` row's ``submitted`` and ``status`` re-derived from the scenario's gate
    and late orders, and each ``trades`` row's seller and buyer against the orders: a trade
    needs its seller's sell order and its buyer's buy order in its interval, neither refused
    at the gate. A run written before orders had a status has nothing to check here."""
    if "status" not in orders:
        return []
    run = config["run"]
    interval_s = int(run["interval_s"])
    market = MarketConfig.model_validate(config["market"])
    owners = sorted(set(nodes["owner"].astype(str)))
    node_owner = dict(zip(nodes["node_id"].astype(str), nodes["owner"].astype(str), strict=True))
    n_intervals = int(run["days"]) * 86_400 // interval_s
    delays = order_delays(market, n_intervals, interval_s, owners, node_owner, int(run["seed"]))
    start = pd.Timestamp(run["start"])
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    times = pd.DatetimeIndex(orders["time"])
    start_s = ((times - start) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
    k = np.clip(start_s // interval_s, 0, n_intervals - 1)
    column = {o: i for i, o in enumerate(owners)}
    who = orders["participant"].astype(str)
    col = who.map(column).fillna(-1).to_numpy(dtype=np.int64)
    delay = np.where(col >= 0, delays[k, np.maximum(col, 0)], 0)
    if market.rule == "ex_ante_auction":
        due_s = submitted_s(start_s, interval_s, delay)
        late = is_late(due_s, start_s, market.gate_closure_s)
        due_status = np.where(late, "late", "on_time")
    else:
        due_s = start_s + interval_s
        due_status = np.full(len(orders), "ex_post")
    sub = pd.DatetimeIndex(orders["submitted"])
    got_s = ((sub - start) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
    status = orders["status"].astype(str).to_numpy()
    bad = (got_s != due_s) | (status != due_status) | ~np.isin(status, STATUSES)
    checks = [
        row_check(
            "orders: submission time and status at the gate (market.gate_closure_s, "
            "market.late_orders)",
            "orders",
            bad,
            lambda i: (
                f"{who.iat[i]} at {times[i]}: status {status[i]}, submitted {sub[i]}; derived "
                f"{due_status[i]}, submitted {start + pd.Timedelta(seconds=int(due_s[i]))} "
                f"(delay {int(delay[i])} s, gate {market.gate_closure_s} s before the interval)"
            ),
        )
    ]
    key = pd.MultiIndex.from_arrays([orders["time"], who, orders["side"].astype(str)])
    found: dict[str, np.ndarray] = {}
    for role, side in (("seller", "sell"), ("buyer", "buy")):
        wanted = pd.MultiIndex.from_arrays(
            [trades["time"], trades[role].astype(str), np.full(len(trades), side)]
        )
        found[role] = key.get_indexer(wanted)

    def refused(role: str) -> np.ndarray:
        at = found[role]
        return (at < 0) | (status[np.maximum(at, 0)] == "late")

    def why(i: int) -> str:
        parts = []
        for role in ("seller", "buyer"):
            at = int(found[role][i])
            if at < 0:
                parts.append(f"its {role} {trades[role].iat[i]} has no order on that side")
            elif status[at] == "late":
                parts.append(
                    f"its {role} {trades[role].iat[i]}'s order (orders row {at}) arrived late, "
                    "refused at the gate"
                )
        return f"trade_id {trades['trade_id'].iat[i]} at {trades['time'].iat[i]}: " + "; ".join(
            parts
        )

    checks.append(
        row_check(
            "trades: every seller and buyer had an order, none refused at the gate",
            "trades",
            refused("seller") | refused("buyer"),
            why,
        )
    )
    return checks
