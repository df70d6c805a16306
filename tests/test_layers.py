"""The Layer protocol: the engine steps, feeds and finishes every layer in order, and the
settlement arithmetic the layers share is written once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import simpy

import twin.engine
from settlement.chain.batches import batch_intervals, batch_of, plan_batch
from settlement.market.bills import net_payments
from settlement.units import mw_to_wh
from tests.conftest import scenario
from twin.layers.base import Chunk, Layer, LayerOutput, Process
from twin.layers.context import LayerContext
from twin.layers.registry import RUN_ORDER, layer_factories, run_order
from twin.results import open_run


class Recorder:
    """A layer that records what the engine hands it (name ``devices``: last in the order)."""

    name = "devices"

    def __init__(self, ctx: LayerContext) -> None:
        self.steps: list[int] = []
        self.chunks: list[tuple[int, int, int]] = []
        self.ticks: list[float] = []
        self.finished = False

    def start(self, env: simpy.Environment) -> list[Process]:
        def tick() -> Process:
            for _hour in range(48):  # a process that ends: the run ends when nothing is left
                self.ticks.append(env.now)
                yield env.timeout(3600)

        return [tick()]

    def step(self, k: int, p_mw: np.ndarray) -> None:
        self.steps.append(k)

    def add(self, chunk: Chunk) -> None:
        assert chunk.trades is not None  # the market layer ran before
        self.chunks.append((chunk.first, chunk.size, len(chunk.trades.trade_id)))

    def finish(self) -> LayerOutput:
        self.finished = True
        return LayerOutput(
            kpis={"recorded_chunks": (float(len(self.chunks)), "count")},
            manifest={"chain": {"recorder": True}},
        )


def test_engine_runs_a_layer_it_does_not_know(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made: list[Recorder] = []

    def factories(ctx: LayerContext) -> list[tuple[str, object]]:
        def build(c: LayerContext, built: Mapping[str, Layer]) -> Layer:
            made.append(Recorder(c))
            return made[-1]

        return [*layer_factories(ctx)[:1], ("devices", build)]  # market (+ dispatch) only

    monkeypatch.setattr(twin.engine, "layer_factories", factories)
    sc = scenario(
        "run.days=2", "forecasting.battery_control=self_consumption", "chain.batch_hours=12"
    )
    result = twin.engine.run_scenario(sc, tmp_path / "run")
    rec = made[0]
    n = sc.run.n_intervals
    assert rec.steps == list(range(n))
    # chunks of 12 h, consecutive, covering the run, every trade handed on
    assert [c[:2] for c in rec.chunks] == [(i * 48, 48) for i in range(4)]
    run = open_run(result.path)
    assert sum(c[2] for c in rec.chunks) == len(run.table("trades"))
    assert rec.ticks == [3600.0 * h for h in range(48)]
    assert rec.finished
    assert result.kpis["recorded_chunks"] == (4.0, "count")
    assert run.manifest["chain"] == {"recorder": True}
    assert "devices" in result.timings_s


def test_run_order_is_the_registry_order() -> None:
    ctx_names = [name for name, _ in layer_factories(_ctx())]
    # built in this order (the devices slash to the economy's treasury), run in RUN_ORDER
    assert ctx_names == ["dispatch", "market", "chain", "economy", "devices"]
    fake = {name: object() for name in RUN_ORDER}
    assert run_order(fake) == [fake[n] for n in RUN_ORDER]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="edge"):
        run_order({**fake, "edge": object()})  # type: ignore[dict-item]


def _ctx() -> LayerContext:
    class _Stub:
        scenario = scenario()

        class twin:  # noqa: N801
            forecast_policy = object()
            flex = None

    return _Stub()  # type: ignore[return-value]


def test_net_payments_sum_to_zero_and_pay_the_grid_operator() -> None:
    rng = np.random.default_rng(3)
    buyer, seller = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    pay = rng.integers(0, 10**6, 200)
    fee = rng.integers(0, 10**4, 200)
    group = rng.integers(0, 7, 200)
    net = net_payments(buyer, seller, pay, fee, 5, group, 7)
    assert net.shape == (7, 6)
    assert (net.sum(axis=1) == 0).all()
    assert net[:, 5].sum() == fee.sum()  # the grid operator's column
    # one participant's receipt, by hand
    mine = pay[seller == 2].sum() - fee[seller == 2].sum() - pay[buyer == 2].sum()
    assert net[:, 2].sum() == mine
    with pytest.raises(ValueError, match="buyer index"):
        net_payments(np.array([5]), np.array([0]), np.array([1]), np.array([0]), 5)


def test_batches_fit_the_interval_or_are_refused() -> None:
    assert batch_intervals(1, 900) == 4
    assert batch_intervals(168, 3600) == 168
    with pytest.raises(ValueError, match="batch_hours=1"):
        batch_intervals(1, 7200)
    with pytest.raises(ValueError, match="whole number"):
        batch_intervals(1, 2700)
    assert batch_of(np.array([0, 3, 4, 9]), 4).tolist() == [0, 0, 1, 2]


def test_a_batch_commits_its_net_payments() -> None:
    a, b, c, op = ("0x" + ch * 40 for ch in "abcd")
    addresses = [a, b, c, op]
    plan = plan_batch(
        0,
        trade_id=np.array([0, 1]),
        seller=np.array([0, 1]),
        buyer=np.array([2, 2]),
        energy_wh=np.array([100, 50]),
        payment_micro_eur=np.array([20_000, 10_000]),
        grid_fee_micro_eur=np.array([1_000, 0]),
        addresses=addresses,
    )
    assert dict(zip(plan.accounts, plan.amounts_micro_eur, strict=True)) == {
        a: 19_000,
        b: 10_000,
        c: -30_000,
        op: 1_000,
    }
    assert plan.energy_wh == 150
    assert plan.buyers == [c, c]


def test_mw_to_wh_is_the_one_rounding() -> None:
    p = np.array([0.001, -0.0042, 1e-9, 0.0])
    assert mw_to_wh(p, 900).tolist() == [250, -1050, 0, 0]
    assert mw_to_wh(np.array([[0.004]]), 3600).dtype == np.int64


def test_energy_balance_of_a_layered_run(day_run) -> None:  # type: ignore[no-untyped-def]
    """Sum of node powers plus losses equals the import at the slack, every interval."""
    power = day_run.table("node_power").groupby("time")["p_mw"].sum()
    ex = day_run.table("grid_exchange").set_index("time")
    ok = day_run.table("intervals").set_index("time")["converged"]
    gap = (power + ex["losses_mw"] - ex["import_mw"])[ok]
    assert len(gap) == 96
    assert float(np.abs(gap).max()) < 1e-6
    trades = day_run.table("trades")
    bills = day_run.table("bills")
    assert int(bills["p2p_bought_wh"].sum()) == int(trades["energy_wh"].sum())
    assert isinstance(trades["time"].iloc[0], pd.Timestamp)


def test_a_reverted_transaction_names_the_layer_and_the_call(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A revert inside the run (here: an epoch's rewards sent twice) ends it with the layer,
    the call and the contract function named, and leaves no finished run folder, only the
    partial one with its journal (SimPy's re-raise
    used to turn such an error into an unrelated TypeError)."""
    from settlement.depin.client import DepinContracts

    send = DepinContracts.distribute

    def twice(self: DepinContracts, *args: object, **kwargs: object) -> object:
        send(self, *args, **kwargs)  # type: ignore[arg-type]
        return send(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(DepinContracts, "distribute", twice)
    out = tmp_path / "results" / "run"
    with pytest.raises(twin.engine.LayerError) as info:
        twin.engine.run_scenario(scenario("run.days=1", "devices.epoch_days=1"), out)
    message = str(info.value)
    assert "layer 'devices' failed in add" in message
    assert "TransactionRevertedError" in message
    assert "distribute" in message
    assert not out.exists()  # nothing that looks like a finished run
    kept = list((tmp_path / "results").iterdir())  # the partial run, its journal kept
    assert [p.name.startswith(".run.partial-") for p in kept] == [True]
    assert (kept[0] / "ledger.sqlite").is_file()
    assert not (kept[0] / "manifest.json").exists()


class _Failing(Recorder):
    """A recorder that holds a resource released through ``ctx.closing``, and fails in its
    second chunk."""

    def __init__(self, ctx: LayerContext, released: list[str]) -> None:
        super().__init__(ctx)
        ctx.closing.callback(released.append, "worker")

    def add(self, chunk: Chunk) -> None:
        super().add(chunk)
        if len(self.chunks) == 2:
            raise RuntimeError("meter firmware crashed")


def test_what_a_layer_holds_is_released_when_the_run_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A layer's worker processes (``LayerContext.closing``) are released however the run
    ends: here a failure in the middle of the run."""
    released: list[str] = []

    def factories(ctx: LayerContext) -> list[tuple[str, object]]:
        def build(c: LayerContext, built: Mapping[str, Layer]) -> Layer:
            return _Failing(c, released)

        return [*layer_factories(ctx)[:1], ("devices", build)]

    monkeypatch.setattr(twin.engine, "layer_factories", factories)
    sc = scenario(
        "run.days=2", "forecasting.battery_control=self_consumption", "chain.batch_hours=12"
    )
    with pytest.raises(twin.engine.LayerError, match="meter firmware crashed"):
        twin.engine.run_scenario(sc, tmp_path / "run")
    assert released == ["worker"]
