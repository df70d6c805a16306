"""Meter readings as Merkle leaves: what a device signs the root of, and the journal rebuilds.

A reading is ``(deviceId, interval, energyWh)`` with the Solidity types ``(uint256, uint64,
int64)``; its leaf is OpenZeppelin ``StandardMerkleTree``'s:
``keccak256(bytes.concat(keccak256(abi.encode(deviceId, interval, energyWh))))``, and an
upload's readings form one tree of :mod:`settlement.chain.merkle` (readings in interval order).
``energy_wh`` follows the device's own production convention, not the grid's load convention:
solar and wind report energy produced (>= 0), a consumer meter energy consumed (>= 0), a
battery energy discharged (> 0) or charged (< 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from settlement.chain.keccak_rows import leaf_rows, tree_roots
from settlement.chain.merkle import RootMemo, split_words

_WORD = 32
_LEAF_ROW = 3 * _WORD  # abi.encode(uint256, uint64, int64)

IntArray = npt.NDArray[np.int64]


def int_column(name: str, values: Any, n: int | None = None) -> IntArray:
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
    interval = int_column("intervals", intervals)
    n = len(interval)
    energy = int_column("energy_wh", energy_wh, n)
    device = int_column("device_ids", np.broadcast_to(np.asarray(device_ids), (n,)), n)
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
    return split_words(leaf_rows(_reading_words(device_ids, intervals, energy_wh), _LEAF_ROW))


def _trees(uploads: list[bytes]) -> list[bytes]:
    """For the readings whose words are each of ``uploads``: their root, then their leaves
    (32 (n + 1) bytes); every leaf hashed in one call, every tree in another."""
    leaves = leaf_rows(b"".join(uploads), _LEAF_ROW)
    sizes = [len(words) // _LEAF_ROW for words in uploads]
    roots = tree_roots(leaves, np.array(sizes, dtype=np.int64))
    out, start = [], 0
    for i, n in enumerate(sizes):
        out.append(roots[i * _WORD : (i + 1) * _WORD] + leaves[start : start + n * _WORD])
        start += n * _WORD
    return out


#: Root and leaves (~3 kB for a day of readings) of the uploads derived and not yet derived
#: again: the device's and the journal's derivations of the same readings share one memo.
_TREES = RootMemo(max_entries=50_000)


def readings_root(device_ids: int | Any, intervals: Any, energy_wh: Any) -> bytes:
    """Merkle root of one upload's readings (:data:`settlement.chain.merkle.EMPTY_ROOT` if none);
    the device's and the journal's derivations of the same readings share one RootMemo."""
    return _TREES.roots([_reading_words(device_ids, intervals, energy_wh)], _trees)[0][:_WORD]


def upload_trees(
    device_ids: Any, intervals: Any, energy_wh: Any, sizes: Any
) -> tuple[list[bytes], bytes]:
    """The Merkle roots of several uploads' readings, and the readings' leaves.

    As :func:`readings_root` of each upload (sharing its memo), the readings' words laid out
    with NumPy for all uploads at once.

    Parameters
    ----------
    device_ids, intervals, energy_wh : array_like of int
        The readings (one value each, as in :func:`reading_leaves`), upload after upload.
    sizes : array_like of int
        Readings per upload, in order; they sum to the number of readings.

    Returns
    -------
    roots : list of bytes
        The 32-byte root of each upload.
    leaves : bytes
        Every reading's 32-byte leaf (:func:`reading_leaves`), concatenated in order.
    """
    words = _reading_words(device_ids, intervals, energy_wh)
    ends = np.cumsum(np.asarray(sizes, dtype=np.int64)) * _LEAF_ROW
    if len(ends) and int(ends[-1]) != len(words):
        raise ValueError("sizes must sum to the number of readings")
    bounds = ends.tolist()
    uploads = [words[a:b] for a, b in zip([0, *bounds], bounds, strict=False)]
    trees = _TREES.roots(uploads, _trees)
    return [t[:_WORD] for t in trees], b"".join(t[_WORD:] for t in trees)
