"""Forecasting at the edge (``forecasting.placement``): each device's model learns from its own
series only; the default, central placement is the pooled model as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.boosting import GlobalGBForecaster
from forecasting.edge import EdgeForecasters, model_bytes
from forecasting.factory import edge_gb, make_forecaster
from tests.conftest import DEFAULT, scenario
from twin.engine import run_scenario
from twin.results import open_run
from twin.scenario import ScenarioError, load_scenario

DAY = 96


def panel(n_days: int = 16, seed: int = 0) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Three households' daily shapes with noise [MW], 15-min rows from 2016-05-01 UTC."""
    times = pd.date_range("2016-05-01", periods=n_days * DAY, freq="15min", tz="UTC")
    step = np.arange(len(times))
    rng = np.random.default_rng(seed)
    shape = np.sin(2 * np.pi * step / DAY)[:, None] * np.array([0.2, 0.1, -0.15])
    y = 0.3 + shape + 0.05 * rng.standard_normal((len(times), 3))
    return y * 1e-3, times


def small_gb() -> GlobalGBForecaster:
    model = edge_gb(trees=5, learning_rate=0.3, seed=7)
    model.set_params(max_samples=600)
    return model


def test_each_device_forecasts_from_its_own_series_only() -> None:
    y, times = panel()
    other = y.copy()
    other[:, 1] = other[:, 1] * 3 + 1e-3  # another device's history, very different
    origins, horizons = np.array([len(y) - 1, len(y) - 50]), np.array([1, 4, 96])
    kind = ["consumer:a", "consumer:b", "consumer:c"]
    fc = EdgeForecasters(small_gb()).fit(y, times, kind)
    fc_other = EdgeForecasters(small_gb()).fit(other, times, kind)
    a = fc.predict_origins(y, times, origins, horizons)
    b = fc_other.predict_origins(other, times, origins, horizons)
    assert a.shape == (2, 3, 3)
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a[:, [0, 2]], b[:, [0, 2]])  # devices 0 and 2 unmoved
    assert not np.allclose(a[:, 1], b[:, 1])
    # a subset of the series, as the dispatch policy asks for them
    np.testing.assert_array_equal(
        fc.predict_origins(y, times, origins, horizons, np.array([2]))[:, 0], a[:, 2]
    )
    # the pooled model, by contrast, learns from every series
    pooled_a = small_gb().fit(y, times, kind).predict_origins(y, times, origins, horizons)
    pooled_b = small_gb().fit(other, times, kind).predict_origins(other, times, origins, horizons)
    assert not np.allclose(pooled_a[:, 0], pooled_b[:, 0])
    sizes = model_bytes(fc)
    assert len(sizes) == 3
    assert min(sizes) > 0


def test_central_is_the_default_and_the_pooled_model() -> None:
    sc = load_scenario(DEFAULT)
    assert sc.forecasting.placement == "central"
    times = pd.date_range("2016-05-01", periods=10, freq="15min", tz="UTC")
    default = make_forecaster("gb", None, times, 42)
    central = make_forecaster("gb", None, times, 42, placement="central")
    assert isinstance(default, GlobalGBForecaster)
    assert default.get_params() == central.get_params()  # type: ignore[attr-defined]
    assert default.get_params()["max_bins"] == 255  # type: ignore[attr-defined]
    edge = make_forecaster("gb", None, times, 42, placement="edge")
    assert isinstance(edge, EdgeForecasters)


@pytest.mark.parametrize(
    ("overrides", "key", "reason"),
    [
        (["forecasting.placement=fog"], r"forecasting\.placement", "central"),
        (
            ["forecasting.placement=edge", "forecasting.model=perfect"],
            r"forecasting",
            "perfect foresight",
        ),
    ],
)
def test_a_bad_placement_names_the_key(overrides: list[str], key: str, reason: str) -> None:
    with pytest.raises(ScenarioError, match=key) as err:
        load_scenario(DEFAULT, overrides)
    assert reason in str(err.value)
    assert "default.toml" in str(err.value)


def test_an_edge_run_forecasts_every_device_with_a_model_of_its_own(tmp_path: Path) -> None:
    sc = scenario(
        "run.days=1",
        "forecasting.placement=edge",
        "forecasting.warmup_days=14",
        "forecasting.trees=5",
        "chain.enabled=false",
    )
    run_scenario(sc, tmp_path / "edge")
    run = open_run(tmp_path / "edge")
    info = run.manifest["forecasting"]
    assert info["placement"] == "edge"
    assert len(info["model_bytes"]) == info["devices"] > 40  # one model a device
    assert info["fit_cpu_s"] > 0
    assert info["predict_cpu_s"] > 0
    forecasts = run.table("forecasts")
    assert forecasts["node_id"].nunique() == info["devices"]
    assert np.isfinite(forecasts["predicted_mw"]).all()
    error = (forecasts["predicted_mw"] - forecasts["actual_mw"]).abs()
    assert error.mean() < forecasts["actual_mw"].abs().mean()  # a forecast, not noise
