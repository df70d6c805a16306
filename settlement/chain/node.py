"""One connection to a chain node, and the one path that signs and sends transactions.

A :class:`Node` wraps a web3.py connection (eth-tester in-process, or any JSON-RPC URL) and an
operator account. Every contract's deployment, state-changing call and view goes through its
small public API (:meth:`Node.deploy_contract`, :meth:`Node.attach`, :meth:`Node.send`,
:meth:`Node.transact`, :meth:`Node.sign`, :meth:`Node.call`), whatever the contract:
:class:`~settlement.chain.connection.Chain` for gridtwin's settlement contracts,
:class:`~settlement.depin.client.DepinContracts` for the DePIN ones.

A transaction is signed here when its key is held (the operator's, or one given for the call),
else by the node (an unlocked account). Sending and waiting are separate, so a journal can
record a hash before its receipt exists; a reverted transaction raises
:class:`~settlement.chain.errors.TransactionRevertedError` with the contract's decoded error.

On a dev chain (eth-tester or anvil) :meth:`Node.mine_blocks` and :meth:`Node.advance_time`
move the chain's clocks (block number, timestamp), e.g. past a governor's voting period and a
timelock's delay; :meth:`Node.send_ether` gives an account the ether for its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, Literal, cast

from eth_account import Account
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import TxParams, TxReceipt

from settlement.chain.artifacts import Artifact, error_selectors
from settlement.chain.calldata import encode_call
from settlement.chain.errors import (
    ChainError,
    MissingContractError,
    TransactionRevertedError,
)
from settlement.chain.mined import Mined
from settlement.chain.receipts import Receipts


class Node(Receipts):
    """A connection to a chain node with an operator account.

    Parameters
    ----------
    w3 : Web3
        The connection.
    kind : {"embedded", "rpc"}
        eth-tester in-process, or a JSON-RPC node.
    operator : str
        The account that sends by default.
    account : LocalAccount, optional
        The operator's key: transactions are signed here, else by the node (unlocked account).
    rpc_url : str, optional
        The node's URL ("rpc" only).
    """

    def __init__(
        self,
        w3: Web3,
        *,
        kind: Literal["embedded", "rpc"],
        operator: str,
        account: LocalAccount | None = None,
        rpc_url: str | None = None,
    ) -> None:
        self.w3 = w3
        self.kind = kind
        self.operator = Web3.to_checksum_address(operator)
        self.rpc_url = rpc_url
        #: The operator's key, when transactions are signed here.
        self.account = account
        self._errors = error_selectors([])
        #: Each attached contract's name by address, for naming a missing one.
        self._names: dict[str, str] = {}
        #: Receipts and blocks read, kept on the embedded chain (it never loses a block).
        self.mined = Mined(w3, keep=kind == "embedded")

    @cached_property
    def chain_id(self) -> int:
        """The chain id (EIP-155)."""
        return int(self.w3.eth.chain_id)

    def gas_price(self) -> int:
        """A legacy gas price the next block accepts: the node's, at least twice the base fee."""
        base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
        return max(int(self.w3.eth.gas_price), 2 * int(base))

    def next_nonce(self, sender: str | None = None) -> int:
        """The nonce the next transaction of ``sender`` (default: the operator) will use."""
        return int(self.w3.eth.get_transaction_count(self._sender(sender), "pending"))

    def block_number(self) -> int:
        """The latest block's number (for counting confirmations)."""
        return int(self.w3.eth.block_number)

    def block_gas_limit(self) -> int:
        """The latest block's gas limit: no transaction's gas bound may exceed it."""
        return int(self.w3.eth.get_block("latest")["gasLimit"])

    def block_timestamp(self) -> int:
        """The latest block's timestamp [s since the Unix epoch]: the chain's clock."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def mine_blocks(self, count: int) -> int:
        """Mine ``count`` empty blocks (a dev chain only: eth-tester or anvil); the new head.

        For contracts whose clock is the block number (a governor's voting delay and period).
        """
        if count <= 0:
            return self.block_number()
        if self.kind == "embedded":
            self._tester().mine_blocks(count)
        else:
            self._dev_rpc("anvil_mine", [hex(count)])
        return self.block_number()

    def advance_time(self, seconds: int) -> int:
        """Move the chain's clock ``seconds`` [s] forward and mine one block there (a dev chain
        only: eth-tester or anvil); the new head's timestamp [s].

        For contracts whose clock is the block timestamp (a timelock's delay).
        """
        if seconds < 0:
            raise ValueError(f"cannot move a chain's clock back ({seconds} s)")
        if self.kind == "embedded":
            tester = self._tester()
            tester.time_travel(self.block_timestamp() + int(seconds))
            tester.mine_blocks(1)
        else:
            self._dev_rpc("evm_increaseTime", [int(seconds)])
            self._dev_rpc("evm_mine", [])
        return self.block_timestamp()

    def send_ether(self, to: str, amount_wei: int) -> TxReceipt:
        """Send ``amount_wei`` [wei] from the operator to ``to`` (e.g. gas for a member's own
        transaction) and wait for the receipt."""
        to_ = Web3.to_checksum_address(to)
        return self.wait_receipt(self._send(to_, "0x", gas=21_000, value=int(amount_wei)))

    def attach(self, artifact: Artifact, address: str) -> Contract:
        """The contract of ``artifact`` at ``address``; reverts decode with its errors."""
        self._errors.update(error_selectors([artifact]))
        address_ = Web3.to_checksum_address(address)
        self._names[address_] = artifact.name
        return self.w3.eth.contract(address=address_, abi=artifact.abi)

    def require_code(self, address: str) -> None:
        """Raise :class:`MissingContractError` if there is no contract code at ``address``
        (``eth_getCode``): checked before every transaction to a contract, so nothing is ever
        sent to a contract a restarted node has lost."""
        address_ = Web3.to_checksum_address(address)
        if len(self.w3.eth.get_code(address_)) == 0:
            name = self._names.get(address_, "contract")
            raise MissingContractError(name, address_, self.chain_id, self.rpc_url)

    def deploy_contract(self, artifact: Artifact, *args: Any, gas: int) -> Contract:
        """Deploy ``artifact`` with constructor ``args`` from the operator, wait, attach."""
        self._errors.update(error_selectors([artifact]))
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        data = factory.constructor(*args).data_in_transaction
        receipt = self.wait_receipt(self._send(None, data, gas=gas))
        address = receipt["contractAddress"]
        if address is None:  # pragma: no cover - a successful creation always has one
            raise ChainError(f"deploying {artifact.name} gave no contract address")
        return self.attach(artifact, str(address))

    def call(self, contract: Contract, function: str, *args: Any) -> Any:
        """The result of the view ``function(*args)`` of ``contract`` on the latest state.

        A contract without code (a restarted node's lost state) raises
        :class:`MissingContractError`, not an undecodable empty result.
        """
        try:
            # an explicit sender spares eth-tester asking for its accounts at every call
            return contract.get_function_by_name(function)(*args).call({"from": self.operator})
        except Exception:
            self.require_code(contract.address)
            raise

    def send(
        self,
        contract: Contract,
        function: str,
        args: Sequence[Any],
        *,
        gas: int,
        nonce: int | None = None,
        sender: str | None = None,
        key: bytes | str | None = None,
    ) -> str:
        """Send ``function(*args)`` of ``contract`` and return its hash at once (no receipt).

        Parameters
        ----------
        contract : Contract
            The contract (:meth:`attach`, :meth:`deploy_contract`).
        function : str
            The function's name.
        args : sequence
            Its arguments, ABI-encodable.
        gas : int
            Gas limit.
        nonce : int, optional
            The nonce to use (e.g. one journaled before a crash); default: the next one.
        sender : str, optional
            Another unlocked account of the node to send from (default: the operator).
        key : bytes or str, optional
            A private key to sign with here instead: its account sends (it pays the gas).

        Returns
        -------
        str
            The transaction hash, ``0x``-prefixed hex.
        """
        data = encode_call(contract, function, args)
        self.require_code(contract.address)
        return self._send(contract.address, data, gas=gas, nonce=nonce, sender=sender, key=key)

    def transact(
        self,
        contract: Contract,
        function: str,
        args: Sequence[Any],
        *,
        gas: int,
        sender: str | None = None,
        key: bytes | str | None = None,
    ) -> TxReceipt:
        """:meth:`send`, then :meth:`wait_receipt`: the receipt of a transaction that succeeded."""
        tx_hash = self.send(contract, function, args, gas=gas, sender=sender, key=key)
        try:
            return self.wait_receipt(tx_hash, to=contract.address)
        except TransactionRevertedError as err:  # name what reverted
            raise TransactionRevertedError(err.receipt, f"{function}: {err.error}") from None

    def sign(
        self,
        contract: Contract,
        function: str,
        args: Sequence[Any],
        *,
        gas: int,
        nonce: int | None = None,
    ) -> SignedTransaction:
        """Sign ``function(*args)`` of ``contract`` with the operator's key, without sending it.

        Its hash (``.hash``) is known before any node has it (:meth:`send_signed` sends it). The
        operator's key must be held here (:attr:`account`).
        """
        if self.account is None:
            raise ChainError(f"the key of {self.operator} is not held here: cannot sign")
        data = encode_call(contract, function, args)
        self.require_code(contract.address)
        return self._sign(self.account, contract.address, data, gas=gas, nonce=nonce)

    def send_signed(self, signed: SignedTransaction) -> str:
        """Hand a transaction signed by :meth:`sign` to the node; its hash."""
        return HexBytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)).to_0x_hex()

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
        key: bytes | str | None = None,
        value: int = 0,
    ) -> str:
        """Send a transaction: signed here with ``key`` or the operator's key, if held."""
        source = self._sender(sender)
        signer = self.account if source == self.operator else None
        if key is not None:
            if sender is not None:
                raise ValueError("give a sender or a key, not both")
            signer = Account.from_key(key)
        if signer is not None:
            signed = self._sign(signer, to, data, gas=gas, nonce=nonce, value=value)
            return self.send_signed(signed)
        tx = self._unsigned(source, to, data, gas=gas, value=value)
        if nonce is not None:
            tx["nonce"] = nonce
        return HexBytes(self.w3.eth.send_transaction(cast(TxParams, tx))).to_0x_hex()

    def _sign(
        self,
        signer: LocalAccount,
        to: str | None,
        data: str,
        *,
        gas: int,
        nonce: int | None,
        value: int = 0,
    ) -> SignedTransaction:
        tx = self._unsigned(signer.address, to, data, gas=gas, value=value)
        if nonce is None:
            nonce = self.w3.eth.get_transaction_count(signer.address, "pending")
        tx["nonce"] = nonce
        tx["chainId"] = self.chain_id
        return signer.sign_transaction(tx)

    def _unsigned(
        self, source: str, to: str | None, data: str, *, gas: int, value: int = 0
    ) -> dict[str, Any]:
        tx: dict[str, Any] = {"from": source, "data": data, "gas": gas, "value": value}
        tx["gasPrice"] = self.gas_price()
        if to is not None:
            tx["to"] = to
        return tx

    def _tester(self) -> Any:
        """The eth-tester behind an embedded chain."""
        tester = getattr(self.w3.provider, "ethereum_tester", None)
        if tester is None:
            raise ChainError("this embedded chain has no eth-tester")
        return tester

    def _dev_rpc(self, method: str, params: list[Any]) -> None:
        """Call a dev node's own RPC method (anvil's); an error names the method."""
        response = self.w3.provider.make_request(cast(Any, method), params)
        if response.get("error"):
            raise ChainError(f"{method} failed on {self.rpc_url}: {response['error']}")
