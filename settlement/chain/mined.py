"""What a chain has mined, read once: receipts, blocks and events, kept where they cannot change.

The embedded chain (eth-tester) lives in the run's process: a block it has mined is never lost
or replaced, so a receipt or a block read once is kept (:class:`Mined` with ``keep``) and every
later read of it (a batch confirmed, then made final; the ``transactions`` table; the events
of the run's batches) is a lookup instead of another trip through eth-tester's validation and
web3's formatting. A JSON-RPC node may lose blocks (restarted from older state, a reorg): it is
asked every time, as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractEvent
from web3.exceptions import TransactionNotFound
from web3.types import BlockData, EventData, TxData, TxReceipt


class Mined:
    """Receipts and blocks of one chain, kept once read when ``keep``.

    Parameters
    ----------
    w3 : Web3
        The connection.
    keep : bool
        Keep what was read (a chain that never loses a mined block: the embedded one).
    """

    def __init__(self, w3: Web3, *, keep: bool) -> None:
        self.w3 = w3
        self.keep = keep
        self._receipts: dict[bytes, TxReceipt] = {}
        self._blocks: dict[int, BlockData] = {}

    def receipt(self, tx_hash: str | bytes) -> TxReceipt | None:
        """The receipt of ``tx_hash`` if mined, else None (no wait)."""
        key = bytes(HexBytes(tx_hash))
        receipt = self._receipts.get(key)
        if receipt is not None:
            return receipt
        try:
            receipt = self.w3.eth.get_transaction_receipt(HexBytes(key))
        except TransactionNotFound:
            return None
        if self.keep and receipt.get("blockNumber") is not None:
            self._receipts[key] = receipt
        return receipt

    def block(self, number: int) -> BlockData:
        """Block ``number`` (mined) with its full transactions."""
        block = self._blocks.get(number)
        if block is None:
            block = self.w3.eth.get_block(number, full_transactions=True)
            if self.keep:
                self._blocks[number] = block
        return block

    def transactions(self, first_block: int) -> Iterator[tuple[int, TxData]]:
        """(block number, transaction) of every transaction from ``first_block`` to the head,
        in chain order."""
        for number in range(first_block, int(self.w3.eth.block_number) + 1):
            for tx in self.block(number)["transactions"]:
                assert not isinstance(tx, bytes)
                yield number, tx

    def events(
        self, event: ContractEvent, from_block: int, argument_filters: Mapping[str, Any]
    ) -> list[EventData]:
        """The logs of ``event`` (of its contract) from ``from_block`` to the head whose
        arguments equal ``argument_filters`` (addresses in any case), in chain order.

        A chain that keeps what it read decodes the logs of the receipts it reads (once):
        eth-tester's own ``eth_getLogs`` reads every receipt in the range again at each call.
        Else ``eth_getLogs``.
        """
        if not self.keep:
            return list(
                event.get_logs(from_block=from_block, argument_filters=dict(argument_filters))
            )
        address = str(event.address).lower()
        topic = bytes(HexBytes(event.topic))
        wanted = {k: _plain(v) for k, v in argument_filters.items()}
        found: list[EventData] = []
        for _number, tx in self.transactions(from_block):
            receipt = self.receipt(tx["hash"])
            if receipt is None:  # pragma: no cover - a mined transaction has a receipt
                raise TransactionNotFound(f"no receipt for {tx['hash']!r}")
            for log in receipt["logs"]:
                topics = log["topics"]
                if str(log["address"]).lower() != address or not topics:
                    continue
                if bytes(topics[0]) != topic:
                    continue
                data = event.process_log(log)
                if all(_plain(data["args"][k]) == v for k, v in wanted.items()):
                    found.append(data)
        return found


def _plain(value: Any) -> Any:
    """An event argument as compared by a filter: an address in lower case."""
    if isinstance(value, str) and Web3.is_address(value):
        return value.lower()
    return value
