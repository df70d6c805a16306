"""Rolling-origin backtests of the forecasters: arrays in, one metrics table out.

The history is split once in time: the models are fit on the first ``train_fraction`` of the
rows; then forecasts are issued at many origins in the rest (every ``origin_every_steps``),
each from the rows up to its origin only, and scored against what happened.

Metrics, per series, model and horizon (over all origins):

``mae`` [MW]
    mean absolute error;
``nmae`` [-]
    ``mae`` / mean of ``|actual|`` over the same targets;
``rmse`` [MW]
    root mean squared error;
``skill`` [-]
    ``1 - nmae / nmae(reference)``, the reference being the seasonal naive forecast of the
    day before (0 for the reference itself, > 0 when better; NaN where the reference is
    exact).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from forecasting.boosting import GlobalGBForecaster
from forecasting.models import (
    DAY_STEPS,
    WEEK_STEPS,
    Forecaster,
    Persistence,
    SeasonalNaive,
)

#: Horizons scored by default [steps]: 15 min, 1 h, 24 h at 15-minute steps.
HORIZONS = (1, 4, DAY_STEPS)
#: Columns of the backtest table, in order.
COLUMNS = ("series", "model", "horizon_steps", "mae", "nmae", "rmse", "skill")
#: The reference forecast of ``skill``.
REFERENCE_MODEL = "seasonal_naive_day"


def default_models(random_state: int | None = 0) -> dict[str, Forecaster]:
    """The models of the standard backtest, by name."""
    return {
        "persistence": Persistence(),
        REFERENCE_MODEL: SeasonalNaive(period_steps=DAY_STEPS),
        "seasonal_naive_week": SeasonalNaive(period_steps=WEEK_STEPS),
        "gb": GlobalGBForecaster(random_state=random_state),
    }


def error_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE [unit], nMAE [-] and RMSE [unit] of finite pairs along axis 0.

    Parameters
    ----------
    actual, predicted : ndarray, same shape
        Observed and forecast values (pairs with a NaN are left out).
    """
    ok = np.isfinite(actual) & np.isfinite(predicted)
    if not ok.any():
        return {"mae": np.nan, "nmae": np.nan, "rmse": np.nan}
    err = predicted[ok] - actual[ok]
    mae = float(np.mean(np.abs(err)))
    level = float(np.mean(np.abs(actual[ok])))
    return {
        "mae": mae,
        "nmae": mae / level if level > 0 else np.nan,
        "rmse": float(np.sqrt(np.mean(err**2))),
    }


def backtest_origins(
    n_rows: int, train_rows: int, max_horizon_steps: int, origin_every_steps: int
) -> np.ndarray:
    """Origins of the test period: from the last training row, every ``origin_every_steps``,
    as long as the longest horizon still lands inside the data.

    Returns
    -------
    ndarray of int
        Row indices (the forecast is issued at the end of the row).
    """
    last = n_rows - 1 - max_horizon_steps
    if last < train_rows - 1:
        raise ValueError("the test period is shorter than the longest horizon")
    return np.arange(train_rows - 1, last + 1, max(1, int(origin_every_steps)))


def rolling_origin_backtest(
    Y: np.ndarray,  # noqa: N803
    times: pd.DatetimeIndex,
    names: Sequence[str],
    kind: Sequence[str] | None = None,
    models: Mapping[str, Forecaster] | None = None,
    local_models: Mapping[str, Forecaster] | None = None,
    pool: np.ndarray | None = None,
    pool_kind: Sequence[str] | None = None,
    horizons: Sequence[int] = HORIZONS,
    train_fraction: float = 0.75,
    origin_every_steps: int = 4,
) -> pd.DataFrame:
    """Rolling-origin backtest of forecasters on the series ``Y``.

    Parameters
    ----------
    Y : ndarray, shape (T, n_series)
        Series scored [MW], load convention.
    times : DatetimeIndex, shape (T,)
        UTC interval starts.
    names : sequence of str, shape (n_series,)
        Series names (the ``series`` column).
    kind : sequence of str, optional
        Kind of each series, passed to ``fit`` (e.g. ``solar`` selects the clear-sky index).
    models : mapping of str to Forecaster, optional
        Models fit once on all series together (pooled), by name; :func:`default_models` if
        omitted. Must include ``seasonal_naive_day`` for ``skill``.
    local_models : mapping of str to Forecaster, optional
        Models fit one series at a time (a clone per series), e.g. ``{"gb_local": ...}``,
        to measure what pooling costs.
    pool : ndarray, shape (T, n_pool), optional
        Extra series the pooled models train on (and forecast, unscored), e.g. every node.
    pool_kind : sequence of str, optional
        Kinds of the ``pool`` series.
    horizons : sequence of int
        Horizons scored [steps].
    train_fraction : float
        Share of the rows (from the start) used for training.
    origin_every_steps : int
        Spacing of the forecast origins in the test period [steps].

    Returns
    -------
    DataFrame
        One row per (series, model, horizon), columns :data:`COLUMNS`.
    """
    y = np.asarray(Y, dtype=float)
    if y.ndim != 2 or y.shape[1] != len(names) or len(times) != y.shape[0]:
        raise ValueError("Y must be (T, len(names)) with one time per row")
    n_rows, n_series = y.shape
    kinds = list(kind) if kind is not None else ["series"] * n_series
    panel, panel_kinds = y, kinds
    if pool is not None:
        extra = np.asarray(pool, dtype=float).reshape(n_rows, -1)
        panel = np.hstack([y, extra])
        panel_kinds = kinds + (
            list(pool_kind) if pool_kind is not None else ["series"] * extra.shape[1]
        )
    train_rows = round(n_rows * train_fraction)
    hz = np.asarray(sorted({int(h) for h in horizons}), dtype=np.int64)
    origins = backtest_origins(n_rows, train_rows, int(hz.max()), origin_every_steps)
    index = pd.DatetimeIndex(times)
    train_times = index[:train_rows]

    forecasts: dict[str, np.ndarray] = {}  # name -> (n_o, n_series, n_h)
    for name, model in (models if models is not None else default_models()).items():
        fitted = clone(model).fit(panel[:train_rows], train_times, kind=panel_kinds)
        forecasts[name] = fitted.predict_origins(panel, index, origins, hz)[:, :n_series]
    for name, model in (local_models or {}).items():
        columns = []
        for s in range(n_series):
            fitted = clone(model).fit(y[:train_rows, [s]], train_times, kind=[kinds[s]])
            columns.append(fitted.predict_origins(y[:, [s]], index, origins, hz))
        forecasts[name] = np.concatenate(columns, axis=1)

    actual = y[origins[:, None] + hz[None, :]]  # (n_o, n_h, n_series)
    records = []
    for name, pred in forecasts.items():
        for s, series_name in enumerate(names):
            for k, h in enumerate(hz):
                scores = error_metrics(actual[:, k, s], pred[:, s, k])
                records.append(
                    {"series": series_name, "model": name, "horizon_steps": int(h)} | scores
                )
    table = pd.DataFrame.from_records(records)
    reference = table[table["model"] == REFERENCE_MODEL].set_index(["series", "horizon_steps"])
    if len(reference):
        ref = reference["nmae"].reindex(
            pd.MultiIndex.from_frame(table[["series", "horizon_steps"]])
        )
        ref_nmae = ref.to_numpy()
        ok = np.isfinite(ref_nmae) & (ref_nmae > 0)
        skill = np.full(len(table), np.nan)
        skill[ok] = 1.0 - table["nmae"].to_numpy()[ok] / ref_nmae[ok]
        # the reference scores 0 by definition (also where it is exact)
        skill[(table["model"] == REFERENCE_MODEL).to_numpy()] = 0.0
        table["skill"] = skill
    else:
        table["skill"] = np.nan
    return table[list(COLUMNS)]
