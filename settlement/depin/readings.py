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
8. ``flagged_implausible``: a physics check of
   :func:`settlement.depin.plausibility.plausibility_flags` fails (the reading is journaled, and
   earns nothing); a PV reading's peers are the other PV readings of its own upload period,
   in the batch or already held (``state.peers``: a late upload meets its period's peers);
9. ``accepted``.

Uploads that fail 1-5 use nothing up: a forged upload cannot burn the device's nonce or
intervals. Flagged readings occupy their (device, interval) like accepted ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from settlement.depin.devices import DEVICE_KINDS, MAX_DEVICE_ID, RegisteredDevice
from settlement.depin.keys import address_bytes, recover_signer
from settlement.depin.leaves import IntArray, upload_trees
from settlement.depin.peers import PeerBook, held_peers
from settlement.depin.plausibility import Plausibility, plausibility_flags
from settlement.depin.uploads import (
    DEFAULT_PERIOD_INTERVALS,
    MAX_INTERVAL,
    Upload,
    domain_separator,
    upload_digest,
)
from settlement.depin.verdict import (
    ACCEPTED,
    FLAGGED,
    REPLAYED,
    TAMPERED,
    UNREGISTERED,
    WRONG_CHAIN,
    Verification,
)
from settlement.depin.verifier_state import VerifierState, first_occurrence, pair_keys

_PENDING = -1


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
        What the journal already holds (not modified; see :meth:`VerifierState.record`),
        the PV readings of recent periods among it (peers of late uploads).
    interval_s : int
        Interval length [s].
    period_intervals : int
        Upload period [intervals].
    clear_sky_w_per_m2 : ndarray, optional
        Clear-sky ceiling irradiance per interval number [W/m^2]
        (``forecasting.solar.clear_sky_ceiling_w_per_m2``, computed by the caller); None skips
        that check.
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
    leaves = _check_roots(uploads, status, device, interval, energy, sizes, upload_of)
    # 6: (device, nonce) replays, among the uploads that passed 1-5
    live_up = np.flatnonzero(status == _PENDING)
    nonces = np.array([uploads[int(u)].nonce for u in live_up], dtype=np.int64)
    nonce_keys = pair_keys(up_device[live_up], nonces)
    replayed = state.has_nonces(up_device[live_up], nonces) | ~first_occurrence(nonce_keys)
    status[live_up[replayed]] = REPLAYED
    nonce_used = np.zeros(n_up, dtype=bool)
    nonce_used[live_up[~replayed]] = True
    # 7: (device, interval) replays, per reading
    reading_status = status[upload_of]
    live = np.flatnonzero(reading_status == _PENDING)
    reading_keys = pair_keys(device[live], interval[live])
    seen = state.has_readings(device[live], interval[live]) | ~first_occurrence(reading_keys)
    reading_status[live[seen]] = REPLAYED
    # 8: physics
    live = np.flatnonzero(reading_status == _PENDING)
    flags = np.zeros(len(interval), dtype=np.uint8)
    book = dict(state.battery_book)
    peers: PeerBook = {}
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
            peers=state.peers,
        )
        reading_status[live] = np.where(flags[live] != 0, FLAGGED, ACCEPTED)
        solar = live[kind[owner] == DEVICE_KINDS.index("solar")]
        peers = held_peers(
            state.peers,
            device[solar],
            interval[solar],
            energy[solar],
            p_max_mw[upload_of[solar]],
            period_intervals=period_intervals,
        )
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
        peers=peers,
        leaves=leaves,
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
    upload_of: IntArray,
) -> npt.NDArray[np.uint8]:
    """5: mark ``TAMPERED`` the pending uploads whose readings miss their signed root; return
    each reading's leaf, shape (reading, 32), as derived here (zeros for the uploads that
    failed 1-4, whose readings were not hashed)."""
    pending = np.flatnonzero(status == _PENDING)
    rows = np.isin(upload_of, pending)
    roots, derived = upload_trees(device[rows], interval[rows], energy[rows], sizes[pending])
    for u, root in zip(pending.tolist(), roots, strict=True):
        if root != uploads[u].readings_root:
            status[u] = TAMPERED
    leaves = np.zeros((len(interval), 32), dtype=np.uint8)
    leaves[rows] = np.frombuffer(derived, dtype=np.uint8).reshape(-1, 32)
    return leaves
