"""Device identity: one secp256k1 key per node of the twin, and the registry as plain data.

Every node of the twin (PV inverter, turbine, battery, consumer meter) is a device with its own
key; each upload period it signs the Merkle root of its readings of the period once
(:mod:`settlement.depin.uploads`, readings as leaves in :mod:`settlement.depin.leaves`).

A device's key is :func:`device_private_key`: keccak256 of a tag, the run seed and the node id,
so the same seed and node give the same key on every run and chain (for simulation only:
whoever knows the seed knows the keys). Its address is the signer the ``DeviceRegistry``
stores. Device ids are the node's row in the nodes table plus one (1, 2, ...; 0 means "no
device"): the ``DeviceRegistry`` token id. On-chain an id is a ``uint256``; here it must lie in
``[1, 2**24)`` so that (device, interval) keys pack into 64 bits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from settlement.chain.merkle import keccak256
from settlement.depin.keys import SECP256K1_N, key_address

#: Device kinds, as the node kinds of the nodes table.
DEVICE_KINDS = ("consumer", "solar", "wind", "battery")
#: Device ids lie in ``[1, MAX_DEVICE_ID)``.
MAX_DEVICE_ID = 2**24


def device_private_key(node_id: str, seed: int) -> bytes:
    """The 32-byte secp256k1 key of the device of node ``node_id`` in a run with ``seed``.

    keccak256(``b"gridtwin.device"``, ``seed`` as 32 bytes, ``node_id``), rehashed in the
    (astronomically unlikely) case it falls outside ``[1, n)``; like
    :func:`settlement.chain.participants.participant_private_key`, with its own tag.

    Parameters
    ----------
    node_id : str
        The node's id in the nodes table.
    seed : int
        The run seed, in ``[0, 2**256)``.
    """
    key = keccak256(b"gridtwin.device" + seed.to_bytes(32, "big") + node_id.encode())
    while not 0 < int.from_bytes(key, "big") < SECP256K1_N:  # pragma: no cover - p ~ 2**-128
        key = keccak256(key)
    return key


@dataclass(frozen=True)
class Device:
    """A device: its id, node, nameplate and key.

    Attributes
    ----------
    device_id : int
        Registry id (node row + 1).
    node_id : str
        The node it meters.
    kind : {"consumer", "solar", "wind", "battery"}
        Node kind.
    p_max_mw : float
        Rated power [MW] (a consumer's reference peak).
    capacity_kwh : float
        Usable storage capacity [kWh] (0 but for batteries).
    private_key : bytes
        Its 32-byte signing key (not shown in the repr).
    """

    device_id: int
    node_id: str
    kind: str
    p_max_mw: float
    capacity_kwh: float
    private_key: bytes = field(repr=False)

    @cached_property
    def address(self) -> str:
        """Checksummed signer address."""
        return key_address(self.private_key)


def make_devices(
    node_ids: Sequence[str],
    kinds: Sequence[str],
    p_max_mw: Sequence[float] | npt.NDArray[np.floating[Any]],
    capacity_kwh: Sequence[float] | npt.NDArray[np.floating[Any]],
    seed: int,
) -> list[Device]:
    """One device per node of the nodes table (columns in table order), ids 1, 2, ...

    Parameters
    ----------
    node_ids, kinds : sequence of str
        The table's ``node_id`` and ``kind`` columns.
    p_max_mw : array_like of float
        Rated power per node [MW].
    capacity_kwh : array_like of float
        Storage capacity per node [kWh].
    seed : int
        The run seed.
    """
    if not len(node_ids) == len(kinds) == len(p_max_mw) == len(capacity_kwh):
        raise ValueError("node_ids, kinds, p_max_mw and capacity_kwh differ in length")
    if len(node_ids) >= MAX_DEVICE_ID:
        raise ValueError(f"at most {MAX_DEVICE_ID - 1} devices")
    devices = []
    for row, (node, kind) in enumerate(zip(node_ids, kinds, strict=True)):
        if kind not in DEVICE_KINDS:
            raise ValueError(f"node {node!r}: unknown kind {kind!r}")
        key = device_private_key(str(node), seed)
        p_max, capacity = float(p_max_mw[row]), float(capacity_kwh[row])
        devices.append(Device(row + 1, str(node), kind, p_max, capacity, key))
    return devices


class RegisteredDevice(NamedTuple):
    """What the ``DeviceRegistry`` holds of a device, as the journal reads it."""

    signer: str
    """Address its uploads must recover to."""
    kind: str
    """Node kind."""
    p_max_mw: float
    """Rated power [MW]."""
    capacity_kwh: float = 0.0
    """Storage capacity [kWh]."""
    active: bool = True
    """False once revoked."""


def registry_of(
    devices: Iterable[Device], revoked: Iterable[int] = ()
) -> dict[int, RegisteredDevice]:
    """The registry as plain data: device id -> :class:`RegisteredDevice`.

    Parameters
    ----------
    devices : iterable of Device
        The registered devices.
    revoked : iterable of int
        Ids of revoked devices (kept, inactive).
    """
    gone = set(revoked)
    return {
        d.device_id: RegisteredDevice(
            d.address, d.kind, d.p_max_mw, d.capacity_kwh, d.device_id not in gone
        )
        for d in devices
    }
