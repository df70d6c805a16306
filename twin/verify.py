"""Auditing a run against its chain: ``gridtwin verify`` and ``gridtwin prove``.

:func:`verify_run` re-derives, from the run's Parquet tables alone, every batch's Merkle root,
trade count, energy and net payments, and checks each against the chain: the root the
``Settlement`` contract holds, the arguments of the batch's own transaction, its receipt,
and every participant's EnergyCredit balance (credits minted + net payments received) and the
token's supply; with devices, every epoch's readings root, the RewardToken supply, every
owner's reward balance and every device's registration. An embedded-chain run is checked
against the chain saved in its folder; an RPC run against the node (its URL from the
manifest, or ``rpc_url``).

:func:`prove_trade` builds one trade's Merkle proof and has the contract verify it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hexbytes import HexBytes
from web3.logs import DISCARD

from settlement.chain.connection import Chain
from settlement.chain.embedded import open_embedded
from settlement.chain.merkle import merkle_root, merkle_tree, trade_leaves, tree_proof
from settlement.chain.transactions import scan_transactions
from settlement.depin.client import DepinContracts
from settlement.depin.leaves import reading_leaves
from settlement.depin.staking import DeviceStaking
from settlement.economy.dao import CommunityDao
from settlement.economy.shares import AssetShareToken
from settlement.market.bills import net_payments
from settlement.units import eur_to_micro_eur
from twin.results import RunFolder, open_run


@dataclass(frozen=True)
class Check:
    """One verified fact: what, whether it holds, and the detail."""

    name: str
    ok: bool
    detail: str


def open_chain(run: RunFolder, rpc_url: str | None = None) -> Chain:
    """The chain a run settled on (read-only use)."""
    info = run.manifest.get("chain")
    if not info:
        raise ValueError(f"{run.path}: the run has no on-chain settlement (chain.enabled off?)")
    if info["kind"] == "embedded":
        return open_embedded(run.path / info["file"], info["addresses"])
    url = rpc_url or info["rpc_url"]
    return Chain.connect(url, addresses=info["addresses"])


def _batch_leaves(batch_id: int, trades: pd.DataFrame, address: dict[str, str]) -> list[bytes]:
    sellers = [address[s] for s in trades["seller"].astype(str)]
    buyers = [address[b] for b in trades["buyer"].astype(str)]
    return trade_leaves(
        batch_id,
        trades["trade_id"].to_numpy(),
        sellers,
        buyers,
        trades["energy_wh"].to_numpy(),
        trades["payment_micro_eur"].to_numpy(),
    )


def verify_run(path: str | Path, rpc_url: str | None = None) -> list[Check]:
    """Every check of a run's settlement against its chain (see the module docstring)."""
    run = open_run(path)
    chain = open_chain(run, rpc_url)
    trades = run.table("trades").sort_values("trade_id")
    batches = run.table("batches")
    participants = run.table("participants")
    address = dict(zip(participants["owner"], participants["address"], strict=True))
    addresses = participants["address"].astype(str).tolist()
    index = {str(owner): i for i, owner in enumerate(participants["owner"])}
    roles = (
        participants["role"].astype(str).tolist()
        if "role" in participants
        else ["member"] * (len(participants) - 1) + ["grid_operator"]
    )
    has_treasury = "treasury" in roles
    members = roles.count("member")
    settlement = chain.contract("Settlement")
    checks: list[Check] = []
    net_total: dict[str, int] = dict.fromkeys(participants["address"], 0)
    by_batch = dict(tuple(trades.groupby("batch_id")))
    for row in batches.itertuples():
        b = int(str(row.batch_id))
        t = by_batch.get(b, trades.iloc[:0])
        leaves = _batch_leaves(b, t, address)
        root = merkle_root(leaves)
        on_chain = chain.batch(b)
        received = net_payments(
            t["buyer"].astype(str).map(index).to_numpy(dtype=np.int64),
            t["seller"].astype(str).map(index).to_numpy(dtype=np.int64),
            t["payment_micro_eur"].to_numpy(dtype=np.int64),
            t["grid_fee_micro_eur"].to_numpy(dtype=np.int64),
            members,
            protocol_fee_micro_eur=(
                t["protocol_fee_micro_eur"].to_numpy(dtype=np.int64) if has_treasury else None
            ),
        )[0]
        net = {addresses[i]: int(v) for i, v in enumerate(received) if v}
        tx_hash, block, gas_used = str(row.tx_hash), int(str(row.block)), int(str(row.gas_used))
        tx = chain.w3.eth.get_transaction(HexBytes(tx_hash))
        _, args = settlement.decode_function_input(tx["input"])
        sent = dict(zip(args["accounts"], (int(x) for x in args["netAmounts"]), strict=True))
        receipt = chain.get_receipt(tx_hash)
        facts = {
            "root (Parquet = batches table)": "0x" + root.hex() == row.trades_root,
            "root (Parquet = contract)": on_chain.trades_root == root,
            "trade count": on_chain.trade_count == len(t) == int(args["tradeCount"]),
            "energy": on_chain.energy_wh == int(t["energy_wh"].sum()) == int(args["energyWh"]),
            "net payments (Parquet = transaction)": net == sent,
            "net payments sum to zero": sum(net.values()) == 0,
            "receipt (mined, block, gas)": receipt is not None
            and receipt["status"] == 1
            and int(receipt["blockNumber"]) == block
            and int(receipt["gasUsed"]) == gas_used,
        }
        for name, ok in facts.items():
            checks.append(Check(f"batch {b}: {name}", bool(ok), f"{len(t)} trades"))
        for who, amount in net.items():
            net_total[who] = net_total.get(who, 0) + amount
    credits = eur_to_micro_eur(float(run.manifest["config"]["chain"]["credits_eur"]))
    minted = {a: 0 if r == "treasury" else credits for a, r in zip(addresses, roles, strict=True)}
    flows = _economy_flows(run)
    for who, amount in flows.items():
        net_total[who] = net_total.get(who, 0) + amount
        minted.setdefault(who, 0)
    # a payer short of balance or consent paid less (its debt), its receivers got less (claims)
    owed = {a: chain.debt_of(a) - chain.claim_of(a) for a in net_total}
    wrong = [
        f"{a}: chain {chain.balance_of(a):,}, tables {minted[a] + total + owed[a]:,}"
        for a, total in net_total.items()
        if chain.balance_of(a) != minted[a] + total + owed[a]
    ]
    checks.append(
        Check(
            "balances = credits + net payments + debts - claims + treasury and asset flows",
            not wrong,
            f"{len(net_total)} accounts" + (f"; wrong: {wrong[:3]}" if wrong else ""),
        )
    )
    checks.append(
        Check(
            "money conserved: every movement in the tables has a payer and a receiver",
            sum(net_total.values()) == 0 and sum(flows.values()) == 0,
            f"net payments and flows sum to {sum(net_total.values()):,} micro-euro",
        )
    )
    debts = sum(chain.debt_of(a) for a in net_total)
    claims = sum(chain.claim_of(a) for a in net_total)
    checks.append(
        Check(
            "shortfalls: debts = claims",
            debts == claims,
            f"{debts:,} micro-euro owed, {claims:,} micro-euro due",
        )
    )
    supply = chain.total_supply()
    checks.append(
        Check(
            "EnergyCredit supply = credits minted",
            supply == sum(minted.values()),
            f"{supply:,} base units",
        )
    )
    if admin := run.manifest["chain"].get("admin"):
        checks.append(_verify_roles(chain, str(run.manifest["chain"]["operator"]), str(admin)))
    if has_treasury:
        checks += _verify_treasury(run, chain, trades, batches)
    if (run.path / "asset_payouts.parquet").is_file():
        checks += _verify_payouts(run, chain)
    if (run.path / "transactions.parquet").is_file():
        checks += _verify_transactions(run, chain)
    if (run.path / "rewards.parquet").is_file():
        checks += _verify_devices(run, chain)
    return checks


def _economy_flows(run: RunFolder) -> dict[str, int]:
    """Credits moved outside the batches, from the tables: members' contributions into the
    treasury, the treasury's payments for assets, assets' payouts to their holders
    [micro-euro received, by address]; they sum to zero."""
    flows: dict[str, int] = {}

    def move(source: str, to: str, amount: int) -> None:
        flows[source] = flows.get(source, 0) - amount
        flows[to] = flows.get(to, 0) + amount

    if (run.path / "treasury.parquet").is_file():
        treasury = str(run.manifest["chain"]["addresses"]["Treasury"])
        table = run.table("treasury")
        if "account" in table:
            for r in table.itertuples():
                if r.kind == "contribution":
                    move(str(r.account), treasury, int(str(r.amount_micro_eur)))
                elif r.kind == "asset_purchase":
                    move(treasury, str(r.account), -int(str(r.amount_micro_eur)))
    if (run.path / "asset_payouts.parquet").is_file():
        people = run.table("participants")
        accounts = dict(zip(people["owner"], people["address"], strict=True))
        for r in run.table("asset_payouts").itertuples():
            move(str(accounts[f"asset-{r.asset}"]), str(r.holder), int(str(r.amount_micro_eur)))
    return flows


def _verify_roles(chain: Chain, operator: str, admin: str) -> Check:
    """The operator only commits and pauses: the timelock ``admin`` holds the admin roles, the
    operator neither those nor EnergyCredit's MINTER."""
    expected = {
        ("EnergyCredit", "DEFAULT_ADMIN_ROLE", admin): True,
        ("Settlement", "DEFAULT_ADMIN_ROLE", admin): True,
        ("EnergyCredit", "DEFAULT_ADMIN_ROLE", operator): False,
        ("EnergyCredit", "MINTER_ROLE", operator): False,
        ("Settlement", "DEFAULT_ADMIN_ROLE", operator): False,
        ("Settlement", "SETTLER_ROLE", operator): True,
    }
    wrong = [
        f"{name}.{role} {'missing for' if held else 'held by'} {who}"
        for (name, role, who), held in expected.items()
        if chain.has_role(name, role, who) != held
    ]
    return Check(
        "roles: admin is the timelock, the operator only settles",
        not wrong,
        "; ".join(wrong) if wrong else f"admin {admin}",
    )


def _verify_genesis(run: RunFolder, depin: DepinContracts, genesis: int) -> Check:
    """The RewardToken's one genesis: minted by DeviceStaking alone (the genesis minter Rewards
    named), once, within its cap, and what the ``stakes`` table's genesis rows say."""
    token = depin.contract("RewardToken")
    chain = depin.chain
    minter = str(chain.call(token, "genesisMinter"))
    total, cap = int(chain.call(token, "genesisTotal")), int(chain.call(token, "genesisCap"))
    staking = run.manifest["chain"]["addresses"].get("DeviceStaking")
    if staking is None:
        ok = minter == "0x" + "00" * 20 and total == genesis == 0
    else:
        ok = minter.lower() == str(staking).lower() and total == genesis and total <= cap
    return Check(
        "RewardToken genesis: once, by DeviceStaking, within its cap = stakes' genesis rows",
        ok,
        f"minter {minter}, minted {total:,} of cap {cap:,}, tables {genesis:,} base units",
    )


def _verify_depin_roles(run: RunFolder, depin: DepinContracts, admin: str) -> Check:
    """The DePIN contracts' (and DeviceStaking's) admin is the timelock, not the operator."""
    chain = depin.chain
    operator = str(run.manifest["chain"]["operator"])
    contracts = [depin.contract("DeviceRegistry"), depin.contract("Rewards")]
    if staking := run.manifest["chain"]["addresses"].get("DeviceStaking"):
        contracts.append(DeviceStaking(depin, address=str(staking)).contract)
    wrong = []
    for contract in contracts:
        role = chain.call(contract, "DEFAULT_ADMIN_ROLE")
        for who, held in ((admin, True), (operator, False)):
            if bool(chain.call(contract, "hasRole", role, who)) != held:
                state = "missing for" if held else "held by"
                wrong.append(f"{contract.address} admin {state} {who}")
    return Check(
        "roles: the DePIN contracts' admin is the timelock, not the operator",
        not wrong,
        "; ".join(wrong) if wrong else f"{len(contracts)} contracts, admin {admin}",
    )


def _verify_treasury(
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
            if kind == "contribution":
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


def _verify_payouts(run: RunFolder, chain: Chain) -> list[Check]:
    """Every asset payout row against its distribution's events on chain, and pro rata: each
    holder's payout is ``floor(distributed x shares / supply)`` (within 1 base unit of exact)."""
    table = run.table("asset_payouts")
    addresses = run.manifest["chain"]["addresses"]
    bad: list[str] = []
    for (asset, tx), rows in table.groupby(["asset", "tx_hash"], observed=True):
        token = AssetShareToken(chain, str(addresses[f"AssetShares:{asset}"]))
        receipt = chain.get_receipt(str(tx))
        if receipt is None:
            bad.append(f"asset {asset}: no transaction {tx} on chain")
            continue
        events = token.contract.events.Distributed().process_receipt(receipt, errors=DISCARD)
        on_chain = token.payouts(receipt)
        holders, amounts = rows["holder"].astype(str), rows["amount_micro_eur"].astype(int)
        got = dict(zip(holders, amounts, strict=True))
        if not events or got != {h: int(v) for h, v in on_chain.items()}:
            bad.append(f"asset {asset}, {tx}: rows {len(rows)} differ from its Payout events")
            continue
        total, supply = int(events[0].args.amount), int(rows["shares"].sum())
        for r in rows.itertuples():
            if int(str(r.amount_micro_eur)) != total * int(str(r.shares)) // supply:
                bad.append(f"asset {asset}, batch {r.batch_id}, holder {r.holder}: not pro rata")
    return [
        Check(
            "asset payouts = Payout events, pro rata to shares",
            not bad,
            "; ".join(bad[:3]) if bad else f"{len(table)} payouts",
        )
    ]


def _verify_transactions(run: RunFolder, chain: Chain) -> list[Check]:
    """The ``transactions`` table against the chain, row by row; on the embedded chain (only
    the run sends there) every block's gas is in it."""
    table = run.table("transactions")
    info = run.manifest["chain"]
    contracts = [str(a) for a in info["addresses"].values()]
    scanned = scan_transactions(chain, int(info["first_block"]), [chain.operator], contracts)
    expected = pd.DataFrame(
        {
            "tx_hash": scanned.tx_hash,
            "kind": scanned.kind,
            "gas_used": scanned.gas_used,
        }
    )
    got = table[["tx_hash", "kind", "gas_used"]].reset_index(drop=True)
    same = len(got) == len(expected)
    detail = f"{len(got)} rows, chain {len(expected)}"
    if same:
        diff = (got.astype(str) != expected.astype(str)).any(axis=1)
        if diff.any():
            row = int(np.flatnonzero(diff.to_numpy())[0])
            same, detail = (
                False,
                f"row {row}: {got.iloc[row].to_dict()} != chain {expected.iloc[row].to_dict()}",
            )
    checks = [Check("transactions table = the chain's transactions", same, detail)]
    if info["kind"] == "embedded":
        eth = chain.w3.eth
        block_gas = sum(
            int(eth.get_block(n)["gasUsed"])
            for n in range(int(info["first_block"]), eth.block_number + 1)
        )
        total = int(table["gas_used"].sum())
        checks.append(
            Check(
                "transactions gas = every block's gas",
                block_gas == total,
                f"{total:,} gas in the table, {block_gas:,} in the blocks",
            )
        )
    return checks


def _verify_devices(run: RunFolder, chain: Chain) -> list[Check]:
    """Readings roots, reward supply and balances, and the registry against the chain."""
    depin = DepinContracts(chain, addresses=run.manifest["chain"]["addresses"])
    config = run.manifest["config"]
    interval_s = int(config["run"]["interval_s"])
    epoch_len = int(config["devices"]["epoch_days"]) * 86_400 // interval_s
    readings = run.table("readings")
    rewards = run.table("rewards")
    nodes = run.table("nodes")
    start = pd.Timestamp(config["run"]["start"])
    ok = readings[readings["status"].astype(str) == "accepted"]
    k = ((ok["time"] - start) // pd.Timedelta(seconds=interval_s)).to_numpy(dtype=np.int64)
    epoch = k // epoch_len
    checks = []
    for e in np.unique(epoch):
        rows = epoch == e
        ids = ok["device_id"].to_numpy(dtype=np.int64)[rows]
        order = np.lexsort((k[rows], ids))
        root = merkle_root(
            reading_leaves(ids[order], k[rows][order], ok["energy_wh"].to_numpy()[rows][order])
        )
        on_chain = depin.epoch_root(int(e))[0]
        stored = set(rewards.loc[rewards["epoch"] == e, "readings_root"])
        checks.append(
            Check(
                f"epoch {e}: readings root (Parquet = contract)",
                on_chain == root and stored <= {"0x" + root.hex()},
                f"{int(rows.sum())} accepted readings",
            )
        )
    total = sum(int(x) for x in rewards["amount"])
    supply = depin.reward_supply()
    stakes = run.table("stakes") if (run.path / "stakes.parquet").is_file() else None
    genesis = burned = 0
    if stakes is not None:
        genesis = int(stakes.loc[stakes["kind"] == "genesis", "amount_units"].sum())
        burned = int(stakes["burned_units"].sum())
    checks.append(
        Check(
            "RewardToken supply = genesis + rewards - burned",
            supply == genesis + total - burned,
            f"{supply:,} base units (genesis {genesis:,}, rewards {total:,}, burned {burned:,})",
        )
    )
    checks.append(_verify_genesis(run, depin, genesis))
    if admin := run.manifest["chain"].get("admin"):
        checks.append(_verify_depin_roles(run, depin, str(admin)))
    participants = run.table("participants")
    owners = dict(zip(participants["owner"], participants["address"], strict=True))
    expected = {owners[o]: int(a) for o, a in rewards.groupby("owner")["amount"].sum().items()}
    if stakes is not None:
        moved = stakes[stakes["kind"].isin(["genesis", "stake"])]
        sign = np.where(moved["kind"] == "genesis", 1, -1)
        for address, amount in zip(
            moved["owner_address"], sign * moved["amount_units"], strict=True
        ):
            expected[str(address)] = expected.get(str(address), 0) + int(amount)
    names = {a: o for o, a in owners.items()}
    wrong = [names.get(a, a) for a, amount in expected.items() if depin.reward_balance(a) != amount]
    checks.append(
        Check(
            "reward balances = genesis + rewards - stakes of each owner",
            not wrong,
            f"{len(expected)} owners" + (f"; wrong: {wrong[:3]}" if wrong else ""),
        )
    )
    if stakes is not None:
        address = run.manifest["chain"]["addresses"]["DeviceStaking"]
        checks += _verify_stakes(DeviceStaking(depin, address=address), stakes)
    if (run.path / "token_economy.parquet").is_file():
        checks += _verify_token_economy(run.table("token_economy"), rewards, supply)
    revoked = set(config["devices"]["revoked"])
    bad = [
        str(n.node_id)
        for n in nodes.itertuples()
        if depin.signer_of(int(str(n.device_id))).lower() != str(n.device_address).lower()
        or depin.is_active(int(str(n.device_id))) == (str(n.node_id) in revoked)
    ]
    checks.append(
        Check(
            "registry: every device's signer and status",
            not bad,
            f"{len(nodes)} devices" + (f"; wrong: {bad[:3]}" if bad else ""),
        )
    )
    return checks


def _verify_stakes(staking: DeviceStaking, stakes: pd.DataFrame) -> list[Check]:
    """Each device's stake, each slash's event and evidence, and the totals, against the chain."""
    checks = []
    per_device = stakes[stakes["kind"].isin(["stake", "slash"])]
    signed = np.where(per_device["kind"] == "stake", 1, -1) * per_device["amount_units"]
    held = signed.groupby(per_device["device_id"]).sum()
    wrong = []
    for device_id, amount in held.items():
        record = staking.stake_of(int(device_id))
        if record.active + record.unbonding != int(amount):
            wrong.append(int(device_id))
    checks.append(
        Check(
            "stakes: every device's stake (Parquet = DeviceStaking)",
            not wrong,
            f"{len(held)} devices" + (f"; wrong device ids: {wrong[:3]}" if wrong else ""),
        )
    )
    chain = staking.chain
    for row in stakes[stakes["kind"] == "slash"].itertuples():
        receipt = chain.get_receipt(str(row.tx_hash))
        event = staking.slashed_event(receipt) if receipt is not None else {}
        facts = (
            event.get("deviceId") == int(str(row.device_id))
            and "0x" + bytes(event.get("evidenceId", b"")).hex() == row.evidence_id
            and event.get("amount") == int(str(row.amount_units))
            and event.get("burnedAmount") == int(str(row.burned_units))
            and event.get("toSink") == int(str(row.to_treasury_units))
            and event.get("toReporter") == int(str(row.to_reporter_units))
            and staking.evidence_used(bytes.fromhex(str(row.evidence_id)[2:]))
        )
        checks.append(
            Check(
                f"stakes row {row.Index}: slash of device {row.device_id} ({row.node_id}) "
                "(Parquet = Slashed event, evidence used)",
                bool(facts),
                f"{row.amount_units:,} base units, reason {row.reason}",
            )
        )
    total = int(held.sum())
    burned = int(stakes["burned_units"].sum())
    checks.append(
        Check(
            "DeviceStaking: total staked and burned (Parquet = contract)",
            staking.total_staked() == total and staking.burned() == burned,
            f"staked {total:,}, burned {burned:,} base units",
        )
    )
    return checks


def _verify_token_economy(economy: pd.DataFrame, rewards: pd.DataFrame, supply: int) -> list[Check]:
    """Per epoch: emission = the epoch's rewards; supply = genesis + emitted - burned so far;
    the last epoch's supply = the RewardToken's supply on chain."""
    emitted = rewards.groupby("epoch")["amount"].sum()
    derived = (
        economy["genesis_units"] + economy["emitted_units"] - economy["burned_units"]
    ).cumsum()
    bad = [
        int(e)
        for e, em, s, d in zip(
            economy["epoch"],
            economy["emitted_units"],
            economy["supply_units"],
            derived,
            strict=True,
        )
        if int(em) != int(emitted.get(e, 0)) or int(s) != int(d)
    ]
    checks = [
        Check(
            "token_economy: emitted = rewards, supply = genesis + emitted - burned, per epoch",
            not bad,
            f"{len(economy)} epochs" + (f"; wrong epochs: {bad[:3]}" if bad else ""),
        )
    ]
    last = int(economy["supply_units"].iloc[-1]) if len(economy) else 0
    checks.append(
        Check(
            "token_economy: last supply = RewardToken supply on chain",
            last == supply,
            f"{last:,} base units",
        )
    )
    return checks


def prove_trade(path: str | Path, trade_id: int, rpc_url: str | None = None) -> dict[str, Any]:
    """One trade's leaf, Merkle proof and the contract's verdict on it."""
    run = open_run(path)
    trades = run.table("trades").sort_values("trade_id")
    hit = trades[trades["trade_id"] == trade_id]
    if hit.empty:
        raise KeyError(f"{run.path}: no trade {trade_id}")
    b = int(hit["batch_id"].iloc[0])
    participants = run.table("participants")
    address = dict(zip(participants["owner"], participants["address"], strict=True))
    batch = trades[trades["batch_id"] == b]
    leaves = _batch_leaves(b, batch, address)
    index = int(np.flatnonzero(batch["trade_id"].to_numpy() == trade_id)[0])
    tree = merkle_tree(leaves)
    proof = tree_proof(tree, index)
    chain = open_chain(run, rpc_url)
    row = hit.iloc[0]
    return {
        "trade_id": trade_id,
        "batch_id": b,
        "seller": str(row["seller"]),
        "buyer": str(row["buyer"]),
        "energy_wh": int(row["energy_wh"]),
        "payment_micro_eur": int(row["payment_micro_eur"]),
        "leaf": "0x" + leaves[index].hex(),
        "proof": ["0x" + p.hex() for p in proof],
        "root": "0x" + chain.batch_root(b).hex(),
        "verified_on_chain": bool(chain.verify_trade(b, leaves[index], proof)),
    }
