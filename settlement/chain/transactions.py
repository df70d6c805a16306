"""Every transaction a run sent, read back from the chain: its kind, who paid, its gas.

A run's gas is not only its batch commits: deployments, role grants, device registration,
credit minting and reward distribution cost gas too. :func:`scan_transactions` reads every
block from the run's first to the chain's head and keeps each transaction sent by one of the
run's accounts or to one of its contracts, with its receipt's gas (on the embedded chain the
receipts the run already read are not read again: :mod:`settlement.chain.mined`). The scan,
not a log kept while sending, makes the table: it holds what the chain holds, also on a
resumed run (which replays the chain from its start). The kind comes from the
called function (:data:`KINDS`); a transaction that creates a contract is a ``deploy``.

One-off kinds (:data:`ONE_OFF`) set a community up; the rest recur while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from eth_utils import function_abi_to_4byte_selector
from hexbytes import HexBytes
from web3 import Web3

from settlement.chain.artifacts import load_artifact
from settlement.chain.errors import ChainError
from settlement.chain.node import Node

#: Contracts whose functions a run calls.
CONTRACTS = (
    "EnergyCredit",
    "Settlement",
    "DeviceRegistry",
    "Rewards",
    "RewardToken",
    "CommunityVotes",
    "CommunityTimelock",
    "CommunityGovernor",
    "Treasury",
    "AssetShares",
    "DeviceStaking",
    "DataMarket",
    "DeviceMarket",
    "BuybackBurn",
)

#: Transaction kind by called function.
KINDS = {
    "grantRole": "role",
    "revokeRole": "role",
    "renounceRole": "role",
    "mint": "mint",
    "mintBatch": "mint",
    "register": "register",
    "registerBatch": "register",
    "revoke": "revoke",
    "commitBatch": "commit",
    "openBatch": "commit",
    "settleChunk": "commit",
    "distribute": "reward",
    "commitEpoch": "reward",
    "claim": "reward",
    "claimMany": "reward",
    "transferFrom": "transfer",
    "safeTransferFrom": "transfer",
    "transfer": "transfer",
    "pause": "admin",
    "unpause": "admin",
    # The economy (settlement/economy): DAO, treasury, asset shares.
    "delegate": "delegate",
    "mintChunk": "mint",
    "seal": "role",
    "delegateBySig": "delegate",
    "propose": "propose",
    "castVote": "vote",
    "castVoteBySig": "vote",
    "castVoteWithReason": "vote",
    "queue": "queue",
    "schedule": "queue",
    "execute": "execute",
    "cancel": "cancel",
    "pay": "payout",
    "approve": "consent",
    # Members' ERC-2612 permits for settlement, relayed at the start of a run.
    "acceptPermits": "permit",
    "permit": "permit",
    "sell": "offering",
    "closeOffering": "offering",
    "distributeRevenue": "payout",
    # Device staking (settlement/depin/staking.py).
    "openGenesis": "mint",
    "allocateGenesis": "mint",
    "stakeWithPermit": "stake",
    "stake": "stake",
    "requestUnbond": "unstake",
    "withdraw": "unstake",
    "slash": "slash",
    # Data sales (settlement/economy/data_market.py).
    "sellData": "data_sale",
    "openSale": "data_sale",
    "payChunk": "data_sale",
    # Device NFT sales (settlement/depin/market.py).
    "buy": "device_sale",
    "buyWithPermit": "device_sale",
    # The revenue schedule's buyback (settlement/depin/buyback.py): named once, then each
    # epoch a draw of the treasury's revenue and the holders' permit-signed sales.
    "setBuyback": "role",
    "transferOwnership": "role",
    "draw": "buyback",
    "sellWithPermit": "buyback",
}
#: Kinds that set a community up once (the rest recur).
ONE_OFF = frozenset(
    {"deploy", "role", "register", "mint", "permit", "delegate", "offering", "stake"}
)


def selectors(contracts: Iterable[str] = CONTRACTS) -> dict[bytes, str]:
    """Function name by 4-byte selector, over the contracts' ABIs."""
    out: dict[bytes, str] = {}
    for name in contracts:
        for item in load_artifact(name).abi:
            if item.get("type") == "function":
                out[bytes(function_abi_to_4byte_selector(cast(Any, item)))] = str(item["name"])
    return out


@dataclass(frozen=True)
class Transactions:
    """Columns of the ``transactions`` table, one row a transaction, in chain order."""

    block: list[int]
    tx_hash: list[str]
    sender: list[str]
    to: list[str | None]
    function: list[str]
    kind: list[str]
    gas_used: list[int]
    gas_price_wei: list[int]

    def gas_of(self, kinds: Iterable[str]) -> int:
        """Gas of the transactions of ``kinds``."""
        wanted = set(kinds)
        return sum(g for g, k in zip(self.gas_used, self.kind, strict=True) if k in wanted)


def scan_transactions(
    node: Node, first_block: int, accounts: Iterable[str], contracts: Iterable[str]
) -> Transactions:
    """Every transaction from ``first_block`` to the head sent by one of ``accounts`` or to
    one of ``contracts`` (addresses), with its receipt's gas."""
    senders = {Web3.to_checksum_address(a) for a in accounts}
    targets = {Web3.to_checksum_address(a) for a in contracts}
    names = selectors()
    cols: dict[str, list[Any]] = {f: [] for f in Transactions.__dataclass_fields__}
    for number, tx in node.mined.transactions(first_block):  # blocks and receipts read once
        sender = Web3.to_checksum_address(tx["from"])
        to = tx.get("to")
        to = Web3.to_checksum_address(to) if to else None
        if sender not in senders and to not in targets:
            continue
        data = HexBytes(tx.get("input", tx.get("data", b"")))
        if to is None:
            function, kind = "constructor", "deploy"
        else:
            selector = bytes(data[:4])
            function = names.get(selector, "0x" + selector.hex())
            kind = KINDS.get(function, "other")
        tx_hash = "0x" + bytes(tx["hash"]).hex()
        receipt = node.get_receipt(tx_hash)
        if receipt is None:  # pragma: no cover - a mined transaction has a receipt
            raise ChainError(f"block {number}: no receipt for {tx_hash}")
        cols["block"].append(int(number))
        cols["tx_hash"].append(tx_hash)
        cols["sender"].append(sender)
        cols["to"].append(to)
        cols["function"].append(function)
        cols["kind"].append(kind)
        cols["gas_used"].append(int(receipt["gasUsed"]))
        cols["gas_price_wei"].append(int(receipt.get("effectiveGasPrice", tx.get("gasPrice", 0))))
    return Transactions(**cols)
