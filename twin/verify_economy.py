"""``gridtwin verify``'s checks of the community economy: the votes' supply, the treasury's
rows against the chain, the credits that move outside the batches (contributions, asset
purchases, payouts) and the asset payouts pro rata (:func:`twin.verify.verify_run` calls them)."""

from __future__ import annotations

import pandas as pd
from web3.logs import DISCARD

from settlement.chain.connection import Chain
from settlement.economy.dao import CommunityDao
from settlement.economy.shares import AssetShareToken
from settlement.market.accounts import account_kind
from twin.checks import Check
from twin.results import RunFolder


def economy_flows(run: RunFolder) -> dict[str, int]:
    """Credits moved outside the batches, from the tables: members' contributions into the
    treasury, the treasury's payments for assets and draws by the buyback, the buyback's
    payments to the token sellers, assets' payouts to their holders, device sales (the buyer
    pays the seller and the royalty's receiver) [micro-euro received, by address]; they sum
    to zero."""
    flows: dict[str, int] = {}

    def move(source: str, to: str, amount: int) -> None:
        flows[source] = flows.get(source, 0) - amount
        flows[to] = flows.get(to, 0) + amount

    if (run.path / "treasury.parquet").is_file():
        treasury = str(run.manifest["chain"]["addresses"]["Treasury"])
        table = run.table("treasury")
        if "account" in table:
            for r in table.itertuples():
                if r.kind in ("contribution", "device_royalty"):
                    move(str(r.account), treasury, int(str(r.amount_micro_eur)))
                elif r.kind in ("asset_purchase", "buyback"):
                    move(treasury, str(r.account), -int(str(r.amount_micro_eur)))
    if (run.path / "buybacks.parquet").is_file():  # the buyback pays each seller
        buyback = str(run.manifest["chain"]["addresses"]["BuybackBurn"])
        for r in run.table("buybacks").itertuples():
            if r.kind == "sale":
                move(buyback, str(r.account), int(str(r.amount_micro_eur)))
    if (run.path / "asset_payouts.parquet").is_file():
        people = run.table("participants")
        accounts = dict(zip(people["owner"], people["address"], strict=True))
        for r in run.table("asset_payouts").itertuples():
            move(str(accounts[f"asset-{r.asset}"]), str(r.holder), int(str(r.amount_micro_eur)))
    if (run.path / "device_transfers.parquet").is_file():
        treasury = str(run.manifest["chain"]["addresses"].get("Treasury", ""))
        for r in run.table("device_transfers").itertuples():
            price, royalty = int(str(r.price_micro_eur)), int(str(r.royalty_micro_eur))
            move(str(r.buyer_address), str(r.seller_address), price - royalty)
            if str(r.receiver_address) != treasury:  # the treasury's is a treasury row
                move(str(r.buyer_address), str(r.receiver_address), royalty)
    return flows


def verify_votes(run: RunFolder, chain: Chain, nodes: pd.DataFrame) -> Check:
    """CommunityVotes is sealed (nobody can mint any more) and its supply is the members'
    votes, recomputed from the ``nodes`` table and ``economy.votes`` (one a member, or one per
    node it owns)."""
    dao = CommunityDao(chain, run.manifest["chain"]["addresses"])
    token = dao.contract("CommunityVotes")
    owners = nodes["owner"].astype(str)
    homes = owners[owners.map(lambda o: account_kind(o) == "home")]
    kind = str(run.manifest["config"]["economy"]["votes"])
    expected = homes.nunique() if kind == "equal" else len(homes)
    supply, sealed = int(chain.call(token, "totalSupply")), bool(chain.call(token, "isSealed"))
    return Check(
        "CommunityVotes sealed, supply = the members' votes",
        sealed and supply == expected,
        f"{supply:,} votes on chain ({'sealed' if sealed else 'NOT sealed'}), "
        f"{expected:,} for {homes.nunique():,} members ({kind})",
    )


def verify_treasury(
    run: RunFolder, chain: Chain, trades: pd.DataFrame, batches: pd.DataFrame
) -> list[Check]:
    """The ``treasury`` table against the chain and the trades: its sum is the Treasury's
    balance, each batch's inflow its trades' protocol fees, sent in the batch's commit."""
    table = run.table("treasury").reset_index(drop=True)
    dao = CommunityDao(chain, run.manifest["chain"]["addresses"])
    balance = int(dao.treasury_balance())
    total = int(table["amount_micro_eur"].sum())
    checks = [
        Check(
            "treasury balance (chain) = treasury table",
            balance == total,
            f"{balance:,} micro-euro on chain, {total:,} in {len(table)} rows",
        )
    ]
    fees = trades.groupby("batch_id")["protocol_fee_micro_eur"].sum()
    expected = {int(str(b)): int(f) for b, f in fees.items() if f}
    tx_of = {int(str(r.batch_id)): str(r.tx_hash) for r in batches.itertuples()}
    bad: list[str] = []
    seen: set[int] = set()
    credit = chain.contract("EnergyCredit")
    treasury_contract = dao.contract("Treasury")
    cut_seen: set[int] = set()
    first_block = int(run.manifest["chain"].get("first_block", 0))
    cuts = chain.credit_cuts(dao.addresses["Treasury"], first_block)
    for i, row in enumerate(table.itertuples()):
        kind = str(getattr(row, "kind", "protocol_fees"))
        amount = int(str(row.amount_micro_eur))
        if kind not in ("protocol_fees", "shortfall"):
            receipt = chain.get_receipt(str(row.tx_hash))
            # data_sale: the treasury's cut, from the DataMarket; device_royalty: a sale's royalty
            if kind in ("contribution", "data_sale", "device_royalty"):
                events = credit.events.Transfer().process_receipt(receipt, errors=DISCARD)
                seen_on_chain = [
                    (str(e.args["from"]), str(e.args.to), int(e.args.value)) for e in events
                ]
                want = (str(row.account), str(dao.addresses["Treasury"]), amount)
            else:
                events = treasury_contract.events.Paid().process_receipt(receipt, errors=DISCARD)
                seen_on_chain = [("", str(e.args.to), -int(e.args.amount)) for e in events]
                want = ("", str(row.account), amount)
            if receipt is None or want not in seen_on_chain:
                bad.append(
                    f"treasury row {i} ({kind}): {amount:,} micro-euro, account {row.account}, "
                    f"not what {row.tx_hash} moved on chain"
                )
            continue
        b = int(float(str(row.batch_id)))
        if kind == "shortfall":
            if b in cut_seen or amount != -cuts.get(b, 0) or str(row.tx_hash) != tx_of.get(b):
                bad.append(
                    f"treasury row {i} (batch {b}): shortfall {amount:,} micro-euro, "
                    f"the chain's cut {cuts.get(b, 0):,}"
                )
            cut_seen.add(b)
            continue
        if b in seen or amount != expected.get(b) or str(row.tx_hash) != tx_of.get(b):
            bad.append(
                f"treasury row {i} (batch {b}): {amount:,} micro-euro in {row.tx_hash}, "
                f"its trades' fees {expected.get(b, 0):,} in {tx_of.get(b)}"
            )
        seen.add(b)
    bad += [
        f"batch {b}: fees {f:,} micro-euro without a treasury row"
        for b, f in expected.items()
        if b not in seen
    ]
    bad += [
        f"batch {b}: cut {c:,} on chain without a treasury row"
        for b, c in cuts.items()
        if b not in cut_seen
    ]
    checks.append(
        Check(
            "treasury inflow of each batch = its trades' protocol fees",
            not bad,
            "; ".join(bad[:3]) if bad else f"{len(table)} rows, {len(expected)} batches with fees",
        )
    )
    return checks


def verify_payouts(run: RunFolder, chain: Chain) -> list[Check]:
    """Every asset payout row against the chain, and pro rata: each holder's payout is
    ``floor(distributed x shares / supply)`` (within 1 base unit of exact).

    Read from each asset contract's logs, not from the rows' transactions: every
    ``Distributed`` (one per epoch; for a chunked distribution, the last chunk's, which may pay
    nobody) and every ``Payout``, so a row the chain lacks, a payout the table lacks, a row on
    the wrong transaction and a distribution without rows are all found."""
    table = run.table("asset_payouts")
    addresses = run.manifest["chain"]["addresses"]
    bad: list[str] = []
    assets = sorted(str(k).split(":", 1)[1] for k in addresses if str(k).startswith("AssetShares:"))
    for asset in assets:
        token = AssetShareToken(chain, str(addresses[f"AssetShares:{asset}"]))
        events = token.contract.events
        distributed: dict[int, list[int]] = {}
        for e in events.Distributed().get_logs(from_block=0):
            distributed.setdefault(int(e.args.epoch), []).append(int(e.args.amount))
        on_chain = {
            (int(e.args.epoch), str(e.args.holder)): (int(e.args.amount), e.transactionHash)
            for e in events.Payout().get_logs(from_block=0)
        }
        rows = table[table["asset"].astype(str) == asset]
        got = {
            (int(str(r.batch_id)), str(r.holder)): (int(str(r.amount_micro_eur)), str(r.tx_hash))
            for r in rows.itertuples()
        }
        for key in sorted(on_chain.keys() - got.keys())[:3]:
            bad.append(f"asset {asset}, batch {key[0]}: Payout to {key[1]} has no row")
        for key in sorted(got.keys() - on_chain.keys())[:3]:
            bad.append(f"asset {asset}, batch {key[0]}: row of {key[1]} has no Payout event")
        for key in sorted(got.keys() & on_chain.keys()):
            amount, tx = on_chain[key]
            if got[key] != (amount, tx.to_0x_hex()):
                bad.append(f"asset {asset}, batch {key[0]}, holder {key[1]}: not the Payout event")
        for epoch, amounts in sorted(distributed.items()):
            if len(amounts) != 1:
                bad.append(f"asset {asset}, batch {epoch}: {len(amounts)} Distributed events")
        for batch, group in rows.groupby("batch_id", observed=True):
            if int(str(batch)) not in distributed:
                bad.append(f"asset {asset}, batch {batch}: payout rows, no Distributed event")
                continue
            total, supply = distributed[int(str(batch))][0], int(group["shares"].sum())
            for r in group.itertuples():
                if int(str(r.amount_micro_eur)) != total * int(str(r.shares)) // supply:
                    bad.append(
                        f"asset {asset}, batch {r.batch_id}, holder {r.holder}: not pro rata"
                    )
    return [
        Check(
            "asset payouts = Payout events, pro rata to shares",
            not bad,
            "; ".join(bad[:3]) if bad else f"{len(table)} payouts of {len(assets)} assets",
        )
    ]
