"""The scenario notebooks: stored without outputs, parameterised, and executed.

Each notebook has one cell tagged ``parameters`` (papermill's convention). The slow tests
execute every notebook with nbclient, a short horizon injected after that cell (as papermill
does) and its output folder in a temporary directory.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Parameters injected into every notebook (those it declares).
SHORT: dict[str, Any] = {"days": 1}
#: Further parameters by notebook.
EXTRA: dict[str, dict[str, Any]] = {
    # the token economy's run: 2 days of daily epochs, hourly, its sales on day 1 (~30 s)
    "04_depin_rewards": {"economy_days": 2, "epoch_days": 1, "sale_day": 1, "coarse": True},
    "03_forecasting": {"origin_every_steps": 96, "backtest_samples": 20_000},
    "05_sweeps": {"pv_shares": [0.2, 0.6], "battery_shares": [0.0, 0.4], "workers": 2},
    # its proposals on days 3 and 6 need the shortened run's 10 days (two runs + verify, ~2 min)
    "06_economy": {"days": 10, "proposal_days": [3.0, 6.0], "whatif_days": 3},
    # the stressed grid's overloads fall on both January days (five 2-day runs, no chain)
    "07_flexibility": {"days": 2},
}


def parameters_cell(nb: Any) -> int:
    """Index of the one cell tagged ``parameters``."""
    tagged = [
        i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    assert len(tagged) == 1, "need exactly one cell tagged 'parameters'"
    return tagged[0]


def declared(nb: Any) -> set[str]:
    """Names the parameters cell assigns."""
    tree = ast.parse(nb.cells[parameters_cell(nb)].source)
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def inject(nb: Any, values: dict[str, Any]) -> None:
    """Insert a cell tagged ``injected-parameters`` after the parameters cell (papermill)."""
    names = declared(nb)
    unknown = set(values) - names
    assert not unknown, f"not parameters of the notebook: {unknown}"
    source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(parameters_cell(nb) + 1, cell)


def test_notebooks_exist() -> None:
    names = {p.stem for p in NOTEBOOKS}
    assert {
        "01_quickstart",
        "02_p2p_vs_utility",
        "03_forecasting",
        "04_depin_rewards",
        "05_sweeps",
        "06_economy",
        "07_flexibility",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs_and_parameterised(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: outputs not stripped"
            assert cell.execution_count is None, f"{path.name}: execution count not stripped"
    names = declared(nb)
    assert {"days", "out_dir"} <= names
    assert set(EXTRA.get(path.stem, {})) <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    values = {**SHORT, **EXTRA.get(path.stem, {}), "out_dir": str(tmp_path)}
    inject(nb, {k: v for k, v in values.items() if k in declared(nb)})
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    print(f"{path.name}: {time.perf_counter() - t0:.1f} s")
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors
    assert any(tmp_path.iterdir()), "the notebook wrote nothing under out_dir"
