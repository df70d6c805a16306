"""Share tokens of community assets (``AssetShares``): an offering, then revenue by epoch.

One ``AssetShares`` contract per asset (a shared battery, a wind turbine): an ERC-20 whose base
unit is one share (decimals 0), at most ``max_shares``. Shares are sold to members in an
offering, each buyer paying ``price_micro_eur_per_share`` per share in EnergyCredit from an
allowance it granted itself (:func:`~settlement.economy.consent.grant_allowance`), or minted
to funders who paid elsewhere; :meth:`AssetShareToken.close_offering` ends issuance for good.

Each epoch :meth:`AssetShareToken.distribute` pays the asset's net revenue from its revenue
account (with that account's allowance) to the holders of that moment, pro rata to their
shares: holder *i* gets ``floor(amount * shares_i / supply)`` (:func:`pro_rata`), less than one
base unit below its exact share. The remainder, fewer base units than holders, is never pulled
and stays with the revenue account; a client may add it to the next epoch's amount.

The operator holds the ISSUER and DISTRIBUTOR roles; ``admin`` (the DAO's timelock, when there
is one) holds DEFAULT_ADMIN. Amounts: shares [base units], money [micro-euro].
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from settlement.chain.artifacts import load_artifact
from settlement.chain.connection import Chain
from settlement.economy.consent import gas_funding_wei
from settlement.units import MicroEur, TokenUnits

_DEPLOY_GAS = 3_000_000
# Gas bounds (base, per item), measured on eth-tester with room to spare.
_SELL_GAS = (60_000, 150_000)  # a new holder: allowance, two balances, the holder set
_MINT_GAS = (60_000, 110_000)
_DISTRIBUTE_GAS = (80_000, 45_000)  # per holder
_DISTRIBUTE_CHUNK_GAS = 250_000  # a chunk's base (opening and closing), plus per holder
_TRANSFER_GAS = 120_000
_SIMPLE_GAS = 80_000


def pro_rata(amount: int, balances: Sequence[int]) -> list[int]:
    """Each balance's floor share of ``amount``, as ``AssetShares.distributeRevenue`` pays it.

    ``amount * b // sum(balances)`` per balance: each within one base unit below exact, the
    total short of ``amount`` by less than the number of non-zero balances.
    """
    supply = sum(balances)
    if supply <= 0:
        raise ValueError("no shares: nobody to pay")
    return [amount * b // supply for b in balances]


class AssetShareToken:
    """One asset's ``AssetShares`` on ``chain``, at ``address`` (:meth:`deploy` makes one)."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.contract: Contract = chain.attach(load_artifact("AssetShares"), address)

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        *,
        name: str,
        symbol: str,
        revenue_account: str,
        proceeds_account: str,
        price_micro_eur_per_share: MicroEur,
        max_shares: TokenUnits,
        admin: str | None = None,
    ) -> AssetShareToken:
        """Deploy the share token of one asset.

        Parameters
        ----------
        chain : Chain
            The chain with EnergyCredit; its operator becomes ISSUER and DISTRIBUTOR.
        name, symbol : str
            The token's name and symbol (e.g. "Battery bus 7 shares", "BAT7").
        revenue_account : str
            The asset's market account: distributions pay from its allowance.
        proceeds_account : str
            Who receives the offering's payments (e.g. the Treasury).
        price_micro_eur_per_share : MicroEur
            Offering price of one share [micro-euro].
        max_shares : TokenUnits
            Most shares that can ever exist.
        admin : str, optional
            DEFAULT_ADMIN_ROLE (default: the operator; the DAO's timelock where there is one).
        """
        args = (
            name,
            symbol,
            chain.contract("EnergyCredit").address,
            Web3.to_checksum_address(revenue_account),
            Web3.to_checksum_address(proceeds_account),
            int(price_micro_eur_per_share),
            int(max_shares),
            Web3.to_checksum_address(admin or chain.operator),
            chain.operator,
        )
        contract = chain.deploy_contract(load_artifact("AssetShares"), *args, gas=_DEPLOY_GAS)
        return cls(chain, str(contract.address))

    @property
    def address(self) -> str:
        """The contract's address (the spender members approve)."""
        return str(self.contract.address)

    @cached_property
    def price_micro_eur_per_share(self) -> MicroEur:
        """Offering price of one share [micro-euro]."""
        return MicroEur(int(self._call("priceMicroEurPerShare")))

    def cost_micro_eur(self, shares: TokenUnits) -> MicroEur:
        """What ``shares`` cost in the offering [micro-euro] (the allowance a buyer grants)."""
        return MicroEur(int(shares) * self.price_micro_eur_per_share)

    def sell(self, buyers: Sequence[str], shares: Sequence[TokenUnits]) -> TxReceipt:
        """Sell ``shares[i]`` to ``buyers[i]`` (ISSUER), each paying from its own allowance to
        this contract; all or nothing: a buyer short of allowance or credits reverts the call."""
        args = [[_address(b) for b in buyers], [int(s) for s in shares]]
        return self._transact("sell", args, gas=_SELL_GAS[0] + _SELL_GAS[1] * len(buyers))

    def mint(self, funders: Sequence[str], shares: Sequence[TokenUnits]) -> TxReceipt:
        """Mint ``shares[i]`` to ``funders[i]``, who paid for the asset elsewhere (ISSUER)."""
        args = [[_address(f) for f in funders], [int(s) for s in shares]]
        return self._transact("mint", args, gas=_MINT_GAS[0] + _MINT_GAS[1] * len(funders))

    def close_offering(self) -> TxReceipt:
        """End issuance for good (ISSUER)."""
        return self._transact("closeOffering", [], gas=_SIMPLE_GAS)

    def distribute(self, epoch: int, amount_micro_eur: MicroEur) -> TxReceipt:
        """Pay epoch ``epoch``'s net revenue to the current holders, pro rata (DISTRIBUTOR);
        once per epoch. Needs the revenue account's allowance of ``amount_micro_eur``."""
        gas = _DISTRIBUTE_GAS[0] + _DISTRIBUTE_GAS[1] * len(self.holders())
        gas = min(gas, self.chain.block_gas_limit())
        return self._transact("distributeRevenue", [int(epoch), int(amount_micro_eur)], gas=gas)

    def distribute_within(
        self, epoch: int, amount_micro_eur: MicroEur, gas_budget: int
    ) -> list[TxReceipt]:
        """:meth:`distribute`, in one transaction when its gas bound fits ``gas_budget`` [gas],
        else in ``distributeRevenueChunk`` transactions that each fit (balances frozen
        between them; the last emits ``Distributed``). The receipts, in order."""
        n = len(self.holders())
        base, per_holder = _DISTRIBUTE_GAS
        if base + per_holder * n <= gas_budget:
            return [self.distribute(epoch, amount_micro_eur)]
        count = (gas_budget - _DISTRIBUTE_CHUNK_GAS) // per_holder
        if count < 1:
            raise ValueError(f"a gas budget of {gas_budget:,} pays no holder a chunk")
        args = [int(epoch), int(amount_micro_eur), int(count)]
        gas = _DISTRIBUTE_CHUNK_GAS + per_holder * count
        return [self._transact("distributeRevenueChunk", args, gas=gas) for _ in range(0, n, count)]

    def distribution(self, epoch: int) -> tuple[bool, MicroEur]:
        """(whether ``epoch`` was distributed, what it paid [micro-euro])."""
        done, paid = self._call("distribution", int(epoch))
        return bool(done), MicroEur(int(paid))

    def payouts(self, receipt: TxReceipt) -> dict[str, MicroEur]:
        """{holder: amount [micro-euro]} of the ``Payout`` events of a distribution."""
        events = self.contract.events.Payout().process_receipt(receipt, errors=DISCARD)
        return {str(e.args.holder): MicroEur(int(e.args.amount)) for e in events}

    def transfer_shares(
        self, holder_key: bytes | str, to: str, shares: TokenUnits, *, fund_gas: bool = False
    ) -> TxReceipt:
        """The holder's own ``transfer`` of ``shares`` to ``to`` (signed with its key); with
        ``fund_gas`` the operator first sends it the ether the transaction lacks."""
        holder = Account.from_key(holder_key).address
        if fund_gas and (shortfall_wei := gas_funding_wei(self.chain, holder, _TRANSFER_GAS)):
            self.chain.send_ether(holder, shortfall_wei)
        args = [_address(to), int(shares)]
        return self.chain.transact(
            self.contract, "transfer", args, gas=_TRANSFER_GAS, key=holder_key
        )

    def holders(self) -> list[str]:
        """Accounts holding shares now."""
        return [str(h) for h in self._call("holders")]

    def shares_of(self, account: str) -> TokenUnits:
        """Shares held by ``account``."""
        return TokenUnits(int(self._call("balanceOf", _address(account))))

    def total_shares(self) -> TokenUnits:
        """Shares in existence."""
        return TokenUnits(int(self._call("totalSupply")))

    def has_role(self, role: str, account: str) -> bool:
        """Whether ``account`` holds ``role`` ("ISSUER_ROLE", "DISTRIBUTOR_ROLE", ...)."""
        return bool(self._call("hasRole", self._call(role), _address(account)))

    def _call(self, function: str, *args: Any) -> Any:
        return self.chain.call(self.contract, function, *args)

    def _transact(self, function: str, args: list[Any], *, gas: int) -> TxReceipt:
        return self.chain.transact(self.contract, function, args, gas=gas)


def _address(account: str) -> str:
    return str(Web3.to_checksum_address(account))
