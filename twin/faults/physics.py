"""Physics and data faults: a power-flow non-convergence storm, a forecast feed down a day.

The storm is every load scaled by 100 (``nodes.load_scale``): the power flow has no solution
for most of the day; each such interval must be flagged ``infeasible`` and still written. The
forecast feed is the run's forecaster wrapped so that every forecast it issues during the
day is missing (NaN, as a feed that delivers nothing); the dispatch must fall back to
self-consumption for those intervals and flag them ``dispatch_fallback``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from twin.build import build
from twin.engine import Engine, merge_manifest, run_scenario
from twin.faults.base import Fault, Outcome, lost_in, scenario
from twin.manifest import manifest_base
from twin.results import RunWriter

LOAD_SCALE = 100


def powerflow_storm(folder: Path, quick: bool) -> Outcome:
    """Every load times 100: the power flow diverges in most intervals."""
    run_scenario(scenario(f"nodes.load_scale={LOAD_SCALE}"), folder / "run")
    run, lost, reasons = lost_in(folder / "run")
    intervals = run.table("intervals")
    failed = ~intervals["converged"]
    flagged = intervals["flags"].str.contains("infeasible")
    unflagged = int((failed & ~flagged).sum())
    exchange = run.table("grid_exchange")
    invented = int(exchange.loc[failed.to_numpy(), "import_mw"].notna().sum())
    observed = (
        f"{int(failed.sum())}/{len(intervals)} intervals did not converge: flagged "
        f"infeasible, no grid exchange reported for them, run completed"
    )
    reasons += [f"{unflagged} not flagged"] * bool(unflagged)
    reasons += [f"{invented} with an exchange"] * bool(invented)
    behaved = failed.sum() > len(intervals) // 4 and unflagged == 0 and invented == 0
    behaved &= run.kpis()["infeasible_intervals"] == failed.sum()
    return Outcome(observed + "".join(f"; {r}" for r in reasons), bool(behaved), lost)


class DeadFeed:
    """A forecaster whose feed delivers nothing (NaN) for forecasts issued in a window.

    Parameters
    ----------
    inner : forecaster
        The run's forecaster.
    down_from, down_until : Timestamp
        The feed's outage: forecasts issued at or after ``down_from`` and before
        ``down_until`` are NaN.
    """

    def __init__(self, inner: object, down_from: pd.Timestamp, down_until: pd.Timestamp) -> None:
        self.inner = inner
        self.down_from = down_from
        self.down_until = down_until
        self.refused: set[pd.Timestamp] = set()

    def fit(self, y: np.ndarray, times: pd.DatetimeIndex, kind: np.ndarray | None = None) -> object:
        """Fit the run's forecaster (training history is not the feed)."""
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
        """The run's forecasts, or NaN while the feed is down."""
        out: np.ndarray = self.inner.predict_origins(  # type: ignore[attr-defined]
            y, times, origins, horizons, series
        )
        if self.down_from <= times[-1] + (times[-1] - times[-2]) < self.down_until:
            self.refused.add(times[-1])
            return np.full_like(out, np.nan)
        return out


def forecast_feed_down(folder: Path, quick: bool) -> Outcome:
    """The forecast feed delivers nothing for the whole run's day."""
    sc = scenario("forecasting.model=seasonal_naive")
    twin = build(sc)
    policy = twin.forecast_policy
    if policy is None:
        raise RuntimeError("the default scenario has no forecast-driven dispatch")
    start = pd.Timestamp(sc.run.start)
    feed = DeadFeed(policy.forecaster, start, start + pd.Timedelta(days=1))
    policy.forecaster = feed
    writer = RunWriter(folder / "run", config=sc.model_dump(mode="json"))
    engine = Engine(twin, writer)
    try:
        engine.run()
        engine.finish()
        manifest = manifest_base(sc, None)
        merge_manifest(manifest, engine.manifest)
        writer.finish(manifest)
    except BaseException:
        writer.abort()
        raise
    run, lost, reasons = lost_in(folder / "run")
    intervals = run.table("intervals")
    fallback = intervals["flags"].str.contains("dispatch_fallback")
    soc = run.table("battery_state")["soc_kwh"]
    cfg = sc.nodes
    floor_kwh = cfg.battery_soc_min * cfg.battery_capacity_kwh - 1e-9
    observed = (
        f"feed down 24 h: {len(feed.refused)} forecast issues got nothing, "
        f"{int(fallback.sum())}/{len(intervals)} intervals on self-consumption, flagged "
        "dispatch_fallback; battery within its limits"
    )
    behaved = len(feed.refused) > 0 and bool(fallback.all()) and bool(soc.min() >= floor_kwh)
    return Outcome(observed + "".join(f"; {r}" for r in reasons), behaved, lost)


PHYSICS_FAULTS = {
    f.name: f
    for f in (
        Fault(
            "powerflow-storm",
            "diverged intervals flagged infeasible, written, run completes",
            powerflow_storm,
        ),
        Fault(
            "forecast-feed-down-24h",
            "every interval falls back to self-consumption, flagged",
            forecast_feed_down,
        ),
    )
}
