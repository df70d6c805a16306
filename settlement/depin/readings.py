"""The journal's side of signed readings: verify a batch of uploads, one status per reading.

:func:`verify_uploads` is pure: uploads, the registry as plain data, the chain it serves and
what the journal already holds (:class:`VerifierState`) in; a :class:`Verification` out, which
the caller journals and then records into the state (:meth:`VerifierState.record`). Crypto is
per upload (one recovery each), everything per reading is vectorised.

**Checks, in order**; the first that fails decides the status (:data:`STATUSES`):

1. ``rejected_unregistered``: the device id is not in the registry, or is revoked (counted
   apart as ``revoked``);
2. ``rejected_wrong_chain``: the chain id or contract the upload claims in clear is not ours,
   and its signature recovers to the device's signer under that claimed domain (a valid
   signature for another chain: proof it was not meant for ours). If it does not recover
   there either, it is a forgery: ``rejected_tampered``;
3. ``rejected_tampered``: the signature does not recover to the registered signer under our
   domain (a forged upload, a foreign-chain signature relabelled as ours, a malleable
   high-``s`` signature);
4. ``rejected_tampered``: malformed: a reading outside the signed period, two readings of one
   interval, or a nonce >= 2**40;
5. ``rejected_tampered``: the readings do not hash to the signed root (changed in transit);
6. ``rejected_replayed`` (whole upload): the (device, nonce) was used before, or earlier in
   the batch;
7. ``rejected_replayed`` (per reading): the (device, interval) is already journaled, or comes
   earlier in the batch;
8. ``flagged_implausible``: a physics check of :func:`settlement.depin.fraud.plausibility_flags`
   fails (the reading is journaled, and earns nothing);
9. ``accepted``.

Uploads that fail 1-5 use nothing up: a forged upload cannot burn the device's nonce or
intervals. Flagged readings occupy their (device, interval) like accepted ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.depin.devices import (
    DEFAULT_PERIOD_INTERVALS,
    DEVICE_KINDS,
    MAX_DEVICE_ID,
    MAX_INTERVAL,
    RegisteredDevice,
    Upload,
    address_bytes,
    domain_separator,
    readings_root,
    recover_signer,
    upload_digest,
)
from settlement.depin.fraud import BatteryBook, Plausibility, plausibility_flags

STATUSES = (
    "accepted",
    "rejected_tampered",
    "rejected_replayed",
    "rejected_wrong_chain",
    "rejected_unregistered",
    "flagged_implausible",
)
"""Status of a reading; ``status`` arrays hold the index into this tuple."""

ACCEPTED, TAMPERED, REPLAYED, WRONG_CHAIN, UNREGISTERED, FLAGGED = range(len(STATUSES))
_PENDING = -1
_SHIFT = np.uint64(24)  # key = value << 24 | device id

UInt64Array = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.int64]


def _keys(device_id: Any, value: Any) -> UInt64Array:
    """(device, interval or nonce) pairs as sortable 64-bit keys, value-major."""
    device = np.asarray(device_id, dtype=np.int64)
    value = np.asarray(value, dtype=np.int64)
    if device.size and (device.min() < 0 or device.max() >= MAX_DEVICE_ID):
        raise ValueError(f"device ids must lie in [0, {MAX_DEVICE_ID})")
    if value.size and (value.min() < 0 or value.max() >= MAX_INTERVAL):
        raise ValueError(f"intervals and nonces must lie in [0, {MAX_INTERVAL})")
    return (value.astype(np.uint64) << _SHIFT) | device.astype(np.uint64)


def _first_occurrence(keys: UInt64Array) -> npt.NDArray[np.bool_]:
    """True where a key appears for the first time in ``keys``."""
    first = np.zeros(len(keys), dtype=bool)
    first[np.unique(keys, return_index=True)[1]] = True
    return first


class _SortedKeys:
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
    """

    def __init__(
        self,
        readings: tuple[Any, Any] | None = None,
        nonces: tuple[Any, Any] | None = None,
        battery_book: Mapping[int, tuple[int, float]] | None = None,
    ) -> None:
        self._readings = _SortedKeys(_keys(*readings) if readings is not None else None)
        self._nonces = _SortedKeys(_keys(*nonces) if nonces is not None else None)
        self.battery_book: BatteryBook = dict(battery_book or {})

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
        return self._readings.contains(_keys(device_id, interval))

    def has_nonces(self, device_id: Any, nonce: Any) -> npt.NDArray[np.bool_]:
        """Whether each (device, nonce) is used."""
        return self._nonces.contains(_keys(device_id, nonce))

    def record(self, verification: Verification) -> None:
        """Add what ``verification`` journaled (call once the journal holds it)."""
        v = verification
        kept = (v.status == ACCEPTED) | (v.status == FLAGGED)
        self._readings.add(_keys(v.device_id[kept], v.interval[kept]))
        used = np.flatnonzero(v.nonce_used)
        self._nonces.add(_keys(v.upload_device_id[used], v.upload_nonce[used]))
        self.battery_book.update(v.battery_book)


@dataclass(frozen=True, eq=False)
class Verification:
    """The verdict on a batch of uploads: one row per reading, plus per-upload facts.

    Attributes
    ----------
    uploads : sequence of Upload
        The batch, in order.
    upload_status : ndarray of int8, shape (upload,)
        The upload's rejection, or ``accepted`` if it reached the per-reading checks.
    upload_address : list of str
        The registered signer of each upload's device ("" if unregistered).
    upload_device_id : ndarray of int64, shape (upload,)
        Device id each upload claims (ids >= 2**24, never registered, shown as 2**24).
    upload_nonce : ndarray of uint64, shape (upload,)
        Each upload's nonce.
    nonce_used : ndarray of bool, shape (upload,)
        Uploads whose (device, nonce) this batch uses up.
    device_id, interval, energy_wh, upload : ndarray of int64, shape (reading,)
        Each reading's device, interval, energy [Wh] and upload (index into ``uploads``).
    status : ndarray of int8, shape (reading,)
        Index into :data:`STATUSES`.
    flags : ndarray of uint8, shape (reading,)
        Failed physics checks (:data:`settlement.depin.fraud.FLAGS`).
    revoked : ndarray of bool, shape (reading,)
        Rejected because the device is revoked.
    battery_book : dict
        Battery bookkeeping after the batch.
    """

    uploads: Sequence[Upload]
    upload_status: npt.NDArray[np.int8]
    upload_address: list[str]
    upload_device_id: IntArray
    upload_nonce: npt.NDArray[np.uint64]
    nonce_used: npt.NDArray[np.bool_]
    device_id: IntArray
    interval: IntArray
    energy_wh: IntArray
    upload: IntArray
    status: npt.NDArray[np.int8]
    flags: npt.NDArray[np.uint8]
    revoked: npt.NDArray[np.bool_]
    battery_book: BatteryBook = field(default_factory=dict)

    @property
    def statuses(self) -> npt.NDArray[np.object_]:
        """Each reading's status as a string."""
        return np.asarray(STATUSES, dtype=object)[self.status]

    def counts(self) -> dict[str, int]:
        """Readings per status, and ``revoked``: readings of revoked devices."""
        tally = np.bincount(self.status, minlength=len(STATUSES))
        out = {name: int(n) for name, n in zip(STATUSES, tally, strict=True)}
        out["revoked"] = int(self.revoked.sum())
        return out

    def readings_table(
        self,
        node_ids: Mapping[int, str] | None = None,
        start: pd.Timestamp | str | None = None,
        interval_s: int | None = None,
    ) -> pd.DataFrame:
        """The readings as rows of the results store's ``readings`` table.

        Parameters
        ----------
        node_ids : mapping, optional
            device id -> node id (column ``node_id``; "" for unknown devices).
        start, interval_s : Timestamp and int, optional
            Start of interval 0 (UTC) and interval length [s]: ``time`` as UTC timestamps;
            otherwise ``time`` is the interval number.

        Returns
        -------
        DataFrame
            ``time``, ``device_address``, ``node_id``, ``energy_wh``, ``signature`` (hex of
            the upload's signature), ``status`` (categorical of :data:`STATUSES`), then
            ``device_id``, ``interval``, ``period``, ``nonce``, ``flags``.
        """
        up = self.upload
        signature = np.array(["0x" + u.signature.hex() for u in self.uploads], dtype=object)
        address = np.array(self.upload_address, dtype=object)
        time: Any = self.interval
        if start is not None and interval_s is not None:
            origin = pd.Timestamp(start)
            time = origin + pd.to_timedelta(self.interval * int(interval_s), unit="s")
        ids = self.device_id
        names = node_ids or {}
        node = np.array([names.get(int(d), "") for d in np.unique(ids)], dtype=object)
        node_of = node[np.searchsorted(np.unique(ids), ids)] if len(ids) else node[:0]
        return pd.DataFrame(
            {
                "time": time,
                "device_address": address[up] if len(up) else address[:0],
                "node_id": node_of,
                "energy_wh": self.energy_wh,
                "signature": signature[up] if len(up) else signature[:0],
                "status": pd.Categorical.from_codes(
                    self.status.astype(np.int64), categories=pd.Index(STATUSES)
                ),
                "device_id": ids,
                "interval": self.interval,
                "period": np.array([u.period for u in self.uploads], dtype=np.uint64)[up],
                "nonce": self.upload_nonce[up],
                "flags": self.flags,
            }
        )


def verify_uploads(
    uploads: Sequence[Upload],
    registry: Mapping[int, RegisteredDevice],
    *,
    chain_id: int,
    verifying_contract: str,
    state: VerifierState | None = None,
    interval_s: int = 900,
    period_intervals: int = DEFAULT_PERIOD_INTERVALS,
    clear_sky_w_per_m2: npt.NDArray[np.float64] | None = None,
    limits: Plausibility | None = None,
) -> Verification:
    """Verify a batch of uploads as the journal does; one status per reading.

    Parameters
    ----------
    uploads : sequence of Upload
        The batch, in arrival order (earlier wins a replay tie).
    registry : mapping of int to RegisteredDevice
        The ``DeviceRegistry`` as plain data: device id -> signer, kind, nameplate, active.
    chain_id : int
        The chain this journal settles on.
    verifying_contract : str
        Our ``DeviceRegistry`` address.
    state : VerifierState, optional
        What the journal already holds (not modified; see :meth:`VerifierState.record`).
    interval_s : int
        Interval length [s].
    period_intervals : int
        Upload period [intervals].
    clear_sky_w_per_m2 : ndarray, optional
        Clear-sky ceiling irradiance per interval number [W/m^2]
        (:func:`settlement.depin.fraud.clear_sky_ceiling_w_per_m2`); None skips that check.
    limits : Plausibility, optional
        Physics thresholds.

    Returns
    -------
    Verification
        Statuses in the order of the module docstring's checks.
    """
    state = state or VerifierState()
    n_up = len(uploads)
    sizes = np.array([len(u.intervals) for u in uploads], dtype=np.int64)
    upload_of = np.repeat(np.arange(n_up, dtype=np.int64), sizes)
    empty = np.zeros(0, dtype=np.int64)
    interval = np.concatenate([u.intervals for u in uploads]) if n_up else empty
    energy = np.concatenate([u.energy_wh for u in uploads]) if n_up else empty
    up_device = np.array([min(u.device_id, MAX_DEVICE_ID) for u in uploads], dtype=np.int64)
    up_period = np.array([min(u.period, MAX_INTERVAL) for u in uploads], dtype=np.int64)
    device = up_device[upload_of]
    status = np.full(n_up, _PENDING, dtype=np.int8)
    revoked = np.zeros(n_up, dtype=bool)
    address = [""] * n_up
    kind = np.zeros(n_up, dtype=np.int64)
    p_max_mw = np.zeros(n_up)
    capacity_kwh = np.zeros(n_up)
    ours = (chain_id, address_bytes(verifying_contract))
    for u, up in enumerate(uploads):  # 1-3: registry, domain, signature (crypto: per upload)
        reg = registry.get(up.device_id)
        if reg is None or not reg.active:
            status[u], revoked[u] = UNREGISTERED, reg is not None
            address[u] = reg.signer if reg is not None else ""
            continue
        if up.device_id >= MAX_DEVICE_ID:
            raise ValueError(f"registered device ids must lie in [1, {MAX_DEVICE_ID})")
        address[u] = reg.signer
        kind[u] = DEVICE_KINDS.index(reg.kind)
        p_max_mw[u], capacity_kwh[u] = reg.p_max_mw, reg.capacity_kwh
        try:
            claimed = (up.chain_id, address_bytes(up.verifying_contract))
            separator = domain_separator(up.chain_id, up.verifying_contract)
            digest = upload_digest(separator, up.device_id, up.period, up.readings_root, up.nonce)
        except (ValueError, OverflowError):
            status[u] = TAMPERED
            continue
        valid = recover_signer(digest, up.signature) == address_bytes(reg.signer)
        if claimed != ours:
            status[u] = WRONG_CHAIN if valid else TAMPERED
        elif not valid:
            status[u] = TAMPERED
    status[
        (status == _PENDING) & _malformed(uploads, upload_of, interval, up_period, period_intervals)
    ] = TAMPERED
    _check_roots(uploads, status, device, interval, energy, sizes)
    # 6: (device, nonce) replays, among the uploads that passed 1-5
    live_up = np.flatnonzero(status == _PENDING)
    nonces = np.array([uploads[int(u)].nonce for u in live_up], dtype=np.int64)
    nonce_keys = _keys(up_device[live_up], nonces)
    replayed = state.has_nonces(up_device[live_up], nonces) | ~_first_occurrence(nonce_keys)
    status[live_up[replayed]] = REPLAYED
    nonce_used = np.zeros(n_up, dtype=bool)
    nonce_used[live_up[~replayed]] = True
    # 7: (device, interval) replays, per reading
    reading_status = status[upload_of]
    live = np.flatnonzero(reading_status == _PENDING)
    reading_keys = _keys(device[live], interval[live])
    seen = state.has_readings(device[live], interval[live]) | ~_first_occurrence(reading_keys)
    reading_status[live[seen]] = REPLAYED
    # 8: physics
    live = np.flatnonzero(reading_status == _PENDING)
    flags = np.zeros(len(interval), dtype=np.uint8)
    book = dict(state.battery_book)
    if len(live):
        owner = upload_of[live]
        flags[live], book = plausibility_flags(
            device[live],
            owner,
            interval[live],
            energy[live],
            kind[owner],
            p_max_mw[owner],
            capacity_kwh[owner],
            interval_s=interval_s,
            period_intervals=period_intervals,
            clear_sky_w_per_m2=clear_sky_w_per_m2,
            limits=limits,
            battery_book=book,
        )
        reading_status[live] = np.where(flags[live] != 0, FLAGGED, ACCEPTED)
    status[status == _PENDING] = ACCEPTED
    return Verification(
        uploads=list(uploads),
        upload_status=status,
        upload_address=address,
        upload_device_id=up_device,
        upload_nonce=np.array([u.nonce for u in uploads], dtype=np.uint64),
        nonce_used=nonce_used,
        device_id=device,
        interval=interval,
        energy_wh=energy,
        upload=upload_of,
        status=reading_status,
        flags=flags,
        revoked=revoked[upload_of],
        battery_book=book,
    )


def _malformed(
    uploads: Sequence[Upload],
    upload_of: IntArray,
    interval: IntArray,
    period: IntArray,
    period_intervals: int,
) -> npt.NDArray[np.bool_]:
    """Uploads with a reading outside their period, a repeated interval, or a huge nonce."""
    n_up = len(uploads)
    first = period[upload_of] * period_intervals
    outside = (interval < first) | (interval >= np.minimum(first + period_intervals, MAX_INTERVAL))
    order = np.lexsort((interval, upload_of))
    same = (np.diff(upload_of[order]) == 0) & (np.diff(interval[order]) == 0)
    bad = np.zeros(n_up, dtype=bool)
    bad[upload_of[outside]] = True
    bad[upload_of[order][1:][same]] = True
    bad |= np.array([u.nonce >= MAX_INTERVAL for u in uploads], dtype=bool)
    return bad


def _check_roots(
    uploads: Sequence[Upload],
    status: npt.NDArray[np.int8],
    device: IntArray,
    interval: IntArray,
    energy: IntArray,
    sizes: IntArray,
) -> None:
    """5: mark ``TAMPERED`` the pending uploads whose readings miss their signed root."""
    ends = np.cumsum(sizes)
    for u in np.flatnonzero(status == _PENDING).tolist():
        rows = slice(int(ends[u] - sizes[u]), int(ends[u]))
        if readings_root(device[rows], interval[rows], energy[rows]) != uploads[u].readings_root:
            status[u] = TAMPERED
