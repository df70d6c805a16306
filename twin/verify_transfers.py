"""``gridtwin verify``'s checks of device NFT sales: each ``device_transfers`` row against its
transaction's events, the ERC-2981 royalty arithmetic, and the devices' owners on chain
(:func:`twin.verify_devices.verify_devices` calls it)."""

from __future__ import annotations

from typing import Any

from web3.logs import DISCARD

from settlement.depin.client import DepinContracts
from settlement.depin.market import DeviceMarket, royalty_of
from twin.checks import Check
from twin.results import RunFolder


def _events(contract: Any, event: str, receipt: Any) -> list[tuple[Any, ...]]:
    """``event``'s arguments emitted by ``contract`` itself in ``receipt``."""
    found = getattr(contract.events, event)().process_receipt(receipt, errors=DISCARD)
    return [tuple(e["args"].values()) for e in found if e["address"] == contract.address]


def verify_transfers(run: RunFolder, depin: DepinContracts) -> list[Check]:
    """Each sale row = its ``DeviceSold`` event, its NFT ``Transfer`` and its two credit
    ``Transfer``s (buyer -> seller: price - royalty; buyer -> receiver: royalty); royalty =
    price x bps // 10000 to the registry's receiver; each sold device's last buyer owns it."""
    chain = depin.chain
    table = run.table("device_transfers").reset_index(drop=True)
    addresses = run.manifest["chain"]["addresses"]
    market = DeviceMarket(depin, address=str(addresses["DeviceMarket"]))
    registry = depin.contract("DeviceRegistry")
    credit = chain.contract("EnergyCredit")
    bps = int(run.manifest["config"]["devices"]["royalty"]["bps"])
    nodes = run.table("nodes")
    device_of = dict(zip(nodes["node_id"].astype(str), nodes["device_id"].astype(int), strict=True))
    checks = []
    for i, r in enumerate(table.itertuples()):
        device, price = int(str(r.device_id)), int(str(r.price_micro_eur))
        seller, buyer, receiver = (
            str(r.seller_address),
            str(r.buyer_address),
            str(r.receiver_address),
        )
        royalty = int(str(r.royalty_micro_eur))
        receipt = chain.get_receipt(str(r.tx_hash))
        ok = receipt is not None and receipt["status"] == 1
        try:  # a row naming another transaction: no (single) DeviceSold in it
            sold = market.sold_event(receipt) if ok and receipt is not None else None
        except ValueError:
            sold = None
        if sold is not None and receipt is not None:
            paid = sorted(_events(credit, "Transfer", receipt))
            want_paid = sorted(
                [(buyer, seller, price - royalty)]
                + ([(buyer, receiver, royalty)] if royalty else [])
            )
            ok = ok and (
                (sold.device_id, sold.seller, sold.buyer, sold.price, sold.receiver, sold.royalty)
                == (device, seller, buyer, price, receiver, royalty)
                and sold.nonce == int(str(r.nonce))
                and int(receipt["blockNumber"]) == int(str(r.block))
                and _events(registry, "Transfer", receipt) == [(seller, buyer, device)]
                and paid == want_paid
            )
        else:
            ok = False
        arithmetic = (
            royalty == royalty_of(price, bps)
            and depin.royalty_info(device, price) == (receiver, royalty)
            and device_of.get(str(r.node_id)) == device
        )
        checks.append(
            Check(
                f"device_transfers row {i}: {r.node_id} (device {device}) {r.seller} -> "
                f"{r.buyer} (Parquet = DeviceSold, NFT and credit Transfers; royalty = price x "
                f"{bps} bps // 10000)",
                bool(ok and arithmetic),
                f"price {price:,}, royalty {royalty:,} micro-euro to {r.receiver}, {r.tx_hash}",
            )
        )
    last = table.drop_duplicates("device_id", keep="last")
    wrong = [
        str(r.node_id)
        for r in last.itertuples()
        if depin.owner_of(int(str(r.device_id))) != str(r.buyer_address)
    ]
    checks.append(
        Check(
            "device_transfers: each sold device's last buyer owns its NFT on chain",
            not wrong,
            f"{len(last)} devices" + (f"; wrong: {wrong[:3]}" if wrong else ""),
        )
    )
    return checks
