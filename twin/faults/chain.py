"""Chain faults: the node down for hours, killed and restarted with and without its state.

The outage runs on the embedded chain (``chain.outages``: the node unreachable for 8 hours of
simulated time); the restarts need a real node, anvil (:mod:`settlement.chain.anvil_node`),
killed once the run has a final batch and brought back on the same port, from its
``--state`` file or empty.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from settlement.chain.anvil_node import MISSING, AnvilNode, anvil_binary
from settlement.chain.connection import Chain
from settlement.chain.errors import MissingContractError
from settlement.chain.ledger import Ledger
from twin.engine import run_scenario
from twin.faults.base import Fault, Outcome, journal_final, lost_in, scenario

if TYPE_CHECKING:
    from web3.types import TxData

OUTAGE_START_H, OUTAGE_H = 3.0, 8.0


def chain_down_for_hours(folder: Path, quick: bool) -> Outcome:
    """The chain unreachable from 3 h to 11 h: batches closed meanwhile wait, then catch up."""
    outage = f"chain.outages=[{{start_h = {OUTAGE_START_H}, duration_h = {OUTAGE_H}}}]"
    run_scenario(scenario(outage), folder / "run")
    run, lost, reasons = lost_in(folder / "run")
    b = run.table("batches")
    start = b["closed"].iloc[0] - np.timedelta64(4, "h")
    back = start + np.timedelta64(int((OUTAGE_START_H + OUTAGE_H) * 3600), "s")
    held = b[b["sent"] > b["closed"]]
    final = int((b["state"] == "final").sum())
    delay_h = (held["sent"] - held["closed"]).max() / np.timedelta64(1, "h") if len(held) else 0
    observed = (
        f"held back {len(held)} batches (up to {delay_h:.1f} h), sent once the chain was back; "
        f"{final}/{len(b)} final"
    )
    behaved = len(held) >= 1 and bool((held["sent"] >= back).all())
    behaved &= run.kpis()["batches_queued"] == len(held)
    return Outcome(observed + "".join(f"; {r}" for r in reasons), behaved, lost)


def _caused_by(error: BaseException | None, kind: type[BaseException]) -> bool:
    while error is not None:
        if isinstance(error, kind):
            return True
        error = error.__cause__ or error.__context__
    return False


def _bounce(
    node: AnvilNode, folder: Path, with_state: bool, seen: list[int], done: threading.Event
) -> Callable[[], None]:
    def bounce() -> None:
        # once the run has a final batch: kill the node, bring it back on the same port
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = list(folder.glob(".run.partial-*/ledger.sqlite"))
            if found and Ledger(found[0]).batches(("final",)):
                break
            time.sleep(0.1)
        port = node.port
        node.stop()
        found = list(folder.glob(".run.partial-*/ledger.sqlite"))
        seen.extend(journal_final(found[0]) if found else [])
        time.sleep(2.0 if with_state else 0.0)
        node.start(port=port)
        done.set()

    return bounce


def _anvil_run(folder: Path, with_state: bool) -> tuple[AnvilNode, list[int], Exception | None]:
    binary = anvil_binary()
    assert binary is not None
    extra = ["--state", str(folder / "anvil-state.json")] if with_state else []
    node = AnvilNode(binary, extra).start()
    seen: list[int] = []
    done = threading.Event()
    killer = threading.Thread(target=_bounce(node, folder, with_state, seen, done), daemon=True)
    killer.start()
    sc = scenario("chain.batch_hours=2", f'chain.rpc_url="{node.url}"')
    error: Exception | None = None
    try:
        run_scenario(sc, folder / "run")
    except Exception as exc:
        error = exc
    killer.join(timeout=60)
    if not done.is_set():
        node.close()
        raise RuntimeError("the node was not restarted while the run went on")
    return node, seen, error


def node_restarted_with_state(folder: Path, quick: bool) -> Outcome | None:
    """anvil killed after the first final batch, restarted from its state 2 s later."""
    if anvil_binary() is None:
        return None
    node, seen, error = _anvil_run(folder, with_state=True)
    try:
        if error is not None:
            raise error
        run, lost, reasons = lost_in(folder / "run")
        chain = Chain.connect(node.url, addresses=run.manifest["chain"]["addresses"])
        logs = chain.contract("Settlement").events.BatchCommitted().get_logs(from_block=0)
        committed = sorted(int(log["args"]["batchId"]) for log in logs)
    finally:
        node.close()
    batches = run.table("batches")
    twice = len(committed) - len(set(committed))
    missing = len(set(batches["batch_id"]) - set(committed))
    waited_s = float(run.manifest["timings_s"]["chain"])
    observed = (
        f"killed after batch {seen[-1]} was final; the settler waited ({waited_s:.0f} s on the "
        f"chain) and went on: {len(set(committed))}/{len(batches)} batches on chain, "
        f"{twice} twice"
    )
    reasons += [f"{missing} batches not on chain"] * bool(missing)
    return Outcome(observed + "".join(f"; {r}" for r in reasons), True, lost + twice + missing)


def node_restarted_empty(folder: Path, quick: bool) -> Outcome | None:
    """anvil killed after the first final batch, restarted at once without its state."""
    if anvil_binary() is None:
        return None
    node, seen, error = _anvil_run(folder, with_state=False)
    try:
        kept = list(folder.glob(".run.partial-*"))
        if not _caused_by(error, MissingContractError) or len(kept) != 1:
            raise RuntimeError(f"the run did not stop on the missing contracts: {error!r}")
        ledger = Ledger(kept[0] / "ledger.sqlite")
        addresses = set(ledger.meta("chain")["addresses"].values())
        chain = Chain.connect(node.url)
        blocks = [
            chain.w3.eth.get_block(n, full_transactions=True)
            for n in range(1, chain.block_number() + 1)
        ]
        sent_to_lost = sum(
            cast("TxData", tx).get("to") in addresses for b in blocks for tx in b["transactions"]
        )
    finally:
        node.close()
    final = journal_final(kept[0] / "ledger.sqlite")
    dropped = len(set(seen) - set(final))
    wrongly_final = len(set(final) - set(seen))
    observed = (
        f"stopped before sending (MissingContractError); the journal keeps its "
        f"{len(final)} final batch(es), {sent_to_lost} transactions to the lost contracts"
    )
    behaved = (folder / "run").exists() is False and "restarted without its state" in str(error)
    return Outcome(observed, behaved, dropped + wrongly_final + sent_to_lost)


CHAIN_FAULTS = {
    f.name: f
    for f in (
        Fault(
            "chain-down-8h",
            "batches closed in the outage wait and are sent when it ends; all final",
            chain_down_for_hours,
        ),
        Fault(
            "node-restart-with-state",
            "the settler waits for the node; every batch on chain exactly once",
            node_restarted_with_state,
            needs=MISSING,
        ),
        Fault(
            "node-restart-empty",
            "missing contracts detected before any send; run stops, journal kept",
            node_restarted_empty,
            needs=MISSING,
        ),
    )
}
