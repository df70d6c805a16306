"""The DePIN contracts on a :class:`~settlement.chain.connection.Chain`: devices, signed
uploads, rewards.

Three contracts (``settlement/chain/contracts/src``), deployed on first use by the chain's operator:

- ``RewardToken``: the ERC-20 devices earn, 6 decimals (one token = 10**6 base units, so a
  device's reward fits the int64 columns of the results store). ``Rewards`` deploys it and is
  its only minter of rewards (immutable: no role any key could grant), and no epoch pays more
  than the cap ``Rewards`` was deployed with. Beside rewards the token mints one genesis
  allocation: Rewards' admin names its minter and cap once (:meth:`DepinContracts.open_genesis`),
  which mints once within the cap; the supply is the genesis plus the rewards paid, less what
  was burned.
- ``DeviceRegistry``: one ERC-721 NFT per device, with its signer, kind and capacity [W]; the
  NFT's current owner earns the device's rewards (a transfer moves every future reward). A
  revoked device stays an NFT but is no longer active. A device signs each upload of its
  readings with EIP-712 (:mod:`settlement.depin.uploads`); ``verifyUpload`` checks one on-chain.
- ``Rewards``: per epoch, (a) ``distribute``: one batch mint to each device's owner (cheapest,
  up to about 600 devices a block), or (b) ``commit_epoch`` of a Merkle root of the rewards
  (:func:`settlement.depin.rewards.reward_leaves`), then ``claim`` per device or ``claim_many``
  (one :func:`~settlement.chain.merkle.multiproof` a chunk, any fleet size;
  ``commit_and_claim`` does both).

Amounts are integers [token base units]. The contracts are deployed, called and sent to through
the chain's public API only (:class:`~settlement.chain.node.Node`: one sending and signing path,
a locally held operator key works); a revert raises
:class:`~settlement.chain.errors.TransactionRevertedError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from settlement.chain.artifacts import load_artifact
from settlement.chain.connection import Chain
from settlement.chain.errors import ChainError
from settlement.depin.reward_payments import RewardPayments

DEPIN_CONTRACTS = ("RewardToken", "DeviceRegistry", "Rewards")
"""The contracts :meth:`DepinContracts.deploy` deploys, in order."""

REWARD_DECIMALS = 6
"""``RewardToken.decimals()``: one token is 10**6 base units."""

#: Rewards' epoch cap when none is given [base units]: 10**12 tokens.
DEFAULT_EPOCH_CAP = 10**18
_DEPLOY_GAS = 6_000_000
# Gas bounds per call (base + per item), measured on eth-tester with room to spare.
_REGISTER_GAS = (60_000, 120_000)
_SIMPLE_GAS = 120_000


class DepinContracts(RewardPayments):
    """RewardToken, DeviceRegistry and Rewards on ``chain``, deployed on first use.

    Parameters
    ----------
    chain : Chain
        The chain (embedded or RPC); its operator deploys and holds REGISTRAR (DeviceRegistry)
        and DISTRIBUTOR (Rewards), and DEFAULT_ADMIN of both until :meth:`hand_over`.
    addresses : mapping of str to str, optional
        Attach to deployed contracts ({"RewardToken": …, "DeviceRegistry": …, "Rewards": …}).
    epoch_cap : int
        The most one epoch may pay [base units].
    royalty_receiver : str, optional
        Who every device's ERC-2981 royalty is paid to (the installer or the treasury);
        None: the operator (with ``royalty_bps`` 0, nobody is paid anything).
    royalty_bps : int
        The royalty [basis points of a sale's price], 0..10000.
    """

    def __init__(
        self,
        chain: Chain,
        addresses: Mapping[str, str] | None = None,
        *,
        epoch_cap: int = DEFAULT_EPOCH_CAP,
        royalty_receiver: str | None = None,
        royalty_bps: int = 0,
    ) -> None:
        self.chain = chain
        #: The most one epoch may pay [base units] (Rewards' cap, set at deployment).
        self.epoch_cap = epoch_cap
        #: Who DeviceRegistry's ERC-2981 royalty pays (None: the operator) and how much
        #: [basis points of a sale's price, 0..10000], set at deployment.
        self.royalty_receiver = royalty_receiver
        self.royalty_bps = royalty_bps
        self._artifacts = {name: load_artifact(name) for name in DEPIN_CONTRACTS}
        self._contracts: dict[str, Contract] = {}
        if addresses is not None:
            if missing := set(DEPIN_CONTRACTS) - set(addresses):
                raise ChainError(f"addresses lack {sorted(missing)}")
            self._contracts = {
                name: chain.attach(self._artifacts[name], addresses[name])
                for name in DEPIN_CONTRACTS
            }

    def deploy(self) -> dict[str, str]:
        """Deploy DeviceRegistry and Rewards (which deploys RewardToken, its own), once."""
        if not self._contracts:
            chain, artifacts, operator = self.chain, self._artifacts, self.chain.operator
            receiver = Web3.to_checksum_address(self.royalty_receiver or operator)
            registry = chain.deploy_contract(
                artifacts["DeviceRegistry"],
                operator,
                receiver,
                int(self.royalty_bps),
                gas=_DEPLOY_GAS,
            )
            args = (registry.address, operator, operator, int(self.epoch_cap))
            rewards = chain.deploy_contract(artifacts["Rewards"], *args, gas=_DEPLOY_GAS)
            token = chain.attach(artifacts["RewardToken"], chain.call(rewards, "token"))
            self._contracts = {"RewardToken": token, "DeviceRegistry": registry, "Rewards": rewards}
        return {name: str(c.address) for name, c in self._contracts.items()}

    def hand_over(self, admin: str) -> None:
        """Give DEFAULT_ADMIN of DeviceRegistry and Rewards to ``admin`` (a timelock); the
        operator renounces it and keeps REGISTRAR and DISTRIBUTOR."""
        contracts = [self.contract("DeviceRegistry"), self.contract("Rewards")]
        self.chain.hand_over_admin(contracts, admin)

    @property
    def addresses(self) -> dict[str, str]:
        """{"DeviceRegistry": address, "Rewards": address, "RewardToken": address}."""
        return self.deploy()

    def manifest(self) -> dict[str, str]:
        """What a run's manifest records: the three contracts' addresses."""
        return self.addresses

    def contract(self, name: str) -> Contract:
        """The web3 contract object of ``name`` (one of :data:`DEPIN_CONTRACTS`); deploys first."""
        self.deploy()
        return self._contracts[name]

    def register_devices(
        self,
        device_ids: Sequence[int],
        owners: Sequence[str],
        signers: Sequence[str],
        kinds: Sequence[int],
        capacities_w: Sequence[int],
        *,
        chunk: int = 120,
    ) -> list[TxReceipt]:
        """Register devices with ``registerBatch`` (REGISTRAR_ROLE), ``chunk`` per transaction.

        Parameters
        ----------
        device_ids : sequence of int
            The devices' ids (their NFTs' token ids); small consecutive integers keep the
            claimed bitmap of Rewards compact.
        owners, signers : sequence of str
            Who receives each device's NFT (and so its rewards); its signing key's address.
        kinds, capacities_w : sequence of int
            Each device's kind code in ``[0, 256)``; its nameplate power [W] in ``[0, 2**32)``.
        chunk : int
            Devices per transaction, about 96,000 gas each: 120 stay below half a 30 M gas
            block, so a long registration never raises the base fee above the gas price.
            Returns one receipt per transaction, in order.
        """
        n = len(device_ids)
        if not n == len(owners) == len(signers) == len(kinds) == len(capacities_w):
            raise ValueError("device_ids, owners, signers, kinds and capacities_w differ in length")
        receipts = []
        for start in range(0, n, chunk):
            part = slice(start, start + chunk)
            ids = [int(d) for d in device_ids[part]]
            args: list[Any] = [
                ids,
                [Web3.to_checksum_address(a) for a in owners[part]],
                [Web3.to_checksum_address(a) for a in signers[part]],
                [int(k) for k in kinds[part]],
                [int(c) for c in capacities_w[part]],
            ]
            gas = self._gas(_REGISTER_GAS, len(ids))
            receipts.append(self._transact("DeviceRegistry", "registerBatch", args, gas=gas))
        return receipts

    def open_genesis(
        self, genesis_minter: str, cap: int, *, sender: str | None = None
    ) -> TxReceipt:
        """Let ``genesis_minter`` (DeviceStaking) mint the token's genesis allocation once, at
        most ``cap`` [base units] (``Rewards.openGenesis``: DEFAULT_ADMIN_ROLE, once ever)."""
        args = [Web3.to_checksum_address(genesis_minter), int(cap)]
        return self._transact("Rewards", "openGenesis", args, gas=_SIMPLE_GAS, sender=sender)

    def revoke(self, device_id: int, *, sender: str | None = None) -> TxReceipt:
        """Revoke ``device_id`` (REGISTRAR_ROLE): its uploads no longer verify, it earns nothing."""
        return self._transact(
            "DeviceRegistry", "revoke", [int(device_id)], gas=_SIMPLE_GAS, sender=sender
        )

    def transfer_device(
        self,
        device_id: int,
        to: str,
        *,
        owner_key: bytes | str | None = None,
        sender: str | None = None,
    ) -> TxReceipt:
        """Move device ``device_id``'s NFT (and its future rewards) from its owner to ``to``.

        The owner (or an approved ``sender``) sends ``transferFrom``: signed here with
        ``owner_key`` (the owner's account must hold ether for gas), else sent from ``sender``
        (default: the owner), an unlocked account of the node.
        """
        owner = self.owner_of(device_id)
        args = [owner, Web3.to_checksum_address(to), int(device_id)]
        if owner_key is not None:
            return self._transact(
                "DeviceRegistry", "transferFrom", args, gas=_SIMPLE_GAS, key=owner_key
            )
        source = owner if sender is None else sender
        return self._transact(
            "DeviceRegistry", "transferFrom", args, gas=_SIMPLE_GAS, sender=source
        )

    def royalty_info(self, device_id: int, price: int) -> tuple[str, int]:
        """ERC-2981 ``royaltyInfo``: (receiver, royalty [base units]) of a sale at ``price``."""
        receiver, royalty = self._call("DeviceRegistry", "royaltyInfo", int(device_id), int(price))
        return str(receiver), int(royalty)

    def signer_of(self, device_id: int) -> str:
        """The signer of ``device_id`` (the zero address if it is not registered)."""
        return str(self._call("DeviceRegistry", "signerOf", int(device_id)))

    def is_active(self, device_id: int) -> bool:
        """Whether ``device_id`` is registered and not revoked."""
        return bool(self._call("DeviceRegistry", "isActive", int(device_id)))

    def owner_of(self, device_id: int) -> str:
        """The current owner of ``device_id``'s NFT (the zero address if not registered)."""
        return self.device_info(device_id)[0]

    def device_info(self, device_id: int) -> tuple[str, str, int, int, bool]:
        """(owner, signer, kind, capacity [W], active) of ``device_id``; all zero if unknown."""
        info = self._call("DeviceRegistry", "deviceInfo", int(device_id))
        owner, signer, kind, capacity_w, active = info
        return str(owner), str(signer), int(kind), int(capacity_w), bool(active)

    def upload_digest(self, device_id: int, period: int, readings_root: bytes, nonce: int) -> bytes:
        """The EIP-712 digest of one upload, as the registry computes it (32 bytes)."""
        args = (int(device_id), int(period), bytes(readings_root), int(nonce))
        return bytes(self._call("DeviceRegistry", "uploadDigest", *args))

    def verify_upload(
        self, device_id: int, period: int, readings_root: bytes, nonce: int, signature: bytes
    ) -> bool:
        """Whether the registry accepts ``signature`` (65 bytes) of this upload.

        True iff it recovers to the device's registered signer under this chain's id and this
        registry's address, and the device is active. Replays are the caller's to reject.
        """
        args = (int(device_id), int(period), bytes(readings_root), int(nonce), bytes(signature))
        return bool(self._call("DeviceRegistry", "verifyUpload", *args))

    def _gas(self, bound: tuple[int, int], items: int) -> int:
        base, per_item = bound
        return min(base + per_item * items, self.block_gas_limit)

    def _call(self, name: str, function: str, *args: Any) -> Any:
        return self.chain.call(self.contract(name), function, *args)

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
        contract = self.contract(name)
        return self.chain.transact(contract, function, args, gas=gas, sender=sender, key=key)
