"""A device layer's uploads: each period's signed uploads, the journal's verdicts, the readings.

:class:`DeviceUploads` is the part of :class:`~twin.layers.devices.DeviceLayer` that, every
``devices.upload_intervals``, has each device sign its readings (attacking devices inflate,
replay, forge or sign for another chain: :func:`settlement.depin.fraud.attack_uploads`), has
the journal verify the period's uploads together (:func:`settlement.depin.readings.
verify_uploads`; the grid-side physics check flags in place), slashes proven lies, keeps the
accepted readings for the epoch's rewards, tells the listeners (data sales) and writes the
``readings`` table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from settlement.depin.fraud import SentUpload, attack_uploads
from settlement.depin.plausibility import Plausibility
from settlement.depin.readings import verify_uploads
from settlement.depin.verdict import STATUSES
from settlement.depin.verifier_state import VerifierState
from twin.results import RunWriter

if TYPE_CHECKING:
    from settlement.depin.devices import Device
    from settlement.depin.uploads import Upload
    from twin.layers.device_rewards import Epoch
    from twin.layers.physics import PhysicsCheck
    from twin.layers.staking import StakingBook


class DeviceUploads:
    """Uploads and verdicts, a part of :class:`~twin.layers.devices.DeviceLayer` (whose
    constructor sets the attributes declared here)."""

    devices: list[Device]
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

    def _upload(self, period: int, energy: np.ndarray, writer: RunWriter) -> None:
        sent: list[SentUpload] = []
        for i, device in enumerate(self.devices):
            sent += attack_uploads(
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
            )
            self.nonce[i] += 1
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
            self.physics.flag(result, period * self.period, len(energy))
        self.state.record(result)
        if self.book is not None:
            self.book.slash_proven(result, self.stamps_us)
        for s in sent:
            if s.attack == "none":
                self.previous[s.upload.device_id - 1] = s.upload
        for name, count in result.counts().items():
            self.counts[name] = self.counts.get(name, 0) + int(count)
        attack = np.array([s.attack for s in sent], dtype=object)[result.upload]
        status = np.asarray(STATUSES, dtype=object)[result.status.astype(np.int64)]
        # an attack reading: every reading an attack sends, except an "inflated" reading that
        # equals the metered truth (0 x 1.3 is 0: nothing was inflated)
        row = result.interval - period * self.period
        col = result.device_id - 1
        here = (row >= 0) & (row < len(energy)) & (col >= 0) & (col < len(self.devices))
        truth = np.full(len(row), np.iinfo(np.int64).min)
        truth[here] = energy[row[here], col[here]]
        is_attack = (attack != "none") & ((attack != "inflate") | (result.energy_wh != truth))
        self.attack_readings += int(is_attack.sum())
        # accepted readings for the epoch's rewards
        e = self.epoch
        ok = status == "accepted"
        rows = result.interval[ok] - e.first
        cols = result.device_id[ok] - 1
        n_rows = len(energy) + (period * self.period - e.first)
        grid_e = np.zeros((n_rows, len(self.devices)), dtype=np.int64)
        grid_ok = np.zeros((n_rows, len(self.devices)), dtype=bool)
        grid_attack = np.zeros((n_rows, len(self.devices)), dtype=bool)
        inside = (rows >= 0) & (rows < n_rows)
        grid_e[rows[inside], cols[inside]] = result.energy_wh[ok][inside]
        grid_ok[rows[inside], cols[inside]] = True
        grid_attack[rows[inside], cols[inside]] = is_attack[ok][inside]
        done = sum(len(x) for x in e.energy)
        e.energy.append(grid_e[done:])
        e.accepted.append(grid_ok[done:])
        e.attack_ok.append(grid_attack[done:])
        for listener in self._verified:
            listener(e.first + done, grid_e[done:], grid_ok[done:])
        stamps = self.stamps_us
        k = np.minimum(result.interval, len(stamps) - 1)
        node = self.node_ids[np.clip(result.device_id - 1, 0, len(self.node_ids) - 1)]
        signatures = np.array(["0x" + u.signature.hex() for u in uploads], dtype=object)
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
            },
        )
