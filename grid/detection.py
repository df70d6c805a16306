"""From the state estimator's residuals to a finding: which bus, which device.

:func:`day_scores` filters a bus's signed normalized residuals (:mod:`grid.estimation`) over a
day with its claimed generation (matched filter): under honest claims each interval's residual
is ~N(0, <= 1), so the day's score is too, while a device that inflates by ``f`` adds a bias in
proportion to its output in every interval it generates.
One interval's evidence is weak (a 10 % lie of a 6 kW rooftop PV moves its bus by ~1e-4 p.u.,
against a smart meter's 5e-3 p.u. noise); a day of it is what the test accumulates.
:func:`localize` names the bus a period's scores point at (or none), :func:`attribute` the
device at that bus whose output profile the residuals follow.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def day_scores(
    rn: FloatArray,
    weight: FloatArray,
    intervals_per_day: int,
) -> FloatArray:
    """Per day and bus, the matched filter of the signed normalized residuals:
    ``sum(w * rn) / sqrt(sum(w^2))`` over the day's estimated intervals.

    An inflation by ``f`` biases a bus's residuals in proportion to what its devices claim to
    generate, so the bus's claimed generation is the weight ``w`` (the optimal filter for that
    shape). Under honest claims each interval's ``rn`` is ~N(0, <= 1) and so is the score.

    Parameters
    ----------
    rn : ndarray, shape (T, bus)
        :attr:`IntervalResiduals.rn` (NaN where not estimated).
    weight : ndarray, shape (T, bus)
        Non-negative weights, e.g. the bus's claimed generation [MW]; 0 leaves an interval out.
    intervals_per_day : int
        Intervals in a day (the last day may be partial).

    Returns
    -------
    ndarray, shape (day, bus)
        The day's score; 0 where a bus had no weight.
    """
    n_t, n_b = rn.shape
    days = -(-n_t // intervals_per_day)
    use = np.isfinite(rn) & (weight > 0)
    w = np.where(use, weight, 0.0)
    pad = ((0, days * intervals_per_day - n_t), (0, 0))
    shape = (days, intervals_per_day, n_b)
    num = np.pad(w * np.where(use, rn, 0.0), pad).reshape(shape).sum(axis=1)
    norm = np.sqrt(np.pad(w**2, pad).reshape(shape).sum(axis=1))
    return np.divide(num, norm, out=np.zeros_like(num), where=norm > 0)


def localize(scores: FloatArray, z_threshold: float, margin: float) -> int:
    """The bus a period's scores localize a lie at, or -1.

    The largest score must exceed ``z_threshold`` and lead the runner-up by ``margin``: a
    mismatch the substation sees but the voltages cannot place (every generating bus scores
    alike) localizes nothing, so no honest device is blamed for it.

    Parameters
    ----------
    scores : ndarray, shape (bus,)
        One period's :func:`day_scores` row.
    z_threshold, margin : float
        Detection threshold and lead over the runner-up [-].
    """
    if len(scores) == 0:
        return -1
    order = np.argsort(scores)[::-1]
    top = float(scores[order[0]])
    second = float(scores[order[1]]) if len(scores) > 1 else 0.0
    return int(order[0]) if top > z_threshold and top - second > margin else -1


def attribute(rn: FloatArray, output_mw: FloatArray) -> int:
    """Which of a bus's generating devices the bus's residuals point at (matched filter).

    An inflation by ``f`` adds ``(f - 1) * output`` to the bus's claim in every interval, so
    the residuals follow the liar's own output profile.

    Parameters
    ----------
    rn : ndarray, shape (T,)
        The bus's signed normalized residuals (NaN where not estimated).
    output_mw : ndarray, shape (T, device)
        Each candidate's claimed output (generation positive) [MW].

    Returns
    -------
    int
        Column of ``output_mw`` with the largest ``sum(rn * c) / sqrt(sum(c^2))``.
    """
    use = np.isfinite(rn)
    c = np.clip(output_mw[use], 0.0, None)
    norm = np.sqrt((c**2).sum(axis=0))
    fit = np.divide(rn[use] @ c, norm, out=np.full(c.shape[1], -np.inf), where=norm > 0)
    return int(np.argmax(fit))
