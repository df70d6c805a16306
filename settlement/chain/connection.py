"""The chain the market settles on, through web3.py: embedded eth-tester, or any JSON-RPC node.

:meth:`Chain.embedded` runs py-evm in-process (eth-tester), so a run needs no server;
:meth:`Chain.connect` talks to any JSON-RPC URL (anvil, a testnet) with the node's unlocked
dev accounts or a given private key. Both deploy gridtwin's contracts on first use from the
committed artifacts in ``settlement/chain/contracts/artifacts`` (ABI + bytecode: no Node, no solc).

The operator account deploys the contracts and holds every role: DEFAULT_ADMIN, MINTER
(EnergyCredit), SETTLER and PAUSER (Settlement). Amounts are integers: one EnergyCredit base
unit is one micro-euro. Sending and waiting are separate, so a journal can record a hash
before its receipt exists; a bad batch reverts on-chain and :meth:`Chain.wait_receipt` raises
:class:`TransactionRevertedError` with the contract's decoded error.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast

from eth_abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys import keys
from eth_typing import ChecksumAddress
from eth_utils import function_signature_to_4byte_selector
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound
from web3.types import BlockIdentifier, TxParams, TxReceipt

from settlement.chain.merkle import keccak256

ARTIFACTS_DIR = Path(__file__).resolve().parent / "contracts" / "artifacts"
"""Where ``make contracts`` writes the committed ABI + bytecode artifacts."""

CONTRACTS = ("EnergyCredit", "Settlement")
"""The contracts :meth:`Chain.deploy` deploys, in order."""

_DEPLOY_GAS = 4_000_000
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class ChainError(RuntimeError):
    """The chain cannot be reached or did not do what was asked."""


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


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: its ABI and creation bytecode (``0x``-prefixed hex)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str


class BatchRecord(NamedTuple):
    """What ``Settlement.batch(batchId)`` stores; ``committed_block`` 0 = not committed."""

    trades_root: bytes
    trade_count: int
    energy_wh: int
    committed_block: int


def load_artifact(name: str, directory: Path = ARTIFACTS_DIR) -> Artifact:
    """Read the artifact ``<directory>/<name>.json`` written by ``make contracts``."""
    path = directory / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ChainError(f"{path}: no contract artifact (run `make contracts`)") from exc
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"])


def participant_private_key(owner: str, seed: int) -> bytes:
    """The 32-byte secp256k1 key of participant ``owner``: keccak256(tag, ``seed``, ``owner``).

    Deterministic (same owner and run seed in ``[0, 2**256)``: same key, on every chain) and
    distinct per owner. For simulation only: anyone who knows the seed knows the keys.
    """
    key = keccak256(b"gridtwin.participant" + seed.to_bytes(32, "big") + owner.encode())
    while not 0 < int.from_bytes(key, "big") < _SECP256K1_N:  # pragma: no cover - p ~ 2**-128
        key = keccak256(key)
    return key


def participant_addresses(owners: Sequence[str], seed: int) -> list[str]:
    """The checksummed address of each owner's :func:`participant_private_key`."""
    return [
        keys.PrivateKey(participant_private_key(owner, seed)).public_key.to_checksum_address()
        for owner in owners
    ]


def _error_selectors(artifacts: Sequence[Artifact]) -> dict[bytes, tuple[str, list[str]]]:
    """4-byte selector -> (name, argument types) of every custom error in ``artifacts``."""
    selectors: dict[bytes, tuple[str, list[str]]] = {
        bytes.fromhex("08c379a0"): ("Error", ["string"]),
        bytes.fromhex("4e487b71"): ("Panic", ["uint256"]),
    }
    for artifact in artifacts:
        for item in artifact.abi:
            if item["type"] == "error":
                types = [arg["type"] for arg in item["inputs"]]
                signature = f"{item['name']}({','.join(types)})"
                selectors[function_signature_to_4byte_selector(signature)] = (item["name"], types)
    return selectors


def _revert_data(exc: Exception) -> bytes | None:
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


class Chain:
    """A connection to a chain with gridtwin's contracts, deployed on first use.

    Build one with :meth:`embedded` or :meth:`connect`. ``kind`` is "embedded" or "rpc";
    ``operator`` deploys, mints, settles and pauses; with ``account`` (its key) transactions are
    signed here, else by the node (an unlocked account); ``addresses`` attaches to contracts
    already deployed ({"EnergyCredit": …, "Settlement": …}) instead of deploying new ones.
    """

    def __init__(
        self,
        w3: Web3,
        *,
        kind: Literal["embedded", "rpc"],
        operator: str,
        account: LocalAccount | None = None,
        rpc_url: str | None = None,
        addresses: Mapping[str, str] | None = None,
    ) -> None:
        self.w3 = w3
        self.kind = kind
        self.operator = Web3.to_checksum_address(operator)
        self.rpc_url = rpc_url
        self._account = account
        #: The operator's key, when transactions are signed here.
        self.account = account
        self._artifacts = {name: load_artifact(name) for name in CONTRACTS}
        self._errors = _error_selectors(list(self._artifacts.values()))
        self._contracts: dict[str, Contract] = {}
        if addresses is not None:
            missing = set(CONTRACTS) - set(addresses)
            if missing:
                raise ChainError(f"addresses lack {sorted(missing)}")
            self._contracts = {name: self._at(name, addresses[name]) for name in CONTRACTS}

    @classmethod
    def embedded(cls) -> Chain:
        """A fresh in-process chain (eth-tester + py-evm); its first dev account operates."""
        from eth_tester import EthereumTester, PyEVMBackend

        backend = PyEVMBackend()
        w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
        account = Account.from_key(backend.account_keys[0].to_bytes())
        return cls(w3, kind="embedded", operator=account.address, account=account)

    @classmethod
    def connect(
        cls,
        rpc_url: str,
        *,
        private_key: str | bytes | None = None,
        addresses: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
    ) -> Chain:
        """Connect to the JSON-RPC node at ``rpc_url`` (e.g. ``http://127.0.0.1:8545``).

        The operator is ``private_key``'s account (transactions signed here), else the node's
        first unlocked account; ``addresses`` attaches to deployed contracts;
        ``timeout_s`` bounds one request [s].
        """
        w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        if not w3.is_connected():
            raise ChainError(f"no JSON-RPC node answers at {rpc_url}")
        account: LocalAccount | None = None
        if private_key is not None:
            account = Account.from_key(private_key)
            operator = account.address
        else:
            accounts = w3.eth.accounts
            if not accounts:
                raise ChainError(f"{rpc_url} has no unlocked account: give a private key")
            operator = accounts[0]
        return cls(
            w3, kind="rpc", operator=operator, account=account, rpc_url=rpc_url, addresses=addresses
        )

    @cached_property
    def chain_id(self) -> int:
        """The chain id (EIP-155)."""
        return int(self.w3.eth.chain_id)

    @property
    def addresses(self) -> dict[str, str]:
        """{"EnergyCredit": address, "Settlement": address}; deploys on first use."""
        self.deploy()
        return {name: str(contract.address) for name, contract in self._contracts.items()}

    def manifest(self) -> dict[str, Any]:
        """What a run's manifest records: kind, chain id, RPC URL and contract addresses."""
        return {key: getattr(self, key) for key in ("kind", "chain_id", "rpc_url", "addresses")}

    participant_addresses = staticmethod(participant_addresses)

    def deploy(self) -> dict[str, str]:
        """Deploy EnergyCredit and Settlement and grant Settlement the settlement role, once."""
        if self._contracts:
            return {name: str(c.address) for name, c in self._contracts.items()}
        credit_address = self._deploy("EnergyCredit", self.operator)
        settlement_address = self._deploy("Settlement", credit_address, self.operator)
        credit = self._at("EnergyCredit", credit_address)
        settlement = self._at("Settlement", settlement_address)
        self._contracts = {"EnergyCredit": credit, "Settlement": settlement}
        role = credit.functions.SETTLEMENT_ROLE().call()
        self._transact("EnergyCredit", "grantRole", [role, settlement_address])
        return self.addresses

    def gas_price(self) -> int:
        """A legacy gas price the next block accepts: the node's, at least twice the base fee."""
        base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
        return max(int(self.w3.eth.gas_price), 2 * int(base))

    def next_nonce(self, sender: str | None = None) -> int:
        """The nonce the next transaction of ``sender`` (default: the operator) will use."""
        return int(self.w3.eth.get_transaction_count(self._sender(sender), "pending"))

    def mint_credits(
        self, addresses: Sequence[str], amount_each: int, *, chunk: int = 400
    ) -> list[TxReceipt]:
        """Mint ``amount_each`` base units [micro-euro] to each address (MINTER_ROLE).

        One transaction per ``chunk`` addresses; waits for each receipt.
        """
        receipts = []
        credit = self.contract("EnergyCredit")
        for start in range(0, len(addresses), chunk):
            part = [Web3.to_checksum_address(a) for a in addresses[start : start + chunk]]
            data = credit.encode_abi("mintBatch", args=[part, int(amount_each)])
            gas = 80_000 + 35_000 * len(part)
            receipts.append(self.wait_receipt(self._send(credit.address, data, gas=gas)))
        return receipts

    def send_commit_batch(
        self,
        batch_id: int,
        trades_root: bytes,
        trade_count: int,
        energy_wh: int,
        accounts: Sequence[str],
        net_amounts: Sequence[int],
        *,
        nonce: int | None = None,
        sender: str | None = None,
        gas: int | None = None,
    ) -> str:
        """Send ``Settlement.commitBatch`` and return its hash at once (no receipt).

        Parameters
        ----------
        batch_id : int
            The batch; a second commit of one id reverts.
        trades_root : bytes
            The 32-byte Merkle root of the batch's trade leaves (:mod:`settlement.chain.merkle`).
        trade_count : int
            Number of trades in the batch.
        energy_wh : int
            Energy traded in the batch [Wh].
        accounts : sequence of str
            Accounts with a non-zero net payment.
        net_amounts : sequence of int
            Net payment per account [micro-euro]: negative pays, positive receives; sum zero.
        nonce : int, optional
            The nonce to use (e.g. the one journaled before a crash); default: the next one.
        sender : str, optional
            Another unlocked account of the node to send from (default: the operator).
        gas : int, optional
            Gas limit; default a bound that covers every account being a new holder.

        Returns
        -------
        str
            The transaction hash, ``0x``-prefixed hex.
        """
        settlement = self.contract("Settlement")
        args = [
            int(batch_id),
            bytes(trades_root),
            int(trade_count),
            int(energy_wh),
            [Web3.to_checksum_address(a) for a in accounts],
            [int(x) for x in net_amounts],
        ]
        data = settlement.encode_abi("commitBatch", args=args)
        gas = gas if gas is not None else 150_000 + 40_000 * len(accounts)
        return self._send(settlement.address, data, gas=gas, nonce=nonce, sender=sender)

    def wait_receipt(
        self, tx_hash: str, *, timeout_s: float = 120.0, check: bool = True
    ) -> TxReceipt:
        """Wait up to ``timeout_s`` [s] for the receipt of ``tx_hash``.

        With ``check``, a reverted transaction (status 0) raises
        :class:`TransactionRevertedError` with the contract's decoded error.
        """
        receipt = self.w3.eth.wait_for_transaction_receipt(
            HexBytes(tx_hash), timeout=timeout_s, poll_latency=0.02
        )
        if check and receipt["status"] != 1:
            raise TransactionRevertedError(receipt, self._replay_error(receipt))
        return receipt

    def get_receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt of ``tx_hash`` if mined, else None (no wait): for reconciling a journal."""
        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def pause(self, *, sender: str | None = None) -> TxReceipt:
        """Pause Settlement: commits revert until :meth:`unpause` (PAUSER_ROLE)."""
        return self._transact("Settlement", "pause", [], sender=sender)

    def unpause(self, *, sender: str | None = None) -> TxReceipt:
        """Resume commits (PAUSER_ROLE)."""
        return self._transact("Settlement", "unpause", [], sender=sender)

    def block_number(self) -> int:
        """The latest block's number (for counting confirmations)."""
        return int(self.w3.eth.block_number)

    def batch_root(self, batch_id: int) -> bytes:
        """The committed trades root of ``batch_id`` (32 zero bytes if none)."""
        return bytes(self._call("Settlement", "batchRoot", int(batch_id)))

    def batch(self, batch_id: int) -> BatchRecord:
        """The whole on-chain record of ``batch_id``."""
        root, count, energy, block = self._call("Settlement", "batch", int(batch_id))
        return BatchRecord(bytes(root), int(count), int(energy), int(block))

    def verify_trade(self, batch_id: int, leaf: bytes, proof: Sequence[bytes]) -> bool:
        """Whether the contract accepts ``proof`` of ``leaf`` in batch ``batch_id``."""
        proof_ = [bytes(p) for p in proof]
        return bool(self._call("Settlement", "verifyTrade", int(batch_id), bytes(leaf), proof_))

    def trade_leaf(
        self,
        batch_id: int,
        trade_id: int,
        seller: str,
        buyer: str,
        energy_wh: int,
        payment_micro_eur: int,
    ) -> bytes:
        """The leaf of one trade as the contract computes it (``Settlement.tradeLeaf``)."""
        parties = [Web3.to_checksum_address(seller), Web3.to_checksum_address(buyer)]
        amounts = [int(energy_wh), int(payment_micro_eur)]
        return bytes(
            self._call("Settlement", "tradeLeaf", int(batch_id), int(trade_id), *parties, *amounts)
        )

    def balance_of(self, address: str) -> int:
        """EnergyCredit balance of ``address`` [micro-euro]."""
        return int(self._call("EnergyCredit", "balanceOf", Web3.to_checksum_address(address)))

    def total_supply(self) -> int:
        """EnergyCredit total supply [micro-euro]."""
        return int(self._call("EnergyCredit", "totalSupply"))

    def paused(self) -> bool:
        """Whether Settlement is paused."""
        return bool(self._call("Settlement", "paused"))

    def contract(self, name: str) -> Contract:
        """The web3 contract object of ``name`` ("EnergyCredit", "Settlement"); deploys first."""
        self.deploy()
        return self._contracts[name]

    def _call(self, name: str, function: str, *args: Any) -> Any:
        return self.contract(name).get_function_by_name(function)(*args).call()

    def _transact(
        self, name: str, function: str, args: list[Any], *, sender: str | None = None
    ) -> TxReceipt:
        contract = self.contract(name)
        data = contract.encode_abi(function, args=args)
        return self.wait_receipt(self._send(contract.address, data, gas=100_000, sender=sender))

    def _at(self, name: str, address: str) -> Contract:
        artifact = self._artifacts[name]
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)

    def _deploy(self, name: str, *args: Any) -> str:
        artifact = self._artifacts[name]
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = factory.constructor(*args).data_in_transaction
        receipt = self.wait_receipt(self._send(None, data, gas=_DEPLOY_GAS))
        address = receipt["contractAddress"]
        if address is None:  # pragma: no cover - a successful creation always has one
            raise ChainError(f"deploying {name} gave no contract address")
        return str(address)

    def _sender(self, sender: str | None) -> ChecksumAddress:
        return self.operator if sender is None else Web3.to_checksum_address(sender)

    def _send(
        self,
        to: str | None,
        data: str,
        *,
        gas: int,
        nonce: int | None = None,
        sender: str | None = None,
    ) -> str:
        """Send a transaction from ``sender``: signed here with the operator's key, if held."""
        source = self._sender(sender)
        tx: dict[str, Any] = {"from": source, "data": data, "gas": gas, "value": 0}
        tx["gasPrice"] = self.gas_price()
        if to is not None:
            tx["to"] = to
        if nonce is not None:
            tx["nonce"] = nonce
        if self._account is not None and source == self.operator:
            if nonce is None:
                tx["nonce"] = self.w3.eth.get_transaction_count(source, "pending")
            tx["chainId"] = self.chain_id
            signed = self._account.sign_transaction(tx)
            return HexBytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)).to_0x_hex()
        return HexBytes(self.w3.eth.send_transaction(cast(TxParams, tx))).to_0x_hex()

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
                data = _revert_data(exc)
                if data is not None:
                    return self._decode_error(data) + note
                first_error = first_error or str(exc)
            else:
                break
        return first_error or f"out of gas, or the state changed (block {receipt['blockNumber']})"

    def _decode_error(self, data: bytes) -> str:
        """``Name(arg, …)`` of a revert payload, from the contracts' ABIs."""
        known = self._errors.get(data[:4])
        if known is None:
            return f"unknown error 0x{data.hex()}"
        name, types = known
        values = abi_decode(types, data[4:])
        shown = [HexBytes(v).to_0x_hex() if isinstance(v, bytes) else str(v) for v in values]
        return f"{name}({', '.join(shown)})"
