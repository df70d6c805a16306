"""Refits trained ahead of their service, in a background worker: which actuals each refit
sees, and that where it runs changes no number."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from forecasting.dispatch import BatteryDispatcher, BatterySpec
from forecasting.factory import at_site
from forecasting.policy import ForecastDispatchPolicy
from forecasting.refits import Refits
from forecasting.solar import DEFAULT_SITE

DAY = 96


class FitLog:
    """A forecaster that records the last interval start of every fit's actuals."""

    def __init__(self) -> None:
        self.fit_ends: list[pd.Timestamp] = []

    def fit(self, y: np.ndarray, times: pd.DatetimeIndex, kind: np.ndarray | None = None) -> FitLog:
        self.fit_ends.append(times[-1])
        return self

    def predict_origins(
        self,
        y: np.ndarray,
        times: pd.DatetimeIndex,
        origins: np.ndarray,
        horizons: np.ndarray,
        series: np.ndarray | None = None,
    ) -> np.ndarray:
        n = y.shape[1] if series is None else len(series)
        return np.zeros((len(origins), n, len(horizons)))


def _policy(
    forecaster: object, *, days: int, lead: int, background: bool
) -> tuple[ForecastDispatchPolicy, np.ndarray]:
    """A policy over a synthetic community (3 homes, one with PV and a battery; warm-up 8
    days), and the actuals it will observe."""
    warmup = 8 * DAY
    n = days * DAY
    times = pd.date_range("2016-03-01", periods=warmup + n + DAY, freq="15min", tz="UTC")
    rng = np.random.default_rng(7)
    t = np.arange(warmup + n)
    day = np.sin(2 * np.pi * (t % DAY) / DAY)
    loads = 0.004 + 0.002 * np.clip(-day, 0, None)[:, None] + 0.0005 * rng.random((len(t), 3))
    pv = -0.006 * np.clip(day, 0, None)[:, None] * (0.7 + 0.3 * rng.random((len(t), 1)))
    actuals = np.concatenate([loads, pv], axis=1)
    history = actuals.copy()
    history[warmup:] = 0.0  # filled as the run observes it
    spec = BatterySpec(
        capacity_kwh=np.array([10.0]),
        p_max_mw=np.array([0.005]),
        eta_charge=0.95,
        eta_discharge=0.95,
        soc_min=0.1,
        soc_max=0.9,
    )
    policy = ForecastDispatchPolicy(
        forecaster=forecaster,  # type: ignore[arg-type]
        kinds=np.array(["consumer", "consumer", "consumer", "solar"]),
        dispatcher=BatteryDispatcher(spec, DAY, 900),
        history=history,
        warmup=warmup,
        times=times[: warmup + n],
        host_matrix=sp.csr_matrix(np.array([[1.0, 0.0, 0.0, 1.0]])),
        import_eur_per_mwh=np.full(n + DAY, 300.0),
        export_eur_per_mwh=np.full(n + DAY, 80.0),
        replan_intervals=24,
        retrain_intervals=2 * DAY,
        fit_intervals=warmup,
        record_horizons=[1, 4],
        fit_lead=lead,
        background_fit=background,
    )
    return policy, actuals


def _run(policy: ForecastDispatchPolicy, actuals: np.ndarray) -> np.ndarray:
    """Step the policy through its run, observing ``actuals``; the issued forecasts."""
    n = policy.history.shape[0] - policy.warmup
    soc = np.array([5.0])
    try:
        for k in range(n):
            policy.request(k, np.zeros(1), soc)
            policy.observe(k, actuals[policy.warmup + k])
    finally:
        policy.refits.close()
    return np.stack(policy.records.predicted_mw)


@pytest.mark.parametrize("lead_days", [0, 1, 3])
def test_a_refit_sees_the_actuals_ending_lead_days_before_its_service(lead_days: int) -> None:
    log = FitLog()
    policy, actuals = _policy(log, days=7, lead=lead_days * DAY, background=False)
    _run(policy, actuals)
    start = policy.times[policy.warmup]
    step = pd.Timedelta(minutes=15)
    # in service from day 0 (the warm-up), then every 2 days; actuals end `lead` before
    service_days = [0, 2, 4, 6]
    expected = [start - step] + [
        start + pd.Timedelta(days=max(0, d - lead_days)) - step for d in service_days[1:]
    ]
    assert log.fit_ends == expected
    assert policy.fits == len(service_days)


def test_where_a_refit_runs_changes_no_number() -> None:
    """The pooled model refitted in the worker process issues the very floats of the same
    refits run in the run's own process."""
    params = {"max_samples": 3_000, "max_iter": 5}

    def fresh() -> object:
        return at_site(DEFAULT_SITE, 11, **params)

    here, actuals = _policy(fresh(), days=6, lead=DAY, background=False)
    there, _ = _policy(fresh(), days=6, lead=DAY, background=True)
    a, b = _run(here, actuals), _run(there, actuals)
    assert here.refits.in_background == 0
    assert there.refits.in_background == 2  # the refits in service from days 2 and 4
    assert there.fits == here.fits == 3
    assert there.cpu_s["fit"] > 0
    np.testing.assert_array_equal(a, b)


def _no_worker(module: str) -> None:
    raise OSError("no worker here")


def test_no_worker_means_the_same_refits_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no worker process can start, every refit runs in the run's own process on the
    same actuals."""
    monkeypatch.setattr("forecasting.refits.PipeWorker", _no_worker)
    log = FitLog()
    policy, actuals = _policy(log, days=5, lead=DAY, background=True)
    _run(policy, actuals)
    assert policy.refits.in_background == 0
    assert len(log.fit_ends) == 3


def test_refits_refuse_a_bad_schedule() -> None:
    with pytest.raises(ValueError, match="every >= 1 and lead >= 0"):
        Refits(0, 1, 10, False)
    with pytest.raises(ValueError, match="every >= 1 and lead >= 0"):
        Refits(4, -1, 10, False)


def test_a_refit_is_due_at_the_first_forecast_at_or_after_its_service() -> None:
    refits = Refits(every=10, lead=0, n_intervals=100, background=False)
    assert [refits.due(k) for k in (0, 4, 8, 12, 16, 20, 24, 35)] == [
        0,
        None,
        None,
        10,
        None,
        20,
        None,
        30,
    ]


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """multiprocessing's spawn would import the user's script again in the worker, running it
    twice; the refit worker, started as ``python -m``, does not, and its refit comes back."""
    log = tmp_path / "runs.log"
    script = tmp_path / "user_script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import numpy as np
            import pandas as pd
            from forecasting.factory import at_site
            from forecasting.refits import Refits
            from forecasting.solar import DEFAULT_SITE

            with open({str(log)!r}, "a") as f:
                f.write("ran\\n")
            warmup = 7 * {DAY}
            times = pd.date_range("2016-03-01", periods=warmup + 3 * {DAY}, freq="15min", tz="UTC")
            y = 0.004 + 0.001 * np.random.default_rng(1).random((len(times), 2))
            kinds = np.array(["consumer", "consumer"])

            def data(end):
                return y[: warmup + end], times[: warmup + end], kinds

            refits = Refits({DAY}, {DAY}, 3 * {DAY}, background=True)
            refits.start(0, at_site(DEFAULT_SITE, 11, max_samples=500, max_iter=3), data)
            assert refits.take({DAY}) is not None
            assert refits.in_background == 1
            refits.close()
            """
        )
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert log.read_text() == "ran\n"
