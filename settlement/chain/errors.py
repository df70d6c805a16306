"""What goes wrong on a chain: the errors gridtwin raises, and contracts' reverts decoded."""

from __future__ import annotations

import ast
from collections.abc import Mapping

from eth_abi import decode as abi_decode
from hexbytes import HexBytes
from web3.types import TxReceipt

ErrorSelectors = Mapping[bytes, tuple[str, list[str]]]
"""4-byte selector -> (name, argument types) of the custom errors a revert may carry."""


class ChainError(RuntimeError):
    """The chain cannot be reached or did not do what was asked."""


class MissingContractError(ChainError):
    """A contract the run uses has no code at its address: nothing may be sent to it.

    On a development node this is a node restarted without its state (anvil without
    ``--state``, a fresh chain on the same URL): a transaction to an address without code
    succeeds and does nothing, so a batch "committed" there would be marked final and lost.
    """

    def __init__(self, name: str, address: str, chain_id: int, rpc_url: str | None) -> None:
        where = f"chain id {chain_id}" + (f" at {rpc_url}" if rpc_url else " (embedded)")
        super().__init__(
            f"contract {name} at {address} has no code on {where}: the node was most likely "
            "restarted without its state (e.g. anvil without --state) or is another chain. "
            "Nothing was sent to it; the run's journal keeps every batch already sent"
        )
        self.name = name
        self.address = address


class TransactionRevertedError(ChainError):
    """A mined transaction reverted (status 0); its gas was spent all the same.

    ``receipt`` is its receipt; ``error`` the contract's error, decoded (e.g.
    ``"BatchAlreadyCommitted(7)"``), or what the node said.
    """

    def __init__(self, receipt: TxReceipt, error: str) -> None:
        tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
        super().__init__(f"transaction {tx_hash} reverted: {error}")
        self.receipt = receipt
        self.error = error


def revert_data(exc: Exception) -> bytes | None:
    """The raw revert data carried by a web3 or eth-tester exception, if any."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    message = str(exc.args[0]) if exc.args else ""
    prefix = "execution reverted: "
    if message.startswith(prefix + "b"):  # eth-tester: the bytes' repr
        try:
            value = ast.literal_eval(message[len(prefix) :])
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, bytes) else None
    return None


def decode_revert(data: bytes, selectors: ErrorSelectors) -> str:
    """``Name(arg, …)`` of a revert payload, from the errors in ``selectors``."""
    known = selectors.get(data[:4])
    if known is None:
        return f"unknown error 0x{data.hex()}"
    name, types = known
    values = abi_decode(types, data[4:])
    shown = [HexBytes(v).to_0x_hex() if isinstance(v, bytes) else str(v) for v in values]
    return f"{name}({', '.join(shown)})"
