"""Data for the dashboard's tests: results folders made from a run, settlement tables.

The settlement layer (batches, readings, rewards) is not in the engine yet; these tables
follow the documented columns (README, results store) so the Settlement page and its
builders can be tested before it lands.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from twin.results import RunFolder

#: Files of the settlement layer in a run folder.
SETTLEMENT_FILES = ("batches.parquet", "readings.parquet", "rewards.parquet")

#: A reward larger than 2**64 token base units: summed exactly, shown as text.
BIG_REWARD = 3 * 10**19


def settlement_tables() -> dict[str, pd.DataFrame]:
    """Small ``batches``, ``readings`` and ``rewards`` tables of the documented shape."""
    t0 = pd.Timestamp("2016-06-06T00:00:00Z")
    hour = pd.Timedelta(hours=1)
    batches = pd.DataFrame(
        {
            "batch_id": [0, 1, 2],
            "first_time": [t0, t0 + hour, t0 + 2 * hour],
            "last_time": [t0 + hour * 0.75, t0 + hour * 1.75, t0 + hour * 2.75],
            "trades_root": ["0x" + "ab" * 32, "0x" + "cd" * 32, "0x" + "ef" * 32],
            "trade_count": [10, 30, 0],
            "tx_hash": ["0x" + "01" * 32, "0x" + "02" * 32, None],
            "block": [5, 6, None],
            "gas_used": [100_000, 300_000, None],
            "state": ["confirmed", "confirmed", "pending"],
        }
    )
    readings = pd.DataFrame(
        {
            "time": [t0, t0, t0 + hour],
            "device_address": ["0xaa", "0xbb", "0xaa"],
            "energy_wh": [100, -50, 120],
            "signature": ["0x01", "0x02", "0x03"],
            "status": ["verified", "verified", "rejected"],
        }
    )
    rewards = pd.DataFrame(
        {
            "epoch": [0, 0, 1],
            "device_address": ["0xaa", "0xbb", "0xaa"],
            "owner": ["member-0000", "member-0001", "member-0000"],
            "amount": [str(BIG_REWARD), "5", "7"],
        }
    )
    return {"batches": batches, "readings": readings, "rewards": rewards}


def results_folder(run: RunFolder, root: Path) -> Path:
    """A results folder with three copies of ``run``.

    ``day`` as the engine wrote it; ``plain`` without settlement tables (a run made before
    settlement, or with the chain off); ``settled`` with the known tables of
    :func:`settlement_tables`.

    Returns
    -------
    Path
        ``root``.
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run.path, root / "day")
    plain = root / "plain"
    shutil.copytree(run.path, plain)
    for name in SETTLEMENT_FILES:
        (plain / name).unlink(missing_ok=True)
    settled = root / "settled"
    shutil.copytree(run.path, settled)
    for name, frame in settlement_tables().items():
        frame.to_parquet(settled / f"{name}.parquet", index=False)
    return root
