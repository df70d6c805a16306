"""The dashboard's figure builders: pure functions of results-store frames, no browser.

The grid page's map and its static tables: ``tests/test_grid_map.py``.
"""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from figures.common import (
    as_utc,
    empty_figure,
    energy_by_source,
    frame_rows,
    headline_kpis,
    kpi_rows,
    run_rows,
    time_marks,
)
from figures.compare import compare_figure, compare_rows
from figures.forecasts import (
    backtest_rows,
    error_by_horizon,
    error_rows,
    forecast_errors,
    forecast_figure,
    horizon_label,
)
from figures.market import (
    busiest_interval,
    market_cards,
    order_book_figure,
    price_volume_figure,
    purchases_figure,
    savings_figure,
)
from figures.settlement import (
    REWARD_COLUMN,
    STATE_COLOURS,
    batch_rows,
    gas_figure,
    reading_status_rows,
    reward_rows,
    rewards_figure,
)
from figures.tokens import format_tokens, token_sum, tokens
from settlement.chain.ledger import STATES
from settlement.depin.client import REWARD_DECIMALS
from settlement.depin.verdict import STATUSES
from tests.dashboard_fixtures import fraud_run
from twin.results import RunFolder

T0 = pd.Timestamp("2016-06-06T00:00:00Z")


def test_energy_by_source_sums_each_kind(day_run: RunFolder) -> None:
    power, nodes = day_run.table("node_power"), day_run.table("nodes")
    exchange = day_run.table("grid_exchange")
    before = power.copy()
    fig = energy_by_source(power, nodes, exchange)
    pd.testing.assert_frame_equal(power, before)  # inputs are not changed
    traces = {t.name: t for t in fig.data}
    assert {"consumer", "solar", "wind", "grid import"} <= set(traces)
    consumers = set(nodes.loc[nodes["kind"] == "consumer", "node_id"])
    expected = power[power["node_id"].astype(str).isin(consumers)].groupby("time")["p_mw"].sum()
    np.testing.assert_allclose(np.asarray(traces["consumer"].y), expected.to_numpy())
    np.testing.assert_allclose(np.asarray(traces["grid import"].y), exchange["import_mw"])


def test_run_rows_and_kpi_tables(day_run: RunFolder) -> None:
    rows = run_rows([day_run])
    assert rows[0]["run"] == day_run.path.name
    assert 0 <= float(rows[0]["self-sufficiency"]) <= 1
    given = run_rows([day_run], [{"self_sufficiency": 0.5, "p2p_share": float("nan")}])
    assert given[0]["self-sufficiency"] == 0.5
    assert given[0]["P2P share"] is None  # NaN is not JSON
    names = {r["name"] for r in kpi_rows(day_run.table("kpis"))}
    assert {"self_sufficiency", "peak_import_mw", "violations"} <= names


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """One day of the fraud scenario: batches, readings of every verdict, rewards."""
    return fraud_run(tmp_path_factory)


def test_headline_kpis_add_gas_and_rewards_when_present(fraud: RunFolder) -> None:
    kpis = {"self_sufficiency": 0.25, "peak_import_mw": 0.05, "violations": 0.0}
    plain = headline_kpis(kpis)
    assert [c["label"] for c in plain] == ["self-sufficiency", "peak import", "limit violations"]
    assert plain[0]["value"] == "25.0"
    assert plain[0]["unit"] == "%"
    assert plain[1]["value"] == "50.0"
    assert plain[1]["unit"] == "kW"
    batches, rewards = fraud.table("batches"), fraud.table("rewards")
    cards = {c["label"]: c for c in headline_kpis(kpis, batches, rewards)}
    gas = batches["gas_used"].sum() / batches["trade_count"].sum()
    assert cards["commit gas per trade"]["value"] == f"{gas:,.0f}"  # from the batches
    assert cards["rewards paid"]["unit"] == "tokens"
    paid = Decimal(cards["rewards paid"]["value"].replace(",", ""))
    assert paid.scaleb(REWARD_DECIMALS) == int(rewards["amount"].sum())  # exact: every decimal
    assert cards["rewards paid"]["value"] == format_tokens(int(rewards["amount"].sum()))
    run_kpi = {**kpis, "commit_gas_per_trade": 187.6}
    cards = {c["label"]: c for c in headline_kpis(run_kpi, batches)}
    assert cards["commit gas per trade"]["value"] == "188"  # the run's KPI first
    older = {c["label"]: c for c in headline_kpis({**kpis, "gas_per_trade": 12.4})}
    assert older["commit gas per trade"]["value"] == "12"


def test_token_amounts_are_shown_in_tokens() -> None:
    assert REWARD_DECIMALS == 6
    assert format_tokens(4_999_999_933) == "4,999.999933"
    assert format_tokens(1) == "0.000001"
    assert format_tokens(0) == "0.000000"
    assert tokens(3 * 10**19 + 7) == Decimal("30000000000000.000007")  # exact beyond 2**64
    assert token_sum(pd.Series([2**70, "3", None, "x"])) == 2**70 + 3


def test_time_marks_and_times() -> None:
    times = pd.date_range(T0, periods=96 * 30, freq="15min")
    marks = time_marks(times, max_marks=10)
    assert 5 <= len(marks) <= 10
    assert marks[0] == "06-06"
    assert all(times[i].hour == 0 and times[i].minute == 0 for i in marks)
    day = time_marks(times[:96])
    assert day[0] == "00:00"
    assert len(day) <= 12
    assert time_marks(pd.DatetimeIndex([], tz="UTC")) == {}
    assert as_utc("2016-06-06 12:00") == T0 + pd.Timedelta(hours=12)
    assert as_utc("2016-06-06T14:00:00+02:00") == T0 + pd.Timedelta(hours=12)


def test_frame_rows_are_json() -> None:
    frame = pd.DataFrame(
        {"time": [T0], "x": [np.nan], "k": pd.Categorical(["a"]), "n": [np.int64(3)]}
    )
    rows = frame_rows(frame)
    assert rows == [{"time": "2016-06-06 00:00", "x": None, "k": "a", "n": 3}]
    assert json.loads(json.dumps(rows)) == rows


def test_empty_figure_says_why() -> None:
    fig = empty_figure("nothing here")
    assert fig.layout.annotations[0].text == "nothing here"


def _forecasts(error_kw: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    times = pd.date_range(T0, periods=8, freq="15min")
    actual = np.linspace(1, 8, 8) / 1000
    frames = []
    for node in ("load-0", "pv-0"):
        for h in (1, 4):
            frames.append(
                pd.DataFrame(
                    {
                        "time": times,
                        "issued": times,
                        "node_id": node,
                        "horizon_steps": h,
                        "predicted_mw": actual + error_kw * h / 1000,
                        "actual_mw": actual,
                    }
                )
            )
    nodes = pd.DataFrame({"node_id": ["load-0", "pv-0"], "kind": ["consumer", "solar"]})
    return pd.concat(frames, ignore_index=True), nodes


def test_forecast_errors_known_values() -> None:
    forecasts, nodes = _forecasts(error_kw=0.5)
    errors = forecast_errors(forecasts, nodes)
    assert list(errors["kind"]) == ["consumer", "consumer", "solar", "solar"]
    h4 = errors[errors["horizon_steps"] == 4]
    np.testing.assert_allclose(h4["mae_kw"], 2.0)  # 0.5 kW x 4 steps
    np.testing.assert_allclose(h4["rmse_kw"], 2.0)
    np.testing.assert_allclose(h4["bias_kw"], 2.0)
    np.testing.assert_allclose(h4["nmae"], 2.0 / 4.5)  # mean |actual| = 4.5 kW
    assert error_rows(errors, 900)[1]["horizon"] == "1 h"
    fig = error_by_horizon(errors, 900)
    assert {t.name for t in fig.data} == {"consumer", "solar"}
    assert list(fig.data[0].x) == ["15 min", "1 h"]


def test_forecast_figure_and_horizons() -> None:
    forecasts, _ = _forecasts(error_kw=0.0)
    rows = forecasts[forecasts["node_id"] == "pv-0"]
    fig = forecast_figure(rows, None, "pv-0", 900)
    assert [t.name for t in fig.data] == ["actual", "forecast 15 min ahead", "forecast 1 h ahead"]
    actual = pd.Series([0.001, 0.002], index=rows["time"].iloc[:2])
    fig = forecast_figure(rows, actual, "pv-0", 900)
    np.testing.assert_allclose(np.asarray(fig.data[0].y), [1.0, 2.0])  # kW
    assert horizon_label(96, 900) == "24 h"
    assert horizon_label(3, 900) == "45 min"


def test_backtest_rows_one_row_per_series_and_model() -> None:
    frame = pd.DataFrame(
        {
            "series": ["pv", "pv", "pv", "pv"],
            "model": ["gb", "gb", "naive", "naive"],
            "horizon_steps": [1, 4, 1, 4],
            "nmae": [0.1, 0.2, 0.3, 0.4],
            "skill": [0.5, 0.4, 0.0, 0.0],
        }
    )
    rows = backtest_rows(frame, 900)
    assert rows[0] == {
        "series": "pv",
        "model": "gb",
        "nMAE 15 min": 0.1,
        "skill 15 min": 0.5,
        "nMAE 1 h": 0.2,
        "skill 1 h": 0.4,
    }
    assert len(rows) == 2


def test_order_book_curves_step_through_the_merit_order() -> None:
    orders = pd.DataFrame(
        {
            "participant": ["a", "b", "c", "d"],
            "side": ["sell", "sell", "buy", "buy"],
            "energy_wh": [1000, 500, 800, 400],
            "limit_price_eur_per_mwh": [100.0, 80.0, 300.0, 320.0],
        }
    )
    fig = order_book_figure(orders, 200.0, 1200.0, "t")
    supply, demand = fig.data
    assert list(supply.y) == [80.0, 80.0, 100.0, 100.0]  # cheapest ask first
    assert list(supply.x) == [0.0, 0.5, 0.5, 1.5]  # kWh
    assert list(demand.y) == [320.0, 320.0, 300.0, 300.0]  # highest bid first
    assert list(demand.x) == [0.0, 0.4, 0.4, 1.2]
    assert fig.layout.shapes[0].y0 == 200.0
    empty = order_book_figure(orders.iloc[:0], None, 0.0, "t")
    assert not empty.data


def test_market_figures(day_run: RunFolder) -> None:
    intervals = day_run.table("intervals")
    i = busiest_interval(intervals)
    assert intervals["traded_wh"].iloc[i] == intervals["traded_wh"].max()
    fig = price_volume_figure(intervals, intervals["time"].iloc[i])
    assert pd.Timestamp(fig.layout.shapes[0].x0) == intervals["time"].iloc[i]
    bills = day_run.table("bills")
    savings = savings_figure(bills)
    expected = np.sort((bills["baseline_cost_micro_eur"] - bills["cost_micro_eur"]) / 1e6)[::-1]
    np.testing.assert_allclose(np.asarray(savings.data[0].y), expected)
    purchases = purchases_figure(bills)
    assert sum(purchases.data[0].y) == pytest.approx(bills["p2p_bought_wh"].sum() / 1000)
    cards = market_cards({"p2p_share": 0.25, "savings_eur": 12.4})
    assert [c["value"] for c in cards] == ["25.0", "12"]


def test_compare_two_runs(day_run: RunFolder) -> None:
    kpis = day_run.table("kpis")
    other = kpis.assign(value=kpis["value"] * 2)
    rows = {r["name"]: r for r in compare_rows(kpis, other)}
    ss = float(kpis.set_index("name").at["self_sufficiency", "value"])
    assert rows["self_sufficiency"]["B - A"] == pytest.approx(ss, abs=1e-6)
    exchange = day_run.table("grid_exchange")
    fig = compare_figure(exchange, exchange, kpis, other, ("a", "b"))
    curve = np.asarray(fig.data[0].y)
    assert (np.diff(curve) <= 0).all()  # a duration curve falls
    assert curve[0] == pytest.approx(exchange["import_mw"].max() * 1000)


def test_settlement_builders(fraud: RunFolder) -> None:
    batches, readings, rewards = (fraud.table(t) for t in ("batches", "readings", "rewards"))
    assert set(STATE_COLOURS) == set(STATES)
    rows = batch_rows(batches)
    assert list(rows[0])[:4] == ["batch_id", "first_time", "last_time", "trade_count"]
    assert json.loads(json.dumps(rows)) == rows
    assert [r["trade_count"] for r in rows] == list(batches["trade_count"])
    gas = gas_figure(batches)
    assert {t.name for t in gas.data} == set(batches["state"]) <= set(STATES)
    assert sum(sum(t.y) for t in gas.data) == batches["gas_used"].sum()
    assert sum(len(t.x) for t in gas.data) == len(batches)  # one bar a batch
    assert gas.data[0].x[0].startswith(f"#{batches['batch_id'].iloc[0]} ")
    statuses = reading_status_rows(readings)
    assert sum(r["readings"] for r in statuses) == len(readings)
    assert {r["status"] for r in statuses} <= set(STATUSES)
    assert len(statuses) > 1  # the journal rejects the attacks
    shown = reward_rows(rewards)
    by_device = rewards.groupby("device_address")["amount"].sum()
    assert len(shown) == len(by_device)
    for row in shown:
        amount = by_device[row["device_address"]]
        assert row[REWARD_COLUMN] == format_tokens(int(amount))
        assert (
            row["epochs"]
            == rewards.loc[rewards["device_address"] == row["device_address"], "epoch"].nunique()
        )
    paid = [Decimal(r[REWARD_COLUMN].replace(",", "")) for r in shown]
    assert paid == sorted(paid, reverse=True)  # largest first
    figure = rewards_figure(rewards)
    assert len(figure.data) == rewards["epoch"].nunique()  # one trace an epoch
    assert figure.layout.yaxis.title.text == "rewards [tokens]"
    assert sum(sum(t.y) for t in figure.data) == pytest.approx(
        rewards["amount"].sum() / 10**REWARD_DECIMALS
    )
