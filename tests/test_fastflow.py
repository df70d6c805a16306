"""FastSolver (power-grid-model batch) against the pandapower reference solver."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from grid.fastflow import SINGLE_THREAD_ENV, FastSolver
from grid.placement import NodeSet
from grid.powerflow import PandapowerSolver, PowerFlowBatch, make_solver
from twin.build import build, profile_powers
from twin.scenario import load_scenario

DEFAULT = Path(__file__).resolve().parent.parent / "scenarios" / "default.toml"
N_T = 96  # one day of 15-min intervals
VM_TOL_PU = 1e-4
LOADING_TOL = 0.1  # percentage points
MW_TOL = 1e-5


def assert_agree(fast: PowerFlowBatch, ref: PowerFlowBatch) -> None:
    """Fast and reference results agree within the tolerances (NaN where both are NaN)."""
    assert fast.converged.all()
    assert ref.converged.all()
    np.testing.assert_array_equal(np.isnan(fast.vm_pu), np.isnan(ref.vm_pu))
    assert np.nanmax(np.abs(fast.vm_pu - ref.vm_pu)) <= VM_TOL_PU
    assert np.abs(fast.loading_percent - ref.loading_percent).max() <= LOADING_TOL
    assert np.abs(fast.import_mw - ref.import_mw).max() <= MW_TOL
    assert np.abs(fast.losses_mw - ref.losses_mw).max() <= MW_TOL


class Case:
    """A twin, a day of its node powers and both solvers' results."""

    def __init__(self, overrides: list[str]) -> None:
        self.tw = build(load_scenario(DEFAULT, ["run.days=1", *overrides]))
        self.p, self.q = profile_powers(self.tw, N_T)
        self.solver = FastSolver(self.tw.net, self.tw.nodes)
        self.fast = self.solver.solve(self.p, self.q)
        self.ref = PandapowerSolver(self.tw.net, self.tw.nodes).solve(self.p, self.q)


@pytest.fixture(scope="module")
def lv() -> Case:
    return Case([])


@pytest.fixture(scope="module")
def mv() -> Case:
    return Case(["grid.simbench_code=1-MV-rural--0-sw"])


def test_lv_matches_pandapower(lv: Case) -> None:
    assert lv.tw.scenario.grid.simbench_code == "1-LV-semiurb4--0-sw"
    assert lv.fast.vm_pu.shape == (N_T, len(lv.tw.net.bus))
    assert_agree(lv.fast, lv.ref)


def test_mv_matches_pandapower(mv: Case) -> None:
    assert_agree(mv.fast, mv.ref)
    # 1-MV-rural: two parallel 110/20 kV transformers between fused bus pairs (bus-bus switches)
    assert (mv.solver.layout.branch_kind == "trafo").sum() == 2
    pos = mv.tw.net.bus.index.get_indexer([0, 1, 2, 3])
    np.testing.assert_allclose(mv.fast.vm_pu[:, pos[0]], mv.fast.vm_pu[:, pos[1]], atol=1e-9)
    np.testing.assert_allclose(mv.fast.vm_pu[:, pos[2]], mv.fast.vm_pu[:, pos[3]], atol=1e-9)


@pytest.mark.parametrize("case", ["lv", "mv"])
def test_energy_balance(case: str, request: pytest.FixtureRequest) -> None:
    c: Case = request.getfixturevalue(case)
    balance = c.p.sum(axis=1) + c.fast.losses_mw - c.fast.import_mw
    assert np.abs(balance).max() <= 1e-6
    assert (c.fast.losses_mw > 0).all()


@pytest.mark.parametrize("case", ["lv", "mv"])
def test_overload_does_not_converge(case: str, request: pytest.FixtureRequest) -> None:
    c: Case = request.getfixturevalue(case)
    out = c.solver.solve(100 * c.p, 100 * c.q)
    assert not out.converged.any()
    for values in (out.vm_pu, out.loading_percent, out.import_mw, out.losses_mw):
        assert np.isnan(values).all()


def test_failed_intervals_leave_the_rest_solved(lv: Case) -> None:
    bad = np.zeros(N_T, dtype=bool)
    bad[[3, 40, 41, 95]] = True
    factor = np.where(bad, 100.0, 1.0)[:, None]
    out = lv.solver.solve(factor * lv.p, factor * lv.q)
    np.testing.assert_array_equal(out.converged, ~bad)
    assert np.isnan(out.vm_pu[bad]).all()
    np.testing.assert_allclose(out.vm_pu[~bad], lv.fast.vm_pu[~bad], atol=1e-12)
    np.testing.assert_allclose(out.import_mw[~bad], lv.fast.import_mw[~bad], atol=1e-12)


def test_single_and_empty_batches(lv: Case) -> None:
    one = lv.solver.solve(lv.p[5:6], lv.q[5:6])
    assert one.converged.all()
    np.testing.assert_allclose(one.vm_pu[0], lv.fast.vm_pu[5], atol=1e-12)
    assert len(lv.solver.solve(lv.p[:0], lv.q[:0]).converged) == 0


def test_make_solver_fast(lv: Case) -> None:
    solver = make_solver("fast", lv.tw.net, lv.tw.nodes)
    assert isinstance(solver, FastSolver)
    assert solver.name == "fast"


# -- conversion details on a small synthetic net ---------------------------------------------


def feature_net(
    tap_side: str = "hv", tap_pos: int = 2, tap_changer: str | None = "Ratio"
) -> tuple[pp.pandapowerNet, NodeSet]:
    """A 20/0.4 kV net with a tapped, shifted, parallel transformer, a bus-bus switch, an open
    line switch (a ring), parallel lines, line conductance, an out-of-service bus and line, a
    shunt, ZIP loads, scaling and an element without a node."""
    net = pp.create_empty_network()
    b = [pp.create_bus(net, 20.0) for _ in range(2)]
    b += [pp.create_bus(net, 0.4) for _ in range(5)]
    b.append(pp.create_bus(net, 0.4, in_service=False))
    pp.create_ext_grid(net, b[0], vm_pu=1.02, va_degree=10.0)
    pp.create_switch(net, b[0], b[1], et="b", closed=True)
    pp.create_transformer(net, b[1], b[2], std_type="0.4 MVA 20/0.4 kV", parallel=2)
    net.trafo["tap_side"] = tap_side
    net.trafo["tap_pos"] = tap_pos
    net.trafo["tap_changer_type"] = tap_changer
    pp.create_line(net, b[2], b[3], 0.2, "NAYY 4x150 SE", parallel=2)
    pp.create_line(net, b[3], b[4], 0.3, "NAYY 4x120 SE")
    pp.create_line(net, b[4], b[5], 0.25, "NAYY 4x120 SE")
    ring = pp.create_line(net, b[2], b[5], 0.4, "NAYY 4x150 SE")
    pp.create_line(net, b[5], b[6], 0.1, "NAYY 4x120 SE", in_service=False)
    net.line["g_us_per_km"] = 2.0
    pp.create_switch(net, b[5], ring, et="l", closed=False)
    pp.create_switch(net, b[3], b[7], et="b", closed=True)
    pp.create_load(net, b[3], 0.05, 0.01, const_z_p_percent=30, const_i_q_percent=20)
    pp.create_load(net, b[4], 0.04, 0.01)
    pp.create_load(net, b[5], 0.03, 0.005, scaling=0.8)
    pp.create_load(net, b[5], 0.02, 0.0)  # no node: keeps its p_mw
    pp.create_sgen(net, b[4], 0.02, scaling=0.9)
    pp.create_storage(net, b[3], 0.01, max_e_mwh=0.01)
    pp.create_shunt(net, b[4], q_mvar=-0.01, p_mw=0.001)
    table = pd.DataFrame(
        {
            "kind": ["consumer"] * 3 + ["solar", "battery"],
            "element": ["load", "load", "load", "sgen", "storage"],
            "element_index": [0, 1, 2, 0, 0],
        }
    )
    return net, NodeSet(table)


@pytest.mark.parametrize(
    ("tap_side", "tap_pos", "tap_changer"),
    [("hv", 2, "Ratio"), ("lv", -1, "Ratio"), ("hv", -2, "Symmetrical"), ("hv", 2, None)],
)
def test_conversion_details(tap_side: str, tap_pos: int, tap_changer: str | None) -> None:
    net, nodes = feature_net(tap_side, tap_pos, tap_changer)
    rng = np.random.default_rng(1)
    p = np.array([0.05, 0.04, 0.03, -0.02, 0.01]) * rng.uniform(0.2, 2.0, (20, 5))
    q = 0.2 * p
    fast = FastSolver(copy.deepcopy(net), nodes).solve(p, q)
    ref = PandapowerSolver(net, nodes).solve(p, q)
    assert_agree(fast, ref)
    # bus 6 hangs on an out-of-service line, bus 7 is out of service: no voltage
    assert np.isnan(fast.vm_pu[:, 6:]).all()
    assert not np.isnan(fast.vm_pu[:, :6]).any()


def test_unsupported_elements_raise() -> None:
    net, nodes = feature_net()
    pp.create_gen(net, 4, p_mw=0.01, vm_pu=1.0)
    with pytest.raises(NotImplementedError, match="gen"):
        FastSolver(net, nodes)


def test_single_thread_switch_keeps_big_batches_on_one_thread(
    lv: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SINGLE_THREAD_ENV, "1")
    assert lv.solver._threads(10_000) == -1
    single = lv.solver.solve(lv.p, lv.q)
    np.testing.assert_allclose(single.vm_pu, lv.fast.vm_pu, atol=1e-12)
