"""``gridtwin faults``: a fault table of the twin's own, run on short runs.

Each fault is a function that sets up a one-day run of the default scenario with the fault
injected, runs it and returns a :class:`FaultResult`: what was expected, what the twin did
(observed), and how much data was lost, counted from the run folder and its journal
(:func:`twin.faults.measure.data_lost`): intervals or node-power rows missing, batches not
final, trades in no final batch, readings missing, ``gridtwin verify`` failures, tables that
differ from an uninterrupted run. A row passes when the observed behaviour is the expected
one and nothing was lost.

Fault families, one module each: :mod:`twin.faults.chain` (the chain node down for hours,
killed and restarted with and without its state), :mod:`twin.faults.inputs` (a corrupted
profile), :mod:`twin.faults.physics` (a power-flow non-convergence storm, a forecast feed that
fails for a day), :mod:`twin.faults.process`
(the process killed and resumed), :mod:`twin.faults.market` (orders that arrive after the
ex-ante auction's gate closes), :mod:`twin.faults.meters` (devices' meter links down for
hours, uploads that arrive late). Faults needing anvil are skipped when it is not installed,
unless ``CI`` is set (then the row fails).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from twin.faults.base import Fault, FaultResult
from twin.faults.chain import CHAIN_FAULTS
from twin.faults.inputs import INPUT_FAULTS
from twin.faults.market import MARKET_FAULTS
from twin.faults.meters import METER_FAULTS
from twin.faults.physics import PHYSICS_FAULTS
from twin.faults.process import PROCESS_FAULTS

__all__ = ["FAULTS", "Fault", "FaultResult", "run_faults"]

#: Every fault of the table, in the order it is printed.
FAULTS: dict[str, Fault] = {
    **CHAIN_FAULTS,
    **INPUT_FAULTS,
    **PHYSICS_FAULTS,
    **PROCESS_FAULTS,
    **MARKET_FAULTS,
    **METER_FAULTS,
}


def run_faults(
    work_dir: Path,
    only: list[str] | None = None,
    quick: bool = False,
    started: Callable[[str], None] | None = None,
) -> Iterator[FaultResult]:
    """Run the faults (``only`` these names, else all) in folders under ``work_dir``.

    Parameters
    ----------
    work_dir : Path
        An empty folder for the faults' runs.
    only : list of str, optional
        The faults to run (names of :data:`FAULTS`); unknown names raise ``KeyError``.
    quick : bool
        Shorter faults where a fault allows it (the process killed at one point, not three).
    started : callable, optional
        Called with each fault's name before it runs (progress).
    """
    names = only if only else list(FAULTS)
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise KeyError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    for name in names:
        if started is not None:
            started(name)
        folder = work_dir / name
        folder.mkdir(parents=True)
        yield FAULTS[name].result(folder, quick)
