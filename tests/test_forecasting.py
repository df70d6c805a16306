"""Forecasting features and models: known values, the no-look-ahead property, sklearn's contract."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression
from sklearn.utils import estimator_checks
from threadpoolctl import threadpool_info

from forecasting.boosting import GlobalGBForecaster
from forecasting.calendar_features import (
    CALENDAR_COLUMNS,
    CalendarFeatures,
    calendar_features,
    easter_sunday,
    german_public_holidays,
)
from forecasting.factory import make_forecaster
from forecasting.features import (
    balanced_training_rows,
    daily_profile,
    lag_features,
    seasonal_rows,
    window_mean,
    window_sum_table,
)
from forecasting.models import (
    DAY_STEPS,
    WEEK_STEPS,
    Persistence,
    SeasonalNaive,
    limit_threads,
)
from forecasting.solar import (
    DEFAULT_SITE,
    Site,
    best_shift_steps,
    clear_sky,
    clear_sky_ceiling_w_per_m2,
)
from forecasting.tree_sum import sum_trees, summable

START = pd.Timestamp("2016-04-04T00:00:00Z")  # a Monday


def grid(n: int, start: pd.Timestamp = START) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="15min", name="time")


def small_gb(**kw: object) -> GlobalGBForecaster:
    params: dict[str, object] = {"max_samples": 12_000, "max_iter": 40, "random_state": 0}
    params.update(kw)
    return GlobalGBForecaster(**params)  # type: ignore[arg-type]


def synthetic_panel(
    n_days: int = 28, seed: int = 0
) -> tuple[np.ndarray, pd.DatetimeIndex, list[str]]:
    """A consumer with a daily and weekly pattern, a wind-like random walk and a PV node."""
    times = grid(n_days * DAY_STEPS)
    rng = np.random.default_rng(seed)
    step = np.arange(len(times))
    weekend = times.dayofweek.to_numpy() >= 5
    load = 0.004 * (1.0 + 0.5 * np.sin(2 * np.pi * step / DAY_STEPS) + 0.3 * weekend)
    load *= 1.0 + 0.02 * rng.standard_normal(len(times))
    wind = -0.01 * np.clip(1 + np.cumsum(0.02 * rng.standard_normal(len(times))), 0, 3)
    cloud = np.repeat(rng.uniform(0.4, 1.0, n_days), DAY_STEPS)
    pv = -0.006 * clear_sky(times).ghi_w_per_m2 / 1000.0 * cloud
    return np.column_stack([load, wind, pv]), times, ["consumer", "wind", "solar"]


@pytest.fixture(scope="module")
def panel() -> tuple[np.ndarray, pd.DatetimeIndex, list[str]]:
    return synthetic_panel()


@pytest.fixture(scope="module")
def fitted_gb(panel: tuple[np.ndarray, pd.DatetimeIndex, list[str]]) -> GlobalGBForecaster:
    Y, times, kinds = panel
    return small_gb().fit(Y[: 21 * DAY_STEPS], times[: 21 * DAY_STEPS], kind=kinds)


# -- features -----------------------------------------------------------------------------


def test_easter_and_holidays_known_dates() -> None:
    easter = easter_sunday(np.array([2016, 2019, 2024]))
    assert easter.astype(str).tolist() == ["2016-03-27", "2019-04-21", "2024-03-31"]
    days = set(german_public_holidays([2016]).astype(str))
    assert {"2016-01-01", "2016-03-25", "2016-03-28", "2016-05-05", "2016-05-16"} <= days
    assert {"2016-10-03", "2016-12-25", "2016-12-26", "2016-05-01"} <= days
    assert len(days) == 9


def test_calendar_features_local_clock_and_days_off() -> None:
    # 2016-03-27 is Easter Sunday and the switch to summer time (UTC+2)
    times = pd.DatetimeIndex(
        ["2016-03-26T23:00Z", "2016-03-27T10:00Z", "2016-03-29T06:30Z"], name="time"
    )
    cal = calendar_features(times)
    assert cal.shape == (3, len(CALENDAR_COLUMNS))
    assert cal[:, 0].tolist() == [0.0, 12.0, 8.5]  # local hour: CET, then CEST
    assert cal[:, 1].tolist() == [6.0, 6.0, 1.0]  # Sunday, Sunday, Tuesday
    assert cal[:, 2].tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar_features(pd.date_range("2016-01-01", periods=2, freq="h"))


def test_calendar_transformer_is_a_sklearn_transformer() -> None:
    times = grid(10)
    tr = CalendarFeatures()
    assert tr.fit(times) is tr
    assert np.array_equal(tr.transform(times), calendar_features(times))
    assert list(tr.get_feature_names_out()) == list(CALENDAR_COLUMNS)
    assert clone(tr).get_params() == {"tz": "Europe/Berlin", "holidays": True}


def test_clear_sky_night_noon_and_shift() -> None:
    times = grid(DAY_STEPS * 3, pd.Timestamp("2016-06-20T00:00Z"))
    ghi = clear_sky(times).ghi_w_per_m2
    assert ghi[0] == 0.0  # midnight UTC
    noon = int(np.argmax(ghi[:DAY_STEPS]))
    assert 10.5 <= noon / 4 <= 11.5  # solar noon at 10.5 deg E is about 11:20 UTC
    assert 700 < ghi.max() < 1100
    haurwitz = clear_sky(times, model="haurwitz").ghi_w_per_m2
    assert np.corrcoef(ghi, haurwitz)[0, 1] > 0.99
    shifted = np.roll(ghi, 4)  # a series lagging the sun by an hour
    assert best_shift_steps(shifted, ghi, 8) == -4
    assert best_shift_steps(ghi, ghi, 8) == 0


def test_clear_sky_is_pvlib_at_interval_middles_on_any_grid() -> None:
    from pvlib.location import Location

    site = Site(40.0, -3.7, 650.0, "Europe/Madrid")
    times = grid(DAY_STEPS, pd.Timestamp("2016-03-20T00:00Z"))
    sky = clear_sky(times, site)
    where = Location(40.0, -3.7, tz="UTC", altitude=650.0)
    frame = where.get_clearsky(times + pd.Timedelta(minutes=7.5), model="ineichen")
    np.testing.assert_array_equal(sky.ghi_w_per_m2, frame["ghi"].to_numpy())
    np.testing.assert_array_equal(sky.dni_w_per_m2, frame["dni"].to_numpy())
    # a grid off the cached one (30 min from :15) is computed directly, same values
    off = pd.date_range("2016-03-20T00:15Z", periods=48, freq="30min")
    direct = where.get_clearsky(off + pd.Timedelta(minutes=15), model="ineichen")
    np.testing.assert_array_equal(clear_sky(off, site).dhi_w_per_m2, direct["dhi"].to_numpy())
    assert np.isnan(clear_sky(times, site, model="haurwitz").dni_w_per_m2).all()


def test_clear_sky_computes_a_year_once_for_every_window_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # forecasters ask for a window every few intervals: pvlib's solar position (0.15 s a
    # year) must run once per site and year, not once per window (a year's run asked ~1,500)
    import forecasting.solar as solar

    calls: list[int] = []
    real = solar._clear_sky_at

    def counted(instants: pd.DatetimeIndex, *args: object) -> np.ndarray:
        calls.append(len(instants))
        return real(instants, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(solar, "_clear_sky_at", counted)
    solar._clear_sky_year.cache_clear()
    site = Site(47.0, 8.0, 400.0, "Europe/Zurich")
    first = solar.clear_sky_g(pd.Timestamp("2017-02-01T00:00Z"), 96, 900, site)
    again = solar.clear_sky_g(pd.Timestamp("2017-05-01T06:00Z"), 672, 900, site, shift_steps=-4)
    assert calls == [365 * 96]  # one whole UTC year, then read from the cache
    assert first.shape == (96,)
    assert again.shape == (672,)
    assert solar._clear_sky_year.cache_info().hits == 1


def test_clear_sky_ceiling_is_the_windowed_tracking_plane() -> None:
    # the DePIN ceiling: max over +-3 h of dni + dhi + 0.25 ghi at each interval's middle
    from pvlib.location import Location

    start, n, step = pd.Timestamp("2016-06-06T00:00Z"), 96, pd.Timedelta(minutes=15)
    ceiling = clear_sky_ceiling_w_per_m2(start, n, 900)
    times = pd.date_range(start - 12 * step, periods=n + 24, freq=step)
    site = Location(52.5, 10.5, tz="UTC", altitude=100.0)
    sky = site.get_clearsky(times + step / 2, model="ineichen")
    plane = (sky["dni"] + sky["dhi"] + 0.25 * sky["ghi"]).to_numpy()
    expected = np.lib.stride_tricks.sliding_window_view(plane, 25).max(axis=1)
    np.testing.assert_array_equal(ceiling, expected)
    ghi = clear_sky(times[12:-12]).ghi_w_per_m2
    assert (ceiling >= ghi).all()
    assert ceiling.max() > 1.1 * ghi.max()  # a tracking plane sees more than the horizontal
    with pytest.raises(ValueError, match="timezone-aware"):
        clear_sky_ceiling_w_per_m2(pd.Timestamp("2016-06-06"), n, 900)


def test_make_forecaster_takes_the_site() -> None:
    times = grid(10)
    site = Site(45.0, 7.0, 300.0, "Europe/Rome")
    gb = make_forecaster("gb", None, times, seed=1, site=site)
    assert isinstance(gb, GlobalGBForecaster)
    params = gb.get_params()
    assert (params["latitude_deg"], params["longitude_deg"]) == (45.0, 7.0)
    assert (params["altitude_m"], params["tz"]) == (300.0, "Europe/Rome")
    default = make_forecaster("gb", None, times, seed=1).get_params()  # type: ignore[attr-defined]
    assert default["latitude_deg"] == DEFAULT_SITE.latitude_deg
    assert default["tz"] == GlobalGBForecaster().tz


def test_lag_features_read_the_documented_rows() -> None:
    z = np.arange(40.0).reshape(20, 2)
    origins = np.array([10, 10, 3])
    series = np.array([0, 1, 0])
    horizons = np.array([1, 6, 2])
    feats = lag_features(z, origins, series, horizons, lags=(1, 2, 5), seasonal_lags=(4,))
    # lag k = row origin - k + 1; seasonal lag 4 = target - 4k <= origin
    expected = np.array(
        [
            [z[10, 0], z[9, 0], z[6, 0], z[7, 0]],
            [z[10, 1], z[9, 1], z[6, 1], z[8, 1]],
            [z[3, 0], z[2, 0], np.nan, z[1, 0]],
        ]
    )
    np.testing.assert_array_equal(feats, expected)
    assert seasonal_rows(np.array([50]), np.array([96]), DAY_STEPS)[0] == 50
    assert seasonal_rows(np.array([50]), np.array([97]), DAY_STEPS)[0] == 51 - DAY_STEPS


def test_window_mean_and_daily_profile() -> None:
    z = np.arange(12.0)[:, None]
    z[5, 0] = np.nan
    table = window_sum_table(z)
    got = window_mean(table, np.array([6, 0]), np.array([0, 0]), 3)
    np.testing.assert_allclose(got, [(4 + 6) / 2, 0.0])
    day = np.tile(np.arange(4.0), 5)[:, None]  # a "day" of 4 steps, repeating
    prof = daily_profile(
        day, np.array([11]), np.array([0]), np.array([2]), days=2, day_steps=4, half_width_steps=0
    )
    assert prof[0] == 1.0  # target row 13 is step 1 of its day


# -- baselines ----------------------------------------------------------------------------


def test_seasonal_naive_is_exact_on_a_periodic_series() -> None:
    rng = np.random.default_rng(1)
    week = rng.uniform(0.001, 0.005, size=(WEEK_STEPS, 2))
    Y = np.tile(week, (4, 1))
    times = grid(len(Y))
    for period in (DAY_STEPS, WEEK_STEPS):
        day = np.tile(week[:period], (len(Y) // period, 1)) if period == DAY_STEPS else Y
        model = SeasonalNaive(period_steps=period).fit(day, times)
        pred = model.predict(day[:-DAY_STEPS], times[:-DAY_STEPS], DAY_STEPS)
        np.testing.assert_array_equal(pred, day[-DAY_STEPS:].T)
    # horizons longer than the season repeat the last season
    model = SeasonalNaive(period_steps=4).fit(Y[:8], times[:8])
    out = model.predict_origins(Y, times, np.array([7]), np.array([1, 4, 5, 9]))
    np.testing.assert_array_equal(out[0], Y[[4, 7, 4, 4]].T)


def test_persistence_and_short_history() -> None:
    Y = np.arange(10.0).reshape(5, 2)
    times = grid(5)
    pred = Persistence().fit(Y, times).predict(Y, times, 3)
    np.testing.assert_array_equal(pred, [[8.0] * 3, [9.0] * 3])
    pred = SeasonalNaive().fit(Y, times).predict(Y, times, 2)
    assert np.isnan(pred).all()  # less than a day of history


# -- the gradient-boosting model ----------------------------------------------------------


def test_gb_learns_a_synthetic_pattern(
    panel: tuple[np.ndarray, pd.DatetimeIndex, list[str]], fitted_gb: GlobalGBForecaster
) -> None:
    Y, times, _ = panel
    origins = np.arange(21 * DAY_STEPS, len(Y) - DAY_STEPS, 7)
    hz = np.array([1, 4, DAY_STEPS])
    pred = fitted_gb.predict_origins(Y, times, origins, hz)
    actual = Y[origins[:, None] + hz[None, :]].transpose(0, 2, 1)
    nmae = np.abs(pred - actual).mean(axis=0) / np.abs(actual).mean(axis=0)  # (series, h)
    persistence = Persistence().fit(Y, times).predict_origins(Y, times, origins, hz)
    nmae_p = np.abs(persistence - actual).mean(axis=0) / np.abs(actual).mean(axis=0)
    assert nmae[0].max() < 0.05  # the consumer's daily + weekly pattern
    assert nmae[0, 2] < 0.7 * nmae_p[0, 2]  # persistence = yesterday: the weekend misses
    # PV: each day's cloudiness is constant, so the clear-sky index carries an hour ahead
    # (raw power persistence misses the sun's course); a day ahead it is a coin toss
    assert nmae[2, 1] < 0.1
    assert nmae[2, 1] < 0.3 * nmae_p[2, 1]
    assert nmae[2, 2] < nmae_p[2, 2]
    assert fitted_gb.clearsky_shift_steps_ == 0


def test_gb_pv_is_zero_at_night_and_follows_clear_sky(
    panel: tuple[np.ndarray, pd.DatetimeIndex, list[str]], fitted_gb: GlobalGBForecaster
) -> None:
    Y, times, _ = panel
    pred = fitted_gb.predict(Y[: 25 * DAY_STEPS], times[: 25 * DAY_STEPS], DAY_STEPS)
    ghi = clear_sky(times[25 * DAY_STEPS : 26 * DAY_STEPS]).ghi_w_per_m2
    assert (pred[2][ghi < 10] == 0).all()
    assert (pred[2] <= 0).all()  # generation, load convention
    assert pred[2].min() < -0.002


def test_gb_fits_the_clear_sky_shift() -> None:
    times = grid(21 * DAY_STEPS)
    ghi = clear_sky(times).ghi_w_per_m2
    pv = -0.006 * np.roll(ghi, -4) / 1000.0  # produces an hour before the sun at 10.5 deg E
    model = small_gb(max_samples=3_000, max_iter=5).fit(pv[:, None], times, kind=["solar"])
    assert model.clearsky_shift_steps_ == 4
    assert model.scale_mw_[0] == pytest.approx(-0.006, rel=0.05)


def test_gb_no_look_ahead(
    panel: tuple[np.ndarray, pd.DatetimeIndex, list[str]], fitted_gb: GlobalGBForecaster
) -> None:
    """Changing or erasing everything after the issue time leaves every forecast unchanged."""
    Y, times, _ = panel
    hz = np.arange(1, DAY_STEPS + 1)
    rng = np.random.default_rng(7)
    for origin in (21 * DAY_STEPS + 5, 23 * DAY_STEPS + 40, 26 * DAY_STEPS - 1):
        reference = fitted_gb.predict_origins(Y, times, np.array([origin]), hz)
        erased = Y.copy()
        erased[origin + 1 :] = np.nan
        scrambled = Y.copy()
        scrambled[origin + 1 :] = rng.uniform(-1, 1, scrambled[origin + 1 :].shape)
        for future in (erased, scrambled):
            got = fitted_gb.predict_origins(future, times, np.array([origin]), hz)
            np.testing.assert_array_equal(got, reference)
        # predict on the history alone = the same forecast
        alone = fitted_gb.predict(Y[: origin + 1], times[: origin + 1], DAY_STEPS)
        np.testing.assert_array_equal(alone, reference[0])
        for baseline in (Persistence(), SeasonalNaive(), SeasonalNaive(WEEK_STEPS)):
            base = baseline.fit(Y, times)
            want = base.predict_origins(Y, times, np.array([origin]), hz)
            np.testing.assert_array_equal(
                base.predict_origins(scrambled, times, np.array([origin]), hz), want
            )


def test_gb_training_rows_stay_inside_the_fit_data(
    panel: tuple[np.ndarray, pd.DatetimeIndex, list[str]],
) -> None:
    """A fit on rows < t reads nothing later: targets are inside the data, features before
    their origin, and a fit on Y[:t] cannot tell what followed."""
    Y, times, kinds = panel
    t = 14 * DAY_STEPS
    model = small_gb()
    model.fit(Y[:t], times[:t], kind=kinds)
    rng = np.random.RandomState(0)
    z = model._normalise(Y[:t], model._clear_sky(times[0], t, model.clearsky_shift_steps_))
    for h_lo, h_hi in model._horizon_bounds():
        origins, _series, horizons = balanced_training_rows(
            z, model.kind_codes_, model._lookback_steps(), h_lo, h_hi, 5_000, rng
        )
        assert (origins + horizons <= t - 1).all()
        assert ((horizons >= h_lo) & (horizons <= h_hi)).all()
    # two futures, same past: the same fitted model
    other = Y.copy()
    other[t:] *= -3.0
    again = small_gb().fit(other[:t], times[:t], kind=kinds)
    origins = np.array([t - 1])
    np.testing.assert_array_equal(
        model.predict_origins(Y, times, origins, np.array([1, 96])),
        again.predict_origins(Y, times, origins, np.array([1, 96])),
    )


def test_gb_is_deterministic_and_pickles(
    panel: tuple[np.ndarray, pd.DatetimeIndex, list[str]], fitted_gb: GlobalGBForecaster
) -> None:
    Y, times, kinds = panel
    twin = clone(fitted_gb).fit(Y[: 21 * DAY_STEPS], times[: 21 * DAY_STEPS], kind=kinds)
    origin = np.array([22 * DAY_STEPS])
    hz = np.array([1, 4, 96])
    first = fitted_gb.predict_origins(Y, times, origin, hz)
    np.testing.assert_array_equal(twin.predict_origins(Y, times, origin, hz), first)
    restored = pickle.loads(pickle.dumps(fitted_gb))
    np.testing.assert_array_equal(restored.predict_origins(Y, times, origin, hz), first)


def test_gb_handles_missing_readings(
    panel: tuple[np.ndarray, pd.DatetimeIndex, list[str]], fitted_gb: GlobalGBForecaster
) -> None:
    Y, times, kinds = panel
    gappy = Y[: 22 * DAY_STEPS].copy()
    gappy[-10:-3, 0] = np.nan
    pred = fitted_gb.predict(gappy, times[: 22 * DAY_STEPS], 8)
    assert np.isfinite(pred).all()
    small_gb(max_iter=5).fit(gappy, times[: 22 * DAY_STEPS], kind=kinds)


# -- sklearn's estimator contract ---------------------------------------------------------

ESTIMATORS = [Persistence(), SeasonalNaive(), SeasonalNaive(WEEK_STEPS), GlobalGBForecaster()]

# The checks of sklearn.utils.estimator_checks that do not call fit(X, y) on a numeric
# (n_samples, n_features) table. The others do not fit here: these forecasters fit on a
# panel of series and their timestamps (fit(Y, times, kind)), not on X, y.
CONTRACT_CHECKS = [
    estimator_checks.check_parameters_default_constructible,
    estimator_checks.check_no_attributes_set_in_init,
    estimator_checks.check_get_params_invariance,
    estimator_checks.check_set_params,
    estimator_checks.check_estimator_cloneable,
    estimator_checks.check_estimator_repr,
    estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_estimator_checks(estimator: object, check: object) -> None:
    check(type(estimator).__name__, estimator)  # type: ignore[operator]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_fit_returns_self_and_keeps_params(estimator: object) -> None:
    Y, times, kinds = synthetic_panel(n_days=9)
    model = clone(estimator)
    model.set_params(
        **({"max_samples": 2_000, "max_iter": 3} if "max_iter" in model.get_params() else {})
    )
    before = model.get_params()
    assert model.fit(Y, times, kind=kinds) is model
    assert model.get_params() == before  # fit changes no parameter
    learned = [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]
    assert learned
    assert all(k in before or k.endswith("_") for k in vars(model))
    assert model.predict(Y, times, 5).shape == (3, 5)
    fresh = clone(model)
    assert not [k for k in vars(fresh) if k.endswith("_")]  # clone drops learned state
    assert fresh.get_params() == before


def test_limit_threads_caps_openmp_and_restores() -> None:
    def openmp() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]

    if not openmp():
        pytest.skip("no OpenMP runtime loaded")
    before = openmp()
    with limit_threads(1):
        assert set(openmp()) == {1}
    assert openmp() == before
    with limit_threads(None):
        assert openmp() == before


def test_window_slices_of_the_cached_years_equal_the_direct_computation() -> None:
    # clear_sky_g and calendar_grid slice whole cached UTC years for aligned windows (across
    # a new year too); the values must be those of the windows computed on their own
    import forecasting.solar as solar
    from forecasting.calendar_features import calendar_features, calendar_grid

    rng = np.random.default_rng(5)
    starts = pd.Timestamp("2015-12-25T00:00Z") + pd.to_timedelta(
        15 * rng.integers(0, 4 * 24 * 380, 24), unit="min"
    )
    for i, start in enumerate(starts):
        n, interval_s = int(rng.integers(2, 3000)), 900 if i % 4 else 3600
        step = pd.Timedelta(seconds=interval_s)
        grid = pd.date_range(start - 3 * step, periods=n, freq=step)
        direct = solar.clear_sky(grid).ghi_w_per_m2 / solar.GHI_STC_W_PER_M2
        np.testing.assert_array_equal(
            solar.clear_sky_g(start, n, interval_s, shift_steps=-3), direct
        )
        tz = "Europe/Berlin" if i % 2 else "America/New_York"
        np.testing.assert_array_equal(
            calendar_grid(start, n, interval_s, tz), calendar_features(grid + 3 * step, tz)
        )
    off = pd.Timestamp("2016-05-01T00:05Z")  # off the grid: computed directly
    np.testing.assert_array_equal(
        calendar_grid(off, 10, 900),
        calendar_features(pd.date_range(off, periods=10, freq="15min")),
    )


# -- fast paths: the same floats as the plain ones ----------------------------------------


@pytest.mark.parametrize("loss", ["absolute_error", "squared_error", "poisson"])
def test_sum_trees_is_the_models_predict(loss: str) -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((800, 6))
    y = np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1] ** 2 + 0.1 * rng.standard_normal(800))
    X[rng.random(X.shape) < 0.1] = np.nan
    model = HistGradientBoostingRegressor(loss=loss, max_iter=25, random_state=0).fit(X, y)
    assert summable(model)
    rows = np.vstack([X, np.full((1, 6), np.nan), np.full((1, 6), np.inf)])
    want = model.predict(rows)
    for view in (rows, rows[::3], np.asfortranarray(rows)):
        for n_threads in (1, 2, None):
            got = sum_trees(model, view, n_threads)
            assert got.dtype == want.dtype
            assert got.tobytes() == model.predict(view).tobytes()
    with pytest.raises(ValueError, match="features"):
        sum_trees(model, rows[:, :5], 1)


def test_sum_trees_leaves_other_models_to_their_predict() -> None:
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.integers(0, 4, 300), rng.standard_normal(300)])
    y = X[:, 0] + X[:, 1]
    categorical = HistGradientBoostingRegressor(categorical_features=[0], max_iter=5).fit(X, y)
    linear = LinearRegression().fit(X, y)
    for model in (categorical, linear):
        assert not summable(model)
        np.testing.assert_array_equal(sum_trees(model, X, 1), model.predict(X))


def test_gb_forecasts_equal_those_of_sklearn_predict(
    panel: tuple[np.ndarray, pd.DatetimeIndex, list[str]],
    fitted_gb: GlobalGBForecaster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import forecasting.horizons

    Y, times, _ = panel
    origins = np.array([21 * DAY_STEPS + 5, 22 * DAY_STEPS + 50])
    hz = np.arange(1, DAY_STEPS + 1)
    fast = fitted_gb.predict_origins(Y, times, origins, hz)

    def plain(model: HistGradientBoostingRegressor, X: np.ndarray, n: int | None) -> np.ndarray:  # noqa: N803
        with limit_threads(n):
            return np.asarray(model.predict(X))

    monkeypatch.setattr(forecasting.horizons, "sum_trees", plain)
    assert fast.tobytes() == fitted_gb.predict_origins(Y, times, origins, hz).tobytes()


def test_predict_blocks_are_predict_origins_block_by_block(
    panel: tuple[np.ndarray, pd.DatetimeIndex, list[str]], fitted_gb: GlobalGBForecaster
) -> None:
    Y, times, _ = panel
    origin = 22 * DAY_STEPS + 37  # mid-morning: PV rows by day and by night
    blocks = [
        (np.array([2, 0]), np.arange(1, DAY_STEPS + 1)),
        (np.array([1]), np.array([1, 2, 24, 96])),
        (np.array([0, 1, 2]), np.array([5, 130])),  # past the trained horizon, other window
        (np.array([], dtype=np.int64), np.array([1])),
        (np.array([1, 2]), np.array([], dtype=np.int64)),
    ]
    got = fitted_gb.predict_blocks(Y, times, origin, blocks)
    for (series, hz), block in zip(blocks, got, strict=True):
        want = fitted_gb.predict_origins(Y, times, np.array([origin]), hz, series)[0]
        assert block.shape == want.shape
        assert block.tobytes() == want.tobytes()
    empty = fitted_gb.predict_blocks(Y, times, origin, blocks[3:])
    assert [b.shape for b in empty] == [(0, 1), (2, 0)]
    with pytest.raises(ValueError, match="origins"):
        fitted_gb.predict_blocks(Y[:100], times[:100], 100, blocks[:1])
