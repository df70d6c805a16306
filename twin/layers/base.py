"""The Layer protocol: one small interface for every part of a run that reacts to intervals.

In the spirit of mosaik's ``step`` / ``get_data``, a layer

1. is built from the scenario and the built twin (its module's ``build`` function),
2. is given the SimPy environment and returns the processes it wants run (:meth:`start`),
3. sees every interval as it happens (:meth:`step`: the meters, before the grid check),
4. is handed each chunk of interval results (:meth:`add`), in the engine's list order, so a
   layer reads what the layers before it wrote into the chunk,
5. returns a typed :class:`LayerOutput` at the end (:meth:`finish`).

The engine runs the list, times every call of every layer in one place, and knows no layer by
name; :mod:`twin.layers.registry` builds the list.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

import numpy as np
import pyarrow as pa
import simpy

from grid.powerflow import PowerFlowBatch

#: A column of a results table: an array, an Arrow array or a list of scalars.
Column: TypeAlias = np.ndarray | pa.Array | Sequence[object]
#: A chunk of a results table: column name -> column.
Columns: TypeAlias = dict[str, Column]
#: KPIs: name -> (value, unit).
Kpis: TypeAlias = dict[str, tuple[float, str]]
#: A value of ``manifest.json``.
JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
#: A SimPy process a layer asks the engine to run.
Process: TypeAlias = Generator[simpy.Event, object, None]


@dataclass
class Chunk:
    """A chunk of metered intervals, as the engine hands it to each layer in turn.

    The engine fills the meters and the power flow; layers may replace the powers and the
    flow (the market's network-aware grid check curtails) and fill their own fields for the
    layers after them and for the ``intervals`` table.

    Attributes
    ----------
    first : int
        Index of the chunk's first interval in the run.
    times : ndarray of datetime64[us]
        Interval starts (UTC, naive).
    p_mw, q_mvar : ndarray, shape (interval, node)
        Node powers, load convention [MW], [Mvar].
    available : ndarray of bool, shape (interval, node)
        Whether each node's meter was up.
    nodes_out : ndarray of int, shape (interval,)
        Nodes out of service in each interval.
    soc_kwh : ndarray, shape (interval, battery)
        Battery state of charge at each interval's end [kWh].
    flow : PowerFlowBatch
        The power flow of ``p_mw``, ``q_mvar``.
    violations : ndarray of int, shape (interval,)
        Limit violations of ``flow`` (bus voltages plus branch loadings).
    curtailed_mw : ndarray, shape (interval, node)
        Generation curtailed by the grid check [MW] (zero unless a layer curtails).
    curtailing : bool
        Whether a layer checked and curtailed the chunk (network-aware mode): violations left
        in ``violations`` are then unresolved.
    fallback : ndarray of bool, shape (interval,)
        Intervals where dispatch fell back to its rule (no usable plan).
    clearing_price_eur_per_mwh, traded_wh : ndarray, shape (interval,)
        The market's clearing price and traded energy per interval.
    trades : TradeColumns or None
        The chunk's settled trades (the market layer's), for settlement.
    """

    first: int
    times: np.ndarray
    p_mw: np.ndarray
    q_mvar: np.ndarray
    available: np.ndarray
    nodes_out: np.ndarray
    soc_kwh: np.ndarray
    flow: PowerFlowBatch
    violations: np.ndarray
    curtailed_mw: np.ndarray
    curtailing: bool = False
    fallback: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    clearing_price_eur_per_mwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    traded_wh: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    trades: TradeColumns | None = None

    def __post_init__(self) -> None:
        n = len(self.times)
        if len(self.fallback) != n:
            self.fallback = np.zeros(n, dtype=bool)
        if len(self.clearing_price_eur_per_mwh) != n:
            self.clearing_price_eur_per_mwh = np.full(n, np.nan)
        if len(self.traded_wh) != n:
            self.traded_wh = np.zeros(n, dtype=np.int64)

    @property
    def size(self) -> int:
        """Number of intervals in the chunk."""
        return len(self.times)


@dataclass(frozen=True)
class TradeColumns:
    """A chunk's settled trades; integer arrays, participants as owner indices.

    ``interval`` is the trade's interval within the chunk; energy [Wh] and money
    [micro-euro] are after curtailment; ``protocol_fee_micro_eur`` is kept from the seller's
    receipt for the treasury (zero without one).
    """

    interval: np.ndarray
    trade_id: np.ndarray
    seller: np.ndarray
    buyer: np.ndarray
    energy_wh: np.ndarray
    price_eur_per_mwh: np.ndarray
    payment_micro_eur: np.ndarray
    grid_fee_micro_eur: np.ndarray
    protocol_fee_micro_eur: np.ndarray
    curtailed_wh: np.ndarray


@dataclass
class LayerOutput:
    """What a layer returns at the end of a run.

    Attributes
    ----------
    kpis : Kpis
        The layer's KPIs, in the order they appear in the ``kpis`` table.
    tables : dict of str to Columns
        Tables written at the end (appended once each; streamed tables are appended as the
        run goes).
    node_columns : Columns
        Columns the layer contributes to the static ``nodes`` table (one value a node).
    manifest : dict of str to JsonValue
        Entries merged into ``manifest.json`` (nested dictionaries are merged key by key).
    timings_s : dict of str to float
        Wall time of work the layer did outside its own calls (inside node processes) [s],
        reported beside the engine's per-layer timing.
    """

    kpis: Kpis = field(default_factory=dict)
    tables: dict[str, Columns] = field(default_factory=dict)
    node_columns: Columns = field(default_factory=dict)
    manifest: dict[str, JsonValue] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)


class Layer(Protocol):
    """A part of a run that reacts to intervals; see the module docstring."""

    #: The layer's name (its timing key).
    name: str

    def start(self, env: simpy.Environment) -> list[Process]:
        """The SimPy processes to run beside the nodes' (may be none)."""
        ...

    def step(self, k: int, p_mw: np.ndarray) -> None:
        """Interval ``k`` happened: its meters read ``p_mw`` [MW] (node order)."""
        ...

    def add(self, chunk: Chunk) -> None:
        """A chunk of intervals is metered and its power flow solved."""
        ...

    def finish(self) -> LayerOutput:
        """The run is over: the layer's tables, KPIs and manifest entries."""
        ...
