"""``gridtwin run --resume``: a killed or failed run continued to the same bytes.

SimPy's processes (generators) cannot be saved, so a run is not continued from a snapshot of
its memory; it is *replayed*. A run is deterministic (same scenario and seed, same bytes), and
its partial folder holds the resolved scenario (``partial.json``) and the digest of every chunk
it wrote (``chunks.log``, :mod:`twin.partial`). The resumed run builds the twin from that
scenario, runs it from the start into a new partial folder, and checks every chunk it writes
against the killed run's, in order (:class:`twin.results.RunWriter` with ``expected``): a
difference (other code, other profiles) stops it with :class:`~twin.results.ResumeError`, and
the killed run's folder is left as it was. Past the killed run's last chunk it simply goes on.
At the end the new journal is checked against the killed run's: every batch the killed run
journaled is planned again with the same trades root, trades and net payments. Then the
finished run is renamed into place and the killed run's folder removed.

Settlement on a resumed run:

- **Embedded chain** (the default): the chain (eth-tester) lived in the killed process and died
  with it; nothing of it is on any other chain. It is replayed deterministically with the run:
  the same keys (from the seed), the same contract addresses, the same transactions, so the
  resumed run's chain tables are the uninterrupted run's, byte for byte.
- **RPC chain**: not supported yet; refused before anything runs. The participants' keys are
  fresh on an RPC chain and held in memory only (never written), so the members' consent, stakes
  and payouts a replay would sign cannot be signed again, and the one-off setup (deploy, mint,
  consent, hand-over) is on chain already. The killed run's journal (``ledger.sqlite``) keeps
  every batch already sent, with its contracts' addresses, for ``Settler.reconcile``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from twin.partial import PartialRun, partial_of, partial_run
from twin.results import ResumeError, RunWriter
from twin.scenario import Scenario

RPC_REFUSED = (
    "resuming a run on an RPC chain (chain.rpc_url) is not supported yet: its participants' "
    "keys were fresh and held in memory only, so what they signed cannot be signed again. "
    "Its journal {journal} keeps every batch already on chain, with the contracts' addresses"
)


@dataclass(frozen=True)
class Resumable:
    """A partial run that can be resumed: its folder, scenario and destination."""

    path: Path
    scenario: Scenario
    scenario_file: str | None
    out: Path


def _find(run: Path) -> Path:
    """The partial folder ``run`` names: itself, or the newest partial folder of the run that
    was to land at ``run``."""
    run = Path(run)
    if run.is_dir() and ".partial-" in run.name:
        return run
    if (run / "manifest.json").is_file():
        raise ResumeError(f"{run}: the run is finished; nothing to resume")
    found = partial_of(run)
    if not found:
        raise ResumeError(f"{run}: no partial run folder (.{run.name}.partial-*) to resume")
    return found[-1]


def resumable(run: Path) -> Resumable:
    """The partial run ``run`` (its folder, or where it was to land), checked resumable.

    Raises
    ------
    ResumeError
        It is still running, has no stored scenario (an older gridtwin), or ran on an RPC
        chain.
    """
    part: PartialRun = partial_run(_find(run))
    if part.state == "running":
        raise ResumeError(f"{part.path}: its run is still running; wait for it or kill it")
    if part.config is None or part.out is None:
        raise ResumeError(f"{part.path}: no stored scenario (partial.json): cannot be resumed")
    try:
        scenario = Scenario.model_validate(part.config)
    except ValueError as err:
        raise ResumeError(f"{part.path}: its stored scenario no longer validates: {err}") from None
    if scenario.chain.enabled and scenario.chain.rpc_url is not None:
        raise ResumeError(RPC_REFUSED.format(journal=part.path / "ledger.sqlite"))
    return Resumable(part.path, scenario, part.scenario_file, part.out)


def _journal(path: Path) -> dict[int, tuple[object, ...]]:
    """Every batch of a journal with its trades: {batch_id: (root, accounts, amounts, trades)}."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        batches = db.execute(
            "SELECT batch_id, trades_root, accounts, net_amounts FROM batches"
        ).fetchall()
        out: dict[int, tuple[object, ...]] = {}
        for batch_id, root, accounts, amounts in batches:
            trades = db.execute(
                "SELECT trade_id, seller, buyer, energy_wh, payment_micro_eur FROM trades "
                "WHERE batch_id = ? ORDER BY trade_id",
                (batch_id,),
            ).fetchall()
            out[int(batch_id)] = (bytes(root), accounts, amounts, trades)
    finally:
        db.close()
    return out


def check_journal(killed: Path, replay: Path) -> int:
    """Check that the replay journaled every batch of the killed run's journal the same way
    (trades root, net payments, trades). Returns how many batches were checked.

    Raises
    ------
    ResumeError
        A batch is missing from the replay or differs.
    """
    old_path = killed / "ledger.sqlite"
    if not old_path.is_file():
        return 0
    try:
        old = _journal(old_path)
    except sqlite3.DatabaseError:  # killed while the journal was being created
        return 0
    new = _journal(replay / "ledger.sqlite")
    for batch_id, entry in sorted(old.items()):
        if new.get(batch_id) != entry:
            raise ResumeError(
                f"{old_path}: batch {batch_id} is not journaled the same way by the replay"
            )
    return len(old)


def check_replay(killed: Path, writer: RunWriter, expected: int) -> None:
    """The replay into ``writer`` wrote every one of the ``expected`` chunks of the killed run
    (in ``killed``) and journaled its batches alike (:func:`check_journal`).

    Raises
    ------
    ResumeError
        It did not.
    """
    if writer.replayed < expected:
        raise ResumeError(
            f"{killed}: the replay wrote {writer.replayed} of the killed run's {expected} "
            "chunks: not the same run"
        )
    check_journal(killed, writer.tmp)
