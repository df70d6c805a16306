"""Data sales with k-anonymity: aggregates of accepted readings, their price and their split.

A data buyer pays for aggregated verified readings, never for a household's own series.
:func:`release_groups` puts each device in a group (its feeder and kind); a group with fewer
than ``k`` households is merged with the other small groups of its kind, and a merged group
still below ``k`` households is suppressed: nothing of it is released. :func:`release` sums
each group's accepted readings per interval and releases a group's interval only where at
least ``k`` distinct households have an accepted reading in it (fewer: suppressed, and nobody
is paid for it). The groups partition the devices and no total is released, so no released
figure is the difference of two others over a smaller set.

The price is per device-month of released readings (:func:`sale_price`, a month being 30
days), and the payment is split pro rata to each device's released readings, the treasury
taking its cut and every rounding remainder (:func:`split_payment`): the split sums to the
payment exactly, to the micro-euro.

Energy [Wh] and money [micro-euro] are integers; ``k`` counts households (node owners).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from eth_utils import keccak

#: One month of data [s]: 30 days.
MONTH_S = 30 * 86_400
#: Parts per million of a share (the treasury's cut).
PPM = 1_000_000
#: The group of a device whose readings are never released.
SUPPRESSED = -1


@dataclass(frozen=True)
class Groups:
    """The release groups of the devices.

    Attributes
    ----------
    group : ndarray of int, shape (device,)
        Each device's group (:data:`SUPPRESSED`: never released).
    labels : list of str
        Each group's label (``"<kind>/feeder-<f>"``, or ``"<kind>/merged"``).
    kinds : list of str
        Each group's device kind.
    """

    group: np.ndarray
    labels: list[str]
    kinds: list[str]


def release_groups(
    feeder: Sequence[int], kind: Sequence[str], household: Sequence[str], k: int
) -> Groups:
    """Each device's release group: its feeder and kind, small groups merged per kind.

    Parameters
    ----------
    feeder : sequence of int
        Each device's feeder (:func:`grid.zones.feeders` of its bus).
    kind : sequence of str
        Each device's kind (consumer, solar, wind, battery).
    household : sequence of str
        Each device's household (its owner).
    k : int
        The fewest households a released group may have (>= 1).

    Returns
    -------
    Groups
        Groups with at least ``k`` households; the devices of smaller ones merged per kind,
        or suppressed where even the merged group is smaller.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    feeder_a = np.asarray(feeder, dtype=np.int64)
    kind_a = np.asarray(kind, dtype=object)
    home = np.asarray(household, dtype=object)
    group = np.full(len(feeder_a), SUPPRESSED, dtype=np.int64)
    labels: list[str] = []
    kinds: list[str] = []
    for kd in sorted(set(kind_a.tolist())):
        small: list[np.ndarray] = []
        for f in sorted(set(feeder_a[kind_a == kd].tolist())):
            members = np.flatnonzero((kind_a == kd) & (feeder_a == f))
            if len(set(home[members].tolist())) >= k:
                group[members] = len(labels)
                labels.append(f"{kd}/feeder-{f}")
                kinds.append(str(kd))
            else:
                small.append(members)
        merged = np.concatenate(small) if small else np.zeros(0, dtype=np.int64)
        if len(set(home[merged].tolist())) >= k:
            group[merged] = len(labels)
            labels.append(f"{kd}/merged")
            kinds.append(str(kd))
    return Groups(group, labels, kinds)


@dataclass(frozen=True)
class Release:
    """What a sale releases: group sums per interval, and who contributed.

    Attributes
    ----------
    interval, group : ndarray of int, shape (cell,)
        Each released aggregate's interval (row of the inputs) and group.
    energy_wh : ndarray of int, shape (cell,)
        The sum of the group's accepted readings in the interval [Wh].
    devices, households : ndarray of int, shape (cell,)
        Devices and distinct households whose accepted reading is in the sum (>= k).
    readings : ndarray of int, shape (device,)
        Each device's accepted readings in released aggregates.
    suppressed : int
        Group-intervals with some accepted reading that were withheld (< k households).
    """

    interval: np.ndarray
    group: np.ndarray
    energy_wh: np.ndarray
    devices: np.ndarray
    households: np.ndarray
    readings: np.ndarray
    suppressed: int


def release_digest(
    time_us: Sequence[int],
    group: Sequence[str],
    energy_wh: Sequence[int],
    devices: Sequence[int],
    households: Sequence[int],
) -> bytes:
    """keccak-256 of released aggregates, one line ``time_us,group,energy_wh,devices,
    households`` each (time: microseconds since the Unix epoch, UTC): the ``releaseRoot`` a
    sale commits on chain, re-derivable from the ``data_releases`` table."""
    lines = (
        f"{int(t)},{g},{int(e)},{int(d)},{int(h)}\n"
        for t, g, e, d, h in zip(time_us, group, energy_wh, devices, households, strict=True)
    )
    return bytes(keccak("".join(lines).encode()))


def release(
    energy_wh: np.ndarray,
    accepted: np.ndarray,
    groups: Groups,
    household: Sequence[str],
    k: int,
) -> Release:
    """The aggregates of accepted readings that may leave the store (>= ``k`` households).

    Parameters
    ----------
    energy_wh : ndarray of int, shape (interval, device)
        Readings [Wh] (only accepted ones are summed).
    accepted : ndarray of bool, shape (interval, device)
        Whether each reading was accepted (verified, neither flagged nor rejected).
    groups : Groups
        The release groups (:func:`release_groups`, with the same ``k``).
    household : sequence of str
        Each device's household.
    k : int
        The fewest households in a released aggregate.

    Returns
    -------
    Release
        One cell per released group-interval, sorted by interval then group.
    """
    if energy_wh.shape != accepted.shape or energy_wh.shape[1] != len(groups.group):
        raise ValueError("energy_wh, accepted and the groups disagree on the devices")
    _, home_idx = np.unique(np.asarray(household, dtype=str), return_inverse=True)
    n_t, n_d = energy_wh.shape
    readings = np.zeros(n_d, dtype=np.int64)
    parts: list[tuple[np.ndarray, ...]] = []
    suppressed = 0
    for g in range(len(groups.labels)):
        members = np.flatnonzero(groups.group == g)
        ok = accepted[:, members]
        homes, local = np.unique(home_idx[members], return_inverse=True)
        seen = np.zeros((n_t, len(homes)), dtype=bool)
        for j in range(len(members)):
            seen[:, local[j]] |= ok[:, j]
        count = seen.sum(axis=1)
        out = count >= k
        suppressed += int(((count > 0) & ~out).sum())
        used = ok & out[:, None]
        readings[members] += used.sum(axis=0)
        rows = np.flatnonzero(out)
        parts.append(
            (
                rows,
                np.full(len(rows), g, dtype=np.int64),
                np.where(used, energy_wh[:, members], 0).sum(axis=1)[rows].astype(np.int64),
                used.sum(axis=1)[rows].astype(np.int64),
                count[rows].astype(np.int64),
            )
        )
    cols = [
        np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, np.int64) for i in range(5)
    ]
    order = np.lexsort((cols[1], cols[0]))
    interval, group, energy, devices, households = (c[order].astype(np.int64) for c in cols)
    return Release(interval, group, energy, devices, households, readings, suppressed)


def sale_price(readings: int, interval_s: int, price_micro_eur_per_device_month: int) -> int:
    """The payment for ``readings`` released readings of ``interval_s`` [s] each, at a price
    per device-month [micro-euro] (a month: :data:`MONTH_S`), rounded down [micro-euro]."""
    return int(readings) * int(interval_s) * int(price_micro_eur_per_device_month) // MONTH_S


def split_payment(
    payment_micro_eur: int, readings: Sequence[int], treasury_ppm: int
) -> tuple[list[int], int]:
    """Split a payment: the treasury's cut, the rest pro rata to readings, floor-rounded.

    Parameters
    ----------
    payment_micro_eur : int
        What the buyer pays [micro-euro].
    readings : sequence of int
        Each contributing device's released readings (the weights).
    treasury_ppm : int
        The treasury's cut [parts per million of the payment], 0..1,000,000.

    Returns
    -------
    device_micro_eur : list of int
        Each device's ``floor((payment - floor(payment * ppm / 1e6)) * r_i / sum(r))``.
    treasury_micro_eur : int
        The cut plus every rounding remainder: the two sum to the payment exactly.
    """
    if not 0 <= treasury_ppm <= PPM:
        raise ValueError(f"treasury_ppm must be in 0..{PPM}, got {treasury_ppm}")
    if payment_micro_eur < 0 or any(r < 0 for r in readings):
        raise ValueError("payment and readings must not be negative")
    total = sum(int(r) for r in readings)
    pool = payment_micro_eur - payment_micro_eur * treasury_ppm // PPM
    shares = [pool * int(r) // total for r in readings] if total else [0] * len(readings)
    return shares, payment_micro_eur - sum(shares)
