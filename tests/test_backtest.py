"""Rolling-origin backtests: metrics, the table's shape, no training on the test period, and the
bars on the default community."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from forecasting.backtest import (
    COLUMNS,
    REFERENCE_MODEL,
    backtest_origins,
    default_models,
    error_metrics,
    rolling_origin_backtest,
)
from forecasting.boosting import GlobalGBForecaster
from forecasting.models import DAY_STEPS, Persistence, SeasonalNaive
from twin.backtesting import backtest_series, node_kinds, run_backtest, year_scenario
from twin.build import build, profile_powers

from .conftest import scenario


def synthetic(n_days: int = 40) -> tuple[np.ndarray, pd.DatetimeIndex]:
    times = pd.date_range("2016-02-01T00:00Z", periods=n_days * DAY_STEPS, freq="15min")
    rng = np.random.default_rng(3)
    day = 0.004 * (1.2 + np.sin(2 * np.pi * np.arange(DAY_STEPS) / DAY_STEPS))
    daily = np.tile(day, n_days)  # exactly periodic
    noisy = daily * (1 + 0.05 * rng.standard_normal(len(times)))
    walk = -0.01 * np.abs(1 + np.cumsum(0.03 * rng.standard_normal(len(times))))
    return np.column_stack([daily, noisy, walk]), times


def test_error_metrics_known_values() -> None:
    got = error_metrics(np.array([1.0, -3.0, 2.0, np.nan]), np.array([2.0, -3.0, 0.0, 5.0]))
    assert got["mae"] == pytest.approx(1.0)
    assert got["nmae"] == pytest.approx(1.0 / 2.0)
    assert got["rmse"] == pytest.approx(np.sqrt(5.0 / 3.0))
    assert np.isnan(error_metrics(np.array([np.nan]), np.array([1.0]))["mae"])


def test_backtest_origins_cover_the_test_period() -> None:
    origins = backtest_origins(1000, 750, 96, 10)
    assert origins[0] == 749
    assert origins[-1] + 96 <= 999
    assert np.all(np.diff(origins) == 10)
    with pytest.raises(ValueError, match="shorter"):
        backtest_origins(800, 750, 96, 1)


def test_backtest_table_columns_and_reference_skill() -> None:
    Y, times = synthetic()
    models = default_models()
    models["gb"] = GlobalGBForecaster(max_samples=8_000, max_iter=30, random_state=0)
    local = {"gb_local": GlobalGBForecaster(max_samples=4_000, max_iter=20, random_state=0)}
    table = rolling_origin_backtest(
        Y,
        times,
        ["periodic", "household", "wind"],
        kind=["consumer", "consumer", "wind"],
        models=models,
        local_models=local,
        origin_every_steps=8,
    )
    assert tuple(table.columns) == COLUMNS
    assert set(table["model"]) == {*models, "gb_local"}
    assert set(table["horizon_steps"]) == {1, 4, 96}
    assert len(table) == 3 * 3 * (len(models) + 1)
    ref = table[table["model"] == REFERENCE_MODEL]
    assert (ref["skill"] == 0.0).all()
    rows = table.set_index(["series", "model", "horizon_steps"])
    # seasonal naive is exact on the noiseless daily series, and gb nearly so
    assert rows.loc[("periodic", REFERENCE_MODEL, 96), "mae"] == 0.0
    assert rows.loc[("periodic", "gb", 4), "nmae"] < 0.05
    # gb beats persistence on the noisy daily pattern an hour and a day ahead
    for h in (4, 96):
        assert (
            rows.loc[("household", "gb", h), "mae"]
            < rows.loc[("household", "persistence", h), "mae"]
        )
    assert (table["nmae"] >= 0).all()
    assert (table["rmse"] >= table["mae"] - 1e-15).all()


class Spy(Persistence):
    """Persistence that records what it was fit on and asked about."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def fit(self, y: np.ndarray, times: Any = None, kind: Any = None, scale_mw: Any = None) -> Spy:
        Spy.calls.append({"fit_rows": len(y), "fit_last": times[-1], "kind": list(kind)})
        return super().fit(y, times, kind, scale_mw)

    def predict_origins(
        self, y: np.ndarray, times: Any, origins: np.ndarray, horizons: np.ndarray
    ) -> np.ndarray:
        Spy.calls.append({"origins": origins.copy()})
        return super().predict_origins(y, times, origins, horizons)


def test_backtest_trains_on_the_training_period_only() -> None:
    Y, times = synthetic()
    Spy.calls = []
    pool = np.ones((len(Y), 2))
    rolling_origin_backtest(
        Y,
        times,
        ["a", "b", "c"],
        kind=["x", "y", "z"],
        models={REFERENCE_MODEL: SeasonalNaive(), "spy": Spy()},
        pool=pool,
        pool_kind=["p", "p"],
        train_fraction=0.75,
        origin_every_steps=4,
    )
    train_rows = round(len(Y) * 0.75)
    fit, pred = Spy.calls
    assert fit["fit_rows"] == train_rows
    assert fit["fit_last"] == times[train_rows - 1]
    assert fit["kind"] == ["x", "y", "z", "p", "p"]  # pooled with the extra series
    assert pred["origins"].min() == train_rows - 1  # forecasts issued in the test period


def test_backtest_series_of_the_default_community() -> None:
    twin = build(year_scenario(scenario()))
    assert len(twin.times) == 366 * DAY_STEPS
    assert twin.times[0] == pd.Timestamp("2016-01-01T00:00Z")
    p, _ = profile_powers(twin, 2 * DAY_STEPS)
    Y, names, kinds, pool, pool_kinds = backtest_series(twin, p)
    assert names == ["household", "aggregate", "pv", "wind"]
    table = twin.nodes.table
    consumers = (table["kind"] == "consumer").to_numpy()
    np.testing.assert_allclose(Y[:, 1], p[:, consumers].sum(axis=1))
    assert kinds[0].startswith("consumer:H0")
    assert kinds[1:] == ["aggregate", "solar", "wind"]
    assert (Y[:, 0] >= 0).all()
    assert (Y[:, 2] <= 0).all()
    assert (Y[:, 3] <= 0).all()
    n_battery = int((table["kind"] == "battery").sum())
    assert pool.shape[1] == len(table) - n_battery - 3  # every other profile node
    assert set(node_kinds(twin.nodes)) >= {"solar", "wind", "battery"}
    assert len(pool_kinds) == pool.shape[1]


@pytest.mark.slow
def test_default_community_meets_the_bars() -> None:
    """The accuracy bars of the forecasting issue, on the default community (about 30 s)."""
    table = run_backtest(scenario())
    rows = table.set_index(["series", "model", "horizon_steps"])
    assert (rows.xs(REFERENCE_MODEL, level="model")["skill"] == 0.0).all()
    assert rows.loc[("aggregate", "gb", 4), "nmae"] <= 0.12
    assert rows.loc[("aggregate", "gb", 96), "nmae"] <= 0.14
    for series in ("household", "aggregate"):
        assert rows.loc[(series, "gb", 4), "skill"] >= 0.30
    assert rows.loc[("pv", "gb", 4), "skill"] >= 0.50
    for series in ("household", "aggregate", "pv", "wind"):
        assert rows.loc[(series, "gb", 1), "mae"] < rows.loc[(series, "persistence", 1), "mae"]


@pytest.mark.slow
def test_cli_backtest_writes_the_table(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from twin.cli import app

    result = CliRunner().invoke(
        app, ["backtest", "scenarios/default.toml", "--no-local", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(tmp_path / "backtest.parquet")
    assert list(frame.columns) == [
        "series",
        "model",
        "horizon_steps",
        "mae",
        "nmae",
        "rmse",
        "skill",
    ]
    assert set(frame["series"]) == {"household", "aggregate", "pv", "wind"}
