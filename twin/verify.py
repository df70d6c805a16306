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

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from settlement.chain.commits import read_commit
from settlement.chain.connection import Chain
from settlement.chain.embedded import open_embedded
from settlement.chain.merkle import merkle_root, merkle_tree, trade_leaves, tree_proof
from settlement.chain.transactions import scan_transactions
from settlement.market.bills import net_payments
from settlement.units import eur_to_micro_eur
from twin.checks import Check
from twin.results import RunFolder, open_run
from twin.verify_data import data_flows, data_minted, has_data_sales, verify_data_sales
from twin.verify_devices import verify_devices
from twin.verify_economy import economy_flows, verify_payouts, verify_treasury, verify_votes
from twin.verify_journal import LEDGER, verify_journal
from twin.verify_market import verify_bills, verify_fee_reductions, verify_orders, verify_trades
from twin.verify_participants import verify_participants
from twin.verify_physics import verify_balance, verify_curtailed, verify_readings
from twin.verify_prices import verify_prices

__all__ = ["Check", "open_chain", "prove_trade", "verify_run"]


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


def _guarded(name: str, checks: Callable[[], list[Check]]) -> list[Check]:
    """``checks()``, or one failed check naming what could not be checked and why."""
    try:
        return checks()
    except Exception as err:
        return [Check(name, False, f"{type(err).__name__}: {err}")]


def _table(run: RunFolder, name: str) -> pd.DataFrame:
    file = run.path / f"{name}.parquet"
    try:
        return run.table(name)
    except Exception as err:
        raise ValueError(f"{file.name}: unreadable ({type(err).__name__}: {err})") from None


def verify_run(path: str | Path, rpc_url: str | None = None) -> list[Check]:
    """Every check of a run against its journal, its chain, its signatures and its physics
    (see the module docstring). Never raises: what cannot be read is a failed check naming the
    file."""
    try:
        run = open_run(path)
    except Exception as err:
        return [Check("run folder: manifest.json readable", False, f"manifest.json: {err}")]
    try:
        info = run.manifest.get("chain") or {}
        if info.get("kind") == "embedded" and not (run.path / str(info["file"])).is_file():
            raise ValueError(f"{info['file']}: missing ({run.path / str(info['file'])})")
        chain = open_chain(run, rpc_url)
    except Exception as err:
        return [Check("chain: reachable", False, f"{info.get('file', 'chain')}: {err}")]
    checks = _guarded(
        "settlement: trades.parquet, batches.parquet readable", lambda: _verify_chain(run, chain)
    )
    checks += _guarded("journal: ledger.sqlite", lambda: _verify_journal(run, chain))
    checks += _guarded("market tables re-derived", lambda: _verify_market(run))
    checks += _guarded("physics", lambda: _verify_physics(run))
    return checks


def _has(run: RunFolder, name: str) -> bool:
    return (run.path / f"{name}.parquet").is_file()


def _verify_journal(run: RunFolder, chain: Chain) -> list[Check]:
    participants = _table(run, "participants")
    address = dict(zip(participants["owner"].astype(str), participants["address"], strict=True))
    return verify_journal(
        run.path / LEDGER, chain, _table(run, "trades"), _table(run, "batches"), address
    )


def _verify_market(run: RunFolder) -> list[Check]:
    trades, nodes = _table(run, "trades"), _table(run, "nodes")
    curtailed = pd.Series(dtype=np.int64)
    if _has(run, "curtailments"):
        c = _table(run, "curtailments")
        owner = (
            c["node_id"]
            .astype(str)
            .map(dict(zip(nodes["node_id"].astype(str), nodes["owner"].astype(str), strict=True)))
        )
        curtailed = c.groupby([c["time"], owner])["curtailed_wh"].sum()
    checks = verify_trades(trades, run.manifest["config"], curtailed)
    reductions = _table(run, "dimming_devices") if _has(run, "dimming_devices") else None
    if reductions is not None:
        checks.append(verify_fee_reductions(reductions, run.manifest["config"]))
    if _has(run, "prices"):
        checks += verify_prices(_table(run, "prices"), run.manifest["config"], run.manifest)
    if _has(run, "orders"):
        checks += verify_orders(_table(run, "orders"), trades, nodes, run.manifest["config"])
    if _has(run, "bills"):
        checks.append(
            verify_bills(
                _table(run, "bills"),
                trades,
                _table(run, "node_power"),
                nodes,
                run.manifest["config"],
                reductions,
                _table(run, "prices") if _has(run, "prices") else None,
            )
        )
    return checks


def _verify_physics(run: RunFolder) -> list[Check]:
    node_power, nodes = _table(run, "node_power"), _table(run, "nodes")
    checks = verify_balance(node_power, _table(run, "grid_exchange"), _table(run, "intervals"))
    curtailments = (
        _table(run, "curtailments")
        if _has(run, "curtailments")
        else pd.DataFrame({"time": [], "curtailed_wh": []})
    )
    checks.append(verify_curtailed(_table(run, "intervals"), curtailments, len(nodes)))
    if _has(run, "readings"):
        checks += verify_readings(_table(run, "readings"), nodes, node_power, run.manifest)
    return checks


def _verify_chain(run: RunFolder, chain: Chain) -> list[Check]:
    """The settlement's tables against the chain: roots, net payments, balances, supply."""
    trades = _table(run, "trades").sort_values("trade_id")
    batches = _table(run, "batches")
    participants = _table(run, "participants")
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
    checks: list[Check] = [verify_participants(run, chain, participants)]
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
        sent_by = read_commit(chain, settlement, b, tx_hash)  # one commit, or a split batch's
        sent = dict(zip(sent_by.accounts, sent_by.net_amounts, strict=True))
        mined = [chain.get_receipt(h) for h in sent_by.tx_hashes]
        receipts = [r for r in mined if r is not None and r["status"] == 1]
        facts = {
            "root (Parquet = batches table)": "0x" + root.hex() == row.trades_root,
            "root (Parquet = contract)": on_chain.trades_root == root,
            "trade count": on_chain.trade_count == len(t) == sent_by.trade_count,
            "energy": on_chain.energy_wh == int(t["energy_wh"].sum()) == sent_by.energy_wh,
            "net payments (Parquet = transaction)": net == sent
            and len(sent) == len(sent_by.accounts),
            "net payments sum to zero": sum(net.values()) == 0,
            "receipts (mined, block, gas)": len(receipts) == len(mined)
            and sent_by.tx_hashes[-1] == tx_hash
            and int(receipts[-1]["blockNumber"]) == block
            and sum(int(r["gasUsed"]) for r in receipts) == gas_used,
        }
        for name, ok in facts.items():
            checks.append(Check(f"batch {b}: {name}", bool(ok), f"{len(t)} trades"))
        for who, amount in net.items():
            net_total[who] = net_total.get(who, 0) + amount
    credits = eur_to_micro_eur(float(run.manifest["config"]["chain"]["credits_eur"]))
    minted = {a: 0 if r == "treasury" else credits for a, r in zip(addresses, roles, strict=True)}
    flows = economy_flows(run)
    for who, amount in data_flows(run).items():
        flows[who] = flows.get(who, 0) + amount
    minted.update(data_minted(run))
    for who, amount in flows.items():
        net_total[who] = net_total.get(who, 0) + amount
        minted.setdefault(who, 0)
    # a payer short of balance or consent paid less (its debt), its receivers got less (claims)
    debt = {a: chain.debt_of(a) for a in net_total}
    claim = {a: chain.claim_of(a) for a in net_total}
    balance = {a: chain.balance_of(a) for a in net_total}
    wrong = [
        f"{a}: chain {balance[a]:,}, tables {minted[a] + total + debt[a] - claim[a]:,}"
        for a, total in net_total.items()
        if balance[a] != minted[a] + total + debt[a] - claim[a]
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
    debts, claims = sum(debt.values()), sum(claim.values())
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
    # each optional part apart: one unreadable table fails its own checks, not the others
    if has_treasury:
        checks += _guarded(
            "treasury.parquet readable", lambda: verify_treasury(run, chain, trades, batches)
        )
        checks += _guarded(
            "nodes.parquet readable", lambda: [verify_votes(run, chain, _table(run, "nodes"))]
        )
    if _has(run, "asset_payouts"):
        checks += _guarded("asset_payouts.parquet readable", lambda: verify_payouts(run, chain))
    if _has(run, "transactions"):
        checks += _guarded(
            "transactions.parquet readable", lambda: _verify_transactions(run, chain)
        )
    if _has(run, "rewards"):
        checks += _guarded(
            "devices: readings, rewards, stakes, nodes readable", lambda: verify_devices(run, chain)
        )
    if has_data_sales(run):
        checks += _guarded("data sales readable", lambda: verify_data_sales(run, chain))
    return checks


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
