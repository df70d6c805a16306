"""What every layer is built from: the scenario, the built twin and the run being written."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from settlement.chain.batches import batch_intervals
from twin.build import Twin, streams
from twin.results import RunWriter
from twin.scenario import Scenario


@dataclass
class LayerContext:
    """The run a layer joins.

    Attributes
    ----------
    scenario : Scenario
        The validated scenario.
    twin : Twin
        The built twin (net, nodes, node models, solver).
    writer : RunWriter
        The run folder being written (layers stream their tables into it).
    streams : dict of str to numpy.random.Generator
        The run's named random streams (:data:`twin.build.STREAMS`), fresh.
    stamps : ndarray of datetime64[us]
        Every interval start of the run (UTC, naive).
    owners : ndarray of str
        The participants (node owners), sorted.
    owner_idx : ndarray of int
        Each node's owner.
    batch_intervals : int
        Intervals in one settlement batch.
    closing : contextlib.ExitStack
        What the run releases however it ends (worker processes); the engine closes it when
        the run's intervals are done or have failed.
    """

    scenario: Scenario
    twin: Twin
    writer: RunWriter
    streams: dict[str, np.random.Generator]
    stamps: np.ndarray
    owners: np.ndarray
    owner_idx: np.ndarray
    batch_intervals: int
    closing: ExitStack = field(default_factory=ExitStack)

    @classmethod
    def of(cls, twin: Twin, writer: RunWriter) -> LayerContext:
        """The context of running ``twin`` into ``writer``."""
        sc = twin.scenario
        owners, owner_idx = np.unique(
            twin.nodes.table["owner"].to_numpy().astype(str), return_inverse=True
        )
        return cls(
            scenario=sc,
            twin=twin,
            writer=writer,
            streams=streams(sc.run.seed),
            stamps=twin.times.tz_localize(None).to_numpy().astype("datetime64[us]"),
            owners=owners,
            owner_idx=owner_idx,
            batch_intervals=batch_intervals(sc.chain.batch_hours, sc.run.interval_s),
        )
