"""Device identity and EIP-712 signed uploads of meter readings (DePIN devices).

Every node of the twin (PV inverter, turbine, battery, consumer meter) is a device with its own
secp256k1 key; each upload period it signs the Merkle root of its readings of the period once.

**Identity.** A device's key is :func:`device_private_key`: keccak256 of a tag, the run seed
and the node id, so the same seed and node give the same key on every run and chain (for
simulation only: whoever knows the seed knows the keys). Its address is the signer the
``DeviceRegistry`` stores. Device ids are the node's row in the nodes table plus one (1, 2, ...;
0 means "no device"): the ``DeviceRegistry`` token id. On-chain an id is a ``uint256``;
here it must lie in ``[1, 2**24)`` so that (device, interval) keys pack into 64 bits.

**Reading.** ``(deviceId, interval, energyWh)`` with the Solidity types ``(uint256, uint64,
int64)``; its leaf is OpenZeppelin ``StandardMerkleTree``'s:
``keccak256(bytes.concat(keccak256(abi.encode(deviceId, interval, energyWh))))``, and an
upload's readings form one tree of :mod:`settlement.chain.merkle` (readings in interval order).
``energy_wh`` follows the device's own production convention, not the grid's load convention:
solar and wind report energy produced (>= 0), a consumer meter energy consumed (>= 0), a
battery energy discharged (> 0) or charged (< 0).

**Upload.** One EIP-712 signature per device and upload period over the struct
``Upload(uint256 deviceId,uint64 period,bytes32 readingsRoot,uint64 nonce)`` in the domain
``{name: "gridtwin DeviceRegistry", version: "1", chainId, verifyingContract}``; ``period`` is
the upload period's index (interval // period_intervals), ``nonce`` the device's upload
counter. The digest is built by hand (domain separator cached) and signed with coincurve
(libsecp256k1, RFC 6979, low ``s``), 65 bytes ``r || s || v`` with ``v`` in {27, 28}, equal
byte for byte to eth-account's ``sign_typed_data``. The upload carries the chain id and the
contract it claims to be signed for in clear, so that the journal can tell a wrong-chain
upload from a forgery (:mod:`settlement.depin.readings`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import coincurve
import numpy as np
import numpy.typing as npt
from eth_utils import to_checksum_address

from settlement.chain.merkle import RootMemo, keccak256, merkle_root

#: EIP-712 domain name of the ``DeviceRegistry`` contract.
DOMAIN_NAME = "gridtwin DeviceRegistry"
#: EIP-712 domain version.
DOMAIN_VERSION = "1"
#: The EIP-712 struct a device signs once per upload period.
UPLOAD_TYPE = "Upload(uint256 deviceId,uint64 period,bytes32 readingsRoot,uint64 nonce)"
#: Default upload period [intervals]: one day of 15-minute intervals.
DEFAULT_PERIOD_INTERVALS = 96
#: Device kinds, as the node kinds of the nodes table.
DEVICE_KINDS = ("consumer", "solar", "wind", "battery")
#: Device ids lie in ``[1, MAX_DEVICE_ID)``.
MAX_DEVICE_ID = 2**24
#: Interval indices and nonces lie in ``[0, MAX_INTERVAL)``.
MAX_INTERVAL = 2**40
_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_DOMAIN_TYPEHASH = keccak256(_DOMAIN_TYPE.encode())
_UPLOAD_TYPEHASH = keccak256(UPLOAD_TYPE.encode())
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _SECP256K1_N // 2
_WORD = 32
_LEAF_ROW = 3 * _WORD  # abi.encode(uint256, uint64, int64)

IntArray = npt.NDArray[np.int64]


try:  # pysha3 (comes with eth-tester[py-evm]): half the cost per leaf of merkle.keccak256
    from sha3 import keccak_256 as _sha3_keccak
except ImportError:  # pragma: no cover - depends on the environment
    _sha3_keccak = None


def _leaf_hashes(data: bytes, row: int) -> list[bytes]:
    """keccak256(keccak256(r)) of each ``row``-byte row ``r`` of ``data``."""
    k = _sha3_keccak
    if k is None:  # pragma: no cover - depends on the environment
        return [keccak256(keccak256(data[i : i + row])) for i in range(0, len(data), row)]
    return [k(k(data[i : i + row]).digest()).digest() for i in range(0, len(data), row)]


def device_private_key(node_id: str, seed: int) -> bytes:
    """The 32-byte secp256k1 key of the device of node ``node_id`` in a run with ``seed``.

    keccak256(``b"gridtwin.device"``, ``seed`` as 32 bytes, ``node_id``), rehashed in the
    (astronomically unlikely) case it falls outside ``[1, n)``; like
    :func:`settlement.chain.connection.participant_private_key`, with its own tag.

    Parameters
    ----------
    node_id : str
        The node's id in the nodes table.
    seed : int
        The run seed, in ``[0, 2**256)``.
    """
    key = keccak256(b"gridtwin.device" + seed.to_bytes(32, "big") + node_id.encode())
    while not 0 < int.from_bytes(key, "big") < _SECP256K1_N:  # pragma: no cover - p ~ 2**-128
        key = keccak256(key)
    return key


def key_address(private_key: bytes) -> str:
    """The checksummed Ethereum address of a 32-byte private key."""
    public = _signer(private_key).public_key.format(compressed=False)
    return to_checksum_address(keccak256(public[1:])[-20:])


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a hex address (``0x`` + 40 hex digits, any case)."""
    text = str(address)
    if len(text) != 42 or not text.startswith(("0x", "0X")):
        raise ValueError(f"not a 20-byte hex address: {address!r}")
    return bytes.fromhex(text[2:])


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


@lru_cache(maxsize=2**16)
def _signer(private_key: bytes) -> coincurve.PrivateKey:
    """coincurve's key object, kept: building one costs a point multiplication (~60 us)."""
    return coincurve.PrivateKey(private_key)


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """Sign a 32-byte digest: 65 bytes ``r || s || v``, ``v`` in {27, 28} (as eth-account)."""
    raw = _signer(private_key).sign_recoverable(digest, hasher=None)
    return raw[:64] + bytes([raw[64] + 27])


def recover_signer(digest: bytes, signature: bytes) -> bytes | None:
    """The 20-byte address that signed ``digest``, or None if ``signature`` is not valid.

    Valid as OpenZeppelin's ``ECDSA.recover`` sees it: 65 bytes, ``v`` in {27, 28},
    ``0 < r < n`` and ``0 < s <= n / 2`` (no malleable high-``s`` twin).
    """
    if len(signature) != 65 or signature[64] not in (27, 28):
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < _SECP256K1_N and 0 < s <= _HALF_N):
        return None
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), digest, hasher=None
        )
    except Exception:  # libsecp256k1: no point recovers from this signature
        return None
    return keccak256(public.format(compressed=False)[1:])[-20:]


def _int_column(name: str, values: Any, n: int | None = None) -> IntArray:
    """``values`` as int64 (floats refused); ``n`` values if given."""
    array = np.asarray(values)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise TypeError(f"{name}: integers required, got {array.dtype}")
    if array.dtype == np.uint64 and array.size and int(array.max()) >= 2**63:
        raise ValueError(f"{name}: values must fit int64")
    array = array.astype(np.int64)
    if array.ndim != 1 or (n is not None and array.shape != (n,)):
        raise ValueError(f"{name}: expected shape ({n},), got {array.shape}")
    return array


def _reading_words(device_ids: int | Any, intervals: Any, energy_wh: Any) -> bytes:
    """``abi.encode`` of each reading, concatenated (see :func:`reading_leaves`)."""
    interval = _int_column("intervals", intervals)
    n = len(interval)
    energy = _int_column("energy_wh", energy_wh, n)
    device = _int_column("device_ids", np.broadcast_to(np.asarray(device_ids), (n,)), n)
    if n and (int(interval.min()) < 0 or int(device.min()) < 0):
        raise ValueError("device ids and intervals must be non-negative")
    words = np.zeros((n, 3, _WORD), dtype=np.uint8)
    for field_, column in ((0, device), (1, interval), (2, energy)):
        words[:, field_, _WORD - 8 :] = column.astype(">i8").view(np.uint8).reshape(n, 8)
    words[energy < 0, 2, : _WORD - 8] = 0xFF  # two's complement sign extension
    return words.tobytes()


def reading_leaves(device_ids: int | Any, intervals: Any, energy_wh: Any) -> list[bytes]:
    """The OpenZeppelin ``StandardMerkleTree`` leaves of readings, one per reading.

    ``abi.encode(uint256, uint64, int64)`` is three 32-byte big-endian words (the ``int64``
    sign-extended); the words of all readings are laid out with NumPy at once, then each
    96-byte row is hashed twice.

    Parameters
    ----------
    device_ids : int or array_like of int
        One device id for all readings, or one per reading, in ``[0, 2**63)``.
    intervals : array_like of int
        Interval index per reading, in ``[0, 2**63)``.
    energy_wh : array_like of int
        Energy per reading [Wh], int64, in the device's production convention.

    Returns the 32-byte leaves, in the order given.
    """
    return _leaf_hashes(_reading_words(device_ids, intervals, energy_wh), _LEAF_ROW)


_ROOTS = RootMemo()


def readings_root(device_ids: int | Any, intervals: Any, energy_wh: Any) -> bytes:
    """Merkle root of one upload's readings (:data:`settlement.chain.merkle.EMPTY_ROOT` if none);
    the device's and the journal's derivations of the same readings share one RootMemo."""
    words = _reading_words(device_ids, intervals, energy_wh)
    return _ROOTS.root(words, lambda data: merkle_root(_leaf_hashes(data, _LEAF_ROW)))


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
        intervals = _int_column("intervals", self.intervals)
        object.__setattr__(self, "intervals", intervals)
        object.__setattr__(
            self, "energy_wh", _int_column("energy_wh", self.energy_wh, len(intervals))
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
    """
    interval = _int_column("intervals", intervals)
    energy = _int_column("energy_wh", energy_wh, len(interval))
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
    intervals = period * period_intervals + np.arange(energy.shape[0], dtype=np.int64)
    columns = np.ascontiguousarray(energy.T)
    domain: dict[str, Any] = {"chain_id": chain_id, "verifying_contract": verifying_contract}
    return [
        sign_upload(
            device,
            period,
            intervals,
            columns[j],
            int(nonces[device.device_id] if isinstance(nonces, Mapping) else nonces[j]),
            **domain,
        )
        for j, device in enumerate(devices)
    ]
