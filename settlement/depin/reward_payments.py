"""Rewards' payments: an epoch paid in one batch mint, or committed and claimed by proof.

:class:`RewardPayments` is the part of :class:`~settlement.depin.client.DepinContracts` that
calls ``Rewards`` (and reads ``RewardToken``): (a) ``distribute``, one batch mint to each
device's owner, or (b) ``commit_epoch`` of a Merkle root of the rewards
(:func:`settlement.depin.rewards.reward_leaves`), then ``claim`` per device or ``claim_many``
(one :func:`~settlement.chain.merkle.multiproof` a chunk; ``commit_and_claim`` does both); and
the on-chain record of each epoch. Amounts are integers [token base units].
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, NamedTuple

from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from settlement.chain.connection import Chain
from settlement.chain.merkle import merkle_tree, multiproof
from settlement.depin.rewards import reward_leaves
from settlement.units import TokenUnits

# Gas bounds per call (base + per item), measured on eth-tester with room to spare.
_DISTRIBUTE_GAS = (120_000, 45_000)
_CLAIM_GAS = (150_000, 2_000)  # per proof hash
_CLAIM_MANY_GAS = (150_000, 50_000)
_COMMIT_GAS = 120_000


class EpochRecord(NamedTuple):
    """``Rewards.epochRecord``: amounts [base units]; zero rewards root for (a); block 0: none."""

    readings_root: bytes
    rewards_root: bytes
    total: int
    paid: int
    committed_block: int


class RewardPayments:
    """Rewards' payments and records, a part of :class:`~settlement.depin.client.DepinContracts`
    (which deploys the contracts and sends through the chain)."""

    chain: Chain

    @cached_property
    def block_gas_limit(self) -> int:
        """The latest block's gas limit: no transaction's gas bound exceeds it."""
        return self.chain.block_gas_limit()

    def contract(self, name: str) -> Contract:
        """The web3 contract object of ``name`` (provided by DepinContracts)."""
        raise NotImplementedError

    def _transact(
        self,
        name: str,
        function: str,
        args: list[Any],
        *,
        gas: int,
        sender: str | None = None,
        key: bytes | str | None = None,
    ) -> TxReceipt:
        raise NotImplementedError

    def _call(self, name: str, function: str, *args: Any) -> Any:
        raise NotImplementedError

    def distribute(
        self,
        epoch: int,
        readings_root: bytes,
        device_ids: Sequence[int],
        amounts_token_units: Sequence[TokenUnits],
        *,
        sender: str | None = None,
    ) -> TxReceipt:
        """(a) Pay epoch ``epoch`` in one batch mint (DISTRIBUTOR_ROLE); once per epoch.

        Each device's ``amounts_token_units[i]`` goes to its NFT's current owner; sent sorted by
        id, as the contract takes each device once, ascending. Leave out devices that earn
        nothing (each costs gas). About 11,500 gas a device whose owner holds tokens already,
        29,000 for a first-time holder: past about 600 devices the block gas limit calls for
        :meth:`commit_and_claim`.
        """
        pairs = sorted(zip(map(int, device_ids), map(int, amounts_token_units), strict=True))
        args = [int(epoch), bytes(readings_root), [d for d, _ in pairs], [a for _, a in pairs]]
        gas = self._gas(_DISTRIBUTE_GAS, len(device_ids))
        return self._transact("Rewards", "distribute", args, gas=gas, sender=sender)

    def pay_epoch(
        self,
        epoch: int,
        readings_root: bytes,
        device_ids: Sequence[int],
        amounts_token_units: Sequence[TokenUnits],
        *,
        max_tx_gas: int = 30_000_000,
    ) -> list[TxReceipt]:
        """Pay epoch ``epoch``: :meth:`distribute` in one transaction when its gas bound fits
        ``max_tx_gas`` [gas] and the block, else :meth:`commit_and_claim` in chunks that fit."""
        budget = min(max_tx_gas, self.block_gas_limit * 19 // 20)
        base, per_device = _DISTRIBUTE_GAS
        if base + per_device * len(device_ids) <= budget:
            return [self.distribute(epoch, readings_root, device_ids, amounts_token_units)]
        chunk = max(1, (budget - _CLAIM_MANY_GAS[0]) // _CLAIM_MANY_GAS[1] // 2)  # + proofs
        return self.commit_and_claim(
            epoch, readings_root, device_ids, amounts_token_units, chunk=min(chunk, 400)
        )

    def commit_epoch(
        self,
        epoch: int,
        readings_root: bytes,
        rewards_root: bytes,
        total: int,
        *,
        sender: str | None = None,
    ) -> TxReceipt:
        """(b) Commit epoch ``epoch``'s rewards root and total [base units] (DISTRIBUTOR_ROLE)."""
        args = [int(epoch), bytes(readings_root), bytes(rewards_root), int(total)]
        return self._transact("Rewards", "commitEpoch", args, gas=_COMMIT_GAS, sender=sender)

    def claim(
        self,
        epoch: int,
        device_id: int,
        amount_token_units: TokenUnits,
        proof: Sequence[bytes],
        *,
        sender: str | None = None,
    ) -> TxReceipt:
        """(b) Pay one device's reward of a committed epoch to its owner (anyone may send)."""
        args = [int(epoch), int(device_id), int(amount_token_units), [bytes(p) for p in proof]]
        gas = self._gas(_CLAIM_GAS, len(proof))
        return self._transact("Rewards", "claim", args, gas=gas, sender=sender)

    def claim_many(
        self,
        epoch: int,
        device_ids: Sequence[int],
        amounts_token_units: Sequence[TokenUnits],
        proof: Sequence[bytes],
        proof_flags: Sequence[bool],
        *,
        sender: str | None = None,
    ) -> TxReceipt:
        """(b) Pay many devices of a committed epoch, one :func:`multiproof` (leaves ascending)."""
        args: list[Any] = [
            int(epoch),
            [int(d) for d in device_ids],
            [int(a) for a in amounts_token_units],
        ]
        args += [[bytes(p) for p in proof], [bool(f) for f in proof_flags]]
        gas = self._gas(_CLAIM_MANY_GAS, len(device_ids))
        return self._transact("Rewards", "claimMany", args, gas=gas, sender=sender)

    def commit_and_claim(
        self,
        epoch: int,
        readings_root: bytes,
        device_ids: Sequence[int],
        amounts_token_units: Sequence[TokenUnits],
        *,
        chunk: int = 400,
    ) -> list[TxReceipt]:
        """(b) for any fleet size: commit the rewards root, then :meth:`claim_many` by chunks.

        Devices are sorted by id, so each chunk is a run of consecutive leaves (a short
        multiproof) and of neighbouring bitmap bits; 400 (up to ~12.5 M gas) stay below half a
        30 M block. Returns the commit's receipt, then one receipt per chunk.
        """
        pairs = sorted(zip(map(int, device_ids), map(int, amounts_token_units), strict=True))
        ids, values = [d for d, _ in pairs], [TokenUnits(a) for _, a in pairs]
        tree = merkle_tree(reward_leaves(epoch, ids, values))
        if not tree:
            raise ValueError("no device to reward")
        receipts = [self.commit_epoch(epoch, readings_root, tree[0], sum(values))]
        for start in range(0, len(ids), chunk):
            stop = min(start + chunk, len(ids))
            proof, flags = multiproof(tree, range(start, stop))
            receipts.append(
                self.claim_many(epoch, ids[start:stop], values[start:stop], proof, flags)
            )
        return receipts

    def epoch_root(self, epoch: int) -> tuple[bytes, bytes]:
        """(readings root, rewards root) of ``epoch``; zero bytes where none."""
        readings_root, rewards_root = self._call("Rewards", "epochRoot", int(epoch))
        return bytes(readings_root), bytes(rewards_root)

    def epoch_record(self, epoch: int) -> EpochRecord:
        """The whole on-chain record of ``epoch``."""
        readings_root, rewards_root, *numbers = self._call("Rewards", "epochRecord", int(epoch))
        return EpochRecord(bytes(readings_root), bytes(rewards_root), *map(int, numbers))

    def distributed(self, epoch: int) -> int:
        """What ``epoch`` has paid so far [base units]."""
        return int(self._call("Rewards", "distributed", int(epoch)))

    def is_claimed(self, epoch: int, device_id: int) -> bool:
        """Whether ``device_id``'s reward of ``epoch`` was claimed ((b) only)."""
        return bool(self._call("Rewards", "isClaimed", int(epoch), int(device_id)))

    def reward_balance(self, address: str) -> int:
        """RewardToken balance of ``address`` [base units]."""
        return int(self._call("RewardToken", "balanceOf", Web3.to_checksum_address(address)))

    def reward_supply(self) -> int:
        """RewardToken total supply [base units]: the sum of every epoch's payments."""
        return int(self._call("RewardToken", "totalSupply"))

    def _gas(self, bound: tuple[int, int], items: int) -> int:
        base, per_item = bound
        return min(base + per_item * items, self.block_gas_limit)
