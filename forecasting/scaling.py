"""What a pooled forecaster models: each series' power on a scale of its own.

One model pools households, the feeder aggregate and generators, so each series is brought to
a common, dimensionless quantity ``z`` and back:

* other series: ``z = p / scale``, ``scale`` the series' training mean of ``|p|`` (signed, so
  generation is positive too) or a given reference power;
* PV series: the clear-sky index ``z = p / p_clear``, ``p_clear = peak * g`` with ``g`` the
  clear-sky GHI / 1000 W/m^2 (:func:`forecasting.solar.clear_sky`) and ``peak`` a high
  quantile of ``p / g`` in sunny hours; NaN at night (nothing to learn), power 0 at night.

Shapes: ``y`` (T, n_series) [MW]; ``g`` (T,) [-]; ``solar`` (n_series,) bool.
"""

from __future__ import annotations

import numpy as np

#: ``g`` above which an interval counts as sunny for the PV peak [-].
SUNNY_G = 0.2
#: Quantile of ``|p| / g`` in sunny hours taken as a PV series' peak [-].
PEAK_QUANTILE = 0.98


def series_scales(
    y: np.ndarray, g: np.ndarray, solar: np.ndarray, scale_mw: np.ndarray | None = None
) -> np.ndarray:
    """Signed scale of each series [MW]: its ``|p|`` mean (or ``scale_mw``), PV its peak.

    Parameters
    ----------
    y : ndarray, shape (T, n_series)
        Training history [MW], load convention; NaN for missing readings.
    g : ndarray, shape (T,)
        Clear-sky GHI / 1000 W/m^2 of the rows [-].
    solar : ndarray of bool, shape (n_series,)
        Series modelled through the clear-sky index.
    scale_mw : ndarray, shape (n_series,), optional
        Reference power of the non-PV series [MW]; their mean ``|p|`` if omitted.

    Returns
    -------
    ndarray, shape (n_series,)
        Scales [MW], negative for series that mostly generate; never zero.
    """
    abs_mean = np.nanmean(np.abs(y), axis=0)
    sign = np.where(np.nanmean(y, axis=0) < 0, -1.0, 1.0)
    scale = np.where(abs_mean > 0, abs_mean, 1.0) if scale_mw is None else np.abs(scale_mw)
    scale = sign * np.where(np.asarray(scale, dtype=float) > 0, scale, 1.0)
    if solar.any():
        sunny = g > SUNNY_G
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.abs(y[sunny][:, solar]) / g[sunny, None]
        peak = np.nanquantile(ratio, PEAK_QUANTILE, axis=0) if sunny.any() else np.ones(1)
        peak = np.where(np.isfinite(peak) & (peak > 0), peak, 1.0)
        scale[solar] = sign[solar] * peak
    return scale


def to_modelled(
    y: np.ndarray,
    g: np.ndarray,
    scale_mw: np.ndarray,
    solar: np.ndarray,
    night_g: float,
    max_index: float,
) -> np.ndarray:
    """Power [MW] to the modelled quantity ``z`` (rows of ``g`` match rows of ``y``).

    ``night_g``: ``g`` below which a PV interval is night (``z`` NaN); ``max_index``: clip of
    the clear-sky index (sensor or dawn outliers).
    """
    z = y / scale_mw
    if solar.any():
        night = g < night_g
        with np.errstate(invalid="ignore", divide="ignore"):
            index = y[:, solar] / (scale_mw[solar] * g[:, None])
        index = np.clip(index, 0.0, max_index)
        z[:, solar] = np.where(night[:, None], np.nan, index)
    return z


def to_power(
    z_hat: np.ndarray,
    g_target: np.ndarray,
    scale_mw: np.ndarray,
    solar: np.ndarray,
    night_g: float,
    max_index: float,
) -> np.ndarray:
    """Forecasts of ``z`` (n_origins, n_series, n_h) back to power [MW], PV 0 at night.

    ``g_target`` (n_origins, n_h): ``g`` at each forecast's target; ``scale_mw`` and ``solar``
    of the forecast series; ``night_g`` and ``max_index`` as in :func:`to_modelled`.
    """
    out = z_hat * scale_mw[None, :, None]
    if solar.any():
        index_hat = np.clip(z_hat[:, solar, :], 0.0, max_index)
        power = index_hat * scale_mw[None, solar, None] * g_target[:, None, :]
        night = g_target < night_g
        out[:, solar, :] = np.where(night[:, None, :], 0.0, power)
    return out
