"""A trade curtailed to 0 Wh stays in the ``trades`` table: curtailed trade energy is
traceable trade by trade."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import ROOT
from twin.engine import run_scenario
from twin.results import open_run
from twin.scenario import load_scenario


def test_curtailed_trades_are_kept_with_their_energy_cut(tmp_path: Path) -> None:
    sc = load_scenario(
        ROOT / "scenarios" / "stressed.toml",
        [
            "run.days=1",
            "run.start=2016-06-09T00:00:00Z",
            'market.rule="ex_ante_auction"',
            "devices.enabled=false",
        ],
    )
    run = open_run(run_scenario(sc, tmp_path / "run").path)
    trades = run.table("trades")
    kpis = run.kpis()
    assert kpis["curtailed_trade_wh"] > 0  # the stressed feeder curtails at midday
    ids = np.sort(trades["trade_id"].to_numpy())
    assert (ids == np.arange(len(ids))).all()  # no trade id missing
    assert int(trades["curtailed_wh"].sum()) == kpis["curtailed_trade_wh"]
    cut_to_zero = trades[trades["energy_wh"] == 0]
    assert len(cut_to_zero) > 0
    assert (cut_to_zero["payment_micro_eur"] == 0).all()
    assert (cut_to_zero["curtailed_wh"] > 0).all()
    assert kpis["trades"] == (trades["energy_wh"] > 0).sum()  # the KPI counts delivered trades
