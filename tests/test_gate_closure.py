"""Gate closure of the ex-ante auction: orders that arrive after the gate are refused, kept in
``orders`` as ``late``, trade nothing, and their owners' metered energy settles at the tariff;
money is conserved and a run without late orders is the run it was before the gate existed.

One day of the default community on the ``ex_ante_auction`` with the gate 300 s before each
interval: member-0000's orders arrive 700 s after they are sent all day (late: the gate is
900 - 300 = 600 s after sending), the community's 1,800 s late from 8 h to 14 h, and
member-0001's exactly at the gate all day (on time).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from settlement.market.auction import Orders
from settlement.market.gate import LATE, ON_TIME, apply_gate
from settlement.market.tariff import tariff_prices, utility_bill
from settlement.units import mw_to_wh
from tests.conftest import DEFAULT, scenario
from twin.cli import app
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, TariffsConfig
from twin.verify import verify_run

EX_ANTE = ["run.days=1", "chain.batch_hours=6", 'market.rule="ex_ante_auction"']
GATE = "market.gate_closure_s=300"
LATE_ORDERS = (
    "market.late_orders=["
    '{participant = "member-0000", start_h = 0.0, duration_h = 24.0, delay_s = 700}, '
    '{participant = "community", start_h = 8.0, duration_h = 6.0, delay_s = 1800}, '
    '{node_id = "pv-1", start_h = 0.0, duration_h = 24.0, delay_s = 600}]'
)
#: The same day before orders had a gate (measured at 7f82763): the community's cost with
#: the market [EUR] and its trades [count].
BEFORE_COST_EUR, BEFORE_TRADES = 299.666252, 2417


@pytest.fixture(scope="module")
def late_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("gate") / "late"
    return open_run(run_scenario(scenario(*EX_ANTE, GATE, LATE_ORDERS), out).path)


@pytest.fixture(scope="module")
def gated_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("gate") / "on-time"
    return open_run(run_scenario(scenario(*EX_ANTE, GATE), out).path)


def _late(orders: pd.DataFrame) -> pd.DataFrame:
    return orders[orders["status"].astype(str) == "late"]


def test_the_gate_refuses_what_arrives_after_it_and_keeps_what_arrives_at_it() -> None:
    orders = Orders(
        participant=np.array([0, 1, 2]),
        side=np.array([1, -1, 1], dtype=np.int8),
        energy_wh=np.array([10, 30, 5]),
        limit_eur_per_mwh=np.array([300.0, 80.0, 300.0]),
    )
    delay = np.array([0, 600, 601])  # the gate: 900 - 300 = 600 s after sending
    gated = apply_gate(orders, 9000, 900, delay, 300)
    assert gated.status.tolist() == [ON_TIME, ON_TIME, LATE]
    assert gated.submitted_s.tolist() == [8100, 8700, 8701]
    assert gated.on_time.participant.tolist() == [0, 1]


def test_late_orders_are_kept_with_their_status_and_submission_time(late_run: RunFolder) -> None:
    orders = late_run.table("orders")
    who = orders["participant"].astype(str)
    hours = (orders["time"] - orders["time"].min()) / pd.Timedelta(hours=1)
    due_late = (who == "member-0000") | ((who == "community") & (hours >= 8) & (hours < 14))
    assert (orders["status"].astype(str) == np.where(due_late, "late", "on_time")).all()
    assert due_late.sum() > 24
    delay = np.select(
        [who == "member-0000", due_late, who == "member-0001"], [700, 1800, 600], default=0
    )
    sent = orders["time"] - pd.Timedelta(seconds=900)
    assert (orders["submitted"] == sent + pd.to_timedelta(delay, unit="s")).all()
    assert late_run.kpis()["orders_late"] == due_late.sum()


def test_refused_orders_trade_nothing_and_the_rest_clears(late_run: RunFolder) -> None:
    orders, trades = late_run.table("orders"), late_run.table("trades")
    late = set(zip(_late(orders)["time"], _late(orders)["participant"].astype(str), strict=True))
    sides = [
        set(zip(trades["time"], trades[role].astype(str), strict=True))
        for role in ("seller", "buyer")
    ]
    assert late
    assert not late & (sides[0] | sides[1])
    window = trades["time"].isin(_late(orders).loc[lambda o: o["participant"] == "community"].time)
    assert window.sum() > 0  # the others trade while the community's orders are refused
    on_time = orders[orders["participant"].astype(str) == "member-0001"]
    assert (on_time["status"].astype(str) == "on_time").all()


def test_a_late_owner_settles_its_metered_energy_at_the_tariff(late_run: RunFolder) -> None:
    """member-0000 is late all day: its bill is the tariff on its metered energy, exactly."""
    nodes, power = late_run.table("nodes"), late_run.table("node_power")
    mine = nodes.loc[nodes["owner"] == "member-0000", "node_id"].astype(str)
    p = power[power["node_id"].astype(str).isin(mine)].groupby("time")["p_mw"].sum()
    metered_wh = mw_to_wh(p.to_numpy(), 900)
    tariffs = TariffsConfig.model_validate(late_run.manifest["config"]["tariffs"])
    retail, feed_in = tariff_prices(pd.DatetimeIndex(p.index).hour.to_numpy(), tariffs)
    imp, exp, cost = utility_bill(metered_wh, retail, feed_in)
    bill = late_run.table("bills").set_index("owner").loc["member-0000"]
    assert bill["p2p_bought_wh"] == bill["p2p_sold_wh"] == bill["p2p_paid_micro_eur"] == 0
    assert bill["cost_micro_eur"] == bill["baseline_cost_micro_eur"] == int(cost.sum())
    assert (bill["import_wh"], bill["export_wh"]) == (int(imp.sum()), int(exp.sum()))


def test_money_is_conserved_and_the_run_verifies(late_run: RunFolder) -> None:
    trades, bills = late_run.table("trades"), late_run.table("bills")
    fees = trades["grid_fee_micro_eur"].sum() + trades["protocol_fee_micro_eur"].sum()
    assert bills["p2p_paid_micro_eur"].sum() == fees  # members pay, net, only the fees
    assert (bills["p2p_bought_wh"].sum(), bills["p2p_sold_wh"].sum()) == (
        trades["energy_wh"].sum(),
        trades["energy_wh"].sum(),
    )
    failed = [c for c in verify_run(late_run.path) if not c.ok]
    assert not failed, failed


def test_a_gate_without_late_orders_changes_nothing(gated_run: RunFolder) -> None:
    """No order is late: the day trades and costs what it did before orders had a gate."""
    orders = gated_run.table("orders")
    assert (orders["status"].astype(str) == "on_time").all()
    kpis = gated_run.kpis()
    assert kpis["orders_late"] == 0
    assert kpis["community_cost_eur"] == pytest.approx(BEFORE_COST_EUR, abs=1e-6)
    assert len(gated_run.table("trades")) == kpis["trades"] == BEFORE_TRADES


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ([GATE.replace("300", "900")], "market.gate_closure_s: 900 s leaves no time to order"),
        ([LATE_ORDERS.replace("delay_s = 700", "delay_s = 0")], "market.late_orders.0.delay_s"),
        (
            ["market.late_orders=[{start_h = 0.0, duration_h = 1.0, delay_s = 60}]"],
            "give exactly one of participant or node_id",
        ),
        (
            [
                'market.late_orders=[{participant = "community", start_h = 30.0, duration_h = 1.0, '
                "delay_s = 60}]"
            ],
            "market.late_orders[0].start_h: 30.0 h is not within the run's 24 h",
        ),
    ],
)
def test_bad_gate_keys_are_refused_naming_file_and_key(overrides: list[str], key: str) -> None:
    with pytest.raises(ScenarioError) as err:
        scenario(*EX_ANTE, *overrides)
    assert str(err.value).startswith(str(DEFAULT))
    assert key in str(err.value)


def test_late_orders_need_the_ex_ante_auction() -> None:
    with pytest.raises(ScenarioError, match=r"market.late_orders: market.rule = 'mid_market'"):
        scenario("run.days=1", LATE_ORDERS)


@pytest.mark.parametrize(
    ("late", "message"),
    [
        ('{participant = "member-9999"', "market.late_orders[0].participant: no participant"),
        ('{node_id = "pv-99999"', "market.late_orders[0].node_id: no node 'pv-99999'"),
    ],
)
def test_an_unknown_owner_or_node_is_refused_before_the_run(
    tmp_path: Path, late: str, message: str
) -> None:
    window = f"market.late_orders=[{late}, start_h = 1.0, duration_h = 1.0, delay_s = 900}}]"
    out = tmp_path / "run"
    args = ["run", str(DEFAULT), "--days", "1", "--out", str(out), "--set", EX_ANTE[2]]
    result = CliRunner().invoke(app, [*args, "--set", window])
    assert result.exit_code == 2
    assert f"{DEFAULT}: {message}" in " ".join(result.output.split())
    assert not out.exists()
