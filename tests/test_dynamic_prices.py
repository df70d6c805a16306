"""Dynamic day-ahead retail prices (§41a EnWG): the CSV's validation, the tariff in the bills,
verify on a dynamic-price run; the flex LP's peak term against uncontrolled charging."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.flex_dispatch import FlexDispatcher
from settlement.market.day_ahead import FixedParts, dynamic_retail
from settlement.units import mw_to_wh
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario
from twin.verify import verify_run

ROOT = Path(__file__).resolve().parent.parent
FLEX = ROOT / "scenarios" / "flex.toml"
CET = timezone(timedelta(hours=1))
#: flex.toml's run starts here; the CSVs below start a day before it (local time, +01:00).
CSV_START = datetime(2016, 1, 10, tzinfo=CET)


def day_ahead(hour: np.ndarray) -> np.ndarray:
    """A made-up day-ahead price [EUR/MWh]: dear in the evening, cheap at night."""
    return 60.0 + 40.0 * np.sin(2 * np.pi * (hour - 12) / 24)


def write_csv(path: Path, days: int = 5, quarter_from_h: int = 48) -> Path:
    """Hourly rows for ``quarter_from_h`` hours, quarter-hourly after (the auction's change)."""
    lines = ["time,eur_per_mwh"]
    t, end = CSV_START, CSV_START + timedelta(days=days)
    while t < end:
        hours = (t - CSV_START).total_seconds() / 3600
        lines.append(f"{t.isoformat()},{day_ahead(np.array(hours % 24))[()]:.4f}")
        t += timedelta(minutes=15 if hours >= quarter_from_h else 60)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def edited(path: Path, line: int, text: str | None) -> Path:
    """``path`` with its ``line`` (1: the header) replaced by ``text`` (None: removed)."""
    rows = path.read_text(encoding="utf-8").splitlines()
    if text is None:
        del rows[line - 1]
    else:
        rows[line - 1] = text
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def load(csv: Path, *more: str) -> None:
    load_scenario(FLEX, [f'tariffs.day_ahead_csv="{csv}"', "run.days=2", *more])


@pytest.mark.parametrize(
    ("edit", "where", "reason"),
    [
        (lambda p: p.with_name("missing.csv"), "missing.csv", "no such file"),
        (lambda p: edited(p, 1, "timestamp,price"), "line 1", "header must be"),
        (lambda p: edited(p, 5, "2016-01-10T03:00:00+01:00"), "line 5", "1 columns"),
        (lambda p: edited(p, 5, "yesterday,50"), "line 5, column 'time'", "not an ISO 8601"),
        (lambda p: edited(p, 5, "2016-01-10T03:00:00,50"), "line 5, column 'time'", "no UTC"),
        (lambda p: edited(p, 5, "2016-01-10T03:07:00+01:00,50"), "line 5", "quarter hour"),
        (
            lambda p: edited(p, 5, "2016-01-10T03:00:00+01:00,abc"),
            "line 5, column 'eur_per_mwh'",
            "not a number",
        ),
        (
            lambda p: edited(p, 5, "2016-01-10T03:00:00+01:00,nan"),
            "line 5, column 'eur_per_mwh'",
            "not a finite price",
        ),
        (
            lambda p: edited(p, 5, "2016-01-10T01:00:00+01:00,50"),
            "line 5, column 'time'",
            "not after the previous row",
        ),
        (
            lambda p: edited(p, 5, "2016-01-10T02:30:00+01:00,50"),
            "line 5, column 'time'",
            "hourly (3600 s) or quarter-hourly",
        ),
        # 2016-01-11T04:00+01:00 (line 30: hour 28 of the file) removed: a gap in the run window
        (lambda p: edited(p, 30, None), "line 30, column 'time'", "gap of 2 h"),
        (lambda p: write_csv(p, days=2), "tariffs.day_ahead_csv", "do not cover the run window"),
        (
            lambda p: edited(p, 30, "2016-01-11T04:00:00+01:00,-400"),
            "line 30, column 'eur_per_mwh'",
            "negative retail price",
        ),
    ],
)
def test_bad_day_ahead_csv_names_file_line_column_and_reason(
    tmp_path: Path, edit: Callable[[Path], Path], where: str, reason: str
) -> None:
    csv = edit(write_csv(tmp_path / "prices.csv"))
    with pytest.raises(ScenarioError) as err:
        load(csv)
    message = str(err.value)
    assert "flex.toml" in message
    assert "tariffs.day_ahead_csv" in message
    assert csv.name in message
    assert where in message
    assert reason in message


def test_gap_outside_the_run_window_is_accepted(tmp_path: Path) -> None:
    csv = edited(write_csv(tmp_path / "prices.csv"), 5, None)  # 03:00 of the day before
    load(csv)


def test_relative_path_resolves_against_the_scenario(tmp_path: Path) -> None:
    write_csv(tmp_path / "prices.csv", days=9)  # flex.toml runs a week
    scenario = tmp_path / "dyn.toml"
    text = FLEX.read_text(encoding="utf-8").replace(
        "[grid]", '[tariffs]\nday_ahead_csv = "prices.csv"\n\n[grid]'
    )
    scenario.write_text(text, encoding="utf-8")
    assert load_scenario(scenario).tariffs.day_ahead_csv == tmp_path / "prices.csv"


def test_dynamic_retail_is_day_ahead_plus_fixed_parts_and_vat() -> None:
    fixed = FixedParts(110.0, 53.0, 20.0, 0.19)
    got = dynamic_retail(np.array([-50.0, 0.0, 80.0]), fixed)
    np.testing.assert_allclose(got, (np.array([-50.0, 0.0, 80.0]) + 183.0) * 1.19)


@pytest.fixture(scope="module")
def dynamic_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    """One day of scenarios/flex.toml under the dynamic tariff, settled on chain."""
    base = tmp_path_factory.mktemp("dynamic")
    csv = write_csv(base / "prices.csv")
    sc = load_scenario(
        FLEX, [f'tariffs.day_ahead_csv="{csv}"', "run.days=1", "devices.enabled=false"]
    )
    run_scenario(sc, base / "run")
    return open_run(base / "run")


@pytest.mark.slow
def test_bills_settle_at_the_day_ahead_price_plus_fixed_parts(dynamic_run: RunFolder) -> None:
    cfg = dynamic_run.manifest["config"]["tariffs"]
    prices = dynamic_run.table("prices").set_index("time")
    hours = (pd.DatetimeIndex(prices.index) - pd.Timestamp(CSV_START)).total_seconds() / 3600
    h = np.asarray(hours)
    held = np.where(h < 48, np.floor(h), h)  # hourly rows, then quarter-hourly
    expected_da = np.round(day_ahead(held % 24), 4)  # as written to the CSV
    np.testing.assert_allclose(prices["day_ahead_eur_per_mwh"], expected_da, atol=1e-9)
    parts = cfg["network_eur_per_mwh"] + cfg["levies_eur_per_mwh"]
    parts += cfg["supplier_margin_eur_per_mwh"]
    retail = (expected_da + parts) * (1 + cfg["vat_share"])
    np.testing.assert_allclose(prices["retail_eur_per_mwh"], retail, atol=1e-3)
    np.testing.assert_allclose(prices["feed_in_eur_per_mwh"], cfg["feed_in_eur_per_mwh"])
    assert prices["retail_eur_per_mwh"].std() > 10.0  # not the ToU bands
    # the utility-only bill of every owner: its metered net energy at those prices
    nodes, power = dynamic_run.table("nodes"), dynamic_run.table("node_power")
    owner = (
        power["node_id"]
        .astype(str)
        .map(dict(zip(nodes["node_id"].astype(str), nodes["owner"].astype(str), strict=True)))
    )
    net = power.groupby([power["time"], owner])["p_mw"].sum().unstack(fill_value=0)
    net_wh = mw_to_wh(net.to_numpy(), int(dynamic_run.manifest["config"]["run"]["interval_s"]))
    r = retail[:, None]
    f = float(cfg["feed_in_eur_per_mwh"])
    cost = np.rint(np.maximum(net_wh, 0) * r - np.maximum(-net_wh, 0) * f).astype(np.int64)
    bills = dynamic_run.table("bills").set_index("owner")
    baseline = bills.loc[net.columns, "baseline_cost_micro_eur"].to_numpy()
    np.testing.assert_array_equal(baseline, cost.sum(axis=0))


@pytest.mark.slow
def test_verify_passes_on_a_dynamic_price_run(dynamic_run: RunFolder) -> None:
    checks = verify_run(dynamic_run.path)
    failed = [c for c in checks if not c.ok]
    assert not failed, failed
    assert any("bills" in c.name for c in checks)


@pytest.mark.slow
def test_verify_names_a_tampered_price(dynamic_run: RunFolder, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(dynamic_run.path, copy)
    prices = pd.read_parquet(copy / "prices.parquet")
    prices["retail_eur_per_mwh"] = prices["retail_eur_per_mwh"] + 50.0 * (prices.index == 10)
    prices.to_parquet(copy / "prices.parquet")
    failed = [c for c in verify_run(copy) if not c.ok]
    assert any("prices" in c.name or "bills" in c.name for c in failed)


def test_lp_peak_term_spreads_the_load_under_the_base_peak() -> None:
    h = 16
    price = np.full(h, 300.0)
    price[8:12] = 100.0  # cheap hours, where the base also peaks
    base = np.full(h, 0.050)
    base[8:12] = 0.080

    def plan(peak: float) -> np.ndarray:
        lp = FlexDispatcher(
            horizon_steps=h,
            interval_s=900,
            ev_p_max_mw=np.array([0.022]),
            hp_p_max_mw=np.zeros(0),
            hp_store_max_kwh=16.0,
            hp_kwh_per_k=8.0,
            shortfall_eur_per_kwh=2.0,
            comfort_eur_per_kelvin_hour=20.0,
            peak_eur_per_kw=peak,
        )
        out = lp.plan(
            price,
            np.array([22.0]),
            np.array([16]),
            np.zeros(0),
            np.zeros((0, h)),
            np.zeros((0, h)),
            base_mw=base,
        )
        assert out is not None
        ev = out[0][0]
        assert ev.sum() * 1e3 * 0.25 == pytest.approx(22.0)  # the need is met either way
        return base + ev

    without, with_peak = plan(0.0), plan(5.0)
    assert without.max() == pytest.approx(0.102)  # all four cheap intervals at 22 kW
    assert with_peak.max() <= base.max() + 1e-9  # fills the valleys, not the peak


@pytest.fixture(scope="module")
def peak_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunFolder]:
    """Two January days of scenarios/flex.toml: smart + flexible with its peak term, and
    uncontrolled charging with fixed heat pumps."""
    base = tmp_path_factory.mktemp("peak")
    runs = {}
    for name, overrides in (
        ("smart", []),
        ("uncontrolled", ["flex.ev.mode=uncontrolled", "flex.heat_pump.mode=fixed"]),
    ):
        sc = load_scenario(
            FLEX, ["run.days=2", "chain.enabled=false", "devices.enabled=false", *overrides]
        )
        run_scenario(sc, base / name)
        runs[name] = open_run(base / name)
    return runs


@pytest.mark.slow
def test_peak_term_keeps_the_peak_and_the_cost_below_uncontrolled(
    peak_runs: dict[str, RunFolder],
) -> None:
    smart, base = peak_runs["smart"].kpis(), peak_runs["uncontrolled"].kpis()
    assert load_scenario(FLEX).flex.peak_penalty_eur_per_kw > 0
    assert smart["peak_import_mw"] <= base["peak_import_mw"]
    assert smart["community_cost_eur"] < base["community_cost_eur"]
    assert smart["ev_sessions_short"] == 0
    for run in peak_runs.values():
        power = run.table("node_power").groupby("time")["p_mw"].sum()
        grid = run.table("grid_exchange").set_index("time")
        np.testing.assert_allclose(power + grid["losses_mw"], grid["import_mw"], atol=1e-6)


@pytest.mark.slow
def test_verify_names_a_price_edited_with_its_bills(dynamic_run: RunFolder, tmp_path: Path) -> None:
    """The bills are recomputed from the prices table; the prices from the scenario and the
    day-ahead digest, so editing both still fails, naming the prices row."""
    import shutil

    from twin.verify_prices import verify_prices

    copy = tmp_path / "run"
    shutil.copytree(dynamic_run.path, copy)
    run = open_run(copy)
    prices = run.table("prices")
    config, manifest = run.manifest["config"], run.manifest
    assert all(c.ok for c in verify_prices(prices, config, manifest))
    retail = prices.copy()
    retail.loc[10, "retail_eur_per_mwh"] += 50.0
    failed = [c for c in verify_prices(retail, config, manifest) if not c.ok]
    assert [c.name for c in failed] == [
        "prices: each interval's retail and feed-in = day-ahead + fixed parts, plus VAT"
    ]
    assert "prices row 10" in failed[0].detail
    both = prices.copy()  # the day-ahead price moved, retail and feed-in re-derived from it
    both.loc[10, "day_ahead_eur_per_mwh"] += 50.0
    both.loc[10, "retail_eur_per_mwh"] += 50.0 * (1 + config["tariffs"]["vat_share"])
    failed = [c for c in verify_prices(both, config, manifest) if not c.ok]
    assert any("digest" in c.name for c in failed)
