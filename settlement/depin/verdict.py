"""The verdict on a batch of uploads: one status per reading, and the readings table.

:func:`settlement.depin.readings.verify_uploads` returns a :class:`Verification`; the caller
journals it (:meth:`Verification.readings_table`, the results store's ``readings`` table),
then records it into what the journal holds
(:meth:`settlement.depin.verifier_state.VerifierState.record`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from settlement.depin.leaves import IntArray
from settlement.depin.peers import PeerBook
from settlement.depin.plausibility import BatteryBook
from settlement.depin.uploads import Upload

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
        Failed physics checks (:data:`settlement.depin.plausibility.FLAGS`).
    revoked : ndarray of bool, shape (reading,)
        Rejected because the device is revoked.
    battery_book : dict
        Battery bookkeeping after the batch.
    peers : dict
        The PV readings held after the batch of each upload period it touched (peers of
        later, late uploads of those periods).
    leaves : ndarray of uint8, shape (reading, 32)
        Each reading's Merkle leaf as the journal derived it from the reading received
        (:func:`settlement.depin.leaves.reading_leaves`); zeros where its upload failed a
        check before the root's (1-4 of :mod:`settlement.depin.readings`), none given if empty.
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
    peers: PeerBook = field(default_factory=dict)
    leaves: npt.NDArray[np.uint8] = field(default_factory=lambda: np.zeros((0, 32), dtype=np.uint8))

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
