"""``gridtwin verify``'s checks of the settlement journal ``ledger.sqlite``: every journaled
batch against the chain (its root, its transaction's net payments) and against the ``batches``
table, every journaled trade against the ``trades`` table. Where the journal and a table
disagree, the chain decides which is wrong: a journal whose batch re-derives to the root the
contract holds is right, and the table's row is named; otherwise the journal's.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from settlement.chain.batches import payers_first
from settlement.chain.commits import read_commit
from settlement.chain.connection import Chain
from settlement.chain.merkle import merkle_root, trade_leaves
from twin.checks import Check, row_check

LEDGER = "ledger.sqlite"
_TRADE_COLUMNS = ["batch_id", "trade_id", "seller", "buyer", "energy_wh", "payment_micro_eur"]


def read_journal(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The journal's batches and trades, read without writing a byte (``immutable``).

    Raises
    ------
    ValueError
        Naming the file, if it is missing, not SQLite, damaged or lacks the journal's tables.
    """
    if not path.is_file():
        raise ValueError(f"{LEDGER}: missing ({path})")
    try:
        db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            damage = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
            if damage != ["ok"]:
                raise ValueError(f"{LEDGER}: damaged: {'; '.join(damage[:3])}")
            batches = pd.read_sql_query("SELECT * FROM batches ORDER BY batch_id", db)
            trades = pd.read_sql_query(
                f"SELECT {', '.join(_TRADE_COLUMNS)} FROM trades ORDER BY trade_id", db
            )
        finally:
            db.close()
    except (sqlite3.Error, pd.errors.DatabaseError) as err:
        raise ValueError(f"{LEDGER}: not a readable journal ({err})") from None
    return batches, trades


def _leaves(batch_id: int, trades: pd.DataFrame) -> list[bytes]:
    return trade_leaves(
        batch_id,
        trades["trade_id"].to_numpy(dtype=np.int64),
        trades["seller"].astype(str).tolist(),
        trades["buyer"].astype(str).tolist(),
        trades["energy_wh"].to_numpy(dtype=np.int64),
        trades["payment_micro_eur"].to_numpy(dtype=np.int64),
    )


def verify_journal(
    path: Path, chain: Chain, trades: pd.DataFrame, batches: pd.DataFrame, address: dict[str, str]
) -> list[Check]:
    """The journal against the chain, the ``batches`` and the ``trades`` table (module doc).

    ``trades`` and ``batches`` are the tables as read (rows in file order), ``address`` each
    owner's account.
    """
    try:
        journal, journaled = read_journal(path)
    except ValueError as err:
        return [Check("journal: ledger.sqlite is a readable journal", False, str(err))]
    settlement = chain.contract("Settlement")
    wrong: list[str] = []
    honest: set[int] = set()  # batches whose journaled trades re-derive the chain's root
    by_batch = dict(tuple(journaled.groupby("batch_id")))
    for j in journal.to_dict("records"):
        b = int(j["batch_id"])
        where = f"{LEDGER} batches batch_id {b}"
        mine = by_batch.get(b, journaled.iloc[:0])
        try:
            on_chain = chain.batch(b)
            derived = merkle_root(_leaves(b, mine))
            if derived == on_chain.trades_root:
                honest.add(b)
            else:
                wrong.append(
                    f"{LEDGER} trades of batch_id {b}: root {derived.hex()[:12]}… != chain"
                )
            if bytes(j["trades_root"]) != on_chain.trades_root:
                wrong.append(f"{where}: trades_root != the contract's")
            if j["state"] != "final":
                wrong.append(f"{where}: state {j['state']}, but the batch is on chain")
            energy_wh = int(mine["energy_wh"].sum())
            if int(j["trade_count"]) != len(mine) or int(j["energy_wh"]) != energy_wh:
                wrong.append(f"{where}: trade_count/energy_wh != its trades")
            sent_by = read_commit(chain, settlement, b, str(j["tx_hash"]))
            sent = sent_by.accounts, sent_by.net_amounts
            accounts, amounts = json.loads(j["accounts"]), json.loads(j["net_amounts"])
            if len(sent_by.tx_hashes) > 1:  # a split batch settles its payers first
                accounts, amounts = payers_first(accounts, amounts)
            if (accounts, amounts) != sent:
                wrong.append(f"{where}: accounts/net_amounts != its transaction's")
        except Exception as err:
            wrong.append(f"{where}: {type(err).__name__}: {err}")
    checks = [
        Check(
            "journal: ledger.sqlite batches = the chain (roots, states, net payments)",
            not wrong,
            "; ".join(wrong[:3]) if wrong else f"{len(journal)} batches",
        )
    ]
    checks.append(_batches_table(journal, batches))
    checks.append(_trades_table(journaled, trades, honest, address))
    checks.append(participants_check(journaled, trades, address))
    return checks


def participants_check(
    journaled: pd.DataFrame, trades: pd.DataFrame, address: dict[str, str]
) -> Check:
    """Each ``participants`` row's address is the one the journal gives its owner's trades
    most often (a few edited ``trades`` rows do not move it; an edited address does)."""
    side = trades[["trade_id", "seller", "buyer"]].merge(
        journaled[["trade_id", "seller", "buyer"]], on="trade_id", suffixes=("", "_j")
    )
    pairs = pd.DataFrame(
        {
            "owner": np.concatenate([side["seller"].astype(str), side["buyer"].astype(str)]),
            "address": np.concatenate([side["seller_j"].astype(str), side["buyer_j"].astype(str)]),
        }
    )
    usual = pairs.groupby("owner")["address"].agg(lambda a: a.value_counts().index[0])
    owners = list(address)
    stated = [str(address[o]) for o in owners]
    journal = [str(usual.get(o, address[o])) for o in owners]
    return row_check(
        "participants: each owner's address = its trades' in the journal",
        "participants",
        [a.lower() != j.lower() for a, j in zip(stated, journal, strict=True)],
        lambda i: f"owner {owners[i]}: address {stated[i]}, {LEDGER} trades {journal[i]}",
    )


def _value(x: object) -> object:
    """``x`` as an int if it is a whole number, else as a string (an address)."""
    if isinstance(x, (int, float, np.integer, np.floating)) and float(x).is_integer():
        return int(x)
    return str(x)


def _batches_table(journal: pd.DataFrame, batches: pd.DataFrame) -> Check:
    wrong = []
    mine = {int(j["batch_id"]): j for j in journal.to_dict("records")}
    for i, row in enumerate(batches.to_dict("records")):
        j = mine.pop(int(str(row["batch_id"])), None)
        if j is None:
            wrong.append(f"batches row {i} (batch_id {row['batch_id']}): not in {LEDGER}")
            continue
        expected: dict[str, Any] = {
            "trades_root": "0x" + bytes(j["trades_root"]).hex(),
            **{c: j[c] for c in ("trade_count", "energy_wh", "tx_hash", "block", "gas_used")},
            "state": j["state"],
        }
        for column, value in expected.items():
            got = row.get(column)
            if str(got) != str(value):
                wrong.append(
                    f"batches row {i} (batch_id {row['batch_id']}): {column} {got},"
                    f" {LEDGER} {value}"
                )
    wrong += [f"batches: batch_id {b} of {LEDGER} missing" for b in mine]
    return Check(
        "batches table = the journal",
        not wrong,
        "; ".join(wrong[:3]) if wrong else f"{len(batches)} batches",
    )


def _trades_table(
    journaled: pd.DataFrame, trades: pd.DataFrame, honest: set[int], address: dict[str, str]
) -> Check:
    """Every journaled trade is a ``trades`` row with the same parties, energy and payment."""
    table = pd.DataFrame(
        {
            "row": np.arange(len(trades)),
            "trade_id": trades["trade_id"].to_numpy(dtype=np.int64),
            "batch_id": trades["batch_id"].to_numpy(dtype=np.int64),
            "seller": trades["seller"].astype(str).map(address).fillna("?").to_numpy(),
            "buyer": trades["buyer"].astype(str).map(address).fillna("?").to_numpy(),
            "energy_wh": trades["energy_wh"].to_numpy(dtype=np.int64),
            "payment_micro_eur": trades["payment_micro_eur"].to_numpy(dtype=np.int64),
        }
    )
    both = journaled.merge(table, on="trade_id", how="outer", suffixes=("_j", ""), indicator="side")
    wrong = []
    for r in both.to_dict("records"):
        trade_id = int(r["trade_id"])
        if r["side"] == "left_only":
            wrong.append(f"trades: trade_id {trade_id} of {LEDGER} missing")
            continue
        if r["side"] == "right_only":
            wrong.append(f"trades row {int(r['row'])} (trade_id {trade_id}): not in {LEDGER}")
            continue
        # an outer merge with a missing row makes the integers floats: compare values
        values = {c: (_value(r[c]), _value(r[c + "_j"])) for c in _TRADE_COLUMNS[2:]}
        values["batch_id"] = (_value(r["batch_id"]), _value(r["batch_id_j"]))
        diff = [f"{c} {a}, journal {b}" for c, (a, b) in values.items() if a != b]
        if not diff:
            continue
        if int(r["batch_id_j"]) in honest:
            wrong.append(
                f"trades row {int(r['row'])} (trade_id {trade_id}): {'; '.join(diff)} "
                "(the journal's batch re-derives the chain's root)"
            )
        else:
            wrong.append(f"{LEDGER} trades trade_id {trade_id}: {'; '.join(diff)}")
    return Check(
        "trades table = the journal's trades",
        not wrong,
        "; ".join(wrong[:3]) if wrong else f"{len(journaled)} trades",
    )
