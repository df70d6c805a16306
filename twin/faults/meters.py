"""Meter faults: devices' meter links down for hours, and uploads that arrive late.

Both run a day of the default scenario with hourly uploads (``devices.upload_intervals = 4``,
so that hours of link trouble span several upload periods). ``meter-dropout-6h`` takes the
links of a PV device, a battery and the wind turbine down for 6 h
(``devices.dropouts``): the devices keep signing each period and send the held uploads when
the link returns. ``late-uploads`` gives three devices a link that delivers every upload 2 and
3 periods late (``devices.upload_delay_periods``). Expected of both: every (device, interval)
reading journaled exactly once, the late ones marked, all accepted, their energy the
devices' metered energy (``node_power``), all counted in their epoch (a one-day run is one
open epoch), nothing lost and ``gridtwin verify`` passing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from settlement.units import mw_to_wh
from twin.engine import run_scenario
from twin.faults.base import Fault, Outcome, lost_in, scenario
from twin.results import RunFolder

#: Hourly uploads: 24 slots in the fault's day.
HOURLY = "devices.upload_intervals=4"
DROPPED = ("pv-3", "bat-1", "wind-0")
DROPOUT = (
    "devices.dropouts=["
    + ",".join(f'{{node_id="{n}",start_h=8.0,duration_h=6.0}}' for n in DROPPED)
    + "]"
)
DELAYED = {"pv-0": 2, "bat-3": 3, "wind-0": 2}
DELAY = "devices.upload_delay_periods={" + ",".join(f'"{n}"={d}' for n, d in DELAYED.items()) + "}"


def late_readings(run: RunFolder) -> tuple[str, bool, list[str]]:
    """What a run with late uploads journaled: the late readings, their verdicts, and whether
    each (device, interval) is there once with the metered energy and counted in its epoch."""
    readings = run.table("readings")
    nodes = run.table("nodes").set_index("node_id")
    power = run.table("node_power")
    interval_s = int(run.manifest["config"]["run"]["interval_s"])
    late = readings[readings["late_periods"] > 0]
    status = late["status"].astype(str)
    twice = int(readings.duplicated(["device_id", "time"]).sum())
    node = power["node_id"].astype(str)
    sign = np.where(nodes["kind"].reindex(node).to_numpy() == "consumer", 1.0, -1.0)
    metered = mw_to_wh(sign * power["p_mw"].to_numpy(), interval_s)
    truth = dict(zip(zip(power["time"], node, strict=True), metered.tolist(), strict=True))
    key = zip(readings["time"], readings["node_id"].astype(str), strict=True)
    got = readings["energy_wh"].astype(int).tolist()
    wrong = sum(truth.get(k) != e for k, e in zip(key, got, strict=True))
    after = int(readings["after_epoch"].sum())
    nodes_late = sorted(set(late["node_id"].astype(str)))
    observed = (
        f"{len(late)} readings of {', '.join(nodes_late)} uploaded "
        f"{int(late['late_periods'].min()) if len(late) else 0}-"
        f"{int(late['late_periods'].max()) if len(late) else 0} periods late: "
        f"{int((status == 'accepted').sum())} accepted, {after} after their epoch; "
        f"{twice} (device, interval) twice, {wrong} readings != metered"
    )
    behaved = len(late) > 0 and bool((status == "accepted").all())
    behaved &= twice == 0 and wrong == 0 and after == 0
    reasons = [f"{len(late) - int((status == 'accepted').sum())} late not accepted"] * bool(
        len(late) and not (status == "accepted").all()
    )
    return observed, behaved, reasons


def _run(folder: Path, *overrides: str) -> Outcome:
    run_scenario(scenario(HOURLY, *overrides), folder / "run")
    run, lost, reasons = lost_in(folder / "run")
    observed, behaved, more = late_readings(run)
    return Outcome(observed + "".join(f"; {r}" for r in reasons + more), behaved, lost)


def meter_dropout(folder: Path, quick: bool) -> Outcome:
    """Three devices' meter links down 6 h (08:00-14:00)."""
    return _run(folder, DROPOUT)


def late_uploads(folder: Path, quick: bool) -> Outcome:
    """Three devices' every upload 2 or 3 periods late."""
    return _run(folder, DELAY)


METER_FAULTS = {
    f.name: f
    for f in (
        Fault(
            "meter-dropout-6h",
            "readings stored on the device and uploaded when the link returns: each once, "
            "all accepted, rewarded in their epoch",
            meter_dropout,
        ),
        Fault(
            "late-uploads",
            "uploads 2-3 periods late: each reading once, all accepted, rewarded in their epoch",
            late_uploads,
        ),
    )
}
