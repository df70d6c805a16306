"""Chain outages in simulated time: scheduled windows, and random ones at a daily rate."""

from __future__ import annotations

import numpy as np


def outage_windows(
    scheduled_h: list[tuple[float, float]],
    rate_per_day: float,
    mean_duration_h: float,
    horizon_s: float,
    rng: np.random.Generator,
) -> list[tuple[float, float]]:
    """Outages as sorted (start, end) [simulated s].

    Parameters
    ----------
    scheduled_h : list of (start_h, duration_h)
        Scheduled outages [h].
    rate_per_day, mean_duration_h : float
        Random outages: a Poisson rate [1/day] and an exponential mean duration [h].
    horizon_s : float
        Length of the run [s]; no random outage starts after it.
    rng : numpy.random.Generator
        The chain's random stream.
    """
    windows = [(start * 3600.0, (start + duration) * 3600.0) for start, duration in scheduled_h]
    rate = rate_per_day / 86_400.0
    t = 0.0
    while rate > 0:
        t += rng.exponential(1.0 / rate)
        if t >= horizon_s:
            break
        d = rng.exponential(mean_duration_h * 3600.0)
        windows.append((t, t + d))
        t += d
    return sorted(windows)


def outage_end(windows: list[tuple[float, float]], now: float) -> float:
    """When the outage(s) covering ``now`` end (``now`` itself if none does) [s]."""
    end = now
    for start, stop in windows:
        if start <= end < stop:
            end = stop
    return end
