"""What a batch's transactions sent, read back from the chain: one ``commitBatch``, or a split
batch's ``openBatch`` and ``settleChunk`` transactions (found by their events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes

from settlement.chain.node import Node


@dataclass(frozen=True)
class Commit:
    """A batch as its transactions sent it.

    Attributes
    ----------
    trade_count, energy_wh : int
        The header: trades, and energy [Wh].
    accounts : list of str
        The accounts, in the order they were settled.
    net_amounts : list of int
        Their net receipts [micro-euro].
    tx_hashes : list of str
        The transactions, in order (one unless the batch was split; the last commits it).
    """

    trade_count: int
    energy_wh: int
    accounts: list[str]
    net_amounts: list[int]
    tx_hashes: list[str]


def _input(node: Node, settlement: Any, tx_hash: str) -> tuple[str, dict[str, Any]]:
    tx = node.w3.eth.get_transaction(HexBytes(tx_hash))
    function, args = settlement.decode_function_input(tx["input"])
    return str(function.fn_name), args


def read_commit(node: Node, settlement: Any, batch_id: int, tx_hash: str) -> Commit:
    """What batch ``batch_id`` sent; ``tx_hash`` is its ``commitBatch`` or, for a split batch,
    any of its transactions (the journal keeps the last). ``settlement`` is the web3 contract.

    Raises
    ------
    ValueError
        When ``tx_hash`` is not a commit of ``batch_id``.
    """
    function, args = _input(node, settlement, tx_hash)
    if int(args["batchId"]) != batch_id:
        raise ValueError(f"{tx_hash} settles batch {args['batchId']}, not {batch_id}")
    if function == "commitBatch":
        return Commit(
            int(args["tradeCount"]),
            int(args["energyWh"]),
            [str(a) for a in args["accounts"]],
            [int(x) for x in args["netAmounts"]],
            [tx_hash],
        )
    if function not in ("openBatch", "settleChunk"):
        raise ValueError(f"{tx_hash} calls {function}, not a batch commit")
    where = {"from_block": 0, "argument_filters": {"batchId": batch_id}}
    opened = settlement.events.BatchOpened().get_logs(**where)
    chunks = settlement.events.ChunkSettled().get_logs(**where)
    chunks = sorted(chunks, key=lambda log: int(log["args"]["chunk"]))
    if len(opened) != 1:
        raise ValueError(f"batch {batch_id} was opened {len(opened)} times")
    hashes = [HexBytes(log["transactionHash"]).to_0x_hex() for log in [*opened, *chunks]]
    _, head = _input(node, settlement, hashes[0])
    accounts: list[str] = []
    amounts: list[int] = []
    for h in hashes[1:]:
        _, part = _input(node, settlement, h)
        accounts += [str(a) for a in part["accounts"]]
        amounts += [int(x) for x in part["netAmounts"]]
    return Commit(int(head["tradeCount"]), int(head["energyWh"]), accounts, amounts, hashes)
