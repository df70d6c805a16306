"""SimBench profile stamps: German local time with daylight saving, converted to UTC."""

from __future__ import annotations

import pandas as pd
import pytest

from grid.profiles import profile_library, simbench_times_to_utc, window


def test_spring_gap_is_closed_in_utc() -> None:
    # 2016-03-27: local 01:45 (CET, UTC+1) is followed by 03:00 (CEST, UTC+2)
    stamps = pd.Series(
        ["27.03.2016 01:30", "27.03.2016 01:45", "27.03.2016 03:00", "27.03.2016 03:15"]
    )
    utc = simbench_times_to_utc(stamps)
    assert [t.strftime("%H:%M") for t in utc] == ["00:30", "00:45", "01:00", "01:15"]
    assert str(utc.tz) == "UTC"


def test_repeated_october_hour_is_two_hours_in_utc() -> None:
    # 2016-10-30: local 02:00-02:45 appears twice, first in CEST (UTC+2), then in CET (UTC+1)
    local = [
        "01:45",
        "02:00",
        "02:15",
        "02:30",
        "02:45",
        "02:00",
        "02:15",
        "02:30",
        "02:45",
        "03:00",
    ]
    utc = simbench_times_to_utc(pd.Series([f"30.10.2016 {t}" for t in local]))
    assert utc[0] == pd.Timestamp("2016-10-29 23:45", tz="UTC")
    assert utc[-1] == pd.Timestamp("2016-10-30 02:00", tz="UTC")
    assert (utc.to_series().diff().dropna() == pd.Timedelta(minutes=15)).all()


def test_stamp_in_the_spring_gap_is_an_error() -> None:
    with pytest.raises(Exception, match=r"02:15|nonexistent|NonExistent"):
        simbench_times_to_utc(pd.Series(["27.03.2016 01:45", "27.03.2016 02:15"]))


def test_library_is_a_regular_utc_year() -> None:
    load = profile_library(0)["load"]
    index = load.index
    assert len(index) == 366 * 96
    assert index[0] == pd.Timestamp("2015-12-31 23:00", tz="UTC")
    assert index[-1] == pd.Timestamp("2016-12-31 22:45", tz="UTC")
    assert (index.to_series().diff().dropna() == pd.Timedelta(minutes=15)).all()


def solar_centroid_h(pv: pd.Series) -> float:
    """Energy-weighted mean time of day of a PV series [h, UTC]."""
    minutes = pv.index.hour * 60 + pv.index.minute
    return float((minutes * pv).sum() / pv.sum() / 60)


def test_pv_noon_does_not_jump_with_daylight_saving() -> None:
    # The sun keeps UTC: once converted, PV's daily centroid must stay put from winter
    # (CET) to summer (CEST); read as UTC without conversion it would move by an hour.
    pv = profile_library(0)["renewables"]["PV5"]
    winter = solar_centroid_h(pv["2016-01-04":"2016-01-31"])
    summer = solar_centroid_h(pv["2016-06-01":"2016-06-30"])
    assert abs(summer - winter) < 0.25


def test_window_averages_to_coarser_intervals() -> None:
    load = profile_library(0)["load"]
    start = pd.Timestamp("2016-06-06", tz="UTC")
    fine = window(load, start, 8, 900)
    coarse = window(load, start, 2, 3600)
    assert coarse.index[1] == start + pd.Timedelta(hours=1)
    assert coarse.iloc[0].to_numpy() == pytest.approx(fine.iloc[:4].mean().to_numpy())
    # past the year's end the typical year wraps around to its start
    late = window(load, pd.Timestamp("2016-12-31 22:00", tz="UTC"), 8, 900)
    assert late.index[-1] == pd.Timestamp("2016-12-31 23:45", tz="UTC")
    assert late.iloc[4:].to_numpy() == pytest.approx(load.iloc[:4].to_numpy())
    # and a window before the year's start (a forecaster's warm-up) wraps back to its end
    early = window(load, pd.Timestamp("2015-12-31 22:00", tz="UTC"), 8, 900)
    assert early.iloc[:4].to_numpy() == pytest.approx(load.iloc[-4:].to_numpy())
    assert early.iloc[4:].to_numpy() == pytest.approx(load.iloc[:4].to_numpy())
    with pytest.raises(ValueError, match="outside"):
        window(load, start, 367 * 96, 900)
