"""Meter dropouts and late uploads: every reading journaled once, the late ones marked,
verified as any other, rewarded in their epoch while it is open and not after it was paid.

Two days of the default community at hourly intervals, hourly uploads and daily epochs: the
wind turbine's link is down 20:00-02:00 across the epoch boundary, pv-3's link delivers
every upload 2 periods late.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from settlement.depin import devices as dv
from settlement.depin.links import arrival_slots
from settlement.depin.readings import verify_uploads
from settlement.depin.uploads import Upload, sign_upload
from settlement.depin.verifier_state import VerifierState
from settlement.units import mw_to_wh
from tests.conftest import DEFAULT
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario
from twin.verify import verify_run

OVERRIDES = [
    "run.days=2",
    "run.interval_s=3600",
    'forecasting.model="perfect"',
    "forecasting.horizon_steps=24",
    "forecasting.replan_intervals=6",
    "forecasting.record_horizons=[1, 4, 24]",
    "chain.batch_hours=6",
    "devices.upload_intervals=1",
    "devices.epoch_days=1",
    'devices.dropouts=[{node_id = "wind-0", start_h = 20.0, duration_h = 6.0}]',
    'devices.upload_delay_periods={"pv-3" = 2}',
]
N_RUN = 48
DAY = np.timedelta64(1, "D")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("late") / "run"
    run_scenario(load_scenario(DEFAULT, OVERRIDES), out)
    return open_run(out)


def _hours(readings: pd.DataFrame, column: str = "time") -> np.ndarray:
    start = pd.Timestamp("2016-06-06T00:00:00Z")
    return ((readings[column] - start) // pd.Timedelta(hours=1)).to_numpy(dtype=np.int64)


def test_arrival_slots_hold_uploads_until_the_link_is_up_and_keep_nonce_order() -> None:
    ends = np.arange(1, 11) * 3600.0  # ten hourly slots
    assert arrival_slots(ends).tolist() == list(range(10))
    # down [3 h, 6 h): the slots ending at 3, 4, 5 h (periods 2-4) go with the one at 6 h
    assert arrival_slots(ends, [(3 * 3600.0, 6 * 3600.0)]).tolist() == [
        0,
        1,
        5,
        5,
        5,
        5,
        6,
        7,
        8,
        9,
    ]
    late = arrival_slots(ends, [(3 * 3600.0, 6 * 3600.0)], delay_periods=2)
    assert late.tolist() == [5, 5, 5, 5, 6, 7, 8, 9, 10, 10]  # 10: after the run's last slot
    assert (np.diff(late) >= 0).all()
    assert (late >= np.arange(10)).all()


def test_every_reading_is_journaled_once_and_equals_the_metered_energy(run: RunFolder) -> None:
    readings = run.table("readings")
    nodes = run.table("nodes")
    assert len(readings) == N_RUN * len(nodes)
    assert not readings.duplicated(["device_id", "time"]).any()
    assert (readings["status"].astype(str) == "accepted").all()
    power = run.table("node_power")
    kind = nodes.set_index("node_id")["kind"].reindex(power["node_id"].astype(str))
    sign = np.where(kind.to_numpy() == "consumer", 1.0, -1.0)
    metered = pd.Series(
        mw_to_wh(sign * power["p_mw"].to_numpy(), 3600),
        index=pd.MultiIndex.from_arrays([power["time"], power["node_id"].astype(str)]),
    )
    key = pd.MultiIndex.from_arrays([readings["time"], readings["node_id"].astype(str)])
    assert (metered.reindex(key).to_numpy() == readings["energy_wh"].to_numpy()).all()


def test_late_readings_are_marked_with_when_they_arrived(run: RunFolder) -> None:
    readings = run.table("readings")
    hour = _hours(readings)
    arrived = _hours(readings, "uploaded_at")
    node = readings["node_id"].astype(str).to_numpy()
    late = readings["late_periods"].to_numpy()
    # wind-0: the slots ending 20:00..01:00 are down; periods 19..24 arrive with 02:00's slot
    wind = node == "wind-0"
    held = wind & (hour >= 19) & (hour <= 24)
    assert (arrived[held] == 26).all()
    assert (late[held] == 25 - hour[held]).all()
    assert (late[wind & ~held] == 0).all()
    # pv-3: two periods late, the last two with the run's last slot
    pv = node == "pv-3"
    assert (late[pv] == np.minimum(2, N_RUN - 1 - hour[pv])).all()
    others = ~wind & ~pv
    assert (late[others] == 0).all()
    assert (arrived[others] == hour[others] + 1).all()


def test_late_readings_count_in_their_open_epoch_and_earn_nothing_once_it_was_paid(
    run: RunFolder,
) -> None:
    readings = run.table("readings")
    hour = _hours(readings)
    after = readings["after_epoch"].to_numpy()
    arrived = _hours(readings, "uploaded_at")
    # arrived after its epoch's end (24:00 for day 0): wind-0's 19:00-23:00, pv-3's 22:00-23:00
    assert (after == (arrived > (hour // 24 + 1) * 24)).all()
    assert set(readings.loc[after, "node_id"].astype(str)) == {"wind-0", "pv-3"}
    kpis = run.kpis()
    assert kpis["readings_late_after_epoch"] == after.sum() == 5 + 2
    rewards = run.table("rewards")
    counted = readings[~after]
    energy = counted.assign(epoch=hour[~after] // 24, e=counted["energy_wh"].clip(lower=0))
    per = energy.groupby(["epoch", "device_id"])["e"].sum()
    stated = rewards.set_index(["epoch", "device_id"])["energy_wh"]
    assert (per.reindex(stated.index).to_numpy() == stated.to_numpy()).all()
    # the turbine's late night readings of day 0 are in no reward; those of day 1 are
    wind = readings[readings["node_id"].astype(str) == "wind-0"]
    wind_hour = _hours(wind)
    lost_wh = int(wind.loc[wind["after_epoch"].to_numpy(), "energy_wh"].clip(lower=0).sum())
    assert lost_wh > 0  # the turbine produced in those hours: the rule has a cost
    day0 = int(wind.loc[wind_hour < 24, "energy_wh"].clip(lower=0).sum())
    paid0 = rewards[(rewards["epoch"] == 0) & (rewards["node_id"] == "wind-0")]["energy_wh"]
    assert int(paid0.sum()) == day0 - lost_wh
    late_day1 = wind[(wind_hour == 24)]
    assert late_day1["late_periods"].iat[0] == 1
    assert not late_day1["after_epoch"].iat[0]


def test_verify_passes_and_catches_edited_arrivals(run: RunFolder, tmp_path: Path) -> None:
    assert all(c.ok for c in verify_run(run.path)), [
        c.detail for c in verify_run(run.path) if not c.ok
    ]
    readings = run.table("readings")
    after = int(np.flatnonzero(readings["after_epoch"].to_numpy())[0])
    counted_late = np.flatnonzero(
        (readings["late_periods"].to_numpy() > 0) & ~readings["after_epoch"].to_numpy()
    )
    wind = readings["node_id"].astype(str).to_numpy() == "wind-0"
    wind_late = int(counted_late[wind[counted_late]][0])

    def tampered(name: str, change: Callable[[pd.DataFrame], None]) -> list[str]:
        copy = tmp_path / name
        shutil.copytree(run.path, copy)
        df = pd.read_parquet(copy / "readings.parquet")
        change(df)
        df.to_parquet(copy / "readings.parquet", index=False)
        return [c.detail for c in verify_run(copy) if not c.ok]

    def put(df: pd.DataFrame, row: int, column: str, value: object) -> None:
        values = df[column].to_numpy().copy()
        values[row] = value
        df[column] = values

    def unflag(df: pd.DataFrame) -> None:  # an after-epoch reading claimed as counted
        put(df, after, "after_epoch", False)

    def postpone(df: pd.DataFrame) -> None:  # a counted late reading moved past its epoch
        put(df, wind_late, "uploaded_at", df["uploaded_at"].to_numpy()[wind_late] + DAY)
        put(df, wind_late, "late_periods", df["late_periods"].to_numpy()[wind_late] + 24)
        put(df, wind_late, "after_epoch", True)

    def early(df: pd.DataFrame) -> None:  # uploaded before it was measured
        put(df, wind_late, "uploaded_at", df["time"].to_numpy()[wind_late])

    for name, change in (("unflag", unflag), ("postpone", postpone), ("early", early)):
        failed = tampered(name, change)
        assert failed, name
        assert any("readings" in d for d in failed), (name, failed)


def test_a_late_period_is_accepted_once_and_its_replay_rejected() -> None:
    kinds = ["solar", "solar"]
    fleet = dv.make_devices(["pv-a", "pv-b"], kinds, [0.005, 0.005], [0.0, 0.0], 7)
    registry = dv.registry_of(fleet)
    domain: dict[str, Any] = {
        "chain_id": 31337,
        "verifying_contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    }
    p = 4
    energy = np.array([10, 20, 30, 40], dtype=np.int64)

    def upload(period: int, nonce: int) -> Upload:
        intervals = period * p + np.arange(p, dtype=np.int64)
        return sign_upload(fleet[0], period, intervals, energy, nonce, **domain)

    state = VerifierState()
    kw: dict[str, Any] = {"state": state, "interval_s": 900, "period_intervals": p, **domain}
    on_time = verify_uploads([upload(1, 1)], registry, **kw)
    state.record(on_time)
    late = verify_uploads([upload(0, 0)], registry, **kw)
    assert set(late.statuses) == {"accepted"}
    state.record(late)
    again = verify_uploads([upload(0, 0)], registry, **kw)
    assert set(again.statuses) == {"rejected_replayed"}
    fresh_nonce = verify_uploads([upload(0, 7)], registry, **kw)
    assert set(fresh_nonce.statuses) == {"rejected_replayed"}


@pytest.mark.parametrize(
    ("override", "key"),
    [
        (
            'devices.dropouts=[{node_id = "pv-4", start_h = 1.0, duration_h = 6.0}]',
            "devices.dropouts[0].node_id",
        ),
        ('devices.upload_delay_periods={"pv-4" = 2}', "devices.upload_delay_periods.pv-4"),
    ],
)
def test_a_link_of_a_missing_node_is_refused_naming_the_file_and_key(
    override: str, key: str, tmp_path: Path
) -> None:
    sc = load_scenario(DEFAULT, ["run.days=1", override])
    with pytest.raises(ScenarioError) as err:
        run_scenario(sc, tmp_path / "run", scenario_file=str(DEFAULT))
    assert str(err.value).startswith(f"{DEFAULT}: {key}: no node 'pv-4' at seed 42")
    assert not (tmp_path / "run").exists()


def test_a_dropout_must_last() -> None:
    with pytest.raises(ScenarioError, match=r"devices\.dropouts\.0\.duration_h|duration_h"):
        load_scenario(
            DEFAULT, ['devices.dropouts=[{node_id = "pv-3", start_h = 1.0, duration_h = 0.0}]']
        )
