"""``gridtwin verify``'s checks of the revenue schedule's buyback-and-burn: every ``buybacks``
row against its event on chain, the per-epoch burns of the ``token_economy`` table against
them, the emission rule (each epoch emits what the epoch before burned, capped), and the
Treasury's hand-over (:func:`twin.verify_devices.verify_devices` calls them)."""

from __future__ import annotations

import pandas as pd
from web3 import Web3
from web3.logs import DISCARD

from settlement.depin.buyback import BuybackBurn
from settlement.depin.client import REWARD_DECIMALS, DepinContracts
from settlement.depin.emission import revenue_emission
from settlement.depin.rewards import epoch_pool
from twin.checks import Check
from twin.results import RunFolder

_ZERO = "0x" + "00" * 20


def sold_by_seller(run: RunFolder) -> dict[str, int]:
    """RewardToken base units each seller sold to the buyback (and the buyback burned), from
    the ``buybacks`` table; empty without one."""
    if not (run.path / "buybacks.parquet").is_file():
        return {}
    sold: dict[str, int] = {}
    for r in run.table("buybacks").itertuples():
        if r.kind == "sale":
            sold[str(r.account)] = sold.get(str(r.account), 0) + int(str(r.units))
    return sold


def verify_buyback(run: RunFolder, depin: DepinContracts) -> list[Check]:
    """The ``buybacks`` table against ``BuybackBurn`` and the ``token_economy`` table."""
    addresses = run.manifest["chain"]["addresses"]
    config = run.manifest["config"]
    chain = depin.chain
    buyback = BuybackBurn(depin, str(addresses["Treasury"]), address=str(addresses["BuybackBurn"]))
    table = run.table("buybacks").reset_index(drop=True)
    token = depin.contract("RewardToken")
    bad: list[str] = []
    for i, row in enumerate(table.itertuples()):
        receipt = chain.get_receipt(str(row.tx_hash))
        amount, units = int(str(row.amount_micro_eur)), int(str(row.units))
        if receipt is None:
            bad.append(f"buybacks row {i}: no transaction {row.tx_hash}")
            continue
        if row.kind == "draw":
            drawn = buyback.contract.events.RevenueDrawn().process_receipt(receipt, errors=DISCARD)
            if [int(e.args.amount) for e in drawn] != [amount] or units:
                bad.append(f"buybacks row {i} (epoch {row.epoch}): draw of {amount:,} micro-euro")
            continue
        bought = buyback.sales(receipt)
        burns = [
            int(e.args.value)
            for e in token.events.Transfer().process_receipt(receipt, errors=DISCARD)
            if str(e.args.to) == _ZERO and str(e.args["from"]) == buyback.address
        ]
        seller = Web3.to_checksum_address(str(row.account))
        if [(s.seller, s.units, s.paid_micro_eur) for s in bought] != [
            (seller, units, amount)
        ] or burns != [units]:
            bad.append(
                f"buybacks row {i} (epoch {row.epoch}): {units:,} units from {row.account} for "
                f"{amount:,} micro-euro, not what {row.tx_hash} bought and burned"
            )
    checks = [
        Check(
            "buybacks: every draw and sale (Parquet = BuybackBurn events; sales burned)",
            not bad,
            "; ".join(bad[:3]) if bad else f"{len(table)} rows",
        )
    ]
    sales = table[table["kind"] == "sale"]
    draws = table[table["kind"] == "draw"]
    burned, paid, drawn = buyback.totals()
    sold, spent, took = (
        int(sales["units"].sum()),
        int(sales["amount_micro_eur"].sum()),
        int(draws["amount_micro_eur"].sum()),
    )
    checks.append(
        Check(
            "BuybackBurn: burned, paid and drawn (Parquet = contract); budget = drawn - paid",
            (burned, paid, drawn) == (sold, spent, took) and buyback.budget() == took - spent,
            f"burned {burned:,} base units, paid {paid:,} of {drawn:,} micro-euro drawn",
        )
    )
    treasury = buyback.treasury
    timelock = str(addresses["CommunityTimelock"])
    price = round(float(config["devices"]["emission"]["token_price_eur"]) * 1e6)
    checks.append(
        Check(
            "Treasury: owned by the timelock, its buyback BuybackBurn, at the scenario's price",
            str(chain.call(treasury, "owner")) == timelock
            and buyback.authorized()
            and buyback.price_micro_eur_per_token() == price,
            f"price {price:,} micro-euro/token",
        )
    )
    checks.append(_verify_emission(run, sales))
    return checks


def _verify_emission(run: RunFolder, sales: pd.DataFrame) -> Check:
    """Per ``token_economy`` row: the buyback's burn = its sales of the epoch, and the pool =
    the revenue schedule's (what the epoch before burned, capped, pro-rated)."""
    config = run.manifest["config"]
    economy = run.table("token_economy").reset_index(drop=True)
    cap = round(float(config["devices"]["reward_tokens_per_epoch"]) * 10**REWARD_DECIMALS)
    epoch_len = int(config["devices"]["epoch_days"]) * 86_400 // int(config["run"]["interval_s"])
    by_epoch = sales.groupby("epoch")["units"].sum()
    bad: list[str] = []
    before = 0
    for i, row in enumerate(economy.itertuples()):
        e = int(str(row.epoch))
        bought = int(str(row.buyback_burned_units))
        if bought != int(by_epoch.get(e, 0)):
            bad.append(f"row {i} (epoch {e}): burned {bought:,}, sales {int(by_epoch.get(e, 0)):,}")
        pool = epoch_pool(revenue_emission(cap, e, before), int(str(row.intervals)), epoch_len)
        if int(str(row.pool_units)) != pool:
            bad.append(f"row {i} (epoch {e}): pool {int(str(row.pool_units)):,}, rule {pool:,}")
        before = bought
    return Check(
        "token_economy: buyback burn = sales, pool = the burn of the epoch before (capped)",
        not bad,
        f"{len(economy)} epochs" + (f"; {'; '.join(bad[:3])}" if bad else ""),
    )
