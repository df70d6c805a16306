"""Each reading's verdict re-derived: the journal's plausibility checks, run again on the
readings as stored, and the grid-side check's blame.

A reading that reached the journal's physics step (``accepted`` or ``flagged_implausible``) was
checked by :func:`settlement.depin.plausibility.plausibility_flags` together with the other
readings of the batch it arrived in (``uploaded_at``: late ones with the slot they arrived
in), a battery's bookkeeping carried from batch to batch, and a PV reading's peers being the
other PV readings of its own upload period: those of its batch and those that arrived in
earlier batches. The same function, batch by batch in arrival order on the stored readings,
the nodes' ratings and the run's clear-sky ceiling and battery efficiencies, gives the same
bits. The ``state_estimation`` bit is the grid-side check's (:mod:`twin.layers.physics`): a
reading carries it exactly when ``physics_checks`` blames its node for its period in the
check of the slot it arrived in (a period is checked again when a late upload of it
arrives). A reading's status is ``accepted`` exactly when its flags are 0. So a flagged
reading made accepted (its flags zeroed or not), or an accepted one made flagged, is named by
its row, whether or not its device earns rewards.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forecasting.solar import clear_sky_ceiling_w_per_m2
from settlement.depin.devices import DEVICE_KINDS
from settlement.depin.peers import PeerBook, held_peers
from settlement.depin.plausibility import FLAGS, Plausibility, flag_names, plausibility_flags
from twin.checks import Check, row_check
from twin.results import RunFolder
from twin.scenario.world import NodesConfig, SiteConfig
from twin.verify_late import upload_times

_STATE_ESTIMATION = FLAGS["state_estimation"]
_CHECKED = ("accepted", "flagged_implausible")
_SOLAR = DEVICE_KINDS.index("solar")


def derived_flags(run: RunFolder, readings: pd.DataFrame) -> np.ndarray:
    """The plausibility bits of each reading the journal checked (0 for the others)."""
    config = run.manifest["config"]
    interval_s = int(config["run"]["interval_s"])
    period = int(config["devices"]["upload_intervals"])
    start = pd.Timestamp(config["run"]["start"])
    nodes = run.table("nodes").set_index("device_id")
    device = readings["device_id"].to_numpy(dtype=np.int64)
    times = upload_times(readings, config)
    when = times.interval
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
    rows = np.flatnonzero(checked)
    rated = nodes.reindex(device[rows])
    kind = np.array([DEVICE_KINDS.index(str(k)) for k in rated["kind"]], dtype=np.int64)
    p_max = rated["p_max_mw"].to_numpy(dtype=np.float64)
    capacity = rated["capacity_kwh"].fillna(0.0).to_numpy(dtype=np.float64)
    energy = readings["energy_wh"].to_numpy(dtype=np.int64)[rows]
    d, k = device[rows], when[rows]
    arrived = times.uploaded[rows]
    book: dict[int, tuple[int, float]] = {}
    peers: PeerBook = {}
    for at in np.unique(arrived):  # one batch at a time, in arrival order
        here = np.flatnonzero(arrived == at)
        flags[rows[here]], book = plausibility_flags(
            d[here],
            d[here],  # a device's readings of one period are one upload
            k[here],
            energy[here],
            kind[here],
            p_max[here],
            capacity[here],
            interval_s=interval_s,
            period_intervals=period,
            clear_sky_w_per_m2=sky,
            limits=limits,
            battery_book=book,
            peers=peers,
        )
        solar = here[kind[here] == _SOLAR]
        peers.update(
            held_peers(
                peers, d[solar], k[solar], energy[solar], p_max[solar], period_intervals=period
            )
        )
    return flags


def blamed(run: RunFolder, readings: pd.DataFrame) -> np.ndarray:
    """Whether the grid-side check blamed each reading's node for its upload period, in the
    check of the slot the reading arrived in."""
    out = np.zeros(len(readings), dtype=bool)
    if not (run.path / "physics_checks.parquet").is_file():
        return out
    checks = run.table("physics_checks")
    applied = checks[checks["applied"].astype(bool) & (checks["flagged_node"].astype(str) != "")]
    if applied.empty:
        return out
    config: dict[str, Any] = run.manifest["config"]
    interval_s = int(config["run"]["interval_s"])
    period = int(config["devices"]["upload_intervals"])
    n_run = int(config["run"]["days"]) * 86_400 // interval_s
    start = pd.Timestamp(config["run"]["start"])
    step = pd.Timedelta(seconds=interval_s)
    check_period = ((applied["time"] - start) // step).to_numpy(dtype=np.int64) // period
    if "uploaded_at" in applied:
        at = ((applied["uploaded_at"] - start) // step).to_numpy(dtype=np.int64)
    else:  # a run from before late uploads were checked again: every check on time
        at = np.minimum((check_period + 1) * period, n_run)
    blame = set(zip(check_period, applied["flagged_node"].astype(str), at, strict=True))
    times = upload_times(readings, config)
    keys = zip(
        times.interval // period, readings["node_id"].astype(str), times.uploaded, strict=True
    )
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
        | (has_se != grid_side)
        | ((status == "accepted") != (stored == 0))
    )

    def why(i: int) -> str:
        se = "" if has_se[i] == grid_side[i] else ", and no physics_checks blame"
        if grid_side[i] and not has_se[i]:
            se = ", and physics_checks blames its node"
        return (
            f"device {readings['device_id'].iat[i]} at {readings['time'].iat[i]}: "
            f"{status[i]}, flags {flag_names(int(stored[i])) or 'none'}; the checks run again "
            f"give {flag_names(int(derived[i])) or 'none'}{se}"
        )

    return row_check(
        "readings: each verdict = the plausibility checks run again (and the grid-side blame)",
        "readings",
        bad,
        why,
    )
