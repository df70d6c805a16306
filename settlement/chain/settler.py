"""Exactly-once settlement of journaled batches: sign, journal, send, confirm, reconcile.

The order of one batch (:meth:`Settler.submit`, then :meth:`Settler.confirm`):

1. the batch is already journaled ``planned`` (:meth:`settlement.chain.ledger.Ledger.plan`);
2. if the contract already holds the batch id, the journal catches up from the chain's
   ``BatchCommitted`` event and nothing is sent;
3. the transaction is signed here, so its hash is known before it exists anywhere else, and
   journaled ``sent`` with hash and nonce; only then is it handed to the node;
4. its receipt makes it ``mined`` (block, gas used); ``confirmations`` blocks later it is
   ``final``.

:meth:`Settler.reconcile` after a crash or a node restart walks every batch that is not final:
a ``sent`` batch whose transaction the node knows is mined or waited for; one the node has
never seen (a crash between journal and send, a node restarted from older state) goes back to
``planned`` and is sent again, unless the contract already holds it. The contract refuses a
second commit of a batch id, so even a mistaken resend cannot record a batch twice. The same
holds while the process runs: :meth:`Settler.confirm` sends again a transaction the node has
lost, and :meth:`Settler.finalize` re-plans a mined batch whose block the node no longer has.

Before anything is sent, and before a batch is marked final, the contracts must have code
(:meth:`~settlement.chain.node.Node.require_code`): a node restarted without its state (a
fresh chain at the same URL) raises :class:`~settlement.chain.errors.MissingContractError`
naming the contract, instead of taking transactions to an empty address as commits.

Calls to the node are retried with back-off for ``retry_s`` seconds, so a node that goes away
and comes back (an anvil restart) costs time, not batches.

A batch whose ``commitBatch`` would need more gas than the budget (``max_tx_gas``, or 95 % of
the chain's block gas limit if less) is split (:func:`settlement.chain.batches.split_batch`):
its chunks are journaled, then sent one after the other, each journaled ``sent`` before it
leaves and ``mined`` from its receipt (``Settlement.openBatch``, then ``settleChunk`` 0, 1, ...);
after a crash the contract's own progress (``openProgress``) and its ``BatchOpened`` and
``ChunkSettled`` events tell which chunks it holds, so exactly the remaining ones are sent. The
contract refuses a chunk out of order or twice. The batch is mined when its last chunk is.

Fault injection for the crash tests: ``GRIDTWIN_FAULT=after_plan:<batch_id>``,
``after_send:<batch_id>`` or ``after_chunk:<batch_id>:<chunk>`` ends the process (exit code
86) at that point.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from hexbytes import HexBytes
from web3 import Web3

from settlement.chain.batches import accounts_per_tx, commit_gas, split_batch
from settlement.chain.connection import Chain, ChainError
from settlement.chain.fault_points import fault_point
from settlement.chain.ledger import Batch, Ledger
from settlement.chain.split_settler import SplitBatches

T = TypeVar("T")


#: The most gas one settlement transaction may take by default: a 30 M gas block's worth.
MAX_TX_GAS = 30_000_000


class Settler(SplitBatches):
    """Sends a ledger's batches to a chain, exactly once.

    Parameters
    ----------
    ledger : Ledger
        The journal.
    chain : Chain
        The chain; its operator's key must be held here (:attr:`Chain.account`).
    confirmations : int
        Blocks on top of a batch's block before it is final.
    retry_s : float
        How long node calls are retried when the node cannot be reached [s].
    max_tx_gas : int
        The most gas one transaction may be given [gas]; a batch that needs more is split.
    """

    def __init__(
        self,
        ledger: Ledger,
        chain: Chain,
        confirmations: int = 2,
        retry_s: float = 120.0,
        max_tx_gas: int = MAX_TX_GAS,
    ) -> None:
        if chain.account is None:
            raise ChainError("the settler signs its own transactions: give the operator's key")
        self.ledger = ledger
        self.chain = chain
        self.confirmations = confirmations
        self.retry_s = retry_s
        self.max_tx_gas = max_tx_gas
        self._budget: int | None = None

    def gas_budget(self) -> int:
        """The most gas one transaction is given: ``max_tx_gas``, or 95 % of the chain's block
        gas limit if that is less [gas]."""
        if self._budget is None:
            block = self._node(lambda: self.chain.w3.eth.get_block("latest"))
            self._budget = min(self.max_tx_gas, int(block["gasLimit"]) * 19 // 20)
        return self._budget

    def _node(self, call: Callable[[], T]) -> T:
        """``call()``, retried with back-off while the node cannot be reached."""
        deadline = time.monotonic() + self.retry_s
        delay = 0.1
        while True:
            try:
                return call()
            except (OSError, ConnectionError) as err:
                if time.monotonic() > deadline:
                    raise ChainError(f"node unreachable for {self.retry_s:.0f} s: {err}") from err
            except Exception as err:  # requests' ConnectionError is an OSError; others are not
                if "connect" not in type(err).__name__.lower() or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(2 * delay, 2.0)

    def _committed(self, batch_id: int) -> dict[str, Any] | None:
        """The ``BatchCommitted`` event of ``batch_id`` on the chain, if any."""
        settlement = self.chain.contract("Settlement")
        if self._node(lambda: self.chain.batch(batch_id)).committed_block == 0:
            return None
        logs = self._node(
            lambda: settlement.events.BatchCommitted().get_logs(
                from_block=0, argument_filters={"batchId": batch_id}
            )
        )
        if not logs:
            raise ChainError(f"batch {batch_id} is committed but its event is not found")
        return self._event_record(logs[0])

    def submit(self, batch_id: int, *, check_chain: bool = True) -> None:
        """Send a ``planned`` batch (or catch up if the chain already holds it).

        ``check_chain=False`` skips asking the contract first: only for a batch this process
        journaled itself and has never sent (a planned batch is journaled ``sent`` before its
        transaction leaves, so it cannot be on-chain).
        """
        fault_point("after_plan", batch_id)
        batch = self.ledger.batch(batch_id)
        if batch.state != "planned":
            return
        if self.ledger.chunks(batch_id):
            self._submit_chunks(batch, check_chain=True)
            return
        done = self._committed(batch_id) if check_chain else None
        if done is not None:
            self.ledger.mark_mined(batch_id, **done)
            return
        budget = self.gas_budget()
        if commit_gas(len(batch.accounts)) > budget:
            parts = split_batch(batch.accounts, batch.net_amounts, accounts_per_tx(budget))
            self.ledger.plan_chunks(batch_id, parts)
            self._submit_chunks(batch, check_chain=check_chain)
            return
        chain = self.chain
        settlement = chain.contract("Settlement")
        args = [
            batch.batch_id,
            batch.trades_root,
            batch.trade_count,
            batch.energy_wh,
            [Web3.to_checksum_address(a) for a in batch.accounts],
            batch.net_amounts,
        ]
        gas = commit_gas(len(batch.accounts))
        nonce = self._node(lambda: chain.next_nonce())
        signed = self._node(
            lambda: chain.sign(settlement, "commitBatch", args, gas=gas, nonce=nonce)
        )
        tx_hash = HexBytes(signed.hash).to_0x_hex()
        self.ledger.mark_sent(batch_id, tx_hash, nonce)
        self._node(lambda: chain.send_signed(signed))
        fault_point("after_send", batch_id)

    def confirm(self, batch_id: int) -> Batch:
        """Wait for a ``sent`` batch's receipt; mark it mined (and final when deep enough).

        While no receipt comes, the node is asked whether it still knows the transaction: one it
        has lost (a node killed before it mined or saved its pool) is sent again, from the
        journal, rather than waited for. Gives up with :class:`ChainError` after ``retry_s``
        seconds with neither a receipt nor progress.
        """
        deadline = time.monotonic() + self.retry_s
        delay = 0.02
        while (batch := self.ledger.batch(batch_id)).state == "sent":
            assert batch.tx_hash is not None
            tx_hash = batch.tx_hash
            receipt = self._node(partial(self.chain.get_receipt, tx_hash))
            if receipt is not None:
                # judged as read: a node restarted since may have lost it (finalize looks again)
                receipt = self._node(partial(self.chain.require_success, receipt))
                block, gas = int(receipt["blockNumber"]), int(receipt["gasUsed"])
                self.ledger.mark_mined(batch_id, tx_hash, block, gas)
                break
            # a node restarted empty may hold the transaction pending forever (a nonce gap)
            self._node(self.chain.require_contracts)
            if not self._node(partial(self._known, tx_hash)):
                self.ledger.replan(batch_id)
                self.submit(batch_id)  # asks the contract first: it may hold the batch already
                deadline = time.monotonic() + self.retry_s
                continue
            if time.monotonic() > deadline:
                raise ChainError(
                    f"batch {batch_id}: transaction {tx_hash} pending for {self.retry_s:.0f} s"
                )
            time.sleep(delay)
            delay = min(2 * delay, 1.0)
        self.finalize()
        return self.ledger.batch(batch_id)

    def finalize(self) -> None:
        """Mark every mined batch with ``confirmations`` blocks on top of it final.

        Its receipt is read once more first: a batch whose block the node no longer has (a node
        restarted from older state, a reorg) goes back to ``planned``, for :meth:`reconcile`.
        """
        head = self._node(self.chain.block_number)
        mined = self.ledger.batches(("mined",))
        if mined:  # never final on a contract a restarted node has lost
            self._node(self.chain.require_contracts)
        for batch in mined:
            if batch.block is None or head - batch.block < self.confirmations:
                continue
            tx_hash = batch.tx_hash
            assert tx_hash is not None
            receipt = self._node(partial(self.chain.get_receipt, tx_hash))
            if receipt is None:
                self.ledger.replan(batch.batch_id)
            elif int(receipt["blockNumber"]) != batch.block and self.ledger.chunks(batch.batch_id):
                self.ledger.replan(batch.batch_id)  # its chunks are read back from the chain
            elif int(receipt["blockNumber"]) != batch.block:
                block, gas = int(receipt["blockNumber"]), int(receipt["gasUsed"])
                self.ledger.mark_mined(batch.batch_id, tx_hash, block, gas)
            else:
                self.ledger.mark_final(batch.batch_id)

    def recheck_final(self) -> list[int]:
        """Send back to ``planned`` every final batch the contract does not hold.

        A node restarted from state older than a batch's confirmations (a dev node's saved
        state, a deep reorg) loses even a final batch; this finds it so :meth:`reconcile` sends
        it again. One contract read per final batch. Returns the ids sent back.
        """
        lost = []
        final = self.ledger.batches(("final",))
        if final:  # a contract without code: MissingContractError, not an undecodable read
            self._node(self.chain.require_contracts)
        for batch in final:
            record = self._node(partial(self.chain.batch, batch.batch_id))
            if record.committed_block == 0:
                self.ledger.replan(batch.batch_id)
                lost.append(batch.batch_id)
        return lost

    def reconcile(self) -> list[int]:
        """Bring the journal in line with the chain after a restart; send what is missing.

        Returns the ids of the batches that were (re)sent.
        """
        resent = []
        for batch in self.ledger.batches(("planned", "sent")):
            if batch.state == "sent" and self._catch_up(batch):
                continue
            self.submit(batch.batch_id)
            if self.ledger.batch(batch.batch_id).state == "sent":
                self.confirm(batch.batch_id)
                resent.append(batch.batch_id)
        self.finalize()
        return resent

    def _catch_up(self, batch: Batch) -> bool:
        """A ``sent`` batch: mined or known to the node (True), or back to ``planned``."""
        tx_hash = batch.tx_hash
        assert tx_hash is not None
        receipt = self._node(lambda: self.chain.get_receipt(tx_hash))
        if receipt is not None and receipt["status"] == 1:
            block, gas = int(receipt["blockNumber"]), int(receipt["gasUsed"])
            self.ledger.mark_mined(batch.batch_id, tx_hash, block, gas)
            return True
        if receipt is None and self._node(lambda: self._known(tx_hash)):
            self.confirm(batch.batch_id)
            return True
        self.ledger.replan(batch.batch_id)
        return False

    def _known(self, tx_hash: str) -> bool:
        """Whether the node knows the transaction (pending or mined)."""
        try:
            self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        except Exception as err:
            if "not found" in str(err).lower() or type(err).__name__ == "TransactionNotFound":
                return False
            raise
        return True

    def mine(self, blocks: int) -> None:
        """Mine empty blocks on a development chain (eth-tester, anvil) to reach finality."""
        for _ in range(blocks):
            self._node(lambda: self.chain.w3.provider.make_request("evm_mine", []))  # type: ignore[arg-type]
