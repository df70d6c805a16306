"""What a proposal is worth to each member, estimated by the twin itself.

Before a member votes on a community asset it asks the twin: what would my bill have been over
the last ``whatif_days``, with the asset and without it? :func:`project` reruns that window
twice (physics, dispatch and market; no chain, no devices: they do not change a bill), once
with the asset in the grid from the window's first interval and once without (assets already
in service are in both), and reads every member's bill from the two runs' ``bills`` tables.
It looks back, not ahead: the window ends where the proposal is made, so no member knows the
future it votes on. A window that starts before SimBench's profile year wraps into it, as the
profiles do.

A member's projected net benefit [micro-euro] over the asset's life:

``lifetime / window x (bill saving + its share x the asset's net P2P receipts) - its share x
cost``

where its share is its part of the members' contributions to the treasury that pays (and of
the shares it receives). The cost of asking: two runs of ``whatif_days``, reported as
``whatif_s`` in the ``proposals`` table.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from twin.scenario import Scenario
from twin.scenario.economy import AssetConfig, ProposalConfig
from twin.scenario.world import PROFILE_END, PROFILE_START


@dataclass(frozen=True)
class Projection:
    """A proposal's what-if, member by member.

    Attributes
    ----------
    members : list of str
        The members (owners) asked, in the order of the arrays.
    saving_micro_eur : ndarray of int
        Each member's bill over the window without the asset minus with it [micro-euro].
    asset_receipts_micro_eur : int
        The asset's net P2P receipts over the window (what its share holders would share).
    benefit_micro_eur : ndarray of int
        Each member's projected net benefit over the asset's life (module docstring).
    window_start : datetime
        First interval of the window (UTC).
    wall_s : float
        Wall time of the two runs [s].
    """

    members: list[str]
    saving_micro_eur: np.ndarray
    asset_receipts_micro_eur: int
    benefit_micro_eur: np.ndarray
    window_start: datetime
    wall_s: float


def window_start(run_start: datetime, day: float, days: int, interval_s: int) -> datetime:
    """The what-if window's first interval: ``days`` before the proposal at ``day`` [d], on
    the interval grid, wrapped into the profile year."""
    proposal_s = int(day * 86_400) // interval_s * interval_s
    start = run_start + timedelta(seconds=proposal_s) - timedelta(days=days)
    year = PROFILE_END - PROFILE_START
    while start < PROFILE_START:
        start += year
    while start >= PROFILE_END:
        start -= year
    return start


def _bills(scenario: Scenario, out: Path) -> dict[str, tuple[int, int]]:
    from twin.engine import run_scenario  # the engine imports the layers, which import us

    result = run_scenario(scenario, out=out)
    table = pq.read_table(result.path / "bills.parquet").to_pydict()
    return {
        str(o): (int(c), int(p))
        for o, c, p in zip(
            table["owner"], table["cost_micro_eur"], table["p2p_paid_micro_eur"], strict=True
        )
    }


def project(
    scenario: Scenario,
    proposal: ProposalConfig,
    in_service: list[AssetConfig],
    members: list[str],
    share: np.ndarray,
) -> Projection:
    """Every member's projected net benefit of ``proposal`` (module docstring).

    Parameters
    ----------
    scenario : Scenario
        The run's scenario.
    proposal : ProposalConfig
        The proposal voted on.
    in_service : list of AssetConfig
        Assets already in the grid when it is made (in both runs).
    members : list of str
        The voting members (owners).
    share : ndarray of float
        Each member's share of the cost and of the asset [-], summing to 1.
    """
    run = scenario.run
    start = window_start(run.start, proposal.day, proposal.whatif_days, run.interval_s)

    def variant(assets: list[AssetConfig]) -> Scenario:
        return scenario.model_copy(
            update={
                "run": run.model_copy(update={"start": start, "days": proposal.whatif_days}),
                "chain": scenario.chain.model_copy(update={"enabled": False}),
                "devices": scenario.devices.model_copy(update={"enabled": False}),
                "economy": scenario.economy.model_copy(
                    update={"enabled": False, "assets": assets, "proposals": []}
                ),
            }
        )

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gridtwin-whatif-") as tmp:
        without = _bills(variant(list(in_service)), Path(tmp) / "without")
        with_asset = _bills(variant([*in_service, proposal.asset]), Path(tmp) / "with")
    wall = time.perf_counter() - t0
    saving = np.array([without[m][0] - with_asset[m][0] for m in members], dtype=np.int64)
    receipts = -with_asset[f"asset-{proposal.asset.name}"][1]
    scale = 365.0 * proposal.lifetime_years / proposal.whatif_days
    cost = round(proposal.cost_eur * 1e6)
    benefit = np.rint(scale * (saving + share * receipts) - share * cost).astype(np.int64)
    return Projection(members, saving, int(receipts), benefit, start, wall)
