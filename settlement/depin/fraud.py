"""Attacks on signed readings: what a fraud scenario's devices (or their attackers) send.

**Attacks** (:func:`attack_uploads`), the ``attack`` column of a fraud scenario's nodes:

============ ===================================================================================
none         the device's honest upload
inflate      the device signs its readings times a factor (valid signature: physics must catch)
replay       the honest upload, plus an earlier accepted upload re-sent as is (same period,
             root, nonce and signature)
forge        someone without the key signs inflated readings with another key, claiming the
             device; then the honest upload
wrong_chain  the honest upload, plus the same readings signed for another chain id (the foreign
             domain claimed in clear)
============ ===================================================================================

:func:`tamper` changes a reading in transit (root and signature kept).

What catches each: the journal's checks (:mod:`settlement.depin.readings`) for a replay, a
forgery, a wrong chain or a tampered reading; physics (:mod:`settlement.depin.plausibility`)
for an inflation, whose signature is valid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np

from settlement.depin.devices import Device, device_private_key
from settlement.depin.uploads import DEFAULT_PERIOD_INTERVALS, Upload, sign_upload

ATTACKS = ("none", "inflate", "replay", "forge", "wrong_chain")
"""Attack kinds of :func:`attack_uploads`."""


class SentUpload(NamedTuple):
    """An upload as sent, with the attack it belongs to (``"none"`` for an honest one)."""

    upload: Upload
    attack: str


def forger(device: Device, seed: int) -> Device:
    """Someone without ``device``'s key: same id and nameplate, a key of its own."""
    key = device_private_key("forger:" + device.node_id, seed)
    d = device
    return Device(d.device_id, d.node_id, d.kind, d.p_max_mw, d.capacity_kwh, key)


def attack_uploads(
    device: Device,
    period: int,
    energy_wh: Any,
    nonce: int,
    attack: str,
    *,
    chain_id: int,
    verifying_contract: str,
    period_intervals: int = DEFAULT_PERIOD_INTERVALS,
    inflate_factor: float = 1.3,
    previous: Upload | None = None,
    seed: int = 0,
    foreign_chain_id: int | None = None,
    honest_root: bytes | None = None,
) -> list[SentUpload]:
    """What ``device`` (or an attacker of it) sends for one period under ``attack``.

    Parameters
    ----------
    device : Device
        The device.
    period : int
        Upload period index; readings are its first ``len(energy_wh)`` intervals.
    energy_wh : array_like of int
        The device's honest readings of the period [Wh].
    nonce : int
        The device's upload counter for this period.
    attack : {"none", "inflate", "replay", "forge", "wrong_chain"}
        See the module docstring.
    chain_id, verifying_contract : int, str
        The domain of the chain the journal serves.
    period_intervals : int
        Upload period [intervals].
    inflate_factor : float
        Factor on the readings of ``inflate`` and ``forge`` [-].
    previous : Upload, optional
        An earlier accepted upload of the device, re-sent by ``replay`` (none: nothing extra).
    seed : int
        Run seed (the forger's key).
    foreign_chain_id : int, optional
        Chain of ``wrong_chain``; ``chain_id + 1`` by default.
    honest_root : bytes, optional
        The Merkle root of the honest readings if the device derived it already (see
        :func:`settlement.depin.uploads.sign_upload`).

    Returns
    -------
    list of SentUpload
        In sending order; attack uploads carry the attack's name.
    """
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; one of {ATTACKS}")
    honest = np.asarray(energy_wh, dtype=np.int64)
    intervals = period * period_intervals + np.arange(len(honest), dtype=np.int64)
    domain: dict[str, Any] = {"chain_id": chain_id, "verifying_contract": verifying_contract}
    if attack in ("inflate", "forge"):
        inflated = np.round(honest * float(inflate_factor)).astype(np.int64)
    if attack == "inflate":
        return [
            SentUpload(sign_upload(device, period, intervals, inflated, nonce, **domain), attack)
        ]
    own = sign_upload(device, period, intervals, honest, nonce, **domain, root=honest_root)
    sent = [SentUpload(own, "none")]
    if attack == "replay" and previous is not None:
        sent.append(SentUpload(previous, attack))
    elif attack == "forge":
        fake = sign_upload(forger(device, seed), period, intervals, inflated, nonce, **domain)
        sent.insert(0, SentUpload(fake, attack))
    elif attack == "wrong_chain":
        domain["chain_id"] = chain_id + 1 if foreign_chain_id is None else foreign_chain_id
        other = sign_upload(
            device, period, intervals, honest, nonce, **domain, root=own.readings_root
        )
        sent.append(SentUpload(other, attack))
    return sent


def tamper(upload: Upload, index: int = 0, delta_wh: int = 1_000) -> Upload:
    """``upload`` with reading ``index`` changed by ``delta_wh`` in transit (same signature)."""
    energy = upload.energy_wh.copy()
    energy[index] += delta_wh
    return replace(upload, energy_wh=energy)
