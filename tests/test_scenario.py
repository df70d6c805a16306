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


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        # a 2 h interval with hourly batches: no interval would close a batch
        ("[run]\ninterval_s = 7200\n[chain]\nbatch_hours = 1\n", "chain.batch_hours", "1 h"),
        # 45 min intervals with hourly batches: batches of 45 min, silently
        ("[run]\ninterval_s = 2700\n[chain]\nbatch_hours = 1\n", "chain.batch_hours", "2700"),
        # 75 min intervals: neither a week of batches nor a week of rewards is whole
        ("[run]\ninterval_s = 4500\n[chain]\nbatch_hours = 24\n", "chain.batch_hours", "24 h"),
        (
            "[run]\ninterval_s = 4500\n[chain]\nbatch_hours = 120\n[devices]\nepoch_days = 7\n",
            "devices.epoch_days",
            "7 d",
        ),
        # 4-day upload periods (96 hourly intervals) straddle the 7-day reward epochs
        ("[run]\ninterval_s = 3600\n", "devices.upload_intervals", "7 d reward epoch"),
        ("[devices]\nupload_intervals = 5\n", "devices.upload_intervals", "1.25 h"),
    ],
)
def test_periods_must_be_whole_intervals(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {key}: ")
    assert reason in message


def test_periods_that_fit_are_accepted() -> None:
    for overrides in (
        ["run.interval_s=3600", "chain.batch_hours=1", "devices.upload_intervals=24"],
        ["run.interval_s=1800", "chain.batch_hours=12", "devices.upload_intervals=48"],
        ["run.interval_s=2700", "chain.batch_hours=3", "devices.upload_intervals=32"],
        ["devices.upload_intervals=7"],  # 105 min periods: 96 of them make the 7 d epoch
        # devices that do not run are not checked
        ["run.interval_s=3600", "devices.enabled=false"],
        ["run.interval_s=3600", "chain.enabled=false"],
    ):
        sc = load_scenario(DEFAULT, overrides)
        assert sc.chain.batch_hours * 3600 % sc.run.interval_s == 0


def test_site_defaults_and_validation(tmp_path: Path) -> None:
    from forecasting.solar import DEFAULT_SITE

    assert load_scenario(write(tmp_path, "")).site.as_site() == DEFAULT_SITE
    assert load_scenario(DEFAULT).site.as_site() == DEFAULT_SITE
    sc = load_scenario(DEFAULT, ["site.latitude_deg=40.4", 'site.timezone="Europe/Madrid"'])
    assert sc.site.as_site().latitude_deg == 40.4
    assert sc.site.as_site().timezone == "Europe/Madrid"
    for text, key in (
        ("[site]\nlatitude_deg = 91.0\n", "site.latitude_deg"),
        ("[site]\nlongitude_deg = nan\n", "site.longitude_deg"),
        ('[site]\ntimezone = "Mars/Olympus_Mons"\n', "site.timezone"),
        ("[site]\nelevation_m = 3.0\n", "site.elevation_m"),
    ):
        with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
            load_scenario(write(tmp_path, text))


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
    output = " ".join(result.output.split())  # the console wraps long lines
    assert f"{DEFAULT}: nodes.outages[0].node_id: no node 'pv-99999'" in output
    assert "nodes.pv_homes, nodes.battery_homes, nodes.wind_buses" in output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ('nodes.pv_share="0.5"', "nodes.pv_share"),  # a string is no number
        ("run.days=true", "run.days"),  # a boolean is no integer
        ("market.enabled=1", "market.enabled"),  # an integer is no boolean
        ('chain.batch_hours="24"', "chain.batch_hours"),
    ],
)
def test_values_are_not_coerced(override: str, key: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(DEFAULT, [override])
    assert key in str(err.value)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ('name="../escaped"', "name"),  # would write outside results/
        ("devices.reward_tokens_per_epoch=1e30", "devices.reward_tokens_per_epoch"),
        ("nodes.pv_p_max_kw=1e12", "nodes.pv_p_max_kw"),
    ],
)
def test_values_physics_and_integers_cannot_carry_are_refused(override: str, key: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(DEFAULT, [override])
    assert key in str(err.value)


def test_out_under_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(
        app, ["run", str(DEFAULT), "--days", "1", "--out", str(blocker / "run")]
    )
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # the console wraps long paths
    assert "is a file" in output
    assert "Traceback" not in output


def test_cli_unreachable_rpc_node_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    from tests.anvil import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    out = tmp_path / "results" / "run"
    result = CliRunner().invoke(
        app,
        ["run", str(DEFAULT), "--days", "1", "--out", str(out), "--set", f'chain.rpc_url="{url}"'],
    )
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert f"{DEFAULT}: chain.rpc_url = '{url}': no JSON-RPC node answers" in output
    assert "Traceback" not in output
    assert not out.exists()


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("nodes.pv_profile=PV99", "nodes.pv_profile"),
        ("nodes.wind_profile=WP0", "nodes.wind_profile"),
    ],
)
def test_cli_unknown_profile_names_the_key_and_the_known_ones(
    tmp_path: Path, setting: str, key: str
) -> None:
    out = tmp_path / "results" / "run"
    args = ["run", str(DEFAULT), "--days", "1", "--out", str(out), "--set", setting]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert f"{DEFAULT}: {key}:" in output
    known = output.split("known: ")[1]
    assert "PV5" in known or "WP4" in known
    assert not out.exists()
