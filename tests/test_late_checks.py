"""A late upload faces the checks of its own period: the PV peer check with the readings of
that period the journal already holds, the grid-side check of that period with the late
claims added. Lying and uploading late does not pay.

One day of the subtle-fraud community with hourly uploads and 4-hour batches, run twice:
every link on time, then with the liars' links late. The liars: wind-0 and pv-5 inflate by
10 % (only the grid-side check sees them), pv-19 by 30 % (the peer check sees it). In the
late run wind-0's and pv-5's uploads arrive 3 periods late, pv-19's link is down 10:00-14:00
(its uploads of those hours are late, the others on time), and honest devices are late too:
pv-3 (2 periods), bat-12 and load-7 (1 period), pv-31 (down 08:00-12:00).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from settlement.depin import devices as dv
from settlement.depin.plausibility import FLAGS
from settlement.depin.readings import verify_uploads
from settlement.depin.uploads import sign_upload
from settlement.depin.verifier_state import VerifierState
from twin.engine import run_scenario
from twin.layers.physics import PhysicsCheck
from twin.results import RunFolder, open_run
from twin.scenario import load_scenario
from twin.verify import verify_run

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "fraud_subtle.toml"
COMMON = [
    "devices.upload_intervals=4",
    "chain.batch_hours=4",
    'devices.attacks=[{node_id = "wind-0", kind = "inflate", inflate_factor = 1.1},'
    ' {node_id = "pv-5", kind = "inflate", inflate_factor = 1.1},'
    ' {node_id = "pv-19", kind = "inflate", inflate_factor = 1.3}]',
]
LATE = [
    'devices.upload_delay_periods={"wind-0" = 3, "pv-5" = 3, "pv-3" = 2, "bat-12" = 1,'
    ' "load-7" = 1}',
    'devices.dropouts=[{node_id = "pv-19", start_h = 10.0, duration_h = 4.0},'
    ' {node_id = "pv-31", start_h = 8.0, duration_h = 4.0}]',
]
LIARS = ("wind-0", "pv-5", "pv-19")
SE = FLAGS["state_estimation"]
PEER = FLAGS["peer"] | FLAGS["peer_period"]


#: After each slot of the late run: (PV periods the journal holds, periods whose claims the
#: grid-side check holds, intervals from the oldest meter reading it holds to the slot's end)
KEPT: list[tuple[int, int, int]] = []


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunFolder]:
    out = tmp_path_factory.mktemp("latecheck")
    folders = {}
    for name, extra in (("on_time", []), ("late", LATE)):
        with pytest.MonkeyPatch.context() as mp:
            if name == "late":
                _watch_memory(mp)
            run_scenario(load_scenario(SCENARIO, COMMON + extra), out / name)
        folders[name] = open_run(out / name)
    return folders


def _watch_memory(mp: pytest.MonkeyPatch) -> None:
    """Record what the journal and the grid-side check keep after each slot (:data:`KEPT`)."""
    peers_kept = [0]
    forget_peers = VerifierState.forget_peers
    forget = PhysicsCheck.forget

    def watched_peers(self: VerifierState, keep: Any) -> None:
        forget_peers(self, keep)
        peers_kept[0] = len(self.peers)

    def watched(self: PhysicsCheck, keep: set[int], end: int) -> None:
        forget(self, keep, end)
        KEPT.append((peers_kept[0], len(self.claims), end - self.first))

    mp.setattr(VerifierState, "forget_peers", watched_peers)
    mp.setattr(PhysicsCheck, "forget", watched)


def _readings(run: RunFolder) -> pd.DataFrame:
    df = run.table("readings")
    df["node_id"] = df["node_id"].astype(str)
    df["status"] = df["status"].astype(str)
    return df.sort_values(["node_id", "time"]).reset_index(drop=True)


def test_the_late_run_has_late_readings_of_liars_and_honest_devices(
    runs: dict[str, RunFolder],
) -> None:
    on_time, late = _readings(runs["on_time"]), _readings(runs["late"])
    assert (on_time["late_periods"] == 0).all()
    is_late = late["late_periods"].to_numpy() > 0
    late_nodes = set(late.loc[is_late, "node_id"])
    assert late_nodes == {"wind-0", "pv-5", "pv-19", "pv-3", "bat-12", "load-7", "pv-31"}
    pv19 = late[late["node_id"] == "pv-19"]
    assert (pv19["late_periods"] > 0).any()
    assert (pv19["late_periods"] == 0).any()


def test_a_late_reading_gets_the_verdict_it_had_on_time(runs: dict[str, RunFolder]) -> None:
    """The same readings; every late one flagged and judged as in the on-time run: it meets
    the peers, the meters and the claims of its own period. The plausibility bits of every
    reading are the same. What differs: pv-19's on-time readings of 06:00 and 15:00 are
    also placed by the grid-side check in the late run (wind-0's and pv-5's claims, missing
    then, no longer compete with it: the check judges with the claims it holds)."""
    on_time, late = _readings(runs["on_time"]), _readings(runs["late"])
    assert on_time[["node_id", "time", "energy_wh"]].equals(late[["node_id", "time", "energy_wh"]])
    before, after = on_time["flags"].to_numpy(), late["flags"].to_numpy()
    status = late["status"].to_numpy()
    differ = (before != after) | (on_time["status"].to_numpy() != status)
    is_late = late["late_periods"].to_numpy() > 0
    assert is_late.sum() > 400
    assert not (differ & is_late).any()
    assert ((before & ~SE) == (after & ~SE)).all()
    hours = late["time"].dt.hour.to_numpy()
    assert set(late.loc[differ, "node_id"]) == {"pv-19"}
    assert set(hours[differ].tolist()) == {6, 15}
    assert (after[differ] == before[differ] | SE).all()
    assert (status[differ] == "flagged_implausible").all()


def test_the_liars_are_flagged_when_late(runs: dict[str, RunFolder]) -> None:
    late = _readings(runs["late"])
    flags = late["flags"].to_numpy()
    node = late["node_id"].to_numpy()
    is_late = late["late_periods"].to_numpy() > 0
    producing = late["energy_wh"].to_numpy() > 0
    # pv-19 (30 %): every producing reading flagged by the peer check, the late ones too
    pv19 = (node == "pv-19") & producing
    assert (flags[pv19] & PEER != 0).all()
    assert (pv19 & is_late).sum() >= 12  # its four hours of dropout, 10:00-14:00
    # wind-0 and pv-5 (10 %): the grid-side check flags their late readings
    for liar in ("wind-0", "pv-5"):
        mine = (node == liar) & is_late
        assert (flags[mine] & SE != 0).sum() >= 12, liar
    # ... and a flagged reading earns nothing
    rewarded = runs["late"].table("rewards")
    assert set(rewarded["node_id"].astype(str)).isdisjoint({"pv-19"})


def test_honest_devices_are_not_flagged_late_or_on_time(runs: dict[str, RunFolder]) -> None:
    for run in runs.values():
        readings = _readings(run)
        honest = ~readings["node_id"].isin(LIARS)
        assert (readings.loc[honest, "status"] == "accepted").all()
        assert (readings.loc[honest, "flags"] == 0).all()


def test_a_late_period_is_checked_again_at_its_arrival(runs: dict[str, RunFolder]) -> None:
    checks = runs["late"].table("physics_checks")
    applied = checks[checks["applied"].to_numpy()]
    again = applied["uploaded_at"] - applied["time"] > pd.Timedelta(hours=1)
    blamed_again = set(applied.loc[again, "flagged_node"].astype(str)) - {""}
    assert blamed_again == set(LIARS)
    on_time = runs["on_time"].table("physics_checks")
    assert (on_time["uploaded_at"] - on_time["time"] == pd.Timedelta(hours=1)).all()


def test_what_is_kept_for_late_uploads_is_bounded_by_the_links(
    runs: dict[str, RunFolder],
) -> None:
    """A period's peers, claims and meters are kept while a link holds an upload of it: at
    most the 4 periods of pv-19's dropout (3 for the 3-period delays), none at the end."""
    assert len(KEPT) == 24  # one a slot
    peers, claims, meters = np.array(KEPT).T
    assert peers.max() == claims.max() == 4
    assert meters.max() == 4 * 4  # [intervals]: the 4 periods awaited
    assert (peers >= 3)[3:-1].all()  # wind-0 and pv-5, 3 periods late all day
    assert KEPT[-1] == (0, 0, 0)


@pytest.mark.parametrize("name", ["on_time", "late"])
def test_verify_passes(runs: dict[str, RunFolder], name: str) -> None:
    failed = [c.detail for c in verify_run(runs[name].path) if not c.ok]
    assert not failed, failed


@pytest.mark.parametrize(
    ("node", "words"),
    [
        ("pv-19", "the checks run again give ['peer_period']"),  # the peers of its period
        ("pv-5", "physics_checks blames its node"),  # the re-check of its period
    ],
)
def test_verify_names_a_late_reading_that_escaped_its_check(
    runs: dict[str, RunFolder], tmp_path: Path, node: str, words: str
) -> None:
    """A late liar's flagged reading made accepted, its flags zeroed: the checks of its own
    period, run again, flag it."""
    copy = tmp_path / "run"
    shutil.copytree(runs["late"].path, copy)
    df = pd.read_parquet(copy / "readings.parquet")
    late = df["late_periods"].to_numpy() > 0
    target = (df["node_id"].astype(str).to_numpy() == node) & late & (df["flags"] != 0)
    i = int(np.flatnonzero(target.to_numpy())[0])
    status = df["status"].astype(str).to_numpy().copy()
    flags = df["flags"].to_numpy().copy()
    status[i], flags[i] = "accepted", 0
    df["status"], df["flags"] = status, flags
    df.to_parquet(copy / "readings.parquet", index=False)
    failed = [c.detail for c in verify_run(copy) if not c.ok]
    assert any(f"readings row {i}:" in d and words in d for d in failed), failed


def _fleet() -> tuple[list[Any], dict[int, Any], dict[str, Any]]:
    fleet = dv.make_devices([f"pv-{i}" for i in range(4)], ["solar"] * 4, [0.005] * 4, [0.0] * 4, 3)
    domain: dict[str, Any] = {
        "chain_id": 31337,
        "verifying_contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    }
    return fleet, dv.registry_of(fleet), domain


def test_a_late_upload_meets_the_held_peers_of_its_period() -> None:
    """Three honest roofs upload period 0 on time; the fourth, inflating by 30 %, sends it
    alone a period later: the held readings are its peers, and their verdicts stand."""
    fleet, registry, domain = _fleet()
    p = 4
    honest = np.array([300, 400, 500, 400], dtype=np.int64)
    intervals = np.arange(p, dtype=np.int64)
    kw: dict[str, Any] = {"interval_s": 900, "period_intervals": p, **domain}
    state = VerifierState()
    on_time = verify_uploads(
        [sign_upload(d, 0, intervals, honest, 0, **domain) for d in fleet[:3]],
        registry,
        state=state,
        **kw,
    )
    assert set(on_time.statuses) == {"accepted"}
    state.record(on_time)
    assert sorted(state.peers) == [0]
    assert len(state.peers[0].device_id) == 3 * p
    liar = sign_upload(fleet[3], 0, intervals, np.round(honest * 1.3).astype(np.int64), 0, **domain)
    late = verify_uploads([liar], registry, state=state, **kw)
    assert set(late.statuses) == {"flagged_implausible"}
    assert (late.flags & FLAGS["peer_period"] != 0).all()
    truthful = sign_upload(fleet[3], 0, intervals, honest, 0, **domain)
    assert set(verify_uploads([truthful], registry, state=state, **kw).statuses) == {"accepted"}
    # without what the journal held of period 0, the late liar would have had no peers
    state.forget_peers(set())
    assert state.peers == {}
    assert set(verify_uploads([liar], registry, state=state, **kw).statuses) == {"accepted"}
