"""The forecaster a scenario names (``[forecasting]``): :func:`make_forecaster`; the
community's gradient-boosting model at its site (:func:`at_site`) and the small one each
device fits at the edge (:func:`edge_gb`, :mod:`forecasting.edge`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forecasting.oracles import PartlyPerfect, PerfectForesight, SeriesForecaster
from forecasting.solar import DEFAULT_SITE, Site

if TYPE_CHECKING:
    from forecasting.boosting import GlobalGBForecaster


def at_site(site: Site, seed: int, **params: Any) -> GlobalGBForecaster:
    """A :class:`GlobalGBForecaster` of the community at ``site`` (its clear sky, its local
    clock), seeded by the run's ``seed``; ``params`` are the model's other parameters."""
    from forecasting.boosting import GlobalGBForecaster  # sklearn: imported when used

    return GlobalGBForecaster(
        latitude_deg=site.latitude_deg,
        longitude_deg=site.longitude_deg,
        altitude_m=site.altitude_m,
        tz=site.timezone,
        random_state=seed % 2**32,
        **params,
    )


#: Training rows of one device's gradient-boosting model (shared by its horizon groups).
EDGE_MAX_SAMPLES = 2_000
#: Leaves of each of an edge model's trees (the central model's: 31).
EDGE_MAX_LEAF_NODES = 8
#: Bins of each feature (the central model's: 255); the bin edges are most of a small model's
#: bytes, and 500 rows a horizon group resolve no finer.
EDGE_MAX_BINS = 32
#: Fewest training rows in an edge tree's leaf (fewer rows than the pooled model's 40).
EDGE_MIN_SAMPLES_LEAF = 20


def edge_gb(
    trees: int, learning_rate: float, site: Site = DEFAULT_SITE, seed: int = 0
) -> GlobalGBForecaster:
    """The small gradient-boosting model one device fits on its own series.

    Parameters
    ----------
    trees : int
        Boosting iterations per horizon group.
    learning_rate : float
        Gradient boosting's learning rate [-].
    site : Site
        Where the community is (clear sky, local clock).
    seed : int
        ``random_state`` of the model.
    """
    return at_site(
        site,
        seed,
        max_samples=EDGE_MAX_SAMPLES,
        max_iter=trees,
        learning_rate=learning_rate,
        max_leaf_nodes=EDGE_MAX_LEAF_NODES,
        min_samples_leaf=EDGE_MIN_SAMPLES_LEAF,
        max_bins=EDGE_MAX_BINS,
    )


def make_forecaster(
    model: str,
    actual: np.ndarray | None,
    times: pd.DatetimeIndex,
    seed: int,
    training_samples: int = 30_000,
    trees: int = 30,
    learning_rate: float = 0.2,
    perfect_kinds: Sequence[str] = (),
    kinds: np.ndarray | None = None,
    site: Site = DEFAULT_SITE,
    placement: str = "central",
) -> SeriesForecaster:
    """The forecaster named in ``forecasting.model``.

    Parameters
    ----------
    model : {"gb", "seasonal_naive", "perfect"}
        Which forecaster.
    actual : ndarray or None
        The actual series over warm-up + run, for ``perfect``.
    times : DatetimeIndex
        Interval starts of warm-up + run.
    seed : int
        The run's seed (the model's ``random_state``).
    training_samples, trees : int
        Rows sampled for training and boosting iterations of ``gb``.
    learning_rate : float
        Gradient boosting's learning rate [-].
    perfect_kinds : sequence of str
        Node kinds forecast perfectly (:class:`PartlyPerfect`); needs ``actual`` and ``kinds``.
    kinds : ndarray of str, optional
        Forecasting kind of each series (:func:`node_kinds`).
    site : Site
        Where the community is (``gb``: its clear sky and its local clock).
    placement : {"central", "edge"}
        ``central``: one model of all series; ``edge``: one small model per series, fitted on
        that series alone (:class:`forecasting.edge.EdgeForecasters`).
    """
    if perfect_kinds and model != "perfect":
        if actual is None or kinds is None:
            raise ValueError("perfect_kinds needs the actual series and their kinds")
        base = np.char.partition(np.asarray(kinds, dtype=str), ":")[:, 0]
        inner = make_forecaster(
            model,
            None,
            times,
            seed,
            training_samples,
            trees,
            learning_rate,
            site=site,
            placement=placement,
        )
        return PartlyPerfect(
            inner, PerfectForesight(actual, times), np.isin(base, list(perfect_kinds))
        )
    from forecasting.edge import EdgeForecasters
    from forecasting.models import SeasonalNaive

    if placement not in ("central", "edge"):
        raise ValueError(f"unknown forecasting placement {placement!r}")
    if placement == "edge":
        if model == "seasonal_naive":
            return EdgeForecasters(SeasonalNaive())
        if model == "gb":
            return EdgeForecasters(edge_gb(trees, learning_rate, site, seed))
        raise ValueError(f"forecasting model {model!r} cannot run at the edge")
    if model == "perfect":
        if actual is None:
            raise ValueError("perfect foresight needs the actual series")
        return PerfectForesight(actual, times)
    if model == "seasonal_naive":
        return SeasonalNaive()
    if model == "gb":
        return at_site(
            site, seed, max_samples=training_samples, max_iter=trees, learning_rate=learning_rate
        )
    raise ValueError(f"unknown forecasting model {model!r}")
