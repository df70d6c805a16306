"""Forecast-driven battery dispatch inside a run: no look-ahead, fallbacks, tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import scenario
from twin.build import build
from twin.engine import Engine, run_scenario
from twin.results import RunWriter, open_run


class Spy:
    """Wraps a forecaster; records what each prediction was allowed to see."""

    def __init__(self, inner: object, nan: bool = False) -> None:
        self.inner = inner
        self.nan = nan
        self.seen: list[pd.Timestamp] = []
        self.fits: list[pd.Timestamp] = []

    def fit(self, y: np.ndarray, times: pd.DatetimeIndex, kind: np.ndarray | None = None) -> Spy:
        self.fits.append(times[-1])
        self.inner.fit(y, times, kind=kind)  # type: ignore[attr-defined]
        return self

    def predict_origins(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        assert np.isfinite(y).all()
        assert (origins == len(y) - 1).all()  # issued at the end of what it was given
        if not self.seen or self.seen[-1] != times[-1]:
            self.seen.append(times[-1])
        out = self.inner.predict_origins(y, times, origins, horizons, series)  # type: ignore[attr-defined]
        return np.full_like(out, np.nan) if self.nan else out


def run_with(spy_nan: bool, tmp_path: Path) -> tuple[Spy, Path]:
    twin = build(
        scenario("run.days=2", "forecasting.model=seasonal_naive", "forecasting.replan_intervals=4")
    )
    policy = twin.forecast_policy
    assert policy is not None
    spy = Spy(policy.forecaster, nan=spy_nan)
    policy.forecaster = spy
    writer = RunWriter(tmp_path / "run")
    engine = Engine(twin, writer)
    engine.run()
    engine.finish()
    return spy, writer.finish({})


@pytest.fixture(scope="module")
def spied_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Spy, Path]:
    """The 2-day run whose forecaster is spied on (honest forecasts), shared by the tests."""
    return run_with(False, tmp_path_factory.mktemp("spied"))


def test_forecaster_never_sees_the_interval_it_plans(spied_run: tuple[Spy, Path]) -> None:
    spy, path = spied_run
    issues = pd.read_parquet(path / "forecasts.parquet")["issued"].drop_duplicates()
    assert len(spy.seen) == len(issues) == 2 * 96 // 4
    for last_seen, issued in zip(spy.seen, issues, strict=True):
        # the newest actual a forecast reads is the interval before its issue time
        assert last_seen == issued - pd.Timedelta(minutes=15)
    assert spy.fits[0] < issues.iloc[0]


def test_forecast_table_and_imbalances(spied_run: tuple[Spy, Path]) -> None:
    _, path = spied_run
    fc = pd.read_parquet(path / "forecasts.parquet")
    assert set(fc["horizon_steps"]) <= {1, 4, 96}
    lead = fc["time"] - fc["issued"]
    assert (lead == (fc["horizon_steps"] - 1) * pd.Timedelta(minutes=15)).all()
    power = pd.read_parquet(path / "node_power.parquet")
    merged = fc.merge(power, on=["time", "node_id"])
    np.testing.assert_allclose(merged["actual_mw"], merged["p_mw"])
    imb = pd.read_parquet(path / "imbalances.parquet")
    assert imb["forecast_mw"].notna().all()
    wh = np.rint((imb["actual_mw"] - imb["forecast_mw"]) * 0.25e6)
    assert (wh.astype(np.int64) == imb["imbalance_wh"]).all()


def test_forecast_errors_never_make_a_battery_export(spied_run: tuple[Spy, Path]) -> None:
    # the real-time rule moves forecast errors between battery and grid, inside the guards:
    # a discharging battery never pushes its home into export
    _, path = spied_run
    nodes = pd.read_parquet(path / "nodes.parquet")
    power = pd.read_parquet(path / "node_power.parquet").merge(nodes, on="node_id")
    power = power[power["owner"].isin(nodes.loc[nodes["kind"] == "battery", "owner"])]
    is_battery = power["kind"] == "battery"
    battery = power[is_battery].groupby(["time", "owner"])["p_mw"].sum()
    home = power[~is_battery].groupby(["time", "owner"])["p_mw"].sum()
    discharging = battery < 0
    assert discharging.any()
    assert (battery > 0).any()
    assert (home[discharging] + battery[discharging]).min() >= -1e-9


def test_nan_forecasts_fall_back_and_flag(tmp_path: Path) -> None:
    _, path = run_with(True, tmp_path)
    intervals = pd.read_parquet(path / "intervals.parquet")
    assert intervals["flags"].str.contains("dispatch_fallback").all()
    cfg = scenario().nodes
    soc = pd.read_parquet(path / "battery_state.parquet")["soc_kwh"]
    assert soc.min() >= cfg.battery_soc_min * cfg.battery_capacity_kwh - 1e-9


@pytest.mark.slow
def test_perfect_foresight_is_no_worse_than_the_rule(tmp_path: Path) -> None:
    costs = {}
    for label, extra in {
        "rule": "forecasting.battery_control=self_consumption",
        "perfect": "forecasting.model=perfect",
        "idle": "forecasting.battery_control=idle",
    }.items():
        result = run_scenario(scenario("run.days=7", extra), tmp_path / label)
        costs[label] = result.kpis["baseline_cost_eur"][0]
        run = open_run(result.path)
        power = run.table("node_power").groupby("time")["p_mw"].sum()
        exchange = run.table("grid_exchange").set_index("time")
        assert np.abs(power + exchange["losses_mw"] - exchange["import_mw"]).max() < 1e-6
    assert costs["perfect"] <= costs["rule"] + 1e-6 < costs["idle"]


def test_split_forecast_gives_the_same_forecasts_and_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # big grids forecast the whole horizon only behind batteries, both parts in one pass
    # (predict_blocks) or, for a forecaster without it, two calls; the same numbers as whole
    import forecasting.policy
    from forecasting.oracles import BlockForecaster

    tables = {}
    for mode, split_min_rows, blocks in [
        ("whole", 10**12, BlockForecaster),
        ("blocks", 0, BlockForecaster),
        ("two calls", 0, type("NoBlocks", (), {})),
    ]:
        monkeypatch.setattr(forecasting.policy, "SPLIT_MIN_ROWS", split_min_rows)
        monkeypatch.setattr(forecasting.policy, "BlockForecaster", blocks)
        result = run_scenario(scenario("run.days=1", "chain.enabled=false"), tmp_path / mode)
        run = open_run(result.path)
        tables[mode] = (run.table("forecasts"), run.table("dispatch_plans"), result.kpis)
    for mode in ("blocks", "two calls"):
        pd.testing.assert_frame_equal(tables["whole"][0], tables[mode][0], check_exact=True)
        pd.testing.assert_frame_equal(tables["whole"][1], tables[mode][1], check_exact=True)
        assert tables["whole"][2] == tables[mode][2]


def test_the_scenario_site_reaches_the_forecaster() -> None:
    site = ("site.latitude_deg=40.4", "site.longitude_deg=-3.7", 'site.timezone="Europe/Madrid"')
    policy = build(scenario("run.days=1", "chain.enabled=false", *site)).forecast_policy
    assert policy is not None
    params = policy.forecaster.get_params()  # type: ignore[attr-defined]
    assert (params["latitude_deg"], params["longitude_deg"]) == (40.4, -3.7)
    assert params["tz"] == "Europe/Madrid"


def test_perfect_kinds_forecast_one_source_exactly(tmp_path: Path) -> None:
    # consumers get the actual future, PV stays with the model: the value of one better source
    result = run_scenario(
        scenario(
            "run.days=1",
            "forecasting.model=seasonal_naive",
            'forecasting.perfect_kinds=["consumer"]',
        ),
        tmp_path / "run",
    )
    forecasts = pd.read_parquet(result.path / "forecasts.parquet")
    nodes = pd.read_parquet(result.path / "nodes.parquet")[["node_id", "kind"]]
    forecasts = forecasts.merge(nodes, on="node_id").dropna(subset=["actual_mw"])
    error = (forecasts["predicted_mw"] - forecasts["actual_mw"]).abs().groupby(forecasts["kind"])
    assert error.max()["consumer"] < 1e-12
    assert error.mean()["solar"] > 1e-5
    with pytest.raises(ValueError, match="perfect_kinds"):
        scenario('forecasting.perfect_kinds=["battery"]')
