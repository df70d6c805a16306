"""``gridtwin verify``'s checks of data sales: the ``data_sales`` and ``data_releases`` tables
re-derived from the accepted readings and against the chain's ``DataMarket`` events
(:func:`twin.verify.verify_run` calls them when a run sold data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from settlement.chain.connection import Chain
from settlement.economy.data_market import DataMarket
from settlement.economy.data_sales import PPM, release_digest, sale_price, split_payment
from settlement.units import eur_to_micro_eur
from twin.checks import Check
from twin.results import RunFolder


def has_data_sales(run: RunFolder) -> bool:
    """Whether the run sold data (its ``data_sales`` table exists)."""
    return (run.path / "data_sales.parquet").is_file()


def data_minted(run: RunFolder) -> dict[str, int]:
    """The data buyer's minted credits [micro-euro], by address (none without sales)."""
    info = run.manifest.get("data_sales")
    if not info:
        return {}
    return {str(info["buyer"]): int(info["buyer_credits_micro_eur"])}


def data_flows(run: RunFolder) -> dict[str, int]:
    """Credits the data sales moved, from the ``data_sales`` table [micro-euro received, by
    address]: each sale's payment out of its buyer, each row's amount to its payee."""
    flows: dict[str, int] = {}
    if not has_data_sales(run):
        return flows
    table = run.table("data_sales")
    for _, sale in table.groupby("sale"):
        buyer = str(sale["buyer"].iloc[0])
        flows[buyer] = flows.get(buyer, 0) - int(sale["payment_micro_eur"].iloc[0])
        for payee, amount in zip(sale["payee"], sale["amount_micro_eur"], strict=True):
            flows[str(payee)] = flows.get(str(payee), 0) + int(amount)
    return flows


def verify_data_sales(run: RunFolder, chain: Chain) -> list[Check]:
    """Every data sale against the chain, its split and aggregates re-derived.

    Checks: each row is what ``DataMarket.sellData`` paid, or for a sale made in chunks the
    ``payChunk`` the row names (its ``DataPayout`` / ``DataSold`` events: payee, device, amount,
    buyer, payment, release digest; the payouts sum to the sale's devices' part, the treasury's
    row is its ``toTreasury``); payments = device payouts
    + treasury cut; the price and the split re-derived from the rows' readings; every released
    aggregate covers at least ``k`` households; the aggregates and each device's readings
    re-derived from the ``readings`` table's accepted readings.
    """
    cfg = run.manifest["config"]["devices"]["data_sales"]
    k = int(cfg["k"])
    interval_s = int(run.manifest["config"]["run"]["interval_s"])
    price = eur_to_micro_eur(float(cfg["price_eur_per_device_month"]))
    ppm = round(float(cfg["treasury_share"]) * PPM)
    table = run.table("data_sales").reset_index(drop=True)
    releases = run.table("data_releases").reset_index(drop=True)
    market = DataMarket(chain, str(run.manifest["chain"]["addresses"]["DataMarket"]))
    chain_bad: list[str] = []
    split_bad: list[str] = []
    derived_bad: list[str] = []
    total_paid = total_split = 0
    owner = run.table("nodes").set_index("device_id")["owner"].astype(str)
    readings = run.table("readings")
    columns = ["time", "device_id", "energy_wh"] + ["uploaded_at"] * ("uploaded_at" in readings)
    accepted = readings[readings["status"].astype(str) == "accepted"][columns]
    for s, sale in table.groupby("sale"):
        rows = sale.index.to_numpy()
        # One transaction (sellData), or the chunks (payChunk) the rows name, the treasury's
        # row the one that closed the sale.
        hashes = list(dict.fromkeys(str(h) for h in sale["tx_hash"]))
        receipts = {h: chain.get_receipt(h) for h in hashes}
        missing = [h for h, r in receipts.items() if r is None]
        if missing:
            chain_bad.append(f"sale {s}: no receipt for {missing[0]}")
            continue
        ev = market.events([r for r in receipts.values() if r is not None])
        payment = int(sale["payment_micro_eur"].iloc[0])
        total_paid += ev.amount_micro_eur
        total_split += int(sale["amount_micro_eur"].sum())
        devices = sale[sale["kind"] == "device"]
        treasury_row = sale[sale["kind"] == "treasury"]
        paid_in = {
            h: {(d, p.lower()): a for d, p, a in market.payouts(r)}
            for h, r in receipts.items()
            if r is not None
        }
        for i, r in devices.iterrows():
            paid = paid_in[str(r.tx_hash)]
            if paid.get((int(r.device_id), str(r.payee).lower())) != int(r.amount_micro_eur):
                chain_bad.append(
                    f"data_sales row {i} (sale {s}, device {r.device_id}): "
                    f"{r.amount_micro_eur:,} micro-euro to {r.payee}, not what {r.tx_hash} paid"
                )
        facts = {
            "payouts": len(ev.payouts) == len(devices)
            and sum(a for _, _, a in ev.payouts) == ev.to_devices_micro_eur,
            "buyer": ev.buyer.lower() == str(sale["buyer"].iloc[0]).lower(),
            "payment": ev.amount_micro_eur == payment,
            "treasury cut": len(treasury_row) == 1
            and int(treasury_row["amount_micro_eur"].iloc[0]) == ev.to_treasury_micro_eur,
            "release root": "0x" + ev.release_root.hex() == str(sale["release_root"].iloc[0]),
        }
        chain_bad += [
            f"data_sales rows {rows[0]}..{rows[-1]} (sale {s}): {name} differs from the chain"
            for name, ok in facts.items()
            if not ok
        ]
        weights = devices["readings"].astype(int).tolist()
        shares, cut = split_payment(payment, weights, ppm)
        want = [*shares, cut]
        got = sale["amount_micro_eur"].astype(int).tolist()
        if payment != sale_price(sum(weights), interval_s, price) or got != want:
            bad = [int(i) for i, g, w in zip(rows, got, want, strict=False) if g != w]
            split_bad.append(
                f"data_sales row {bad[0] if bad else rows[0]} (sale {s}): payment {payment:,} "
                f"or split {got} is not the price of {sum(weights)} readings split {want}"
            )
        rel = releases[releases["sale"] == s]
        root = release_digest(
            rel["time"].dt.tz_convert(None).astype("datetime64[us]").astype(np.int64).tolist(),
            rel["group"].astype(str).tolist(),
            rel["energy_wh"].tolist(),
            rel["devices"].tolist(),
            rel["households"].tolist(),
        )
        if "0x" + root.hex() != str(sale["release_root"].iloc[0]):
            derived_bad.append(f"sale {s}: data_releases do not hash to the sale's release root")
        derived_bad += _rederive(int(str(s)), devices, rel, accepted, owner, sale)
    small = releases[releases["households"] < k]
    return [
        Check(
            "data sales: rows = DataMarket events",
            not chain_bad,
            "; ".join(chain_bad[:3]) or f"{table['sale'].nunique()} sales, {len(table)} rows",
        ),
        Check(
            "data sales: buyer payments = device payouts + treasury cut",
            total_paid == total_split,
            f"{total_paid:,} micro-euro paid, {total_split:,} split",
        ),
        Check(
            "data sales: price and split re-derived (floor, remainder to the treasury)",
            not split_bad,
            "; ".join(split_bad[:3]) or f"{len(table)} rows",
        ),
        Check(
            f"data releases: every aggregate covers >= k = {k} households",
            small.empty,
            f"{len(releases)} aggregates"
            + (
                f"; row {int(small.index[0])} has {int(small['households'].iloc[0])}"
                if len(small)
                else ""
            ),
        ),
        Check(
            "data releases and readings re-derived from accepted readings",
            not derived_bad,
            "; ".join(derived_bad[:3]) or f"{len(releases)} aggregates",
        ),
    ]


def _rederive(
    s: int,
    devices: pd.DataFrame,
    rel: pd.DataFrame,
    accepted: pd.DataFrame,
    owner: pd.Series,
    sale: pd.DataFrame,
) -> list[str]:
    """The sale's aggregates and each paid device's readings from the accepted readings the
    journal held when it sold (late uploads after ``sold_at`` are in no sale)."""
    first, last = sale["first_time"].iloc[0], sale["last_time"].iloc[0]
    group_of = dict(
        zip(devices["device_id"].astype(int), devices["group"].astype(str), strict=True)
    )
    window = accepted[(accepted["time"] >= first) & (accepted["time"] <= last)]
    if "uploaded_at" in window and "sold_at" in sale:  # what the journal had when it sold
        window = window[window["uploaded_at"] <= sale["sold_at"].iloc[0]]
    window = window[window["device_id"].isin(group_of)].copy()
    window["group"] = window["device_id"].map(group_of)
    window["owner"] = window["device_id"].map(owner)
    keys = rel[["time", "group"]].astype({"group": str})
    used = window.merge(keys, on=["time", "group"])
    agg = (
        used.groupby(["time", "group"])
        .agg(energy_wh=("energy_wh", "sum"), devices=("device_id", "size"))
        .reset_index()
    )
    mine = rel.astype({"group": str}).merge(
        agg, on=["time", "group"], how="left", suffixes=("", "_re")
    )
    bad = []
    wrong = mine[
        (mine["energy_wh"] != mine["energy_wh_re"]) | (mine["devices"] != mine["devices_re"])
    ]
    if len(wrong):
        r = wrong.iloc[0]
        bad.append(
            f"sale {s}: aggregate {r['group']} at {r['time']}: {r['energy_wh']:,} Wh from "
            f"{r['devices']} devices in data_releases, {r['energy_wh_re']} from "
            f"{r['devices_re']} re-derived"
        )
    counts = used.groupby("device_id").size()
    for i, r in devices.iterrows():
        if int(counts.get(int(r.device_id), 0)) != int(r.readings):
            bad.append(
                f"data_sales row {i} (sale {s}, device {r.device_id}): {r.readings} readings, "
                f"{int(counts.get(int(r.device_id), 0))} accepted in its released aggregates"
            )
    return bad
