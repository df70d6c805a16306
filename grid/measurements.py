"""The grid's own meters: the substation meter and the homes' smart meters, and their noise.

The substation meter measures the active power drawn through the transformer; the homes'
smart meters (and the substation) report their bus voltage magnitude. :class:`MeterNoise`
holds their standard deviations (and the weights of the devices' claims), :func:`measure`
draws what they report. :mod:`grid.estimation` checks the devices' claims against them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MeterNoise:
    """Measurement noise of the grid's meters and of the devices' claims (one standard
    deviation).

    Defaults follow common meter classes: a smart meter's voltage within 0.5 % (IEC
    61000-4-30 class S), a substation power meter of class 1 (1 %).

    Attributes
    ----------
    voltage_std_pu : float
        Smart meters' and the substation's voltage magnitude [p.u.].
    power_std : float
        Substation active power, relative to the measured flow [-].
    power_floor_mw : float
        Substation active power, absolute floor (a flow near zero is not measured exactly)
        [MW].
    claim_std : float
        Weight of a bus's claimed injection: relative std of the devices' meters [-].
    claim_floor_mw : float
        Absolute floor of a claim's std [MW].
    zero_std_mw : float
        Std of the virtual zero-injection measurements [MW] (small: a bus without nodes has
        none).
    """

    voltage_std_pu: float = 0.005
    power_std: float = 0.01
    power_floor_mw: float = 0.0005
    claim_std: float = 0.01
    claim_floor_mw: float = 0.00002
    zero_std_mw: float = 0.000001

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{f.name} must be finite and > 0, got {value}")

    def substation_std_mw(self, import_mw: FloatArray) -> FloatArray:
        """Std of the substation meter's active power for these flows [MW]."""
        return np.maximum(self.power_std * np.abs(import_mw), self.power_floor_mw)


def measure(
    vm_pu: FloatArray,
    import_mw: FloatArray,
    noise: MeterNoise,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray]:
    """What the meters report: true voltages and substation import plus Gaussian noise.

    Parameters
    ----------
    vm_pu : ndarray, shape (T, bus)
        True bus voltage magnitudes [p.u.].
    import_mw : ndarray, shape (T,)
        True active power drawn from the slack [MW].
    noise : MeterNoise
        The meters' standard deviations.
    rng : numpy.random.Generator
        The noise's random stream.

    Returns
    -------
    vm_pu, import_mw : ndarray
        The meters' readings, same shapes [p.u.], [MW].
    """
    vm = vm_pu + rng.normal(0.0, noise.voltage_std_pu, size=np.shape(vm_pu))
    imp = import_mw + rng.normal(0.0, 1.0, size=np.shape(import_mw)) * noise.substation_std_mw(
        import_mw
    )
    return vm, imp
