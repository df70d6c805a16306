"""The DePIN contracts on a :class:`~settlement.chain.connection.Chain`: devices, signed
uploads, rewards.

Three contracts (``settlement/chain/contracts/src``), deployed on first use by the chain's operator:

- ``RewardToken``: the ERC-20 devices earn, 6 decimals (one token = 10**6 base units, so a
  device's reward fits the int64 columns of the results store). Only ``Rewards`` holds its
  MINTER_ROLE, so its supply equals the rewards paid.
- ``DeviceRegistry``: one ERC-721 NFT per device, with its signer, kind and capacity [W]; the
  NFT's current owner earns the device's rewards (a transfer moves every future reward). A
  revoked device stays an NFT but is no longer active. A device signs each upload of its
  readings with EIP-712 (:func:`upload_typed_data`); ``verifyUpload`` checks one on-chain.
- ``Rewards``: per epoch, (a) ``distribute``: one batch mint to each device's owner (cheapest,
  up to about 600 devices a block), or (b) ``commit_epoch`` of a Merkle root of the rewards,
  then ``claim`` per device or ``claim_many`` (one multiproof a chunk, any fleet size;
  ``commit_and_claim`` does both).

Reward leaves follow OpenZeppelin's StandardMerkleTree (as :mod:`settlement.chain.merkle`):
``keccak256(keccak256(abi.encode(uint256 epoch, uint256 deviceId, uint256 amount)))``. Amounts
are integers [token base units]. Transactions go through the chain's sending path (a locally
held operator key works); a revert raises
:class:`~settlement.chain.connection.TransactionRevertedError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, NamedTuple

from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from settlement.chain.connection import Chain, ChainError, _error_selectors, load_artifact
from settlement.chain.merkle import keccak256, merkle_tree

DEPIN_CONTRACTS = ("RewardToken", "DeviceRegistry", "Rewards")
"""The contracts :meth:`DepinContracts.deploy` deploys, in order."""

REWARD_DECIMALS = 6
"""``RewardToken.decimals()``: one token is 10**6 base units."""

UPLOAD_DOMAIN_NAME = "gridtwin DeviceRegistry"
UPLOAD_DOMAIN_VERSION = "1"
_UPLOAD = [("deviceId", "uint256"), ("period", "uint64"), ("readingsRoot", "bytes32")]
UPLOAD_TYPES = {"Upload": [{"name": n, "type": t} for n, t in [*_UPLOAD, ("nonce", "uint64")]]}
"""The EIP-712 struct a device signs per upload: ``Upload(uint256 deviceId,uint64 period,
bytes32 readingsRoot,uint64 nonce)`` (``DeviceRegistry.UPLOAD_TYPEHASH``)."""

_DEPLOY_GAS = 6_000_000
# Gas bounds per call (base + per item), measured on eth-tester with room to spare.
_REGISTER_GAS = (60_000, 120_000)
_DISTRIBUTE_GAS = (120_000, 45_000)
_CLAIM_GAS = (150_000, 2_000)  # per proof hash
_CLAIM_MANY_GAS = (150_000, 50_000)
_SIMPLE_GAS = 120_000


class EpochRecord(NamedTuple):
    """``Rewards.epochRecord``: amounts [base units]; zero rewards root for (a); block 0: none."""

    readings_root: bytes
    rewards_root: bytes
    total: int
    paid: int
    committed_block: int


def upload_typed_data(
    chain_id: int,
    registry: str,
    device_id: int,
    period: int,
    readings_root: bytes,
    nonce: int,
) -> dict[str, Any]:
    """The EIP-712 message of one upload, for ``eth_account``'s ``full_message=`` argument.

    Parameters
    ----------
    chain_id : int
        The chain's id (EIP-155): a signature for another chain does not verify.
    registry : str
        The DeviceRegistry's address (the domain's ``verifyingContract``).
    device_id, period, nonce : int
        The device (its NFT's token id), the upload period's index and the device's upload
        counter; period and nonce in ``[0, 2**64)``.
    readings_root : bytes
        32-byte Merkle root of the period's readings.

    Returns
    -------
    dict
        ``types``, ``primaryType``, ``domain`` and ``message`` of the typed data.
    """
    fields = [("name", "string"), ("version", "string"), ("chainId", "uint256")]
    fields.append(("verifyingContract", "address"))
    domain_type = [{"name": name, "type": kind} for name, kind in fields]
    return {
        "types": {"EIP712Domain": domain_type, **UPLOAD_TYPES},
        "primaryType": "Upload",
        "domain": {
            "name": UPLOAD_DOMAIN_NAME,
            "version": UPLOAD_DOMAIN_VERSION,
            "chainId": int(chain_id),
            "verifyingContract": Web3.to_checksum_address(registry),
        },
        "message": {
            "deviceId": int(device_id),
            "period": int(period),
            "readingsRoot": bytes(readings_root),
            "nonce": int(nonce),
        },
    }


def reward_leaves(epoch: int, device_ids: Sequence[int], amounts: Sequence[int]) -> list[bytes]:
    """The Merkle leaves of an epoch's rewards, as ``Rewards.rewardLeaf`` computes them.

    Parameters
    ----------
    epoch : int
        The epoch.
    device_ids, amounts : sequence of int
        One device and its reward [token base units] per leaf; all integers in ``[0, 2**256)``.

    Returns
    -------
    list of bytes
        One 32-byte leaf per device, in the order given.
    """
    if len(device_ids) != len(amounts):
        raise ValueError(f"{len(device_ids)} device ids but {len(amounts)} amounts")
    head = int(epoch).to_bytes(32, "big")
    return [
        keccak256(keccak256(head + int(d).to_bytes(32, "big") + int(a).to_bytes(32, "big")))
        for d, a in zip(device_ids, amounts, strict=True)
    ]


def multiproof(tree: Sequence[bytes], indices: Sequence[int]) -> tuple[list[bytes], list[bool]]:
    """A multiproof of leaves ``indices`` in ``tree``, as OpenZeppelin's ``getMultiProof``.

    Parameters
    ----------
    tree : sequence of bytes
        The flat tree of :func:`settlement.chain.merkle.merkle_tree`.
    indices : sequence of int
        Distinct leaf positions; ``MerkleProof.multiProofVerify`` then takes their leaves in
        ascending position order.

    Returns
    -------
    proof, proof_flags : list of bytes, list of bool
        The sibling hashes the leaves do not provide; per hashing step, True to take the next
        hash from the leaves and computed hashes, False to take it from ``proof``.
    """
    n = (len(tree) + 1) // 2
    if not indices or len(set(indices)) != len(indices):
        raise ValueError("a multiproof needs distinct leaf indices, at least one")
    if not all(0 <= i < n for i in indices):
        raise IndexError(f"leaf index out of range for {n} leaves")
    stack = sorted((len(tree) - 1 - i for i in indices), reverse=True)
    proof, flags = list[bytes](), list[bool]()
    head = 0  # a queue: stack[head:] are the nodes still to hash
    while head < len(stack) and stack[head] > 0:
        j = stack[head]
        head += 1
        sibling = j + 1 if j % 2 else j - 1
        if head < len(stack) and stack[head] == sibling:
            flags.append(True)
            head += 1
        else:
            flags.append(False)
            proof.append(tree[sibling])
        stack.append((j - 1) // 2)
    return proof, flags


class DepinContracts:
    """RewardToken, DeviceRegistry and Rewards on ``chain``, deployed on first use.

    Parameters
    ----------
    chain : Chain
        The chain (embedded or RPC); its operator deploys and holds every role: DEFAULT_ADMIN
        of the three contracts, REGISTRAR (DeviceRegistry) and DISTRIBUTOR (Rewards).
    addresses : mapping of str to str, optional
        Attach to deployed contracts ({"RewardToken": …, "DeviceRegistry": …, "Rewards": …}).
    """

    def __init__(self, chain: Chain, addresses: Mapping[str, str] | None = None) -> None:
        self.chain = chain
        self._artifacts = {name: load_artifact(name) for name in DEPIN_CONTRACTS}
        # Chain decodes revert payloads from a selector table that knows only its own
        # contracts; teach it ours (and OpenZeppelin's errors that they inherit).
        chain._errors.update(_error_selectors(list(self._artifacts.values())))
        self._contracts: dict[str, Contract] = {}
        if addresses is not None:
            if missing := set(DEPIN_CONTRACTS) - set(addresses):
                raise ChainError(f"addresses lack {sorted(missing)}")
            self._contracts = {name: self._at(name, addresses[name]) for name in DEPIN_CONTRACTS}

    def deploy(self) -> dict[str, str]:
        """Deploy the three contracts and grant Rewards the token's MINTER_ROLE, once."""
        if not self._contracts:
            operator = self.chain.operator
            token = self._deploy("RewardToken", operator)
            registry = self._deploy("DeviceRegistry", operator)
            rewards = self._deploy("Rewards", token, registry, operator)
            contracts = {"RewardToken": token, "DeviceRegistry": registry, "Rewards": rewards}
            self._contracts = {name: self._at(name, a) for name, a in contracts.items()}
            role = self._contracts["RewardToken"].functions.MINTER_ROLE().call()
            self._transact("RewardToken", "grantRole", [role, rewards], gas=_SIMPLE_GAS)
        return {name: str(c.address) for name, c in self._contracts.items()}

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

    @cached_property
    def block_gas_limit(self) -> int:
        """The latest block's gas limit: no transaction's gas bound exceeds it."""
        return int(self.chain.w3.eth.get_block("latest")["gasLimit"])

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
        registry = self.contract("DeviceRegistry")
        owner = self.owner_of(device_id)
        args = [owner, Web3.to_checksum_address(to), int(device_id)]
        data = registry.encode_abi("transferFrom", args=args)
        if owner_key is None:
            source = owner if sender is None else sender
            tx_hash = self.chain._send(registry.address, data, gas=_SIMPLE_GAS, sender=source)
            return self.chain.wait_receipt(tx_hash)
        account, w3 = Account.from_key(owner_key), self.chain.w3
        tx: dict[str, Any] = {"to": registry.address, "data": data, "gas": _SIMPLE_GAS}
        tx |= {"gasPrice": self.chain.gas_price(), "chainId": self.chain.chain_id, "value": 0}
        tx["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
        signed = account.sign_transaction(tx)
        tx_hash = HexBytes(w3.eth.send_raw_transaction(signed.raw_transaction)).to_0x_hex()
        return self.chain.wait_receipt(tx_hash)

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

    def distribute(
        self,
        epoch: int,
        readings_root: bytes,
        device_ids: Sequence[int],
        amounts: Sequence[int],
        *,
        sender: str | None = None,
    ) -> TxReceipt:
        """(a) Pay epoch ``epoch`` in one batch mint (DISTRIBUTOR_ROLE); once per epoch.

        Each device's ``amounts[i]`` [base units] goes to its NFT's current owner; sent sorted
        by id, as the contract takes each device once, ascending. Leave out devices that earn
        nothing (each costs gas). About 11,500 gas a device whose owner holds tokens already,
        29,000 for a first-time holder: past about 600 devices the block gas limit calls for
        :meth:`commit_and_claim`.
        """
        pairs = sorted(zip(map(int, device_ids), map(int, amounts), strict=True))
        args = [int(epoch), bytes(readings_root), [d for d, _ in pairs], [a for _, a in pairs]]
        gas = self._gas(_DISTRIBUTE_GAS, len(device_ids))
        return self._transact("Rewards", "distribute", args, gas=gas, sender=sender)

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
        return self._transact("Rewards", "commitEpoch", args, gas=_SIMPLE_GAS, sender=sender)

    def claim(
        self,
        epoch: int,
        device_id: int,
        amount: int,
        proof: Sequence[bytes],
        *,
        sender: str | None = None,
    ) -> TxReceipt:
        """(b) Pay one device's reward of a committed epoch to its owner (anyone may send)."""
        args = [int(epoch), int(device_id), int(amount), [bytes(p) for p in proof]]
        gas = self._gas(_CLAIM_GAS, len(proof))
        return self._transact("Rewards", "claim", args, gas=gas, sender=sender)

    def claim_many(
        self,
        epoch: int,
        device_ids: Sequence[int],
        amounts: Sequence[int],
        proof: Sequence[bytes],
        proof_flags: Sequence[bool],
        *,
        sender: str | None = None,
    ) -> TxReceipt:
        """(b) Pay many devices of a committed epoch, one :func:`multiproof` (leaves ascending)."""
        args: list[Any] = [int(epoch), [int(d) for d in device_ids], [int(a) for a in amounts]]
        args += [[bytes(p) for p in proof], [bool(f) for f in proof_flags]]
        gas = self._gas(_CLAIM_MANY_GAS, len(device_ids))
        return self._transact("Rewards", "claimMany", args, gas=gas, sender=sender)

    def commit_and_claim(
        self,
        epoch: int,
        readings_root: bytes,
        device_ids: Sequence[int],
        amounts: Sequence[int],
        *,
        chunk: int = 400,
    ) -> list[TxReceipt]:
        """(b) for any fleet size: commit the rewards root, then :meth:`claim_many` by chunks.

        Devices are sorted by id, so each chunk is a run of consecutive leaves (a short
        multiproof) and of neighbouring bitmap bits; 400 (up to ~12.5 M gas) stay below half a
        30 M block. Returns the commit's receipt, then one receipt per chunk.
        """
        pairs = sorted(zip(map(int, device_ids), map(int, amounts), strict=True))
        ids, values = [d for d, _ in pairs], [a for _, a in pairs]
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

    def _call(self, name: str, function: str, *args: Any) -> Any:
        return self.contract(name).get_function_by_name(function)(*args).call()

    def _transact(
        self, name: str, function: str, args: list[Any], *, gas: int, sender: str | None = None
    ) -> TxReceipt:
        contract = self.contract(name)
        data = contract.encode_abi(function, args=args)
        return self.chain.wait_receipt(
            self.chain._send(contract.address, data, gas=gas, sender=sender)
        )

    def _at(self, name: str, address: str) -> Contract:
        abi = self._artifacts[name].abi
        return self.chain.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)

    def _deploy(self, name: str, *args: Any) -> str:
        artifact = self._artifacts[name]
        factory = self.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = factory.constructor(*args).data_in_transaction
        receipt = self.chain.wait_receipt(self.chain._send(None, data, gas=_DEPLOY_GAS))
        address = receipt["contractAddress"]
        if address is None:  # pragma: no cover - a successful creation always has one
            raise ChainError(f"deploying {name} gave no contract address")
        return str(address)
