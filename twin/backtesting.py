"""Backtest the forecasters on a scenario's community over a full profile year.

The twin of the scenario's grid and nodes is built for the 366 days of SimBench's profile
year from 2016-01-01 (UTC); the nodes' profile powers (consumers with their seeded noise,
batteries idle) are the history. Four series are scored:

``household``
    the first consumer with an H0 (household) profile;
``aggregate``
    the sum of all consumers (the feeder's demand);
``pv``
    the first PV node;
``wind``
    the first wind turbine.

The pooled models (``gb``) train on these four together with every other consumer, PV and
wind node of the community, the way the engine forecasts every node; consumer kinds carry
their SimBench profile class (``consumer:H0-B``). ``gb_local`` fits one model per scored
series, to show what pooling costs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from forecasting.backtest import HORIZONS, default_models, rolling_origin_backtest
from forecasting.boosting import GlobalGBForecaster
from twin.build import Twin, build, node_kinds, profile_powers
from twin.scenario import Scenario

#: The backtest's year: SimBench's profile year, in UTC.
BACKTEST_START = datetime(2016, 1, 1, tzinfo=UTC)
BACKTEST_DAYS = 366


def year_scenario(scenario: Scenario) -> Scenario:
    """``scenario`` over the full profile year (366 days from 2016-01-01 UTC)."""
    run = scenario.run.model_copy(update={"days": BACKTEST_DAYS, "start": BACKTEST_START})
    return scenario.model_copy(update={"run": run})


def backtest_series(
    twin: Twin, p_mw: np.ndarray
) -> tuple[np.ndarray, list[str], list[str], np.ndarray, list[str]]:
    """The scored series and the training pool of the community.

    Parameters
    ----------
    twin : Twin
        The built twin.
    p_mw : ndarray, shape (T, node)
        Node powers [MW], load convention.

    Returns
    -------
    Y : ndarray, shape (T, n_scored)
        Scored series [MW]: household, aggregate, pv, wind (those the community has).
    names, kinds : list of str
        Name and forecasting kind of each scored series.
    pool : ndarray, shape (T, n_pool)
        The other consumer, PV and wind nodes [MW].
    pool_kinds : list of str
        Their kinds.
    """
    table = twin.nodes.table
    kind = table["kind"].to_numpy().astype(str)
    kinds_all = node_kinds(twin.nodes)
    profile = table["profile"].to_numpy().astype(str)
    consumers = np.flatnonzero(kind == "consumer")
    households = consumers[np.char.startswith(profile[consumers], "H0")]
    picks: list[tuple[str, int]] = []
    if len(households):
        picks.append(("household", int(households[0])))
    columns, names, kinds = [], [], []
    for name, row in picks:
        columns.append(p_mw[:, row])
        names.append(name)
        kinds.append(str(kinds_all[row]))
    if len(consumers):
        columns.append(p_mw[:, consumers].sum(axis=1))
        names.append("aggregate")
        kinds.append("aggregate")
    for name, node_kind in (("pv", "solar"), ("wind", "wind")):
        rows = np.flatnonzero(kind == node_kind)
        if len(rows):
            picks.append((name, int(rows[0])))
            columns.append(p_mw[:, rows[0]])
            names.append(name)
            kinds.append(node_kind)
    if not columns:
        raise ValueError("the community has no consumer, PV or wind node to backtest")
    scored = {row for _, row in picks}
    others = [r for r in np.flatnonzero(kind != "battery") if int(r) not in scored]
    return (
        np.column_stack(columns),
        names,
        kinds,
        p_mw[:, others],
        [str(k) for k in kinds_all[others]],
    )


def run_backtest(
    scenario: Scenario,
    origin_every_steps: int = 4,
    horizons: tuple[int, ...] = HORIZONS,
    compare_local: bool = True,
    max_samples: int = 200_000,
) -> pd.DataFrame:
    """Rolling-origin backtest of the forecasters on ``scenario``'s community.

    Trains on the first 9 months of the profile year, scores forecasts issued every
    ``origin_every_steps`` over the last 3 months (see :mod:`forecasting.backtest`).

    Parameters
    ----------
    scenario : Scenario
        The scenario; its grid, nodes and seed are used, its run's days and start are
        replaced by the profile year.
    origin_every_steps : int
        Spacing of the forecast origins [steps] (4: hourly).
    horizons : tuple of int
        Horizons scored [steps].
    compare_local : bool
        Also score ``gb_local``: one gradient-boosting model per scored series.
    max_samples : int
        Training rows of each gradient-boosting model.

    Returns
    -------
    DataFrame
        Columns ``series``, ``model``, ``horizon_steps``, ``mae`` [MW], ``nmae`` [-],
        ``rmse`` [MW], ``skill`` [-] (vs the seasonal naive forecast of the day before).
    """
    twin = build(year_scenario(scenario))
    p_mw, _ = profile_powers(twin, len(twin.times))
    Y, names, kinds, pool, pool_kinds = backtest_series(twin, p_mw)  # noqa: N806
    seed = scenario.run.seed % 2**32
    models = default_models(random_state=seed)
    models["gb"] = GlobalGBForecaster(max_samples=max_samples, random_state=seed)
    local = (
        {"gb_local": GlobalGBForecaster(max_samples=max_samples // 2, random_state=seed)}
        if compare_local
        else None
    )
    return rolling_origin_backtest(
        Y,
        twin.times,
        names,
        kind=kinds,
        models=models,
        local_models=local,
        pool=pool,
        pool_kind=pool_kinds,
        horizons=horizons,
        train_fraction=0.75,
        origin_every_steps=origin_every_steps,
    )
