"""The grid's own meters: the substation meter and the homes' smart meters, and their noise.

The substation meter measures the active power drawn through the transformer; the homes'
smart meters (and the substation) report their bus voltage magnitude. A home's smart meter
(the utility's billing meter at its connection) also measures the home's **net** active
power: its consumption plus whatever sits behind it (rooftop PV, a home battery), as the
home's own batteries already read it (:meth:`grid.nodes.BatteryNodes.host_net`).
:class:`HomeMeters` says which nodes each home meter sums. :class:`MeterNoise` holds the
meters' standard deviations (and the weights of the devices' claims), :func:`measure` and
:func:`measure_homes` draw what they report. :mod:`grid.estimation` and
:mod:`grid.localization` check the devices' claims against them.
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
    home_power_std : float
        A home meter's net active power, relative to the measured flow [-] (class 1).
    home_power_floor_mw : float
        A home meter's absolute floor [MW] (a flow near zero is not measured exactly).
    """

    voltage_std_pu: float = 0.005
    power_std: float = 0.01
    power_floor_mw: float = 0.0005
    claim_std: float = 0.01
    claim_floor_mw: float = 0.00002
    zero_std_mw: float = 0.000001
    home_power_std: float = 0.01
    home_power_floor_mw: float = 0.00005

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{f.name} must be finite and > 0, got {value}")

    def substation_std_mw(self, import_mw: FloatArray) -> FloatArray:
        """Std of the substation meter's active power for these flows [MW]."""
        return np.maximum(self.power_std * np.abs(import_mw), self.power_floor_mw)

    def home_std_mw(self, net_mw: FloatArray) -> FloatArray:
        """Std of the home meters' net active power for these flows [MW]."""
        return np.maximum(self.home_power_std * np.abs(net_mw), self.home_power_floor_mw)


@dataclass(frozen=True)
class HomeMeters:
    """Which nodes each home's smart meter sums.

    Attributes
    ----------
    of_node : ndarray of int, shape (node,)
        The home meter each node sits behind (a consumer: its own), -1 for none (a turbine,
        a community battery: connected without a home).
    n_homes : int
        Home meters (one a consumer).
    """

    of_node: npt.NDArray[np.int64]
    n_homes: int

    @classmethod
    def from_hosts(cls, kind: npt.ArrayLike, host: npt.ArrayLike) -> HomeMeters:
        """The home meters of a node table.

        Parameters
        ----------
        kind : array_like of str, shape (node,)
            Node kinds; every ``consumer`` is a home with a meter.
        host : array_like of int, shape (node,)
            Row of the consumer a node sits behind, -1 for none.
        """
        kinds = np.asarray(kind).astype(str)
        hosts = np.asarray(host, dtype=np.int64)
        home_of_row = np.full(len(kinds), -1, dtype=np.int64)
        consumers = np.flatnonzero(kinds == "consumer")
        home_of_row[consumers] = np.arange(len(consumers))
        of_node = home_of_row.copy()
        behind = (hosts >= 0) & (kinds != "consumer")
        of_node[behind] = home_of_row[hosts[behind]]
        return cls(of_node, len(consumers))

    def net(self, p_mw: FloatArray) -> FloatArray:
        """Each home's net active power, shape (T, home), load convention [MW].

        Parameters
        ----------
        p_mw : ndarray, shape (T, node)
            Every node's active power, load convention [MW].
        """
        p = np.asarray(p_mw, dtype=float)
        out = np.zeros((p.shape[0], self.n_homes))
        metered = self.of_node >= 0
        np.add.at(out.T, self.of_node[metered], p[:, metered].T)
        return out


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


def measure_homes(net_mw: FloatArray, noise: MeterNoise, rng: np.random.Generator) -> FloatArray:
    """What the home meters report: each home's true net power plus Gaussian noise.

    Parameters
    ----------
    net_mw : ndarray, shape (T, home)
        True net active power of each home (:meth:`HomeMeters.net`), load convention [MW].
    noise : MeterNoise
        The meters' standard deviations.
    rng : numpy.random.Generator
        The noise's random stream.

    Returns
    -------
    ndarray, shape (T, home)
        The meters' readings [MW].
    """
    return net_mw + rng.normal(0.0, 1.0, size=np.shape(net_mw)) * noise.home_std_mw(net_mw)
