"""What the journal already holds of signed readings: the state a verification starts from.

(device, interval) readings and (device, nonce) uploads are kept as sorted 64-bit keys
(``value << 24 | device id``), so a batch's replay checks are vectorised lookups; each
battery's booked state of charge carries the physics check across batches, and the PV
readings of recent upload periods are the peers of late uploads of those periods (kept until
the caller :meth:`VerifierState.forget_peers` a period no upload can still reach).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from settlement.depin.devices import MAX_DEVICE_ID
from settlement.depin.peers import PeerBook
from settlement.depin.plausibility import BatteryBook
from settlement.depin.uploads import MAX_INTERVAL
from settlement.depin.verdict import ACCEPTED, FLAGGED

if TYPE_CHECKING:
    from settlement.depin.verdict import Verification

_SHIFT = np.uint64(24)  # key = value << 24 | device id

UInt64Array = npt.NDArray[np.uint64]


def pair_keys(device_id: Any, value: Any) -> UInt64Array:
    """(device, interval or nonce) pairs as sortable 64-bit keys, value-major."""
    device = np.asarray(device_id, dtype=np.int64)
    value = np.asarray(value, dtype=np.int64)
    if device.size and (device.min() < 0 or device.max() >= MAX_DEVICE_ID):
        raise ValueError(f"device ids must lie in [0, {MAX_DEVICE_ID})")
    if value.size and (value.min() < 0 or value.max() >= MAX_INTERVAL):
        raise ValueError(f"intervals and nonces must lie in [0, {MAX_INTERVAL})")
    return (value.astype(np.uint64) << _SHIFT) | device.astype(np.uint64)


def first_occurrence(keys: UInt64Array) -> npt.NDArray[np.bool_]:
    """True where a key appears for the first time in ``keys``."""
    first = np.zeros(len(keys), dtype=bool)
    first[np.unique(keys, return_index=True)[1]] = True
    return first


class SortedKeys:
    """A growing set of 64-bit keys: sorted buffer, amortised O(new) appends in order."""

    def __init__(self, keys: UInt64Array | None = None) -> None:
        initial = np.unique(keys) if keys is not None else np.zeros(0, dtype=np.uint64)
        self._buffer = initial.astype(np.uint64)
        self._size = len(initial)

    def __len__(self) -> int:
        return self._size

    @property
    def keys(self) -> UInt64Array:
        return self._buffer[: self._size]

    def contains(self, keys: UInt64Array) -> npt.NDArray[np.bool_]:
        held = self.keys
        if not len(held):
            return np.zeros(len(keys), dtype=bool)
        at = np.minimum(np.searchsorted(held, keys), len(held) - 1)
        return np.asarray(held[at] == keys, dtype=np.bool_)

    def add(self, keys: UInt64Array) -> None:
        new = np.unique(keys)
        new = new[~self.contains(new)]
        if not len(new):
            return
        if self._size and new[0] < self._buffer[self._size - 1]:  # out of order: merge
            self._buffer = np.union1d(self.keys, new)
            self._size = len(self._buffer)
            return
        end = self._size + len(new)
        if end > len(self._buffer):
            grown = np.zeros(max(end, 2 * len(self._buffer)), dtype=np.uint64)
            grown[: self._size] = self.keys
            self._buffer = grown
        self._buffer[self._size : end] = new
        self._size = end


class VerifierState:
    """What the journal already holds: (device, interval) readings, (device, nonce) uploads
    and each battery's booked state of charge.

    Parameters
    ----------
    readings : (array_like, array_like), optional
        Device ids and intervals of the readings already journaled (accepted or flagged).
    nonces : (array_like, array_like), optional
        Device ids and nonces of the uploads already journaled.
    battery_book : mapping, optional
        device id -> (last interval booked, stored energy [Wh]).

    Attributes
    ----------
    peers : dict
        upload period -> the PV readings held of it (accepted or flagged).
    """

    def __init__(
        self,
        readings: tuple[Any, Any] | None = None,
        nonces: tuple[Any, Any] | None = None,
        battery_book: Mapping[int, tuple[int, float]] | None = None,
    ) -> None:
        self._readings = SortedKeys(pair_keys(*readings) if readings is not None else None)
        self._nonces = SortedKeys(pair_keys(*nonces) if nonces is not None else None)
        self.battery_book: BatteryBook = dict(battery_book or {})
        self.peers: PeerBook = {}

    @property
    def n_readings(self) -> int:
        """Readings journaled."""
        return len(self._readings)

    @property
    def n_uploads(self) -> int:
        """(device, nonce) pairs used."""
        return len(self._nonces)

    def has_readings(self, device_id: Any, interval: Any) -> npt.NDArray[np.bool_]:
        """Whether each (device, interval) is journaled."""
        return self._readings.contains(pair_keys(device_id, interval))

    def has_nonces(self, device_id: Any, nonce: Any) -> npt.NDArray[np.bool_]:
        """Whether each (device, nonce) is used."""
        return self._nonces.contains(pair_keys(device_id, nonce))

    def record(self, verification: Verification) -> None:
        """Add what ``verification`` journaled (call once the journal holds it)."""
        v = verification
        kept = (v.status == ACCEPTED) | (v.status == FLAGGED)
        self._readings.add(pair_keys(v.device_id[kept], v.interval[kept]))
        used = np.flatnonzero(v.nonce_used)
        self._nonces.add(pair_keys(v.upload_device_id[used], v.upload_nonce[used]))
        self.battery_book.update(v.battery_book)
        self.peers.update(v.peers)

    def forget_peers(self, keep: Any) -> None:
        """Drop the PV readings of every upload period but ``keep`` (the periods an upload
        can still reach: their late uploads' peers)."""
        kept = set(keep)
        self.peers = {p: r for p, r in self.peers.items() if p in kept}
