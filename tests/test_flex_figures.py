"""The flexibility page's figures show the numbers of the run's tables.

On two days of ``scenarios/flex.toml`` (smart charging, flexible heat pumps), the same days
uncontrolled and fixed, and two days of ``scenarios/flex_stressed.toml`` (§14a dimming):
each session's bars against ``ev_sessions``, the shortfall against the KPI, the kelvin-hours
against the KPI, the energy shifted (none uncontrolled and fixed; dimming's own energy
where only dimming moves any), the energy dimmed and the fee reduction against the
dimming tables. The builders also take runs without the tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from figures.dimming import dimmed_energy, dimming_violations, fee_reduction_by_owner
from figures.flex_ev import departed_shortfall_kwh, ev_charging_over_time, ev_sessions_figure
from figures.flex_heat import comfort_violation_by_heat_pump, heat_pump_comfort, kelvin_hours
from figures.flex_shift import (
    actual_mw,
    comfort_band_c,
    ev_uncontrolled_mw,
    flex_cards,
    flexibility_used,
    hp_profile_mw,
    shifted_kwh,
)
from tests.dashboard_fixtures import flex_run
from twin.results import RunFolder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunFolder]:
    return {n: flex_run(tmp_path_factory, n) for n in ("smart", "uncontrolled", "stressed")}


def _trace(fig: go.Figure, name: str) -> Any:
    traces = [t for t in fig.data if t.name == name]
    assert len(traces) == 1, name
    return traces[0]


def _band(run: RunFolder) -> tuple[float, float]:
    return comfort_band_c(run.manifest["config"])


def test_session_bars_are_the_sessions_table(runs: dict[str, RunFolder]) -> None:
    for run in runs.values():
        sessions = run.table("ev_sessions").sort_values(["arrival", "node_id"], kind="stable")
        fig = ev_sessions_figure(sessions)
        delivered = np.asarray(_trace(fig, "delivered [kWh]").y)
        short = np.asarray(_trace(fig, "shortfall at departure [kWh]").y)
        still = np.asarray(_trace(fig, "still to charge, open at the run's end [kWh]").y)
        np.testing.assert_allclose(delivered, sessions["delivered_kwh"])
        np.testing.assert_allclose(_trace(fig, "need [kWh]").y, sessions["need_kwh"])
        # the stack reaches the need; the shortfall bars sum to the KPI (departed only)
        np.testing.assert_allclose(delivered + short + still, sessions["need_kwh"], atol=1e-9)
        assert short.sum() == pytest.approx(run.kpis()["ev_shortfall_kwh"], abs=1e-9)
        assert short.sum() == pytest.approx(departed_shortfall_kwh(sessions), abs=1e-9)
        assert len(delivered) == run.kpis()["ev_sessions"]


def test_a_short_session_is_drawn_short_and_an_open_one_apart() -> None:
    t = pd.Timestamp("2016-01-11 12:00", tz="UTC")
    sessions = pd.DataFrame(
        {
            "node_id": ["a", "b"],
            "arrival": [t, t],
            "departure": [t + pd.Timedelta(hours=2), t + pd.Timedelta(hours=3)],
            "need_kwh": [10.0, 5.0],
            "delivered_kwh": [7.5, 1.0],
            "shortfall_kwh": [2.5, 4.0],
            "departed": [True, False],
        }
    )
    fig = ev_sessions_figure(sessions)
    assert list(_trace(fig, "shortfall at departure [kWh]").y) == [2.5, 0.0]
    assert list(_trace(fig, "still to charge, open at the run's end [kWh]").y) == [0.0, 4.0]
    assert "1 of 1 sessions that left were short, by 2.50 kWh" in fig.layout.title.text


def test_charging_over_time_ends_each_session_at_its_delivery(
    runs: dict[str, RunFolder],
) -> None:
    run = runs["smart"]
    ev = run.table("flex_ev")
    fig = ev_charging_over_time(ev)
    sessions = run.table("ev_sessions")
    for node, rows in sessions.groupby("node_id"):
        delivered = _trace(fig, f"{node} delivered")
        assert np.nanmax(np.asarray(delivered.y, dtype=float)) == pytest.approx(
            rows["delivered_kwh"].max()
        )
        power = np.asarray(_trace(fig, f"{node} power").y, dtype=float)
        assert power.sum() / 4 == pytest.approx(rows["delivered_kwh"].sum(), rel=1e-9)


def test_kelvin_hours_equal_the_kpi(runs: dict[str, RunFolder]) -> None:
    stressed = runs["stressed"]
    assert stressed.kpis()["hp_comfort_violation_kelvin_hours"] > 0  # dimming cooled some
    for run in runs.values():
        hp = run.table("flex_heat_pumps")
        kpi = run.kpis()["hp_comfort_violation_kelvin_hours"]
        per = kelvin_hours(hp, _band(run), run.manifest["interval_s"])
        assert per.sum() == pytest.approx(kpi, rel=1e-9, abs=1e-12)
        bars = comfort_violation_by_heat_pump(hp, _band(run), run.manifest["interval_s"])
        assert sum(bars.data[0].y) == pytest.approx(kpi, rel=1e-9, abs=1e-12)
        fig = heat_pump_comfort(hp, _band(run), run.manifest["interval_s"])
        kw = np.asarray(_trace(fig, "heat pumps' power [kW]").y)
        assert kw.sum() / 4 / 1e3 == pytest.approx(run.kpis()["hp_electric_mwh"], rel=1e-9)
        assert f"({kpi:,.2f} K h outside)" in fig.layout.title.text


def test_energy_shifted_against_uncontrolled_and_fixed(runs: dict[str, RunFolder]) -> None:
    def shifted(run: RunFolder) -> tuple[float, float]:
        ev, hp = run.table("flex_ev"), run.table("flex_heat_pumps")
        s = run.manifest["interval_s"]
        return (
            shifted_kwh(actual_mw(ev), ev_uncontrolled_mw(ev, run.table("ev_sessions")), s),
            shifted_kwh(actual_mw(hp), hp_profile_mw(hp, s), s),
        )

    # the references are what uncontrolled charging and fixed heat pumps draw
    assert shifted(runs["uncontrolled"]) == pytest.approx((0.0, 0.0), abs=1e-9)
    smart_ev, smart_hp = shifted(runs["smart"])
    assert smart_ev > 1.0
    assert smart_hp > 1.0
    # the stressed run charges uncontrolled and heats fixed: only the operator moves energy
    k = runs["stressed"].kpis()
    assert shifted(runs["stressed"]) == pytest.approx(
        (k["dimmed_ev_kwh"], k["dimmed_hp_kwh"]), rel=1e-6
    )
    run = runs["smart"]
    fig = flexibility_used(
        run.table("flex_ev"),
        run.table("ev_sessions"),
        run.table("flex_heat_pumps"),
        run.manifest["interval_s"],
    )
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [
        f"EV chargers: {smart_ev:,.1f} kWh shifted",
        f"heat pumps: {smart_hp:,.1f} kWh shifted",
    ]
    drawn = np.asarray(_trace(fig, "EV chargers: drawn [kW]").y).sum()
    reference = np.asarray(_trace(fig, "EV chargers: uncontrolled [kW]").y).sum()
    assert drawn == pytest.approx(reference)  # the same energy, moved in time


def test_dimming_figures_are_the_dimming_tables(runs: dict[str, RunFolder]) -> None:
    run = runs["stressed"]
    k = run.kpis()
    dimming, devices = run.table("dimming"), run.table("dimming_devices")
    fig = dimmed_energy(dimming)
    by_kind = {t.name: np.asarray(t.y).sum() for t in fig.data}
    assert by_kind["ev [kWh]"] == pytest.approx(k["dimmed_ev_kwh"])
    assert by_kind["heat pump [kWh]"] == pytest.approx(k["dimmed_hp_kwh"])
    assert sum(by_kind.values()) == pytest.approx(k["dimmed_kwh"])
    assert len(fig.data[0].x) == k["dimming_intervals"]
    bars = dimming_violations(k)
    assert list(bars.data[0].y) == [k["dimming_violations_before"], k["dimming_violations_after"]]
    assert k["dimming_violations_before"] > k["dimming_violations_after"]
    fees = fee_reduction_by_owner(devices)
    paid = np.asarray(_trace(fees, "fee reduction [EUR]").y)
    assert paid.sum() == pytest.approx(k["grid_fee_reduction_eur"], abs=1e-6)
    bills = run.table("bills")
    credited = bills.set_index("owner")["grid_fee_reduction_micro_eur"] / 1e6
    for owner, eur in zip(_trace(fees, "fee reduction [EUR]").x, paid, strict=True):
        assert credited[owner] == pytest.approx(eur)
    dimmed = np.asarray(_trace(fees, "energy dimmed [kWh]").y)
    assert dimmed.sum() == pytest.approx(k["dimmed_kwh"])
    cards = {c["label"]: c["value"] for c in flex_cards(k)}
    assert cards["§14a fee reduction"] == f"{k['grid_fee_reduction_eur']:,.2f}"


def test_a_run_without_flex_or_dimming_says_so(runs: dict[str, RunFolder]) -> None:
    for fig, text in (
        (ev_sessions_figure(None), "no ev_sessions table"),
        (ev_charging_over_time(None), "no flex_ev table"),
        (heat_pump_comfort(None, (20.0, 22.0), 900), "no flex_heat_pumps table"),
        (comfort_violation_by_heat_pump(None, (20.0, 22.0), 900), "no flex_heat_pumps"),
        (flexibility_used(None, None, None, 900), "no flexible loads"),
        (dimmed_energy(None), "no dimming tables"),
        (dimming_violations({}), "no dimming tables"),
        (fee_reduction_by_owner(None), "no dimming tables"),
    ):
        assert text in fig.layout.annotations[0].text
    assert flex_cards({}) == []
    smart = runs["smart"].kpis()
    assert "§14a fee reduction" not in {c["label"] for c in flex_cards(smart)}
