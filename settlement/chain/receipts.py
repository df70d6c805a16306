"""Receipts of a node's transactions: waited for, judged, and a revert explained.

A receipt is read without waiting (:meth:`Receipts.get_receipt`, through what the chain has
:class:`~settlement.chain.mined.Mined`), waited for (:meth:`Receipts.wait_receipt`) or, once in
hand, judged (:meth:`Receipts.require_success`): a reverted transaction raises
:class:`~settlement.chain.errors.TransactionRevertedError` with the contract's error, decoded
from the transaction replayed as a call. :class:`~settlement.chain.node.Node` holds these.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from hexbytes import HexBytes
from web3 import Web3
from web3.types import BlockIdentifier, TxParams, TxReceipt

from settlement.chain.errors import TransactionRevertedError, decode_revert, revert_data
from settlement.chain.mined import Mined


class Receipts:
    """The receipts of a node's transactions (a part of :class:`~settlement.chain.node.Node`)."""

    w3: Web3
    mined: Mined
    #: Each attached contract's name by address.
    _names: dict[str, str]
    #: The attached contracts' custom errors by selector.
    _errors: dict[bytes, tuple[str, list[str]]]
    #: Raises if no code is at the address (a node restarted without its state).
    require_code: Callable[[str], None]

    def wait_receipt(
        self, tx_hash: str, *, timeout_s: float = 120.0, check: bool = True, to: str | None = None
    ) -> TxReceipt:
        """Wait up to ``timeout_s`` [s] for the receipt of ``tx_hash``.

        With ``check``, a reverted transaction (status 0) raises
        :class:`TransactionRevertedError` with the contract's decoded error. With ``to`` (the
        contract called; else the first one attached), its code is checked every second while no
        receipt comes: a node restarted without its state never mines a transaction sent
        before, and the wait ends in :class:`MissingContractError`, not after ``timeout_s``.
        """
        watched = to or next(iter(self._names), None)  # else the first contract attached
        checked = time.monotonic()
        deadline = checked + timeout_s
        receipt = self.get_receipt(tx_hash) if watched else None  # mined already: one call
        while watched and receipt is None and time.monotonic() < deadline:
            if time.monotonic() - checked > 1.0:  # a second since the last look at the code
                self.require_code(watched)
                checked = time.monotonic()
            time.sleep(0.02)
            receipt = self.get_receipt(tx_hash)
        if receipt is None:  # nothing watched, or the deadline passed: web3's own wait
            receipt = self.w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=max(0.1, deadline - time.monotonic()), poll_latency=0.02
            )
        return self.require_success(receipt) if check else receipt

    def require_success(self, receipt: TxReceipt) -> TxReceipt:
        """``receipt`` if its transaction succeeded; else :class:`TransactionRevertedError`
        with the contract's decoded error. Asks the node nothing for a receipt in hand: a
        receipt read just before the node restarted without it is judged as read."""
        if receipt["status"] != 1:
            raise TransactionRevertedError(receipt, self._replay_error(receipt))
        return receipt

    def get_receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt of ``tx_hash`` if mined, else None (no wait): for reconciling a journal."""
        return self.mined.receipt(tx_hash)

    def _replay_error(self, receipt: TxReceipt) -> str:
        """Why a mined transaction reverted: replay it as a call on the state before its block.

        A node without that state (anvil with ``--prune-history``, a non-archive node) gets
        the call on its latest state instead, which right after the receipt is the same state
        for a reverted transaction alone in its block.
        """
        tx = self.w3.eth.get_transaction(receipt["transactionHash"])
        call: dict[str, Any] = {"from": tx["from"], "data": tx["input"], "gas": tx["gas"]}
        if tx.get("to"):
            call["to"] = tx["to"]
        first_error = ""
        attempts: list[tuple[BlockIdentifier, str]] = [
            (receipt["blockNumber"] - 1, ""),
            ("latest", " (on the latest state)"),
        ]
        for block, note in attempts:
            try:
                self.w3.eth.call(cast(TxParams, call), block)
            except Exception as exc:  # any node's flavour of revert or of missing state
                data = revert_data(exc)
                if data is not None:
                    return decode_revert(data, self._errors) + note
                first_error = first_error or str(exc)
            else:
                break
        return first_error or f"out of gas, or the state changed (block {receipt['blockNumber']})"
