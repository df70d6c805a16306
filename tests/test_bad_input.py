"""Bad input fails safely: refused with a reason, listed as broken, never a 500 or a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app import create_app
from twin.results import RunFolder, broken_runs, list_runs
from twin.scenario import ScenarioError


@pytest.fixture(scope="module", autouse=True)
def dash_app(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The app (Dash Pages registers the pages once it exists)."""
    create_app(tmp_path_factory.mktemp("results"))


def test_a_broken_manifest_is_listed_as_broken_not_fatal(
    day_run: RunFolder, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    shutil.copytree(day_run.path, good)
    for name, text in (("garbage", "{not json"), ("array", "[]"), ("binary", "\udcff")):
        bad = tmp_path / name
        bad.mkdir()
        (bad / "manifest.json").write_text(text, encoding="utf-8", errors="surrogateescape")
    assert [r.path.name for r in list_runs(tmp_path)] == ["good"]
    broken = dict(broken_runs(tmp_path))
    assert sorted(p.name for p in broken) == ["array", "binary", "garbage"]
    assert all(reason for reason in broken.values())


@pytest.mark.parametrize("name", ["../x", "day\x00", "/etc/passwd", ".hidden", ""])
def test_run_names_that_are_no_run_are_refused(name: str) -> None:
    from pages import _store

    assert _store.run_key(name) is None


@pytest.mark.parametrize(
    "name", ["../pyproject.toml", "/etc/hosts", "default.toml\x00", "nope.toml", "sub/x.toml"]
)
def test_the_scenarios_page_takes_only_its_own_files(name: str) -> None:
    from pages.scenarios import _scenario_path, load_defaults

    with pytest.raises(ScenarioError, match="not a scenario file"):
        _scenario_path(name)
    out = load_defaults(name)
    assert "not a scenario file" in str(out[-1])


def test_the_scenarios_page_takes_its_files() -> None:
    from pages.scenarios import _scenario_path

    assert _scenario_path("default.toml").name == "default.toml"
