"""Each reading's verdict re-derived: the journal's plausibility checks, run again on the
readings as stored, and the grid-side check's blame.

A reading that reached the journal's physics step (``accepted`` or ``flagged_implausible``) was
checked by :func:`settlement.depin.plausibility.plausibility_flags` together with the other
readings of its upload period, a battery's bookkeeping carried from period to period. The same
function, on the stored readings, the nodes' ratings and the run's clear-sky ceiling and
battery efficiencies, gives the same bits; the ``state_estimation`` bit is the grid-side check's
(:mod:`twin.layers.physics`), and stands only where ``physics_checks`` blames the reading's
node for its period. A reading's status is ``accepted`` exactly when its flags are 0. So a
flagged reading made accepted (its flags zeroed or not), or an accepted one made flagged, is
named by its row, whether or not its device earns rewards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.solar import clear_sky_ceiling_w_per_m2
from settlement.depin.devices import DEVICE_KINDS
from settlement.depin.plausibility import FLAGS, Plausibility, flag_names, plausibility_flags
from twin.checks import Check, row_check
from twin.results import RunFolder
from twin.scenario.world import NodesConfig, SiteConfig

_STATE_ESTIMATION = FLAGS["state_estimation"]
_CHECKED = ("accepted", "flagged_implausible")


def derived_flags(run: RunFolder, readings: pd.DataFrame) -> np.ndarray:
    """The plausibility bits of each reading the journal checked (0 for the others)."""
    config = run.manifest["config"]
    interval_s = int(config["run"]["interval_s"])
    period = int(config["devices"]["upload_intervals"])
    start = pd.Timestamp(config["run"]["start"])
    nodes = run.table("nodes").set_index("device_id")
    device = readings["device_id"].to_numpy(dtype=np.int64)
    when = ((readings["time"] - start) // pd.Timedelta(seconds=interval_s)).to_numpy(np.int64)
    status = readings["status"].astype(str).to_numpy()
    checked = np.isin(status, _CHECKED) & np.isin(device, nodes.index.to_numpy())
    flags = np.zeros(len(readings), dtype=np.int64)
    if not checked.any():
        return flags
    n_run = int(config["run"]["days"]) * 86_400 // interval_s
    site = SiteConfig.model_validate(config.get("site", {})).as_site()
    sky = clear_sky_ceiling_w_per_m2(start, max(n_run, int(when.max()) + 1), interval_s, site)
    bat = NodesConfig.model_validate(config["nodes"])
    limits = Plausibility(
        battery_charge_efficiency=bat.battery_charge_efficiency,
        battery_discharge_efficiency=bat.battery_discharge_efficiency,
    )
    rated = nodes.reindex(device[checked])
    kind = np.array([DEVICE_KINDS.index(str(k)) for k in rated["kind"]], dtype=np.int64)
    p_max = rated["p_max_mw"].to_numpy(dtype=np.float64)
    capacity = rated["capacity_kwh"].fillna(0.0).to_numpy(dtype=np.float64)
    rows = np.flatnonzero(checked)
    up_period = when[rows] // period
    book: dict[int, tuple[int, float]] = {}
    for p in np.unique(up_period):  # one upload period at a time, the battery book carried
        here = np.flatnonzero(up_period == p)
        d = device[rows[here]]
        flags[rows[here]], book = plausibility_flags(
            d,
            d,  # a device's readings of one period are one upload
            when[rows[here]],
            readings["energy_wh"].to_numpy(dtype=np.int64)[rows[here]],
            kind[here],
            p_max[here],
            capacity[here],
            interval_s=interval_s,
            period_intervals=period,
            clear_sky_w_per_m2=sky,
            limits=limits,
            battery_book=book,
        )
    return flags


def blamed(run: RunFolder, readings: pd.DataFrame) -> np.ndarray:
    """Whether the grid-side check blamed each reading's node for its upload period."""
    out = np.zeros(len(readings), dtype=bool)
    if not (run.path / "physics_checks.parquet").is_file():
        return out
    checks = run.table("physics_checks")
    applied = checks[checks["applied"].astype(bool) & (checks["flagged_node"].astype(str) != "")]
    if applied.empty:
        return out
    config = run.manifest["config"]
    interval_s = int(config["run"]["interval_s"])
    period = int(config["devices"]["upload_intervals"])
    start = pd.Timestamp(config["run"]["start"])

    def period_of(times: pd.Series) -> np.ndarray:
        steps = (times - start) // pd.Timedelta(seconds=interval_s)
        return steps.to_numpy(dtype=np.int64) // period

    blame = set(zip(period_of(applied["time"]), applied["flagged_node"].astype(str), strict=True))
    keys = zip(period_of(readings["time"]), readings["node_id"].astype(str), strict=True)
    out[:] = [key in blame for key in keys]
    return out


def verify_verdicts(run: RunFolder, readings: pd.DataFrame) -> Check:
    """Each checked reading's flags and status against the checks run again (module doc)."""
    stored = readings["flags"].to_numpy(dtype=np.int64)
    status = readings["status"].astype(str).to_numpy()
    derived = derived_flags(run, readings)
    grid_side = blamed(run, readings)
    checked = np.isin(status, _CHECKED)
    plausibility = stored & ~_STATE_ESTIMATION
    has_se = (stored & _STATE_ESTIMATION) != 0
    bad = checked & (
        (plausibility != derived)
        | (has_se & ~grid_side)
        | ((status == "accepted") != (stored == 0))
    )

    def why(i: int) -> str:
        return (
            f"device {readings['device_id'].iat[i]} at {readings['time'].iat[i]}: "
            f"{status[i]}, flags {flag_names(int(stored[i])) or 'none'}; the checks run again "
            f"give {flag_names(int(derived[i])) or 'none'}"
            + ("" if grid_side[i] else "" if not has_se[i] else ", and no physics_checks blame")
        )

    return row_check(
        "readings: each verdict = the plausibility checks run again (and the grid-side blame)",
        "readings",
        bad,
        why,
    )
