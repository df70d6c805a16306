"""The chunks of a batch too big for one transaction: sent, confirmed and found again.

A batch whose ``commitBatch`` would need more gas than the settler's budget is split
(:func:`settlement.chain.batches.split_batch`) and journaled chunk by chunk
(:meth:`settlement.chain.ledger.Ledger.plan_chunks`): ``Settlement.openBatch`` (chunk 0), then
``settleChunk`` 0, 1, ... (chunks 1, 2, ...), each journaled ``sent`` before it leaves and
``mined`` from its receipt. After a crash the contract's ``openProgress`` and its
``BatchOpened`` and ``ChunkSettled`` events tell which chunks it holds, so exactly the
remaining ones are sent. :class:`SplitBatches` is the part of
:class:`~settlement.chain.settler.Settler` that does this.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from hexbytes import HexBytes
from web3 import Web3

from settlement.chain.batches import OPEN_GAS, commit_gas
from settlement.chain.connection import Chain, ChainError
from settlement.chain.fault_points import fault_point
from settlement.chain.ledger import Batch, Chunk, Ledger

T = TypeVar("T")


class SplitBatches:
    """Sends and confirms split batches' chunks, exactly once (a mixin of the settler)."""

    ledger: Ledger
    chain: Chain
    retry_s: float

    def _node(self, call: Callable[[], T]) -> T:
        raise NotImplementedError  # the settler's: retried while the node is unreachable

    def _known(self, tx_hash: str) -> bool:
        raise NotImplementedError  # the settler's: the node knows the transaction

    def _event_record(self, log: Any) -> dict[str, Any]:
        """The journal's record of the transaction that emitted ``log``: hash, block, gas."""
        tx_hash = HexBytes(log["transactionHash"]).to_0x_hex()
        receipt = self._node(lambda: self.chain.get_receipt(tx_hash))
        gas = int(receipt["gasUsed"]) if receipt is not None else 0
        return {"tx_hash": tx_hash, "block": int(log["blockNumber"]), "gas_used": gas}

    def _submit_chunks(self, batch: Batch, *, check_chain: bool) -> None:
        """Send a split batch's chunks that are not mined, in order, each confirmed before the
        next; ``check_chain``: ask the contract first whether it holds a planned chunk."""
        b = batch.batch_id
        n, count = 0, len(self.ledger.chunks(b))
        while n < count:
            chunk = self.ledger.chunks(b)[n]
            if chunk.state == "mined":
                n += 1
            elif chunk.state == "sent":
                self._confirm_chunk(chunk)
                check_chain = True  # back to planned: the node lost it, the contract may not
            else:
                done = self._chunk_on_chain(b, n) if check_chain else None
                if done is not None:
                    self.ledger.mark_chunk_mined(b, n, **done)
                else:
                    self._send_chunk(batch, chunk)
        self.ledger.mark_chunks_mined(b)

    def _send_chunk(self, batch: Batch, chunk: Chunk) -> None:
        chain = self.chain
        settlement = chain.contract("Settlement")
        b = batch.batch_id
        if chunk.chunk == 0:
            due = sum(x for x in batch.net_amounts if x > 0)
            head = [b, batch.trades_root, batch.trade_count, batch.energy_wh]
            function, args, gas = "openBatch", [*head, len(batch.accounts), due], OPEN_GAS
        else:
            accounts = [Web3.to_checksum_address(a) for a in chunk.accounts]
            args = [b, chunk.chunk - 1, accounts, chunk.net_amounts]
            function, gas = "settleChunk", commit_gas(len(accounts))
        nonce = self._node(lambda: chain.next_nonce())
        signed = self._node(lambda: chain.sign(settlement, function, args, gas=gas, nonce=nonce))
        tx_hash = HexBytes(signed.hash).to_0x_hex()
        self.ledger.mark_chunk_sent(b, chunk.chunk, tx_hash, nonce)
        self._node(lambda: chain.send_signed(signed))
        fault_point("after_chunk", f"{b}:{chunk.chunk}")

    def _confirm_chunk(self, chunk: Chunk) -> None:
        """Wait for a ``sent`` chunk's receipt (mined), or send it back to ``planned`` if the
        node does not know its transaction."""
        tx_hash = chunk.tx_hash
        assert tx_hash is not None
        deadline = time.monotonic() + self.retry_s
        delay = 0.02
        while True:
            receipt = self._node(partial(self.chain.get_receipt, tx_hash))
            if receipt is not None:
                receipt = self._node(partial(self.chain.require_success, receipt))
                block, gas = int(receipt["blockNumber"]), int(receipt["gasUsed"])
                self.ledger.mark_chunk_mined(chunk.batch_id, chunk.chunk, tx_hash, block, gas)
                return
            self._node(self.chain.require_contracts)
            if not self._node(partial(self._known, tx_hash)):
                self.ledger.replan_chunk(chunk.batch_id, chunk.chunk)
                return
            if time.monotonic() > deadline:
                raise ChainError(
                    f"batch {chunk.batch_id} chunk {chunk.chunk}: transaction {tx_hash} "
                    f"pending for {self.retry_s:.0f} s"
                )
            time.sleep(delay)
            delay = min(2 * delay, 1.0)

    def _chunk_on_chain(self, batch_id: int, chunk: int) -> dict[str, Any] | None:
        """The transaction of chunk ``chunk`` of split batch ``batch_id`` if the contract holds
        it (chunk 0: ``BatchOpened``; chunk c: ``ChunkSettled`` c - 1)."""
        settlement = self.chain.contract("Settlement")
        committed = self._node(lambda: self.chain.batch(batch_id)).committed_block != 0
        settled, _, declared = self._node(
            lambda: settlement.functions.openProgress(batch_id).call()
        )
        if not committed and (declared == 0 or settled < chunk):
            return None
        events = settlement.events
        event = events.BatchOpened() if chunk == 0 else events.ChunkSettled()
        logs = self._node(
            lambda: event.get_logs(from_block=0, argument_filters={"batchId": batch_id})
        )
        logs = [log for log in logs if chunk == 0 or int(log["args"]["chunk"]) == chunk - 1]
        if not logs:
            raise ChainError(f"batch {batch_id}: chunk {chunk} is settled but not found")
        return self._event_record(logs[-1])
