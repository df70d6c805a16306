"""The dashboard in headless Chromium (dash[testing]; Debian's chromium and chromium-driver).

One app and one browser for the module, on a results folder of real runs (the session's
day run, a day of the fraud scenario, and the day run as an older run folder). Every page
must load with no SEVERE browser console entry; a screenshot of each is saved under
``test-output/browser/`` (gitignored). Skipped, with the reason, where chromedriver or
dash[testing] is missing.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.browser_support import (
    OUTPUT,
    PAGES,
    choose_run,
    missing_browser,
    screenshot,
    severe_logs,
    visit,
    wait_loaded,
)
from tests.dashboard_fixtures import copy_run, flex_run, fraud_run, results_folder
from twin.results import RunFolder, open_run

# `make test` installs Chromium and ChromeDriver and sets CI: there a missing browser fails
pytestmark = pytest.mark.skipif(
    missing_browser() is not None and not os.environ.get("CI"), reason=str(missing_browser())
)


@pytest.fixture(scope="module")
def results(day_run: RunFolder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``day``, ``fraud`` and ``plain`` (no settlement or grid tables)."""
    fraud = fraud_run(tmp_path_factory)
    return results_folder(day_run, fraud, tmp_path_factory.mktemp("browser-results"))


@pytest.fixture(scope="module")
def dc(results: Path) -> Iterator[Any]:
    """The app on ``results`` in a thread, and headless Chromium on it."""
    from app import create_app
    from tests.browser_support import dash_browser

    app = create_app(results)
    with dash_browser(app) as composite:
        wait_loaded(composite, "/")
        choose_run(composite, "day")
        wait_loaded(composite, "/")
        severe_logs(composite)
        yield composite


def until(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``condition`` until it is truthy; its value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def figure(dc: Any, graph_id: str) -> dict[str, Any]:
    """Title and bus colours of a drawn plotly figure, read in the page."""
    return dict(
        dc.driver.execute_script(
            """
            const gd = document.querySelector(`#${arguments[0]} .js-plotly-plot`);
            if (!gd || !gd.layout) { return {}; }
            const buses = (gd._fullData || []).find(t => t.name === 'buses');
            return {
                title: (gd.layout.title && gd.layout.title.text) || '',
                colours: buses ? Array.from(buses.marker.color) : [],
            };
            """,
            graph_id,
        )
    )


def test_every_page_loads_without_console_errors(dc: Any) -> None:
    seconds = {}
    for path in PAGES:
        seconds[path] = visit(dc, path)
        name = path.strip("/") or "overview"
        assert screenshot(dc, name).stat().st_size > 10_000, name
        assert severe_logs(dc) == [], path
    choose_run(dc, "plain")
    visit(dc, "/grid")
    assert "no buses / branches tables" in dc.find_element("#grid-notice").text
    screenshot(dc, "grid-no-geometry")
    assert severe_logs(dc) == [], "grid of an older run"
    for run, name in (("fraud", "settlement-with-rewards"), ("plain", "settlement-none")):
        choose_run(dc, run)
        visit(dc, "/settlement")
        text = dc.find_element("main").text
        if run == "fraud":
            assert "rewards [tokens]" in text
            assert "rejected_replayed" in text
            assert "token units" not in text
        else:
            assert "no settlement data" in text
        screenshot(dc, name)
        assert severe_logs(dc) == [], run
    choose_run(dc, "day")
    wait_loaded(dc, "/settlement")
    assert "day" in dc.find_element("#run").text
    visit(dc, "/economy")
    nodes = dc.driver.find_elements("css selector", "#economy-flows .sankey-node")
    assert {"members (pay)", "P2P market", "utility (retail)", "treasury"} <= {
        n.text for n in nodes
    }
    main = dc.find_element("main").text
    assert "no treasury table" not in main  # the default charges a protocol fee
    assert "no proposals table" in main
    screenshot(dc, "economy-day")
    assert severe_logs(dc) == [], "economy"
    for run, name in (("fraud", "depin-slashes"), ("plain", "depin-none")):
        choose_run(dc, run)
        visit(dc, "/depin")
        text = dc.find_element("main").text
        if run == "fraud":
            assert "no stakes" not in text
            assert "No device was slashed" not in text  # pv-12's slash shown
            assert "no data sales" in text
        else:
            assert "no token_economy table" in text
        screenshot(dc, name)
        assert severe_logs(dc) == [], f"depin {run}"
    assert all(s < 30 for s in seconds.values()), seconds
    assert (OUTPUT / "grid.png").is_file()


def test_trade_lookup_verifies_a_proof_on_chain(dc: Any) -> None:
    choose_run(dc, "day")
    visit(dc, "/settlement")
    box = dc.find_element("#settlement-trade-id")
    box.clear()
    box.send_keys("5")
    dc.find_element("#settlement-prove").click()
    verdict = until(
        lambda: dc.driver.find_elements("css selector", "#settlement-proof-verdict"),
        30,
        "the proof",
    )
    assert "verified on-chain" in verdict[0].text
    assert "NOT" not in verdict[0].text
    screenshot(dc, "settlement-proof")
    assert severe_logs(dc) == []


def test_slider_moves_the_map(dc: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    visit(dc, "/grid")
    before = until(lambda: figure(dc, "grid-map").get("title"), 10, "the map")
    label = dc.find_element("#grid-time-label").text
    dc.find_element("#grid-time [role='slider']").send_keys(Keys.ARROW_RIGHT)
    after = until(
        lambda: (t := figure(dc, "grid-map").get("title")) != before and t, 10, "the map to move"
    )
    assert after != before
    assert dc.find_element("#grid-time-label").text != label
    # play: the map moves by itself, then pause
    dc.find_element("#grid-play").click()
    until(lambda: figure(dc, "grid-map").get("title") not in (before, after), 10, "playing")
    dc.find_element("#grid-play").click()
    until(lambda: "play" in dc.find_element("#grid-play").text, 5, "pause")
    wait_loaded(dc, "/grid")
    assert severe_logs(dc) == []


def test_clicking_a_bus_shows_its_nodes(dc: Any, day_run: RunFolder) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    nodes = day_run.table("nodes")
    bus = int(nodes.loc[nodes["kind"] == "solar", "bus"].iloc[0])
    visit(dc, "/grid")
    # the bus marker's position in the viewport, from plotly's axes
    x, y = dc.driver.execute_script(
        """
        const gd = document.querySelector('#grid-map .js-plotly-plot');
        const t = gd._fullData.find(d => d.name === 'buses');
        const i = Array.from(t.customdata).indexOf(arguments[0]);
        const fl = gd._fullLayout;
        const box = gd.getBoundingClientRect();
        return [box.left + fl.xaxis._offset + fl.xaxis.l2p(t.x[i]),
                box.top + fl.yaxis._offset + fl.yaxis.l2p(t.y[i])];
        """,
        bus,
    )
    actions = ActionBuilder(dc.driver)
    actions.pointer_action.move_to_location(int(x), int(y)).click()
    actions.perform()
    title = until(
        lambda: (t := dc.find_element("#grid-bus-title").text).startswith("Bus") and t,
        10,
        "the bus panel",
    )
    assert f"Bus {bus}" in title
    assert "pv-" in dc.find_element("#grid-bus-nodes").text
    screenshot(dc, "grid-bus")
    assert severe_logs(dc) == []


def test_a_run_started_on_the_scenarios_page_lands_in_the_run_list(dc: Any, results: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    visit(dc, "/scenarios")
    until(lambda: dc.find_element("#scn-days").get_attribute("value") == "7", 10, "defaults")
    days = dc.find_element("#scn-days")
    days.send_keys(Keys.CONTROL, "a")
    days.send_keys("1")
    dc.find_element("#scn-control input[value='self_consumption']").click()
    until(lambda: days.get_attribute("value") == "1", 5, "days = 1")
    dc.find_element("#scn-run").click()
    status = until(
        lambda: "Finished" in (t := dc.find_element("#scn-status").text) and t,
        120,
        "the run to finish",
    )
    match = re.search(r"Finished (\S+) in", status)
    assert match is not None, status
    run = match.group(1)
    progress = dc.find_element("#scn-progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    manifest = open_run(results / run).manifest
    assert manifest["days"] == 1
    assert manifest["config"]["forecasting"]["battery_control"] == "self_consumption"
    until(lambda: dc.find_element("#cmp-b").text.strip() == run, 10, "B = the new run")
    wait_loaded(dc, "/scenarios")
    screenshot(dc, "scenarios-after-run")
    dc.find_element("#nav-overview").click()
    wait_loaded(dc, "/")
    until(lambda: run in dc.find_element("#run-list").text, 10, "the run in the run list")
    assert severe_logs(dc) == []


def test_quick_backtest_runs_in_the_background(dc: Any) -> None:
    visit(dc, "/forecasts")
    assert "no backtest.parquet" in dc.find_element("#backtest-status").text
    dc.find_element("#backtest-run").click()
    until(lambda: "quick backtest" in dc.find_element("#backtest-status").text, 120, "backtest")
    table = dc.find_element("#forecast-backtest").text
    assert "gb" in table
    assert "nMAE 15 min" in table
    assert severe_logs(dc) == []


def _main_text_once_chosen(dc: Any, run: str) -> str:
    """The page's text once ``run`` shows in the run chooser, else ''."""
    return str(dc.find_element("main").text) if run in dc.find_element("#run").text else ""


def test_flex_page_shows_a_flex_run_and_says_when_there_is_none(
    dc: Any, results: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for name in ("smart", "stressed"):  # two days of scenarios/flex*.toml, added last
        copy_run(flex_run(tmp_path_factory, name), results / f"flex-{name}")
    visit(dc, "/flex")  # a navigation re-lists the runs
    for run, shot in (("flex-smart", "flex"), ("flex-stressed", "flex-dimming"), ("day", "")):
        choose_run(dc, run)
        wait_loaded(dc, "/flex")
        text = until(partial(_main_text_once_chosen, dc, run), 20, f"{run} chosen")
        if run == "day":
            assert "has no flexible loads" in dc.find_element("#flex-notice").text
        else:
            assert "has no flexible loads" not in text
            assert "ev sessions" in dc.find_element("#flex-cards").text.lower()
            title = until(lambda: figure(dc, "flex-ev-sessions").get("title"), 20, "a title")
            assert "EV energy delivered against need per session" in title
            dimmed = "no dimming tables" in dc.find_element("#flex-dimming-notice").text
            assert dimmed == (run == "flex-smart")
        if run == "flex-stressed":
            title = until(lambda: figure(dc, "flex-fee-reduction").get("title"), 20, "fees")
            assert "fee reduction per owner" in title
        if shot:
            screenshot(dc, shot)
        assert severe_logs(dc) == [], f"flex {run}"
