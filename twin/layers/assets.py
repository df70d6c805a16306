"""The community's assets inside a run: their share tokens and the revenue paid to holders.

A helper of the economy layer (:mod:`twin.layers.economy`), not a layer of its own. Each
asset (a shared battery, :class:`grid.nodes.SharedBatteries`) trades in the market under its
own account (``asset-<name>``), and gets an ``AssetShares`` token when it joins the grid: at
the start for ``economy.assets``, when its proposal executes for ``economy.proposals``. Its
shares are minted to the members who funded it, pro rata to their treasury contributions (one
share per euro; one share each when nobody contributed).

Every settlement batch the asset's net receipt in that batch (its entry in the batch's
journaled net payments) is paid to the holders of that moment, pro rata
(:meth:`settlement.economy.shares.AssetShareToken.distribute`), from the asset's account with
an allowance the asset's own key grants: the payout is sent when the batch is journaled, just
before its commit lands. A negative receipt (the asset bought more than it sold) is carried
and netted against the next batches' receipts, so holders are paid only what the asset earned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from hexbytes import HexBytes

from settlement.chain.connection import Chain
from settlement.economy.consent import grant_allowance
from settlement.economy.shares import AssetShareToken
from settlement.units import MicroEur, TokenUnits
from twin.layers.base import Columns


@dataclass
class AssetAccount:
    """One asset in the grid: its account, its share token, what it paid out.

    Attributes
    ----------
    name : str
        The asset's name (its node and account are ``asset-<name>``).
    address : str
        Its market account.
    key : bytes
        Its account's key (signs the allowances its payouts use).
    shares : AssetShareToken
        Its share token.
    carried_micro_eur : int
        Negative receipts not yet netted [micro-euro] (<= 0).
    payouts : list of (batch, holder, shares, amount, tx_hash)
        Every payout to a holder.
    """

    name: str
    address: str
    key: bytes
    shares: AssetShareToken
    carried_micro_eur: int = 0
    payouts: list[tuple[int, str, int, int, str]] = field(default_factory=list)
    minted: list[tuple[str, int, str]] = field(default_factory=list)


def share_split(contributions_micro_eur: np.ndarray) -> list[TokenUnits]:
    """Shares of each funder: one per whole euro contributed, one each if nobody paid."""
    if not contributions_micro_eur.any():
        return [TokenUnits(1)] * len(contributions_micro_eur)
    return [TokenUnits(int(c) // 1_000_000) for c in contributions_micro_eur]


def open_asset(
    chain: Chain,
    name: str,
    address: str,
    key: bytes,
    funders: list[str],
    contributions_micro_eur: np.ndarray,
    admin: str,
    proceeds: str,
) -> AssetAccount:
    """Deploy ``name``'s share token (admin: the DAO's timelock) and mint its shares to the
    funders (:func:`share_split`); ``key`` is the asset account's own (the chain layer's)."""
    shares = share_split(contributions_micro_eur)
    token = AssetShareToken.deploy(
        chain,
        name=f"gridtwin asset {name}",
        symbol=f"GT{name[:8].upper()}",
        revenue_account=address,
        proceeds_account=proceeds,
        price_micro_eur_per_share=MicroEur(0),
        max_shares=TokenUnits(sum(shares)),
        admin=admin,
    )
    holders = [f for f, s in zip(funders, shares, strict=True) if s]
    amounts = [s for s in shares if s]
    receipt = token.mint(holders, amounts)
    token.close_offering()
    account = AssetAccount(name, address, key, token)
    tx = HexBytes(receipt["transactionHash"]).to_0x_hex()
    account.minted = [(h, int(s), tx) for h, s in zip(holders, amounts, strict=True)]
    return account


def pay_holders(
    chain: Chain,
    asset: AssetAccount,
    batch_id: int,
    receipt_micro_eur: int,
    gas_budget: int = 28_500_000,
) -> int:
    """Pay the asset's receipt in batch ``batch_id`` to its holders (netting what is carried),
    no transaction above ``gas_budget`` [gas] (chunks beyond it); what was paid [micro-euro]."""
    amount = asset.carried_micro_eur + receipt_micro_eur
    if amount <= 0:
        asset.carried_micro_eur = min(amount, 0)
        return 0
    grant_allowance(chain, asset.key, asset.shares.address, MicroEur(amount), fund_gas=True)
    holders = asset.shares.holders()
    held = {h: int(asset.shares.shares_of(h)) for h in holders}
    total = 0
    for receipt in asset.shares.distribute_within(batch_id, MicroEur(amount), gas_budget):
        tx = HexBytes(receipt["transactionHash"]).to_0x_hex()
        paid = asset.shares.payouts(receipt)
        for holder, value in paid.items():
            asset.payouts.append((batch_id, holder, held.get(holder, 0), int(value), tx))
        total += sum(int(v) for v in paid.values())
    asset.carried_micro_eur = 0  # the remainder (< one unit a holder) stays with the asset
    return total


def asset_tables(assets: list[AssetAccount]) -> dict[str, Columns]:
    """The ``asset_shares`` and ``asset_payouts`` tables (none without assets)."""
    if not assets:
        return {}
    shares = [(a.name, *m) for a in assets for m in a.minted]
    payouts = [(a.name, *p) for a in assets for p in a.payouts]
    return {
        "asset_shares": {
            "asset": [s[0] for s in shares],
            "holder": [s[1] for s in shares],
            "shares": pa.array([s[2] for s in shares], pa.int64()),
            "held_at_end": pa.array(
                [int(a.shares.shares_of(h)) for a in assets for h, _, _ in a.minted],
                pa.int64(),
            ),
            "tx_hash": [s[3] for s in shares],
        },
        "asset_payouts": {
            "asset": pa.array([p[0] for p in payouts], pa.string()),
            "batch_id": pa.array([p[1] for p in payouts], pa.int64()),
            "holder": pa.array([p[2] for p in payouts], pa.string()),
            "shares": pa.array([p[3] for p in payouts], pa.int64()),
            "amount_micro_eur": pa.array([p[4] for p in payouts], pa.int64()),
            "tx_hash": pa.array([p[5] for p in payouts], pa.string()),
        },
    }
