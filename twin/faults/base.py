"""The fault table's types and the data-lost count of a run folder."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from twin.results import RunFolder, open_run
from twin.scenario import Scenario, load_scenario
from twin.verify import verify_run

#: The scenario every fault starts from.
DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "default.toml"

#: One day in 4-hour batches: six chunks and six batches, small enough for the table.
DAY = ("run.days=1", "chain.batch_hours=4")


@dataclass(frozen=True)
class Outcome:
    """What a fault's run showed: the twin's behaviour, whether it is the expected one, and
    the data lost (count of rows, batches, trades or checks; 0 is the only pass)."""

    observed: str
    behaved: bool
    lost: int


@dataclass(frozen=True)
class FaultResult:
    """One row of the table; ``lost`` is None when unknown (the fault crashed or was skipped)."""

    fault: str
    expected: str
    observed: str
    lost: int | None
    ok: bool
    skipped: bool = False


@dataclass(frozen=True)
class Fault:
    """A fault: its name, the expected behaviour and the function that injects it and runs.

    ``run(folder, quick)`` works in ``folder`` and returns an :class:`Outcome`; it returns
    None when what it needs is not installed (the row is skipped with ``needs``).
    """

    name: str
    expected: str
    run: Callable[[Path, bool], Outcome | None]
    needs: str = ""

    def result(self, folder: Path, quick: bool) -> FaultResult:
        """Run the fault; a crash of the twin is a failed row, not a traceback."""
        try:
            outcome = self.run(folder, quick)
        except Exception as exc:
            observed = f"crashed: {type(exc).__name__}: {exc}"
            return FaultResult(self.name, self.expected, observed[:300], None, ok=False)
        if outcome is None:
            ci = bool(os.environ.get("CI"))
            return FaultResult(
                self.name, self.expected, f"skipped: {self.needs}", None, ok=not ci, skipped=True
            )
        ok = outcome.behaved and outcome.lost == 0
        return FaultResult(self.name, self.expected, outcome.observed, outcome.lost, ok)


def scenario(*overrides: str) -> Scenario:
    """The default scenario, one day in 4-hour batches, with ``overrides``."""
    return load_scenario(DEFAULT_SCENARIO, [*DAY, *overrides])


def journal_final(ledger: Path) -> list[int]:
    """The batch ids a journal (``ledger.sqlite``) holds as final."""
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT batch_id FROM batches WHERE state = 'final' ORDER BY 1")
        return [int(r[0]) for r in rows]


def data_lost(run: RunFolder, verify: bool = True) -> tuple[int, list[str]]:
    """Everything a run folder lost, as a count and the reasons.

    Counted: intervals missing from ``intervals``; rows missing from ``node_power`` (one per
    interval and node) and from ``readings`` (one per interval and device, when devices are
    on); batches not final; trades in no final batch; ``gridtwin verify`` checks that fail.
    """
    sc = run.manifest["config"]
    n = int(sc["run"]["days"]) * 86_400 // int(sc["run"]["interval_s"])
    nodes = len(run.table("nodes"))
    lost: dict[str, int] = {}
    lost["intervals missing"] = n - len(run.table("intervals"))
    lost["node_power rows missing"] = n * nodes - len(run.table("node_power"))
    if "readings" in run.manifest["tables"]:
        devices = run.table("readings")["device_address"].nunique()
        lost["readings missing"] = n * devices - len(run.table("readings"))
    if "batches" in run.manifest["tables"]:
        batches = run.table("batches")
        final = batches["state"] == "final"
        lost["batches not final"] = int((~final).sum())
        in_final = int(batches.loc[final, "trade_count"].sum())
        lost["trades in no final batch"] = len(run.table("trades")) - in_final
        if verify:
            lost["verify failures"] = sum(not c.ok for c in verify_run(run.path))
    reasons = [f"{v} {k}" for k, v in lost.items() if v]
    return sum(abs(v) for v in lost.values()), reasons


def lost_in(path: Path) -> tuple[RunFolder, int, list[str]]:
    """:func:`data_lost` of the run folder at ``path``, with the folder."""
    run = open_run(path)
    count, reasons = data_lost(run)
    return run, count, reasons
