"""A fast power-flow solver: power-grid-model's Newton-Raphson, one batch over all intervals.

:class:`FastSolver` converts the pandapower net once into a power-grid-model (pgm) model
(with numpy, not power-grid-model-io) and solves the ``T`` intervals of a call in one pgm
batch calculation, in which only the loads' powers change. The conversion follows
pandapower's models:

* buses are pgm nodes; closed bus-bus switches are pgm links, so fused buses report the same
  voltage; open line / transformer switches open that side of the branch;
* lines are pi models (``r``, ``x``, ``c``, ``g`` per km, ``parallel``); their loading is
  ``max(i_from, i_to) / (max_i_ka * df * parallel)``;
* transformers use pandapower's parameters (``vk_percent``, ``vkr_percent``, ``pfe_kw``,
  ``i0_percent``, the phase shift as a clock number, the tap changer); pgm's transformer is a
  pi model, pandapower's a T model with the magnetizing branch in the middle: the two agree to
  second order in the magnetizing current. Loading is current based, as pandapower's default
  (``max(i_hv * vn_hv, i_lv * vn_lv) * sqrt(3) / (sn * parallel * df)``);
* an external grid is a pgm source with a very large short-circuit power (a stiff source);
* loads, static generators and storage units are symmetric loads (load convention) of
  constant power; pandapower's ZIP shares of loads become constant-impedance and
  constant-current parts.
"""

from __future__ import annotations

import os

import numpy as np
import pandapower as pp
import pandas as pd
from power_grid_model import (
    CalculationMethod,
    ComponentType,
    LoadGenType,
    PowerGridModel,
    WindingType,
    initialize_array,
)

from grid.placement import NodeSet
from grid.powerflow import GridLayout, PowerFlowBatch

#: Short-circuit power of an external grid's source [VA]: stiff, as pandapower's ideal slack.
SOURCE_SK_VA = 1e14

#: pandapower tables the converter cannot represent (an in-service row raises).
_UNSUPPORTED = ("gen", "trafo3w", "impedance", "ward", "xward", "dcline", "motor")

#: Batches at least this long run on all cores (threads cost more than they save below).
_PARALLEL_MIN_T = 64


def _values(frame: pd.DataFrame, column: str, default: float) -> np.ndarray:
    """A numeric column of ``frame`` as float, missing column or NaN replaced by ``default``."""
    if column not in frame.columns:
        return np.full(len(frame), default)
    return pd.to_numeric(frame[column], errors="coerce").fillna(default).to_numpy(dtype=float)


def _flags(frame: pd.DataFrame, column: str = "in_service") -> np.ndarray:
    return frame[column].fillna(False).to_numpy(dtype=bool)


class _Ids:
    """Hands out pgm ids, unique over all components."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, n: int) -> np.ndarray:
        ids = np.arange(self.next, self.next + n, dtype=np.int32)
        self.next += n
        return ids


class FastSolver:
    """power-grid-model batch solver of a pandapower net; see :class:`PowerFlowSolver`.

    Parameters
    ----------
    net : pandapowerNet
        The grid; read once, later changes of the net are not seen.
    nodes : NodeSet
        The nodes whose powers :meth:`solve` takes, each on its ``load`` / ``sgen`` /
        ``storage`` element; elements without a node keep their ``p_mw`` / ``q_mvar``.
    threading : int, optional
        pgm threads for a batch: -1 sequential, 0 all hardware threads, n > 0 that many;
        default: all cores for batches of 64 intervals or more, sequential below.
    max_iterations : int
        Newton-Raphson iteration limit per interval [-].
    error_tolerance : float
        Newton-Raphson voltage tolerance [p.u.].
    """

    name = "fast"

    def __init__(
        self,
        net: pp.pandapowerNet,
        nodes: NodeSet,
        *,
        threading: int | None = None,
        max_iterations: int = 20,
        error_tolerance: float = 1e-8,
    ) -> None:
        for table in _UNSUPPORTED:
            if table in net and len(net[table]) and _flags(net[table]).any():
                raise NotImplementedError(f"FastSolver does not model pandapower {table!r}")
        self.layout = GridLayout.of(net)
        self.threading = threading
        self.max_iterations = max_iterations
        self.error_tolerance = error_tolerance
        self._n_nodes = len(nodes)
        ids = _Ids()
        bus_pos = pd.Series(np.arange(len(net.bus)), index=net.bus.index)
        self._bus_up = _flags(net.bus)
        node = initialize_array("input", ComponentType.node, len(net.bus))
        node["id"] = ids.take(len(net.bus))
        node["u_rated"] = net.bus.vn_kv.to_numpy(dtype=float) * 1e3
        self._node_id = node["id"]
        data = {ComponentType.node: node}
        data[ComponentType.line] = self._lines(net, bus_pos, ids)
        data[ComponentType.transformer] = self._trafos(net, bus_pos, ids)
        data[ComponentType.link] = self._links(net, bus_pos, ids)
        data[ComponentType.source] = self._sources(net, bus_pos, ids)
        data[ComponentType.shunt] = self._shunts(net, bus_pos, ids)
        data[ComponentType.sym_load] = self._loads(net, nodes, bus_pos, ids)
        self._model = PowerGridModel(data, system_frequency=float(net.f_hz))

    # -- conversion ---------------------------------------------------------------------------

    def _node_of(self, bus_pos: pd.Series, buses: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """pgm node ids of pandapower buses and whether those buses are in service."""
        pos = bus_pos.loc[buses.to_numpy()].to_numpy()
        return self._node_id[pos], self._bus_up[pos]

    @staticmethod
    def _side_open(net: pp.pandapowerNet, et: str, index: pd.Index, bus: pd.Series) -> np.ndarray:
        """Whether an open switch of kind ``et`` cuts each branch at its end at ``bus``."""
        sw = net.switch[(net.switch.et == et) & ~_flags(net.switch, "closed")]
        cut = pd.MultiIndex.from_arrays([sw.element.to_numpy(), sw.bus.to_numpy()])
        return pd.MultiIndex.from_arrays([index.to_numpy(), bus.to_numpy()]).isin(cut)

    def _lines(self, net: pp.pandapowerNet, bus_pos: pd.Series, ids: _Ids) -> np.ndarray:
        line = net.line
        arr = initialize_array("input", ComponentType.line, len(line))
        arr["id"] = ids.take(len(line))
        arr["from_node"], up_f = self._node_of(bus_pos, line.from_bus)
        arr["to_node"], up_t = self._node_of(bus_pos, line.to_bus)
        status = _flags(line) & up_f & up_t
        arr["from_status"] = status & ~self._side_open(net, "l", line.index, line.from_bus)
        arr["to_status"] = status & ~self._side_open(net, "l", line.index, line.to_bus)
        length, par = line.length_km.to_numpy(dtype=float), _values(line, "parallel", 1.0)
        c_f = line.c_nf_per_km.to_numpy(dtype=float) * 1e-9 * length * par
        g_s = _values(line, "g_us_per_km", 0.0) * 1e-6 * length * par
        if ((c_f == 0) & (g_s != 0)).any():
            raise NotImplementedError("FastSolver: a line with g_us_per_km but no capacitance")
        arr["r1"] = line.r_ohm_per_km.to_numpy(dtype=float) * length / par
        arr["x1"] = line.x_ohm_per_km.to_numpy(dtype=float) * length / par
        arr["c1"] = c_f
        omega = 2 * np.pi * float(net.f_hz)
        arr["tan1"] = np.divide(g_s, omega * c_f, out=np.zeros(len(line)), where=c_f > 0)
        arr["i_n"] = line.max_i_ka.to_numpy(dtype=float) * 1e3 * _values(line, "df", 1.0) * par
        self._line_rows = line.index.get_indexer(
            self.layout.branch[self.layout.branch_kind == "line"]
        )
        return arr

    def _trafos(self, net: pp.pandapowerNet, bus_pos: pd.Series, ids: _Ids) -> np.ndarray:
        tr = net.trafo
        arr = initialize_array("input", ComponentType.transformer, len(tr))
        arr["id"] = ids.take(len(tr))
        arr["from_node"], up_f = self._node_of(bus_pos, tr.hv_bus)
        arr["to_node"], up_t = self._node_of(bus_pos, tr.lv_bus)
        status = _flags(tr) & up_f & up_t
        arr["from_status"] = status & ~self._side_open(net, "t", tr.index, tr.hv_bus)
        arr["to_status"] = status & ~self._side_open(net, "t", tr.index, tr.lv_bus)
        if (_values(tr, "tap_step_degree", 0.0) != 0).any() or (
            "tap_dependency_table" in tr
            and tr.tap_dependency_table.fillna(False).astype(bool).any()
        ):
            raise NotImplementedError("FastSolver: phase-shifting taps / tap tables")
        par = _values(tr, "parallel", 1.0)
        vn_hv, vn_lv = tr.vn_hv_kv.to_numpy(dtype=float), tr.vn_lv_kv.to_numpy(dtype=float)
        sn = tr.sn_mva.to_numpy(dtype=float) * 1e6 * par
        arr["u1"], arr["u2"], arr["sn"] = vn_hv * 1e3, vn_lv * 1e3, sn
        arr["uk"] = tr.vk_percent.to_numpy(dtype=float) / 100
        arr["pk"] = tr.vkr_percent.to_numpy(dtype=float) / 100 * sn
        arr["p0"] = _values(tr, "pfe_kw", 0.0) * 1e3 * par
        arr["i0"] = np.maximum(_values(tr, "i0_percent", 0.0) / 100, arr["p0"] / sn)
        shift = _values(tr, "shift_degree", 0.0)
        clock = np.rint(shift / 30).astype(int)
        if (np.abs(shift - 30 * clock) > 1e-6).any():
            raise NotImplementedError("FastSolver: a phase shift that is not a multiple of 30°")
        odd = clock % 2 == 1
        arr["clock"] = clock % 12
        arr["winding_from"] = np.where(odd, WindingType.delta, WindingType.wye_n)
        arr["winding_to"] = WindingType.wye_n
        lv_tap = tr.tap_side.astype(str).to_numpy() == "lv" if "tap_side" in tr else False
        arr["tap_side"] = np.where(lv_tap, 1, 0)
        step = _values(tr, "tap_step_percent", 0.0) / 100
        arr["tap_size"] = step * np.where(lv_tap, vn_lv, vn_hv) * 1e3
        pos, nom = _values(tr, "tap_pos", 0.0), _values(tr, "tap_neutral", 0.0)
        arr["tap_pos"], arr["tap_nom"] = pos, nom
        arr["tap_min"] = np.minimum(_values(tr, "tap_min", 0.0), np.minimum(pos, nom))
        arr["tap_max"] = np.maximum(_values(tr, "tap_max", 0.0), np.maximum(pos, nom))
        self._trafo_rows = tr.index.get_indexer(
            self.layout.branch[self.layout.branch_kind == "trafo"]
        )
        # current-based loading [%] = i [A] * scale
        self._trafo_scale = (
            np.stack([vn_hv, vn_lv], axis=1)
            * 1e3
            * np.sqrt(3)
            * 100
            / (sn * _values(tr, "df", 1.0))[:, None]
        )
        return arr

    def _links(self, net: pp.pandapowerNet, bus_pos: pd.Series, ids: _Ids) -> np.ndarray:
        sw = net.switch[(net.switch.et == "b") & _flags(net.switch, "closed")]
        if (_values(sw, "z_ohm", 0.0) > 0).any():
            raise NotImplementedError("FastSolver: closed bus-bus switches with z_ohm > 0")
        arr = initialize_array("input", ComponentType.link, len(sw))
        arr["id"] = ids.take(len(sw))
        arr["from_node"], up_f = self._node_of(bus_pos, sw.bus)
        arr["to_node"], up_t = self._node_of(bus_pos, sw.element)
        arr["from_status"] = arr["to_status"] = up_f & up_t
        return arr

    def _sources(self, net: pp.pandapowerNet, bus_pos: pd.Series, ids: _Ids) -> np.ndarray:
        eg = net.ext_grid
        arr = initialize_array("input", ComponentType.source, len(eg))
        arr["id"] = ids.take(len(eg))
        arr["node"], up = self._node_of(bus_pos, eg.bus)
        arr["status"] = _flags(eg) & up
        arr["u_ref"] = _values(eg, "vm_pu", 1.0)
        arr["u_ref_angle"] = np.deg2rad(_values(eg, "va_degree", 0.0))
        arr["sk"] = SOURCE_SK_VA
        return arr

    def _shunts(self, net: pp.pandapowerNet, bus_pos: pd.Series, ids: _Ids) -> np.ndarray:
        sh = net.shunt if "shunt" in net else pd.DataFrame(columns=["bus"])
        arr = initialize_array("input", ComponentType.shunt, len(sh))
        if not len(sh):
            return arr
        arr["id"] = ids.take(len(sh))
        arr["node"], up = self._node_of(bus_pos, sh.bus)
        arr["status"] = _flags(sh) & up
        y = _values(sh, "step", 1.0) / np.square(sh.vn_kv.to_numpy(dtype=float) * 1e3)
        arr["g1"] = sh.p_mw.to_numpy(dtype=float) * 1e6 * y
        arr["b1"] = -sh.q_mvar.to_numpy(dtype=float) * 1e6 * y
        arr["g0"], arr["b0"] = arr["g1"], arr["b1"]
        return arr

    def _loads(
        self, net: pp.pandapowerNet, nodes: NodeSet, bus_pos: pd.Series, ids: _Ids
    ) -> np.ndarray:
        """Symmetric loads; each takes column ``_col`` of ``[p_node | 1]`` times a weight."""
        table = nodes.table
        element = table["element"].to_numpy()
        n = len(table)
        parts: list[tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]] = []
        for name, sign in (("load", 1.0), ("sgen", -1.0), ("storage", 1.0)):
            frame = net[name]
            if not len(frame):
                continue
            col = np.full(len(frame), n)  # column n: the constant 1 of static elements
            rows = np.flatnonzero(element == name)
            pos = frame.index.get_indexer(table["element_index"].to_numpy()[rows])
            if (pos < 0).any():
                raise ValueError(f"nodes refer to missing {name} elements")
            col[pos] = rows
            scaling = _values(frame, "scaling", 1.0)
            static = col == n
            wp = np.where(static, sign * frame.p_mw.to_numpy(dtype=float), 1.0) * scaling
            wq = np.where(static, sign * frame.q_mvar.to_numpy(dtype=float), 1.0) * scaling
            zip_p = np.zeros((3, len(frame)))
            zip_q = np.zeros((3, len(frame)))
            if name == "load":
                zip_p[1] = _values(frame, "const_z_p_percent", 0.0) / 100
                zip_p[2] = _values(frame, "const_i_p_percent", 0.0) / 100
                zip_q[1] = _values(frame, "const_z_q_percent", 0.0) / 100
                zip_q[2] = _values(frame, "const_i_q_percent", 0.0) / 100
            zip_p[0], zip_q[0] = 1 - zip_p[1] - zip_p[2], 1 - zip_q[1] - zip_q[2]
            up = _flags(frame)
            for kind, share_p, share_q in zip(LoadGenType, zip_p, zip_q, strict=False):
                keep = up & ((share_p != 0) | (share_q != 0) | (kind == LoadGenType.const_power))
                parts.append(
                    (
                        frame.bus[keep],
                        col[keep],
                        wp[keep] * share_p[keep],
                        wq[keep] * share_q[keep],
                        np.full(int(keep.sum()), kind),
                        0,
                    )
                )
        buses = pd.concat([p[0] for p in parts]) if parts else pd.Series([], dtype=np.int64)
        arr = initialize_array("input", ComponentType.sym_load, len(buses))
        arr["id"] = ids.take(len(buses))
        arr["node"], arr["status"] = self._node_of(bus_pos, buses)
        arr["type"] = np.concatenate([p[4] for p in parts]) if parts else []
        self._col = np.concatenate([p[1] for p in parts]).astype(np.int64) if parts else []
        self._wp = np.concatenate([p[2] for p in parts]) * 1e6 if parts else np.zeros(0)
        self._wq = np.concatenate([p[3] for p in parts]) * 1e6 if parts else np.zeros(0)
        arr["p_specified"] = self._wp
        arr["q_specified"] = self._wq
        return arr

    # -- solving ------------------------------------------------------------------------------

    def _threads(self, n_t: int) -> int:
        if self.threading is not None:
            return self.threading
        return 0 if n_t >= _PARALLEL_MIN_T and (os.cpu_count() or 1) > 1 else -1

    def solve(self, p_mw: np.ndarray, q_mvar: np.ndarray) -> PowerFlowBatch:
        """Solve ``T`` intervals in one pgm batch; see :class:`PowerFlowSolver`.

        Parameters
        ----------
        p_mw, q_mvar : ndarray, shape (T, node)
            Each node's active / reactive power, load convention [MW], [Mvar].

        Returns
        -------
        PowerFlowBatch
            Intervals whose Newton-Raphson fails are ``converged = False`` with NaN results.
        """
        p_mw = np.atleast_2d(np.asarray(p_mw, dtype=float))
        q_mvar = np.atleast_2d(np.asarray(q_mvar, dtype=float))
        n_t = len(p_mw)
        out = PowerFlowBatch.empty(n_t, self.layout)
        if n_t == 0:
            return out
        ones = np.ones((n_t, 1))
        p_all = np.hstack([p_mw, ones])
        q_all = np.hstack([q_mvar, ones])
        update = {
            ComponentType.sym_load: {
                "p_specified": p_all[:, self._col] * self._wp,
                "q_specified": q_all[:, self._col] * self._wq,
            }
        }
        res = self._model.calculate_power_flow(
            update_data=update,
            calculation_method=CalculationMethod.newton_raphson,
            max_iterations=self.max_iterations,
            error_tolerance=self.error_tolerance,
            threading=self._threads(n_t),
            continue_on_batch_error=True,
            output_component_types={
                ComponentType.node: ["energized", "u_pu"],
                ComponentType.line: ["loading", "p_from", "p_to"],
                ComponentType.transformer: ["i_from", "i_to", "p_from", "p_to"],
                ComponentType.source: ["p"],
            },
        )
        ok = np.ones(n_t, dtype=bool)
        error = self._model.batch_error
        if error is not None:
            ok[np.asarray(error.failed_scenarios, dtype=np.int64)] = False
        node, line = res[ComponentType.node], res[ComponentType.line]
        trafo, source = res[ComponentType.transformer], res[ComponentType.source]
        vm = np.where(node["energized"] == 1, node["u_pu"], np.nan)
        ld_line = line["loading"][:, self._line_rows] * 100
        ld_trafo = np.maximum(
            trafo["i_from"] * self._trafo_scale[:, 0], trafo["i_to"] * self._trafo_scale[:, 1]
        )[:, self._trafo_rows]
        losses = (line["p_from"] + line["p_to"]).sum(axis=1)
        losses += (trafo["p_from"] + trafo["p_to"]).sum(axis=1)
        out.converged[:] = ok
        out.vm_pu[ok] = vm[ok]
        out.loading_percent[ok] = np.hstack([ld_line, ld_trafo])[ok]
        out.import_mw[ok] = source["p"].sum(axis=1)[ok] / 1e6
        out.losses_mw[ok] = losses[ok] / 1e6
        return out
