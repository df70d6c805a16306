"""A fast power-flow solver: power-grid-model's Newton-Raphson, one batch over all intervals.

:class:`FastSolver` converts the pandapower net once into a power-grid-model (pgm) model
(with numpy, not power-grid-model-io) and solves the ``T`` intervals of a call in one pgm
batch calculation in which only the loads' powers change. The conversion follows
pandapower's models:

* buses are pgm nodes; closed bus-bus switches are pgm links, so fused buses report the same
  voltage; an open line / transformer switch opens that end of the branch;
* lines are pi models (``r``, ``x``, ``c``, ``g`` per km, ``parallel``); their loading is
  ``max(i_from, i_to) / (max_i_ka * df * parallel)``;
* transformers take pandapower's parameters (``vk_percent``, ``vkr_percent``, ``pfe_kw``,
  ``i0_percent``, the phase shift as a clock number, a ``Ratio`` / ``Symmetrical`` tap
  changer). pgm's transformer is a pi model, pandapower's default a T model with the
  magnetizing branch in the middle; the two differ only to second order in the magnetizing
  current (below 2e-6 p.u. in the tests). Loading is current based, as
  pandapower's default: ``max(i_hv * vn_hv, i_lv * vn_lv) * sqrt(3) / (sn * parallel * df)``;
* an external grid is a pgm source of very large short-circuit power (a stiff source, as
  pandapower's ideal slack);
* loads, static generators and storage units are symmetric loads (load convention); a bus's
  ZIP shares are, as in pandapower, the mean over its in-service loads and apply to all power
  at the bus; shunts are pgm shunts.

Generators (PV buses), three-winding transformers, impedances, wards, DC lines, motors,
phase-shifting taps and closed bus-bus switches with an impedance raise NotImplementedError.
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
from grid.solver import GridLayout, PowerFlowBatch

#: Short-circuit power of an external grid's source [VA]: stiff, as pandapower's ideal slack.
SOURCE_SK_VA = 1e14

#: pandapower tables the converter cannot represent (an in-service row raises).
_UNSUPPORTED = ("gen", "trafo3w", "impedance", "ward", "xward", "dcline", "motor")

#: pandapower's ZIP columns of a load [%], in the order z_p, i_p, z_q, i_q.
_ZIP = ("const_z_p_percent", "const_i_p_percent", "const_z_q_percent", "const_i_q_percent")

#: Batches at least this long run on all cores (threads cost more than they save below).
_PARALLEL_MIN_T = 64
#: Set this environment variable to "1" to keep every batch on one thread (e.g. a process per
#: core, as the sweep's dask workers run).
SINGLE_THREAD_ENV = "GRIDTWIN_SOLVER_SINGLE_THREAD"


def _values(frame: pd.DataFrame, column: str, default: float) -> np.ndarray:
    """A numeric column as float; a missing column or NaN is ``default``."""
    if column not in frame.columns:
        return np.full(len(frame), default)
    return pd.to_numeric(frame[column], errors="coerce").fillna(default).to_numpy(dtype=float)


def _flags(frame: pd.DataFrame, column: str = "in_service") -> np.ndarray:
    """A boolean column; a missing column or NA is False."""
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _rows_of(columns: object, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The ``rows`` (scenarios) of a pgm columnar batch result."""
    if not isinstance(columns, dict):
        raise TypeError("expected a columnar power-grid-model result")
    return {name: values[rows] for name, values in columns.items()}


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
        pgm threads of a batch: -1 sequential, 0 all hardware threads, n > 0 that many;
        default: all cores for batches of 64 intervals or more, sequential below.
    max_iterations : int
        Newton-Raphson iteration limit of an interval [-].
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
            if table in net and _flags(net[table]).any():
                raise NotImplementedError(f"FastSolver does not model pandapower {table!r}")
        self.layout = GridLayout.of(net)
        self.threading = threading
        self.max_iterations = max_iterations
        self.error_tolerance = error_tolerance
        self._n_nodes = len(nodes)
        self._next_id = len(net.bus)
        self._bus_pos = pd.Series(np.arange(len(net.bus)), index=net.bus.index)
        self._bus_up = _flags(net.bus)
        node = initialize_array("input", ComponentType.node, len(net.bus))
        node["id"] = np.arange(len(net.bus))
        node["u_rated"] = net.bus.vn_kv.to_numpy(dtype=float) * 1e3
        data = {
            ComponentType.node: node,
            ComponentType.line: self._lines(net),
            ComponentType.transformer: self._trafos(net),
            ComponentType.link: self._links(net),
            ComponentType.source: self._sources(net),
            ComponentType.shunt: self._shunts(net),
            ComponentType.sym_load: self._loads(net, nodes),
        }
        self._model = PowerGridModel(data, system_frequency=float(net.f_hz))

    # -- conversion -------------------------------------------------------------------------

    def _new(self, component: ComponentType, n: int) -> np.ndarray:
        """An input array of ``n`` components with fresh ids (unique over all components)."""
        arr = initialize_array("input", component, n)
        arr["id"] = np.arange(self._next_id, self._next_id + n)
        self._next_id += n
        return arr

    def _node_of(self, buses: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """pgm node ids of pandapower buses, and whether those buses are in service."""
        pos = self._bus_pos.loc[np.asarray(buses)].to_numpy()
        return pos, self._bus_up[pos]

    @staticmethod
    def _end_open(net: pp.pandapowerNet, et: str, index: pd.Index, bus: pd.Series) -> np.ndarray:
        """Whether an open switch of kind ``et`` cuts each branch at its end at ``bus``."""
        sw = net.switch[(net.switch.et == et) & ~_flags(net.switch, "closed")]
        cut = pd.MultiIndex.from_arrays([sw.element.to_numpy(), sw.bus.to_numpy()])
        return pd.MultiIndex.from_arrays([index.to_numpy(), bus.to_numpy()]).isin(cut)

    def _branch_ends(
        self, arr: np.ndarray, net: pp.pandapowerNet, et: str, ends: tuple[str, str]
    ) -> None:
        frame = net.line if et == "l" else net.trafo
        arr["from_node"], up_f = self._node_of(frame[ends[0]])
        arr["to_node"], up_t = self._node_of(frame[ends[1]])
        status = _flags(frame) & up_f & up_t
        arr["from_status"] = status & ~self._end_open(net, et, frame.index, frame[ends[0]])
        arr["to_status"] = status & ~self._end_open(net, et, frame.index, frame[ends[1]])

    def _rows(self, frame: pd.DataFrame, kind: str) -> np.ndarray:
        """Rows of ``frame`` in the layout's order of its branches of ``kind``."""
        return frame.index.get_indexer(self.layout.branch[self.layout.branch_kind == kind])

    def _lines(self, net: pp.pandapowerNet) -> np.ndarray:
        line = net.line
        arr = self._new(ComponentType.line, len(line))
        self._branch_ends(arr, net, "l", ("from_bus", "to_bus"))
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
        self._line_rows = self._rows(line, "line")
        return arr

    def _trafos(self, net: pp.pandapowerNet) -> np.ndarray:
        tr = net.trafo
        arr = self._new(ComponentType.transformer, len(tr))
        self._branch_ends(arr, net, "t", ("hv_bus", "lv_bus"))
        par = _values(tr, "parallel", 1.0)
        vn_hv, vn_lv = tr.vn_hv_kv.to_numpy(dtype=float), tr.vn_lv_kv.to_numpy(dtype=float)
        sn = tr.sn_mva.to_numpy(dtype=float) * 1e6 * par
        arr["u1"], arr["u2"], arr["sn"] = vn_hv * 1e3, vn_lv * 1e3, sn
        arr["uk"] = tr.vk_percent.to_numpy(dtype=float) / 100
        arr["pk"] = tr.vkr_percent.to_numpy(dtype=float) / 100 * sn
        arr["p0"] = _values(tr, "pfe_kw", 0.0) * 1e3 * par
        arr["i0"] = np.maximum(_values(tr, "i0_percent", 0.0) / 100, arr["p0"] / sn)
        shift = _values(tr, "shift_degree", 0.0)
        clock = np.rint(shift / 30).astype(np.int64)
        if (np.abs(shift - 30 * clock) > 1e-6).any():
            raise NotImplementedError("FastSolver: a phase shift that is not a multiple of 30°")
        arr["clock"] = clock % 12
        arr["winding_from"] = np.where(clock % 2 == 1, WindingType.delta, WindingType.wye_n)
        arr["winding_to"] = WindingType.wye_n
        # pandapower >= 3 applies a tap only with a tap changer type; "Ideal" shifts the phase
        kind = tr.get("tap_changer_type", pd.Series(None, index=tr.index)).astype(str)
        ratio = kind.isin(["Ratio", "Symmetrical"]).to_numpy()
        pos, nom = _values(tr, "tap_pos", 0.0), _values(tr, "tap_neutral", 0.0)
        off = pos != nom
        if (
            off & ((kind == "Ideal").to_numpy() | (_values(tr, "tap_step_degree", 0.0) != 0))
        ).any() or (_flags(tr, "tap_dependency_table") | (_values(tr, "tap2_pos", 0.0) != 0)).any():
            raise NotImplementedError("FastSolver: phase-shifting taps, tap tables, second taps")
        lv_tap = (tr.get("tap_side", pd.Series(None, index=tr.index)) == "lv").to_numpy()
        arr["tap_side"] = np.where(lv_tap, 1, 0)
        step = _values(tr, "tap_step_percent", 0.0) / 100
        arr["tap_size"] = step * np.where(lv_tap, vn_lv, vn_hv) * 1e3
        pos = np.where(ratio, pos, nom)
        arr["tap_pos"], arr["tap_nom"] = pos, nom
        arr["tap_min"] = np.minimum(_values(tr, "tap_min", 0.0), np.minimum(pos, nom))
        arr["tap_max"] = np.maximum(_values(tr, "tap_max", 0.0), np.maximum(pos, nom))
        self._trafo_rows = self._rows(tr, "trafo")
        # current-based loading [%] = i [A] * scale; columns hv, lv
        df = _values(tr, "df", 1.0)
        self._trafo_scale = (
            np.stack([vn_hv, vn_lv], axis=1) * (1e5 * np.sqrt(3) / (sn * df))[:, None]
        )
        return arr

    def _links(self, net: pp.pandapowerNet) -> np.ndarray:
        sw = net.switch[(net.switch.et == "b") & _flags(net.switch, "closed")]
        if (_values(sw, "z_ohm", 0.0) > 0).any():
            raise NotImplementedError("FastSolver: closed bus-bus switches with z_ohm > 0")
        arr = self._new(ComponentType.link, len(sw))
        arr["from_node"], up_f = self._node_of(sw.bus)
        arr["to_node"], up_t = self._node_of(sw.element)
        arr["from_status"] = arr["to_status"] = up_f & up_t
        return arr

    def _sources(self, net: pp.pandapowerNet) -> np.ndarray:
        eg = net.ext_grid
        arr = self._new(ComponentType.source, len(eg))
        arr["node"], up = self._node_of(eg.bus)
        arr["status"] = _flags(eg) & up
        arr["u_ref"] = _values(eg, "vm_pu", 1.0)
        arr["u_ref_angle"] = np.deg2rad(_values(eg, "va_degree", 0.0))
        arr["sk"] = SOURCE_SK_VA
        return arr

    def _shunts(self, net: pp.pandapowerNet) -> np.ndarray:
        sh = net.shunt if "shunt" in net else pd.DataFrame(columns=["bus", "vn_kv", "p_mw"])
        arr = self._new(ComponentType.shunt, len(sh))
        arr["node"], up = self._node_of(sh.bus)
        arr["status"] = _flags(sh) & up
        y = _values(sh, "step", 1.0) / np.square(_values(sh, "vn_kv", 1.0) * 1e3)
        arr["g1"] = _values(sh, "p_mw", 0.0) * 1e6 * y
        arr["b1"] = -_values(sh, "q_mvar", 0.0) * 1e6 * y
        arr["g0"], arr["b0"] = arr["g1"], arr["b1"]
        return arr

    def _loads(self, net: pp.pandapowerNet, nodes: NodeSet) -> np.ndarray:
        """Symmetric loads: load ``k`` draws ``_wp[k]`` [W] times column ``_col[k]`` of
        ``[p_node | 1]``, the same for q (``_wq`` [var]); ``1`` feeds elements without node.
        """
        table, n = nodes.table, len(nodes)
        element = table["element"].to_numpy()
        load = net.load
        live = _flags(load) & self._node_of(load.bus)[1]
        shares = (
            pd.DataFrame({c: _values(load, c, 0.0) / 100 for c in _ZIP})[live]
            .groupby(load.bus.to_numpy()[live])
            .mean()
        )
        buses, cols, wps, wqs, kinds = [], [], [], [], []
        for name, sign in (("load", 1.0), ("sgen", -1.0), ("storage", 1.0)):
            frame = net[name]
            col = np.full(len(frame), n)  # column n: the constant 1 of static elements
            rows = np.flatnonzero(element == name)
            pos = frame.index.get_indexer(table["element_index"].to_numpy()[rows])
            if (pos < 0).any():
                raise ValueError(f"nodes refer to missing {name} elements")
            col[pos] = rows
            scaling = _values(frame, "scaling", 1.0) * 1e6
            static = col == n
            wp = np.where(static, sign * _values(frame, "p_mw", 0.0), 1.0) * scaling
            wq = np.where(static, sign * _values(frame, "q_mvar", 0.0), 1.0) * scaling
            bus = frame.bus.to_numpy()
            z_p, i_p, z_q, i_q = shares.reindex(bus).fillna(0.0).to_numpy().T
            for kind, share_p, share_q in (
                (LoadGenType.const_power, 1 - z_p - i_p, 1 - z_q - i_q),
                (LoadGenType.const_impedance, z_p, z_q),
                (LoadGenType.const_current, i_p, i_q),
            ):
                keep = _flags(frame) & ((share_p != 0) | (share_q != 0))
                buses.append(bus[keep])
                cols.append(col[keep])
                wps.append(wp[keep] * share_p[keep])
                wqs.append(wq[keep] * share_q[keep])
                kinds.append(np.full(int(keep.sum()), kind))
        arr = self._new(ComponentType.sym_load, sum(len(b) for b in buses))
        arr["node"], arr["status"] = self._node_of(np.concatenate(buses))
        arr["type"] = np.concatenate(kinds)
        self._col = np.concatenate(cols).astype(np.int64)
        self._wp, self._wq = np.concatenate(wps), np.concatenate(wqs)
        arr["p_specified"], arr["q_specified"] = self._wp, self._wq
        return arr

    # -- solving ----------------------------------------------------------------------------

    def _threads(self, n_t: int) -> int:
        if self.threading is not None:
            return self.threading
        if os.environ.get(SINGLE_THREAD_ENV) == "1":
            return -1
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
            Intervals whose Newton-Raphson fails come back ``converged = False`` with NaN.
        """
        p_mw = np.asarray(p_mw, dtype=float).reshape(-1, self._n_nodes)
        q_mvar = np.asarray(q_mvar, dtype=float).reshape(-1, self._n_nodes)
        n_t = len(p_mw)
        out = PowerFlowBatch.empty(n_t, self.layout)
        if n_t == 0:
            return out
        ones = np.ones((n_t, 1))
        update = {
            ComponentType.sym_load: {
                "p_specified": np.hstack([p_mw, ones])[:, self._col] * self._wp,
                "q_specified": np.hstack([q_mvar, ones])[:, self._col] * self._wq,
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
        node, line, trafo, source = (
            _rows_of(res[kind], ok)
            for kind in (
                ComponentType.node,
                ComponentType.line,
                ComponentType.transformer,
                ComponentType.source,
            )
        )
        out.converged[:] = ok
        out.vm_pu[ok] = np.where(node["energized"] == 1, node["u_pu"], np.nan)
        out.loading_percent[ok] = np.hstack(
            [
                line["loading"][:, self._line_rows] * 100,
                np.maximum(
                    trafo["i_from"] * self._trafo_scale[:, 0],
                    trafo["i_to"] * self._trafo_scale[:, 1],
                )[:, self._trafo_rows],
            ]
        )
        out.import_mw[ok] = source["p"].sum(axis=1) / 1e6
        losses = (line["p_from"] + line["p_to"]).sum(axis=1)
        out.losses_mw[ok] = (losses + (trafo["p_from"] + trafo["p_to"]).sum(axis=1)) / 1e6
        return out
