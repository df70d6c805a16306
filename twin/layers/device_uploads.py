"""A device layer's uploads: each period's signed uploads, their arrival, the journal's
verdicts, the readings.

:class:`DeviceUploads` is the part of :class:`~twin.layers.devices.DeviceLayer` that, every
``devices.upload_intervals``, has each device sign its readings (attacking devices inflate,
replay, forge or sign for another chain: :func:`settlement.depin.fraud.attack_uploads`) and
send them, or hold them while its meter link is down or slow (``devices.dropouts``,
``devices.upload_delay_periods``: :func:`settlement.depin.links.arrival_slots`); has the
journal verify the uploads that arrive in the period's slot together, late ones among them
(:func:`settlement.depin.readings.verify_uploads`; the grid-side physics check flags in
place), slashes proven lies, keeps the accepted readings for the epoch's rewards, tells the
listeners (data sales) and writes the ``readings`` table.

**Late readings meet their own period.** A late upload is verified as any other (signature,
nonce, replay of a (device, interval) or a nonce already journaled, physics bounds), and
against its own period, not the one it arrives with: its PV readings' peers are the PV
readings of their period the journal already holds (``VerifierState.peers``), and the
grid-side check tests its period again, with that period's meters and held claims and the
late claims added, flagging only the late readings (the held ones' verdicts stand). Both are
kept for a period while an upload of it is still held by a link, and dropped after.

**Late readings and rewards.** Its accepted
readings count in their own interval's epoch while that epoch is open (its rewards are paid
at its end, after the uploads of its last slot). Readings whose epoch was already paid when
they arrive (``after_epoch`` in ``readings``) are journaled and earn nothing: the epoch's pool
is shared and its Merkle root recorded on chain once (``Rewards.distribute``), and carrying
them into the open epoch would let a device pick the epoch it is paid in (a richer pool, an
emission schedule's step) by timing its uploads. They are counted apart
(``readings_late_after_epoch``); nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pyarrow as pa

from settlement.depin.fraud import SentUpload, attack_uploads
from settlement.depin.leaves import upload_trees
from settlement.depin.links import arrival_slots
from settlement.depin.plausibility import Plausibility
from settlement.depin.readings import verify_uploads
from settlement.depin.verdict import ACCEPTED, FLAGGED, STATUSES, Verification
from settlement.depin.verifier_state import VerifierState
from twin.results import RunWriter

if TYPE_CHECKING:
    from settlement.depin.devices import Device
    from settlement.depin.uploads import Upload
    from twin.layers.device_rewards import Epoch
    from twin.layers.physics import PhysicsCheck
    from twin.layers.staking import StakingBook
    from twin.scenario.settlement import DevicesConfig


class Held(NamedTuple):
    """An upload signed and not yet sent: the slot it goes with, its device and period."""

    slot: int
    device: int
    period: int
    sent: SentUpload


class DeviceUploads:
    """Uploads, their arrival and verdicts, a part of :class:`~twin.layers.devices.DeviceLayer`
    (whose constructor sets the attributes declared here)."""

    devices: list[Device]
    ids: np.ndarray
    nonce: np.ndarray
    attack: np.ndarray
    inflate_factor: np.ndarray
    previous: dict[int, Upload]
    seed: int
    chain_id: int
    contract: str
    period: int
    registry: dict
    state: VerifierState
    interval_s: int
    clear_sky: np.ndarray
    limits: Plausibility
    physics: PhysicsCheck | None
    book: StakingBook | None
    counts: dict[str, int]
    attack_readings: int
    epoch: Epoch
    stamps_us: np.ndarray
    node_ids: np.ndarray
    _verified: list[Callable[[int, np.ndarray, np.ndarray], None]]

    def _links(self, cfg: DevicesConfig, position: dict[str, int], n_run: int) -> None:
        """Each period's arrival slot per device (``arrival``, shape (period, device)), and
        the state of held uploads; node ids are validated by the caller."""
        n_periods = -(-n_run // self.period)
        slot_end_s = np.minimum(
            (np.arange(n_periods) + 1) * self.period * self.interval_s, n_run * self.interval_s
        )
        down: dict[int, list[tuple[float, float]]] = {}
        for d in cfg.dropouts:
            start_s = d.start_h * 3600.0
            down.setdefault(position[d.node_id], []).append(
                (start_s, start_s + d.duration_h * 3600)
            )
        self.arrival = np.stack(
            [
                arrival_slots(
                    slot_end_s,
                    down.get(i, []),
                    cfg.upload_delay_periods.get(str(self.node_ids[i]), 0),
                )
                for i in range(len(self.devices))
            ],
            axis=1,
        ).reshape(n_periods, len(self.devices))
        self.held: list[Held] = []
        self.metered = np.zeros((n_run, len(self.devices)), dtype=np.int64)
        self.late_readings = 0
        self.late_after_epoch = 0

    def _upload(self, period: int, energy: np.ndarray, writer: RunWriter) -> None:
        """Sign period ``period``'s readings ``energy`` [Wh] (interval, device), then journal
        what arrives in its slot: held uploads, oldest first, and the on-time ones."""
        first_k = period * self.period
        self.metered[first_k : first_k + len(energy)] = energy
        roots = self._honest_roots(period, energy)
        for i, device in enumerate(self.devices):
            slot = int(self.arrival[period, i])
            for s in attack_uploads(
                device,
                period,
                energy[:, i],
                int(self.nonce[i]),
                str(self.attack[i]),
                chain_id=self.chain_id,
                verifying_contract=self.contract,
                period_intervals=self.period,
                inflate_factor=float(self.inflate_factor[i]),
                previous=self.previous.get(i),
                seed=self.seed,
                honest_root=roots.get(i),
            ):
                self.held.append(Held(slot, i, period, s))
            self.nonce[i] += 1
        end = first_k + len(energy)
        final = end >= len(self.metered)  # the run's last slot takes everything still held
        due = [h for h in self.held if final or h.slot <= period]
        self.held = [h for h in self.held if not (final or h.slot <= period)]
        sent = [h.sent for h in due]
        uploads = [s.upload for s in sent]
        result = verify_uploads(
            uploads,
            self.registry,
            chain_id=self.chain_id,
            verifying_contract=self.contract,
            state=self.state,
            interval_s=self.interval_s,
            period_intervals=self.period,
            clear_sky_w_per_m2=self.clear_sky,
            limits=self.limits,
        )
        if self.physics is not None:  # grid-side check: flags in place, before journaling
            self._check_grid_side(period, result, end)
        self.state.record(result)
        # what a late upload is checked against, kept while one can still arrive
        awaited = {h.period for h in self.held}
        self.state.forget_peers(awaited)
        if self.physics is not None:
            self.physics.forget({p * self.period for p in awaited}, end)
        if self.book is not None:
            self.book.slash_proven(result, self.stamps_us)
        for h in due:
            if h.sent.attack == "none":
                self.previous[h.device] = h.sent.upload
        for name, count in result.counts().items():
            self.counts[name] = self.counts.get(name, 0) + int(count)
        attack = np.array([s.attack for s in sent], dtype=object)[result.upload]
        status = np.asarray(STATUSES, dtype=object)[result.status.astype(np.int64)]
        # an attack reading: every reading an attack sends, except an "inflated" reading that
        # equals the metered truth (0 x 1.3 is 0: nothing was inflated)
        row = result.interval
        col = result.device_id - 1
        here = (row >= 0) & (row < end) & (col >= 0) & (col < len(self.devices))
        truth = np.full(len(row), np.iinfo(np.int64).min)
        truth[here] = self.metered[row[here], col[here]]
        is_attack = (attack != "none") & ((attack != "inflate") | (result.energy_wh != truth))
        self.attack_readings += int(is_attack.sum())
        ok = status == "accepted"
        late = period - result.interval // self.period
        e = self.epoch
        after_epoch = result.interval < e.first
        self.late_readings += int((ok & (late > 0)).sum())
        self.late_after_epoch += int((ok & after_epoch).sum())
        # accepted readings for the epoch's rewards: their own epoch's, if still open
        e.grow(len(energy), len(self.devices))
        counted = ok & ~after_epoch & here
        e.put(
            result.interval[counted] - e.first,
            col[counted],
            result.energy_wh[counted],
            is_attack[counted],
            result.leaves[counted],
        )
        self._tell(period, result.interval[ok & here], col[ok & here], result.energy_wh[ok & here])
        stamps = self.stamps_us
        k = np.minimum(result.interval, len(stamps) - 1)
        node = self.node_ids[np.clip(col, 0, len(self.node_ids) - 1)]
        signatures = np.array(["0x" + u.signature.hex() for u in uploads], dtype=object)
        uploaded_at = stamps[0] + np.timedelta64(end * self.interval_s, "s")
        writer.append(
            "readings",
            {
                "time": stamps[k],
                "device_address": pa.array(
                    np.array(result.upload_address, dtype=object)[result.upload]
                ).dictionary_encode(),
                "node_id": pa.array(node).dictionary_encode(),
                "energy_wh": result.energy_wh.astype(np.int64),
                "signature": pa.array(signatures[result.upload]).dictionary_encode(),
                "status": pa.array(status).dictionary_encode(),
                "attack": pa.array(np.where(is_attack, attack, "none")).dictionary_encode(),
                "device_id": result.device_id.astype(np.int64),
                "flags": result.flags.astype(np.int64),
                "uploaded_at": np.full(len(k), uploaded_at),
                "late_periods": late.astype(np.int64),
                "after_epoch": after_epoch,
            },
        )

    def _honest_roots(self, period: int, energy: np.ndarray) -> dict[int, bytes]:
        """The Merkle root of each device's honest readings of ``period`` (by column), for
        the devices that sign them (all but inflating ones), derived for all at once."""
        signs = np.flatnonzero(self.attack != "inflate")
        n = len(energy)
        honest = np.asarray(energy, dtype=np.int64)[:, signs]
        intervals = period * self.period + np.arange(n, dtype=np.int64)
        roots, _ = upload_trees(
            np.repeat(self.ids[signs], n),
            np.tile(intervals, len(signs)),
            honest.T.ravel(),
            np.full(len(signs), n),
        )
        return dict(zip(signs.tolist(), roots, strict=True))

    def _check_grid_side(self, period: int, result: Verification, end: int) -> None:
        """The grid-side check of the slot's own period, and again of each earlier period a
        late upload of which arrived (its held claims and meters, the late claims added)."""
        assert self.physics is not None
        n_run = len(self.metered)
        held = (result.status == ACCEPTED) | (result.status == FLAGGED)
        late = {int(p) for p in np.unique(result.interval[held] // self.period) if p < period}
        for p in [*sorted(late), period]:
            first = p * self.period
            self.physics.flag(result, first, min(self.period, n_run - first), end)

    def _tell(self, period: int, interval: np.ndarray, col: np.ndarray, energy: np.ndarray) -> None:
        """Tell the listeners the accepted readings of each period in this slot: the slot's
        own period always (none of it may have arrived), earlier periods' late readings too."""
        n_run, n_dev = self.metered.shape
        for p in sorted({period, *(interval // self.period).tolist()}):
            first = p * self.period
            n = min(self.period, n_run - first)
            mine = interval // self.period == p
            grid_e = np.zeros((n, n_dev), dtype=np.int64)
            grid_ok = np.zeros((n, n_dev), dtype=bool)
            grid_e[interval[mine] - first, col[mine]] = energy[mine]
            grid_ok[interval[mine] - first, col[mine]] = True
            for listener in self._verified:
                listener(first, grid_e, grid_ok)
