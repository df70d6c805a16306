"""The chain the market settles on, through web3.py: embedded eth-tester, or any JSON-RPC node.

:meth:`Chain.embedded` runs py-evm in-process (eth-tester), so a run needs no server;
:meth:`Chain.connect` talks to any JSON-RPC URL (anvil, a testnet) with the node's unlocked
dev accounts or a given private key. Both deploy gridtwin's contracts on first use from the
committed artifacts in ``settlement/chain/contracts/artifacts`` (ABI + bytecode: no Node, no solc).

Keys and roles (:mod:`settlement.chain.roles`): the operator deploys and sets up, then hands
the admin over to a timelock and keeps only SETTLER and PAUSER of Settlement. Consent
(:mod:`settlement.chain.permits`): members' credits move only within the allowance each member
gives Settlement with its own key. :class:`Chain` has both as its parts.

Amounts are integers: one EnergyCredit base unit is one micro-euro. Transactions go through the
one sending and signing path of :class:`~settlement.chain.node.Node`: sending and waiting are
separate, so a journal can record a hash before its receipt exists; a bad batch reverts
on-chain and :meth:`Chain.wait_receipt` raises :class:`TransactionRevertedError` with the
contract's decoded error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, HTTPProvider, Web3
from web3.contract import Contract
from web3.types import TxReceipt

from settlement.chain.artifacts import load_artifact
from settlement.chain.batches import commit_gas
from settlement.chain.errors import ChainError
from settlement.chain.participants import participant_addresses
from settlement.chain.permits import MemberConsent
from settlement.chain.roles import DEPLOY_GAS, ROLE_GAS, Roles
from settlement.units import MicroEur

__all__ = ["CONTRACTS", "BatchRecord", "Chain", "ChainError", "commit_gas"]

CONTRACTS = ("EnergyCredit", "Settlement")
"""The contracts :meth:`Chain.deploy` deploys, in order."""

#: The embedded chain's genesis time [s since the Unix epoch]: 2100-01-01T00:00:00Z, later
#: than any wall clock it runs under, so py-evm's "the later of now and parent + 1 s" is
#: always parent + 1 s and the chain's clock does not depend on when it runs.
EMBEDDED_GENESIS_TIMESTAMP = 4_102_444_800

#: EnergyCredit's cap when none is given [micro-euro]: one billion euro.
DEFAULT_CREDIT_CAP = MicroEur(10**15)


class BatchRecord(NamedTuple):
    """What ``Settlement.batch(batchId)`` stores; ``committed_block`` 0 = not committed."""

    trades_root: bytes
    trade_count: int
    energy_wh: int
    committed_block: int


class Chain(Roles, MemberConsent):
    """A connection to a chain with gridtwin's contracts, deployed on first use.

    Build one with :meth:`embedded` or :meth:`connect`. ``kind`` is "embedded" or "rpc";
    ``operator`` deploys, mints, settles and pauses; with ``account`` (its key) transactions are
    signed here, else by the node (an unlocked account); ``addresses`` attaches to contracts
    already deployed ({"EnergyCredit": …, "Settlement": …}) instead of deploying new ones.
    :attr:`credit_cap` (set before the first use) caps EnergyCredit's supply [micro-euro].
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
        super().__init__(w3, kind=kind, operator=operator, account=account, rpc_url=rpc_url)
        self._artifacts = {name: load_artifact(name) for name in CONTRACTS}
        self._contracts: dict[str, Contract] = {}
        #: EnergyCredit's supply cap at deployment [micro-euro].
        self.credit_cap: int = DEFAULT_CREDIT_CAP
        if addresses is not None:
            missing = set(CONTRACTS) - set(addresses)
            if missing:
                raise ChainError(f"addresses lack {sorted(missing)}")
            self._contracts = {
                name: self.attach(self._artifacts[name], addresses[name]) for name in CONTRACTS
            }
            self.require_contracts()  # at connection: the addresses hold our contracts

    @classmethod
    def embedded(cls, *, block_gas_limit: int | None = None) -> Chain:
        """A fresh in-process chain (eth-tester + py-evm); its first dev account operates.

        ``block_gas_limit`` [gas]: eth-tester's (30,029,122) if None; a benchmark lifts it to
        measure what does not fit a real block.

        The chain's clock starts at :data:`EMBEDDED_GENESIS_TIMESTAMP` and each block is one
        second after its parent (py-evm takes the wall clock only when it is later, and it is
        not before 2100), unless a caller moves it (:meth:`advance_time`): block times, and
        so permit deadlines and transaction hashes, are the same in every run of a seed."""
        from eth_tester import EthereumTester, PyEVMBackend

        overrides: dict[str, int] = {"timestamp": EMBEDDED_GENESIS_TIMESTAMP}
        if block_gas_limit is not None:
            overrides["gas_limit"] = int(block_gas_limit)
        backend = PyEVMBackend(PyEVMBackend.generate_genesis_params(overrides=overrides))
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
        """Deploy EnergyCredit (capped at :attr:`credit_cap`) and Settlement, once.

        The operator is their setup admin, EnergyCredit's minter, and Settlement's settler and
        pauser; :meth:`hand_over` ends the setup.
        """
        if self._contracts:
            return {name: str(c.address) for name, c in self._contracts.items()}
        artifacts, gas, op = self._artifacts, DEPLOY_GAS, self.operator
        credit = self.deploy_contract(
            artifacts["EnergyCredit"], op, op, int(self.credit_cap), gas=gas
        )
        args = (credit.address, op, op, op)
        settlement = self.deploy_contract(artifacts["Settlement"], *args, gas=gas)
        self._contracts = {"EnergyCredit": credit, "Settlement": settlement}
        return self.addresses

    def require_contracts(self) -> None:
        """Raise :class:`~settlement.chain.errors.MissingContractError` if EnergyCredit or
        Settlement (once deployed) has no code: e.g. a node restarted without its state."""
        for contract in self._contracts.values():
            self.require_code(contract.address)

    def mint_credits(
        self, addresses: Sequence[str], amount_each_micro_eur: MicroEur, *, chunk: int = 400
    ) -> list[TxReceipt]:
        """Mint ``amount_each_micro_eur`` base units [micro-euro] to each address (MINTER_ROLE).

        One transaction per ``chunk`` addresses; waits for each receipt.
        """
        receipts = []
        credit = self.contract("EnergyCredit")
        for start in range(0, len(addresses), chunk):
            part = [Web3.to_checksum_address(a) for a in addresses[start : start + chunk]]
            gas = 80_000 + 35_000 * len(part)
            receipts.append(
                self.transact(credit, "mintBatch", [part, int(amount_each_micro_eur)], gas=gas)
            )
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
        gas = gas if gas is not None else commit_gas(len(accounts))
        return self.send(settlement, "commitBatch", args, gas=gas, nonce=nonce, sender=sender)

    def pause(self, *, sender: str | None = None) -> TxReceipt:
        """Pause Settlement: commits revert until :meth:`unpause` (PAUSER_ROLE)."""
        return self._transact("Settlement", "pause", [], sender=sender)

    def unpause(self, *, sender: str | None = None) -> TxReceipt:
        """Resume commits (PAUSER_ROLE)."""
        return self._transact("Settlement", "unpause", [], sender=sender)

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
        return self.call(self.contract(name), function, *args)

    def _transact(
        self, name: str, function: str, args: list[Any], *, sender: str | None = None
    ) -> TxReceipt:
        return self.transact(self.contract(name), function, args, gas=ROLE_GAS, sender=sender)
