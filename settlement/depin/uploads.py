"""EIP-712 signed uploads: a device signs the Merkle root of a period's readings, once.

One EIP-712 signature per device and upload period over the struct
``Upload(uint256 deviceId,uint64 period,bytes32 readingsRoot,uint64 nonce)`` in the domain
``{name: "gridtwin DeviceRegistry", version: "1", chainId, verifyingContract}``; ``period`` is
the upload period's index (interval // period_intervals), ``nonce`` the device's upload
counter, ``readingsRoot`` the root of the period's readings (:mod:`settlement.depin.leaves`).
The digest is built by hand (domain separator cached) and signed with coincurve
(:mod:`settlement.depin.keys`), equal byte for byte to eth-account's ``sign_typed_data`` of
:func:`upload_typed_data`. The upload carries the chain id and the contract it claims to be
signed for in clear, so that the journal can tell a wrong-chain upload from a forgery
(:mod:`settlement.depin.readings`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from eth_utils import to_checksum_address

from settlement.chain.merkle import keccak256
from settlement.depin.keys import address_bytes, sign_digest
from settlement.depin.leaves import IntArray, int_column, readings_root, upload_trees

if TYPE_CHECKING:
    from settlement.depin.devices import Device

#: EIP-712 domain name of the ``DeviceRegistry`` contract.
DOMAIN_NAME = "gridtwin DeviceRegistry"
#: EIP-712 domain version.
DOMAIN_VERSION = "1"
#: The EIP-712 struct a device signs once per upload period.
UPLOAD_TYPE = "Upload(uint256 deviceId,uint64 period,bytes32 readingsRoot,uint64 nonce)"
_UPLOAD_FIELDS = [("deviceId", "uint256"), ("period", "uint64"), ("readingsRoot", "bytes32")]
#: :data:`UPLOAD_TYPE` as eth-account's typed-data ``types`` (``DeviceRegistry.UPLOAD_TYPEHASH``).
UPLOAD_TYPES = {
    "Upload": [{"name": n, "type": t} for n, t in [*_UPLOAD_FIELDS, ("nonce", "uint64")]]
}
#: Default upload period [intervals]: one day of 15-minute intervals.
DEFAULT_PERIOD_INTERVALS = 96
#: Interval indices and nonces lie in ``[0, MAX_INTERVAL)``.
MAX_INTERVAL = 2**40
_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_DOMAIN_TYPEHASH = keccak256(_DOMAIN_TYPE.encode())
_UPLOAD_TYPEHASH = keccak256(UPLOAD_TYPE.encode())
_WORD = 32


@lru_cache(maxsize=64)
def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    """EIP-712 domain separator of the ``DeviceRegistry`` at ``verifying_contract`` on a chain.

    Parameters
    ----------
    chain_id : int
        EIP-155 chain id.
    verifying_contract : str
        The ``DeviceRegistry`` address.
    """
    return keccak256(
        _DOMAIN_TYPEHASH
        + keccak256(DOMAIN_NAME.encode())
        + keccak256(DOMAIN_VERSION.encode())
        + chain_id.to_bytes(_WORD, "big")
        + address_bytes(verifying_contract).rjust(_WORD, b"\0")
    )


def upload_digest(
    separator: bytes, device_id: int, period: int, readings_root: bytes, nonce: int
) -> bytes:
    """The 32-byte EIP-712 digest of an ``Upload`` (what is signed and recovered).

    ``keccak256(0x1901 || separator || keccak256(typeHash || deviceId || period || root ||
    nonce))``, every value a 32-byte big-endian word.

    Parameters
    ----------
    separator : bytes
        :func:`domain_separator` of the domain.
    device_id, period, nonce : int
        The struct's integers (``uint256``, ``uint64``, ``uint64``).
    readings_root : bytes
        The 32-byte Merkle root of the upload's readings.
    """
    struct = keccak256(
        _UPLOAD_TYPEHASH
        + device_id.to_bytes(_WORD, "big")
        + period.to_bytes(_WORD, "big")
        + readings_root
        + nonce.to_bytes(_WORD, "big")
    )
    return keccak256(b"\x19\x01" + separator + struct)


def upload_typed_data(
    chain_id: int,
    registry: str,
    device_id: int,
    period: int,
    readings_root: bytes,
    nonce: int,
) -> dict[str, Any]:
    """The EIP-712 message of one upload, for ``eth_account``'s ``full_message=`` argument.

    Parameters
    ----------
    chain_id : int
        The chain's id (EIP-155): a signature for another chain does not verify.
    registry : str
        The DeviceRegistry's address (the domain's ``verifyingContract``).
    device_id, period, nonce : int
        The device (its NFT's token id), the upload period's index and the device's upload
        counter; period and nonce in ``[0, 2**64)``.
    readings_root : bytes
        32-byte Merkle root of the period's readings.

    Returns
    -------
    dict
        ``types``, ``primaryType``, ``domain`` and ``message`` of the typed data.
    """
    fields = [("name", "string"), ("version", "string"), ("chainId", "uint256")]
    fields.append(("verifyingContract", "address"))
    domain_type = [{"name": name, "type": kind} for name, kind in fields]
    return {
        "types": {"EIP712Domain": domain_type, **UPLOAD_TYPES},
        "primaryType": "Upload",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": int(chain_id),
            "verifyingContract": to_checksum_address(registry),
        },
        "message": {
            "deviceId": int(device_id),
            "period": int(period),
            "readingsRoot": bytes(readings_root),
            "nonce": int(nonce),
        },
    }


@dataclass(frozen=True, eq=False)
class Upload:
    """A device's signed upload of one period's readings, as it reaches the journal.

    Attributes
    ----------
    device_id : int
        The device it claims to come from.
    period : int
        Upload period index.
    nonce : int
        The device's upload counter.
    intervals : ndarray of int64, shape (n,)
        Interval index of each reading.
    energy_wh : ndarray of int64, shape (n,)
        Energy of each reading [Wh], the device's production convention.
    readings_root : bytes
        The signed 32-byte Merkle root of the readings.
    signature : bytes
        65-byte EIP-712 signature ``r || s || v``.
    chain_id : int
        Chain id the upload claims to be signed for (in clear).
    verifying_contract : str
        ``DeviceRegistry`` address it claims to be signed for (in clear).
    """

    device_id: int
    period: int
    nonce: int
    intervals: IntArray
    energy_wh: IntArray
    readings_root: bytes
    signature: bytes
    chain_id: int
    verifying_contract: str

    def __post_init__(self) -> None:
        intervals = int_column("intervals", self.intervals)
        object.__setattr__(self, "intervals", intervals)
        object.__setattr__(
            self, "energy_wh", int_column("energy_wh", self.energy_wh, len(intervals))
        )
        for name, bits in (("device_id", 256), ("period", 64), ("nonce", 64), ("chain_id", 256)):
            if not 0 <= int(getattr(self, name)) < 2**bits:
                raise ValueError(f"{name} must lie in [0, 2**{bits})")
        if len(self.readings_root) != _WORD:
            raise ValueError("readings_root must be 32 bytes")


def sign_upload(
    device: Device,
    period: int,
    intervals: Any,
    energy_wh: Any,
    nonce: int,
    *,
    chain_id: int,
    verifying_contract: str,
    root: bytes | None = None,
) -> Upload:
    """Sign one period's readings with ``device``'s key.

    Parameters
    ----------
    device : Device
        The signer: its id and key.
    period : int
        Upload period index.
    intervals : array_like of int
        Interval index of each reading.
    energy_wh : array_like of int
        Energy per reading [Wh].
    nonce : int
        The device's upload counter.
    chain_id, verifying_contract : int, str
        The domain signed for: chain id and ``DeviceRegistry`` address.
    root : bytes, optional
        The Merkle root of these readings if the device derived it already
        (:func:`settlement.depin.leaves.upload_trees`: many devices' at once).
    """
    interval = int_column("intervals", intervals)
    energy = int_column("energy_wh", energy_wh, len(interval))
    if root is None:
        root = readings_root(device.device_id, interval, energy)
    separator = domain_separator(chain_id, verifying_contract)
    digest = upload_digest(separator, device.device_id, period, root, nonce)
    signature = sign_digest(device.private_key, digest)
    readings = (interval, energy, root, signature)
    return Upload(device.device_id, period, nonce, *readings, chain_id, verifying_contract)


def sign_period(
    devices: Sequence[Device],
    period: int,
    energy_wh: Any,
    nonces: Sequence[int] | Mapping[int, int],
    *,
    chain_id: int,
    verifying_contract: str,
    period_intervals: int = DEFAULT_PERIOD_INTERVALS,
) -> list[Upload]:
    """Every device's upload of one period.

    Parameters
    ----------
    devices : sequence of Device
        The devices, one column of ``energy_wh`` each.
    period : int
        Upload period index; its readings are the intervals
        ``period * period_intervals + 0, 1, ...``.
    energy_wh : array_like of int, shape (interval, device)
        Energy per interval and device [Wh], each device's production convention; fewer rows
        than ``period_intervals`` for a last, partial period.
    nonces : sequence of int, or mapping device id -> int
        Each device's upload counter.
    chain_id : int
        Chain id of the domain.
    verifying_contract : str
        ``DeviceRegistry`` address.
    period_intervals : int
        Upload period [intervals].

    Returns
    -------
    list of Upload
        One per device, in order.
    """
    energy = np.asarray(energy_wh)
    if energy.ndim != 2 or energy.shape[1] != len(devices) or energy.shape[0] > period_intervals:
        raise ValueError(f"energy_wh: expected (<= {period_intervals}, {len(devices)}) values")
    n = energy.shape[0]
    intervals = period * period_intervals + np.arange(n, dtype=np.int64)
    columns = np.ascontiguousarray(energy.T)
    ids = np.array([d.device_id for d in devices], dtype=np.int64)
    sizes = np.full(len(devices), n)
    readings = (np.repeat(ids, n), np.tile(intervals, len(devices)), columns.ravel())
    roots, _ = upload_trees(*readings, sizes)
    domain: dict[str, Any] = {"chain_id": chain_id, "verifying_contract": verifying_contract}
    return [
        sign_upload(
            device,
            period,
            intervals,
            columns[j],
            int(nonces[device.device_id] if isinstance(nonces, Mapping) else nonces[j]),
            **domain,
            root=roots[j],
        )
        for j, device in enumerate(devices)
    ]
