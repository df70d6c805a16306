"""Market faults: orders that arrive after the ex-ante auction's gate closes.

The day runs the ``ex_ante_auction`` with the gate 5 minutes before each interval
(``market.gate_closure_s``); from 8 h to 14 h the orders of the community (its turbine) and
of two PV homes arrive 30 minutes after they were sent (``market.late_orders``), after the
gate. Those orders must be refused (status ``late``, in no trade), their owners' metered
energy settled at the tariff (``gridtwin verify`` recomputes every bill from the metered
energy and the trades), and the rest of the market must clear. Lost: an order neither cleared,
unmatched nor refused (a status other than ``on_time`` / ``late``), a refused order that
traded, a trade without an order on time, and any micro-euro of the members' net P2P payments
that is not a grid or protocol fee (money not conserved).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from twin.engine import run_scenario
from twin.faults.base import Fault, Outcome, lost_in, scenario

LATE_OWNERS = ("community", "member-0002", "member-0005")
LATE_FROM_H, LATE_H, DELAY_S, GATE_S = 8.0, 6.0, 1800, 300


def _late_orders() -> str:
    rows = ", ".join(
        f'{{participant = "{o}", start_h = {LATE_FROM_H}, duration_h = {LATE_H}, '
        f"delay_s = {DELAY_S}}}"
        for o in LATE_OWNERS
    )
    return f"market.late_orders=[{rows}]"


def orders_after_gate_closure(folder: Path, quick: bool) -> Outcome:
    """Three owners' orders 30 min late for 6 hours: refused, settled at the tariff."""
    sc = scenario(
        'market.rule="ex_ante_auction"', f"market.gate_closure_s={GATE_S}", _late_orders()
    )
    run_scenario(sc, folder / "run")
    run, lost, reasons = lost_in(folder / "run")
    orders, trades, bills = run.table("orders"), run.table("trades"), run.table("bills")
    start = pd.Timestamp(sc.run.start)
    hours = (pd.DatetimeIndex(orders["time"]) - start) / pd.Timedelta(hours=1)
    window = (hours >= LATE_FROM_H) & (hours < LATE_FROM_H + LATE_H)
    who = orders["participant"].astype(str)
    status = orders["status"].astype(str)
    due_late = window & who.isin(LATE_OWNERS).to_numpy()
    late = (status == "late").to_numpy()
    unknown = int((~status.isin(["on_time", "late"])).sum())
    # every trade's seller and buyer: their order in the interval, and its status
    key = pd.MultiIndex.from_arrays([orders["time"], who, orders["side"].astype(str)])
    traded_late, orphans = 0, 0
    for role, side in (("seller", "sell"), ("buyer", "buy")):
        wanted = pd.MultiIndex.from_arrays(
            [trades["time"], trades[role].astype(str), np.full(len(trades), side)]
        )
        at = key.get_indexer(wanted)
        orphans += int((at < 0).sum())
        traded_late += int(late[at[at >= 0]].sum())
    fees = int(trades["grid_fee_micro_eur"].sum() + trades["protocol_fee_micro_eur"].sum())
    unconserved = abs(int(bills["p2p_paid_micro_eur"].sum()) - fees)
    t_hours = (pd.DatetimeIndex(trades["time"]) - start) / pd.Timedelta(hours=1)
    in_window = int(((t_hours >= LATE_FROM_H) & (t_hours < LATE_FROM_H + LATE_H)).sum())
    reasons += [f"{unknown} orders neither cleared, unmatched nor refused"] * bool(unknown)
    reasons += [f"{traded_late} trade sides of refused orders"] * bool(traded_late)
    reasons += [f"{orphans} trade sides without an order"] * bool(orphans)
    reasons += [f"{unconserved} micro-EUR not conserved"] * bool(unconserved)
    observed = (
        f"{int(late.sum())} orders of {', '.join(LATE_OWNERS)} arrived after the gate "
        f"({LATE_FROM_H:g}-{LATE_FROM_H + LATE_H:g} h): refused, in no trade, settled at the "
        f"tariff; {in_window} trades of the others cleared meanwhile; members' net P2P "
        f"payments = fees ({fees:,} micro-EUR)"
    )
    behaved = bool((late == due_late).all()) and int(late.sum()) > 0 and in_window > 0
    behaved &= run.kpis()["orders_late"] == int(late.sum())
    lost += unknown + traded_late + orphans + unconserved
    return Outcome(observed + "".join(f"; {r}" for r in reasons), behaved, lost)


MARKET_FAULTS = {
    f.name: f
    for f in (
        Fault(
            "orders-after-gate-closure",
            "late orders refused and settled at the tariff; the rest clears; money conserved",
            orders_after_gate_closure,
        ),
    )
}
