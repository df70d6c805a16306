"""The dashboard's first page: the run list and a run's KPIs (no browser needed here)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from app import create_app
from twin.figures import energy_by_source, kpi_rows, run_rows
from twin.results import RunFolder, list_runs


def test_figures_from_a_run(day_run: RunFolder) -> None:
    rows = run_rows([day_run])
    assert rows[0]["run"] == day_run.path.name
    assert 0 <= float(str(rows[0]["self-sufficiency"])) <= 1
    names = {r["name"] for r in kpi_rows(day_run)}
    assert {"self_sufficiency", "peak_import_mw", "violations"} <= names
    fig = energy_by_source(day_run)
    assert {t.name for t in fig.data} >= {"consumer", "solar", "grid import"}


def test_app_lists_runs(day_run: RunFolder, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(day_run.path, results / "day")
    app = create_app(results)
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    from pages.overview import layout as page_layout
    from pages.overview import show_run

    assert "day" in json.dumps(page_layout().to_plotly_json(), default=str)
    kpis, fig = show_run([0], run_rows(list_runs(results)))
    assert any(r["name"] == "community_cost_eur" for r in kpis)
    assert len(fig.data) >= 3
