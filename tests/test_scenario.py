"""Scenario files: validation, overrides, and clear errors before anything runs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import DEFAULT
from twin.cli import app
from twin.scenario import ScenarioError, load_scenario


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_loads() -> None:
    sc = load_scenario(DEFAULT)
    assert sc.name == "default"
    assert sc.grid.simbench_code == "1-LV-semiurb4--0-sw"
    assert sc.run.n_intervals == 7 * 96
    assert sc.run.start.utcoffset() is not None


def test_overrides_are_typed_and_validated() -> None:
    sc = load_scenario(DEFAULT, ["grid.solver=pandapower", "nodes.pv_share=0.6", "run.days=2"])
    assert sc.nodes.pv_share == 0.6
    assert sc.run.days == 2
    with pytest.raises(ScenarioError, match=r"nodes\.pv_share"):
        load_scenario(DEFAULT, ["nodes.pv_share=1.5"])
    with pytest.raises(ScenarioError, match=r"--set"):
        load_scenario(DEFAULT, ["nodes.pv_share"])


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("[run]\ndayz = 3\n", "run.dayz", "unknown key"),
        ("[nodes]\npv_p_max_kw = nan\n", "nodes.pv_p_max_kw", "finite"),
        ("[nodes]\nbattery_capacity_kwh = -5.0\n", "nodes.battery_capacity_kwh", "greater than 0"),
        (
            '[grid]\nsimbench_code = "9-XX-nowhere--0-sw"\n',
            "grid.simbench_code",
            "unknown SimBench",
        ),
        ('[grid]\nfile = "missing.json"\n', "grid.file", "no such file"),
        (
            '[grid]\nsimbench_code = "1-LV-rural1--0-sw"\nexample = "cigre_lv"\n',
            "grid",
            "exactly one",
        ),
        ("[run]\nstart = 2017-01-03T00:00:00Z\n", "run", "profile year"),
        (
            "[tariffs]\nretail_eur_per_mwh = 50.0\nfeed_in_eur_per_mwh = 80.0\n",
            "tariffs",
            "feed_in",
        ),
    ],
)
def test_bad_file_names_file_key_and_reason(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert str(path) in message
    assert key in message
    assert reason in message


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "[run\n"))


def test_finite_floats_only(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError):
        load_scenario(write(tmp_path, "[tariffs]\nretail_eur_per_mwh = inf\n"))
    assert math.isfinite(load_scenario(DEFAULT).tariffs.retail_eur_per_mwh)


@pytest.mark.parametrize(
    "text",
    [
        "[run]\ndayz = 3\n",
        "[nodes]\nbattery_capacity_kwh = -1.0\n",
        '[grid]\nsimbench_code = "nope"\n',
        "[nodes]\npv_share = nan\n",
    ],
)
def test_cli_bad_file_fails_before_anything_runs(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    out = tmp_path / "results" / "run"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert str(path) in result.output
    assert not (tmp_path / "results").exists()


def test_cli_unknown_outage_node(tmp_path: Path) -> None:
    out = tmp_path / "results" / "run"
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(DEFAULT),
            "--days",
            "1",
            "--out",
            str(out),
            "--set",
            'nodes.outages=[{node_id = "pv-99999", start_h = 1.0, duration_h = 1.0}]',
        ],
    )
    assert result.exit_code == 2
    assert "pv-99999" in result.output
    assert not (tmp_path / "results").exists()
