"""The proposals of a run, as the economy layer records them, and their tables.

A helper of :mod:`twin.layers.economy`: one :class:`ProposalRecord` per
``[[economy.proposals]]`` entry, and the ``proposals`` and ``ballots`` tables built from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from settlement.economy.ballots import Support
from settlement.units import eur_to_micro_eur
from twin.layers.base import Columns
from twin.scenario.economy import ProposalConfig


def time_at(stamps: np.ndarray, seconds: float) -> np.datetime64:
    """The time ``seconds`` [s] of simulation after the run's first interval (UTC, naive)."""
    start = stamps[0].astype("datetime64[us]")
    return start + np.timedelta64(round(seconds * 1e6), "us")


@dataclass
class ProposalRecord:
    """One proposal's life in a run: when it was made, its votes and ballots (member, weight,
    support, what-if saving, projected benefit), its outcome and its asset's first interval."""

    config: ProposalConfig
    proposal_id: int = 0
    time_s: float = 0.0
    state: str = "not_reached"
    votes: tuple[int, int, int] = (0, 0, 0)
    quorum: int = 0
    executed_s: float = float("nan")
    in_service_from: int = -1
    tx_hash: str | None = None
    whatif_s: float = 0.0
    ballots: list[tuple[str, int, int, int, int]] = field(default_factory=list)


def proposal_tables(records: list[ProposalRecord], stamps: np.ndarray) -> dict[str, Columns]:
    """The ``proposals`` and ``ballots`` tables (none without proposals)."""
    if not records:
        return {}
    ps = records
    proposals: Columns = {
        "proposal": [r.config.asset.name for r in ps],
        "proposal_id": [hex(r.proposal_id) for r in ps],
        "description": [r.config.description for r in ps],
        "time": pa.array([time_at(stamps, r.time_s) for r in ps], pa.timestamp("us")),
        "cost_micro_eur": [eur_to_micro_eur(r.config.cost_eur) for r in ps],
        "votes_for": [r.votes[1] for r in ps],
        "votes_against": [r.votes[0] for r in ps],
        "votes_abstain": [r.votes[2] for r in ps],
        "quorum": [r.quorum for r in ps],
        "state": [r.state for r in ps],
        "executed": pa.array(
            [None if math.isnan(r.executed_s) else time_at(stamps, r.executed_s) for r in ps],
            pa.timestamp("us"),
        ),
        "in_service_from": pa.array(
            [stamps[r.in_service_from] if r.in_service_from >= 0 else None for r in ps],
            pa.timestamp("us"),
        ),
        "tx_hash": pa.array([r.tx_hash for r in ps], pa.string()),
        "whatif_s": [round(r.whatif_s, 3) for r in ps],
    }
    b = [(r.config.asset.name, *ballot) for r in ps for ballot in r.ballots]
    ballots: Columns = {
        "proposal": [x[0] for x in b],
        "member": [x[1] for x in b],
        "weight": pa.array([x[2] for x in b], pa.int64()),
        "support": [Support(x[3]).name.lower() for x in b],
        "whatif_saving_micro_eur": pa.array([x[4] for x in b], pa.int64()),
        "projected_benefit_micro_eur": pa.array([x[5] for x in b], pa.int64()),
    }
    return {"proposals": proposals, "ballots": ballots}
