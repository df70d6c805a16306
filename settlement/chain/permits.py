"""Members' consent on gridtwin's settlement contracts: permits, allowances, debts, claims.

Members' credits move only within the allowance each member gives the Settlement contract:
:meth:`MemberConsent.consent` signs an ERC-2612 permit with each member's own key and relays
them in one transaction (members need no ether). ``Settlement.commitBatch`` pulls a payer's
debit with ``transferFrom`` within that allowance; a payer short of balance or allowance pays
what it can, the rest becomes its debt and its receivers' claims, pro rata (see
``Settlement.sol``), so one member cannot block a batch. We chose the allowance over an
escrow: the credits stay in the member's own account, one signature at the start consents to
a bounded amount, and revoking (``approve(settlement, 0)``) is the standard wallet action.

:class:`MemberConsent` is a part of :class:`~settlement.chain.connection.Chain`, which
provides :meth:`~settlement.chain.connection.Chain.contract`.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from settlement.chain.erc2612 import CREDIT_DOMAIN, sign_permit
from settlement.chain.node import Node

_PERMIT_GAS = (60_000, 60_000)  # base, per permit

#: ERC-2612's "no deadline".
NO_DEADLINE = 2**256 - 1


class MemberConsent(Node):
    """Members' permits to Settlement, their allowances, and the debts and claims of payers
    that fell short."""

    def contract(self, name: str) -> Contract:
        """The web3 contract object of ``name`` (provided by the chain)."""
        raise NotImplementedError

    def sign_permit(
        self,
        key: bytes | str,
        value: int,
        *,
        nonce: int | None = None,
        spender: str | None = None,
        deadline: int = NO_DEADLINE,
    ) -> tuple[str, int, int, int, bytes, bytes]:
        """An ERC-2612 permit, signed with ``key``, that lets ``spender`` (default:
        Settlement) move up to ``value`` [micro-euro] of the key's credits until ``deadline``
        [unix s]: (owner, value, deadline, v, r, s)."""
        credit = self.contract("EnergyCredit")
        owner = Account.from_key(key).address
        if nonce is None:
            nonce = int(self.call(credit, "nonces", owner))
        permit = sign_permit(
            key,
            chain_id=self.chain_id,
            token=credit.address,
            spender=spender or self.contract("Settlement").address,
            value=value,
            nonce=nonce,
            deadline=deadline,
            domain_name=CREDIT_DOMAIN,
        )
        return (permit.owner, permit.value, permit.deadline, permit.v, permit.r, permit.s)

    def consent(
        self, keys: Sequence[bytes | str], allowance_micro_eur: int, *, chunk: int = 200
    ) -> list[TxReceipt]:
        """Each key's member consents that Settlement moves up to ``allowance_micro_eur``
        [micro-euro] of its credits: a permit signed with the member's own key, relayed by the
        operator (``Settlement.acceptPermits``, ``chunk`` a transaction). The allowance is the
        member's total for the run (it is consumed by what the member pays), not per batch.
        """
        settlement = self.contract("Settlement")
        receipts = []
        for start in range(0, len(keys), chunk):
            permits = [
                self.sign_permit(k, allowance_micro_eur) for k in keys[start : start + chunk]
            ]
            gas = _PERMIT_GAS[0] + _PERMIT_GAS[1] * len(permits)
            receipts.append(self.transact(settlement, "acceptPermits", [permits], gas=gas))
        return receipts

    def allowance(self, owner: str) -> int:
        """What Settlement may still move of ``owner``'s credits [micro-euro]."""
        owner_ = Web3.to_checksum_address(owner)
        spender = self.contract("Settlement").address
        return int(self.call(self.contract("EnergyCredit"), "allowance", owner_, spender))

    def debt_of(self, account: str) -> int:
        """What ``account`` failed to pay in committed batches [micro-euro]."""
        return int(
            self.call(self.contract("Settlement"), "debtOf", Web3.to_checksum_address(account))
        )

    def credit_cuts(self, account: str, from_block: int = 0) -> dict[int, int]:
        """batch id -> what ``account`` was not paid in that batch because payers fell short
        [micro-euro] (``CreditReduced`` events from ``from_block``; on the embedded chain from
        the receipts already read, :meth:`~settlement.chain.mined.Mined.events`)."""
        event = self.contract("Settlement").events.CreditReduced()
        account_ = Web3.to_checksum_address(account)
        logs = self.mined.events(event, from_block, {"account": account_})
        cuts: dict[int, int] = {}
        for log in logs:
            batch_id = int(log["args"]["batchId"])
            cuts[batch_id] = cuts.get(batch_id, 0) + int(log["args"]["cut"])
        return cuts

    def claim_of(self, account: str) -> int:
        """What ``account`` was due but not paid because payers fell short [micro-euro]."""
        return int(
            self.call(self.contract("Settlement"), "claimOf", Web3.to_checksum_address(account))
        )
