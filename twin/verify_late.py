"""``gridtwin verify``'s checks of late uploads: when each reading reached the journal.

A reading's ``uploaded_at`` is the end of the upload period (slot) it arrived with: never
before its own period's end, and at a slot's end. From it, ``late_periods`` (slots between its
own period's and that one) and ``after_epoch`` (it arrived after its reward epoch's end, when
the epoch was paid) are re-derived and compared. The epoch checks of
:mod:`twin.verify_devices` count a reading in its epoch by the derived ``after_epoch``, not the
stored one: a reading moved into or out of its epoch by an edited ``uploaded_at`` breaks the
epoch's readings root (the chain's), an edited flag this module's row check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from twin.checks import Check, row_check

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class UploadTimes:
    """Each reading's interval, and when it arrived, as intervals from the run's start."""

    interval: IntArray
    uploaded: IntArray
    period_end: IntArray
    slot_end: IntArray
    late_periods: IntArray
    after_epoch: BoolArray


def upload_times(readings: pd.DataFrame, config: dict[str, Any]) -> UploadTimes:
    """Re-derive each reading's arrival from ``uploaded_at`` (a run folder without it, from
    before late uploads: every reading on time).

    Parameters
    ----------
    readings : DataFrame
        The ``readings`` table.
    config : dict
        The manifest's resolved scenario (``run``, ``devices``).
    """
    interval_s = int(config["run"]["interval_s"])
    n_run = int(config["run"]["days"]) * 86_400 // interval_s
    period = int(config["devices"]["upload_intervals"])
    epoch_len = int(config["devices"]["epoch_days"]) * 86_400 // interval_s
    start = pd.Timestamp(config["run"]["start"])
    step = pd.Timedelta(seconds=interval_s)
    k: IntArray = np.asarray((readings["time"] - start) // step, dtype=np.int64)
    period_end: IntArray = np.minimum((k // period + 1) * period, n_run)
    if "uploaded_at" in readings:
        since = (readings["uploaded_at"] - start).to_numpy(dtype="timedelta64[us]")
        uploaded = (since // np.timedelta64(interval_s, "s")).astype(np.int64)
        exact = since % np.timedelta64(interval_s, "s") == np.timedelta64(0, "us")
        uploaded = np.where(exact, uploaded, -1)  # between intervals: never a slot's end
    else:
        uploaded = period_end
    slot = -(-uploaded // period) - 1
    slot_end = np.minimum((slot + 1) * period, n_run)
    epoch_end = np.minimum((k // epoch_len + 1) * epoch_len, n_run)
    return UploadTimes(
        interval=k,
        uploaded=uploaded,
        period_end=period_end,
        slot_end=slot_end,
        late_periods=slot - k // period,
        after_epoch=uploaded > epoch_end,
    )


def verify_upload_times(readings: pd.DataFrame, config: dict[str, Any]) -> list[Check]:
    """``uploaded_at`` at a slot's end, not before the reading's own period ended nor after
    the run; ``late_periods`` and ``after_epoch`` as derived from it."""
    if "uploaded_at" not in readings:
        return []
    t = upload_times(readings, config)
    n_run = int(config["run"]["days"]) * 86_400 // int(config["run"]["interval_s"])
    when = readings["uploaded_at"]
    stored_late = readings["late_periods"].to_numpy(dtype=np.int64)
    stored_after = readings["after_epoch"].to_numpy(dtype=bool)
    return [
        row_check(
            "readings: uploaded_at = a slot's end, after the reading's period, within the run",
            "readings",
            (t.uploaded != t.slot_end) | (t.uploaded < t.period_end) | (t.uploaded > n_run),
            lambda i: (
                f"device {readings['device_id'].iat[i]} at {readings['time'].iat[i]}: uploaded"
                f" at {when.iat[i]}, not the end of an upload period from its own on"
            ),
        ),
        row_check(
            "readings: late_periods and after_epoch follow from uploaded_at",
            "readings",
            (stored_late != t.late_periods) | (stored_after != t.after_epoch),
            lambda i: (
                f"device {readings['device_id'].iat[i]} at {readings['time'].iat[i]}: "
                f"late_periods {stored_late[i]}, after_epoch {stored_after[i]}; uploaded at "
                f"{when.iat[i]}: {t.late_periods[i]} periods late, after its epoch "
                f"{bool(t.after_epoch[i])}"
            ),
        ),
    ]
