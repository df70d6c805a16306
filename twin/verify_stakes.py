"""The ``stakes`` table against DeviceStaking: each row against its transaction, each
device's stake, each slash's event and evidence, and the totals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hexbytes import HexBytes
from web3.logs import DISCARD

from settlement.depin.staking import DeviceStaking
from twin.checks import Check, row_check


def verify_stakes(staking: DeviceStaking, stakes: pd.DataFrame) -> list[Check]:
    """Each device's stake, each slash's event and evidence, and the totals, against the chain."""
    checks = []
    per_device = stakes[stakes["kind"].isin(["stake", "slash", "withdraw"])]
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
    for row in stakes[stakes["kind"] == "slash"].itertuples():
        wrong_facts = _slash_differences(staking, row)
        checks.append(
            Check(
                f"stakes row {row.Index}: slash of device {row.device_id} ({row.node_id}) "
                "(Parquet = Slashed event, evidence used)",
                not wrong_facts,
                f"{row.amount_units:,} base units, reason {row.reason}"
                + (f"; differs: {'; '.join(wrong_facts)}" if wrong_facts else ""),
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


def _slash_differences(staking: DeviceStaking, row: Any) -> list[str]:
    """What a ``slash`` row of ``stakes`` says that its transaction's ``Slashed`` event does
    not (each as ``column value, event field value``), or that its evidence is unused."""
    receipt = staking.chain.get_receipt(str(row.tx_hash))
    if receipt is None:
        return [f"tx_hash {row.tx_hash}: no such transaction"]
    try:
        event = staking.slashed_event(receipt)
    except IndexError:
        return [f"tx_hash {row.tx_hash}: no Slashed event"]
    on_chain: dict[str, tuple[str, int | str]] = {
        "device_id": ("deviceId", int(event["deviceId"])),
        "evidence_id": ("evidenceId", "0x" + bytes(event["evidenceId"]).hex()),
        "amount_units": ("amount", int(event["amount"])),
        "burned_units": ("burnedAmount", int(event["burnedAmount"])),
        "to_treasury_units": ("toSink", int(event["toSink"])),
        "to_reporter_units": ("toReporter", int(event["toReporter"])),
    }
    wrong = []
    for column, (field, value) in on_chain.items():
        stated = getattr(row, column)
        stated = int(stated) if isinstance(value, int) else str(stated)
        if stated != value:
            shown = (f"{stated:,}", f"{value:,}") if isinstance(value, int) else (stated, value)
            wrong.append(f"{column} {shown[0]}, event {field} {shown[1]}")
    if not wrong and not staking.evidence_used(bytes.fromhex(str(row.evidence_id)[2:])):
        wrong.append(f"evidence_id {row.evidence_id}: not used on chain")
    return wrong


def verify_stake_rows(staking: DeviceStaking, stakes: pd.DataFrame) -> Check:
    """Each row is what its transaction did on chain: a ``genesis`` row a recipient and amount
    of its ``allocateGenesis``, a ``stake`` row a ``Staked`` event (device, staker, amount), an
    ``unbond`` row an ``UnbondRequested`` (device, amount), a ``withdraw`` row a ``Withdrawn``
    (device, staker, amount); a ``slash`` row is checked against its ``Slashed`` event by
    :func:`verify_stakes`. Any other kind is wrong."""
    chain = staking.chain
    contract = staking.contract
    moved: dict[str, set[tuple[str, int, str, int]]] = {}

    def on_chain(tx_hash: str) -> set[tuple[str, int, str, int]]:
        if tx_hash not in moved:
            found: set[tuple[str, int, str, int]] = set()
            try:
                tx = chain.w3.eth.get_transaction(HexBytes(tx_hash))
                function, args = contract.decode_function_input(tx["input"])
                if function.fn_name == "allocateGenesis":
                    found |= {
                        ("genesis", 0, str(a).lower(), int(v))
                        for a, v in zip(args["recipients"], args["amounts"], strict=True)
                    }
                receipt = chain.get_receipt(tx_hash)
                for kind, event, who in (
                    ("stake", contract.events.Staked(), "staker"),
                    ("unbond", contract.events.UnbondRequested(), ""),
                    ("withdraw", contract.events.Withdrawn(), "staker"),
                ):
                    found |= {
                        (
                            kind,
                            int(e.args.deviceId),
                            str(e.args[who]).lower() if who else "",
                            int(e.args.amount),
                        )
                        for e in event.process_receipt(receipt, errors=DISCARD)
                    }
            except Exception:  # no such transaction, or not one of ours: nothing moved
                pass
            moved[tx_hash] = found
        return moved[tx_hash]

    kind = stakes["kind"].astype(str).to_numpy()
    device = np.where(kind == "genesis", 0, stakes["device_id"].to_numpy(dtype=np.int64))
    owner = stakes["owner_address"].astype(str).str.lower().to_numpy()
    owner = np.where(kind == "unbond", "", owner)  # UnbondRequested names no staker
    amount = stakes["amount_units"].to_numpy(dtype=np.int64)
    tx = stakes["tx_hash"].astype(str).to_numpy()
    bad = [
        kind[i] != "slash"
        and (kind[i], int(device[i]), owner[i], int(amount[i])) not in on_chain(tx[i])
        for i in range(len(stakes))
    ]
    return row_check(
        "stakes: each row = its transaction (allocateGenesis, Staked, UnbondRequested, "
        "Withdrawn; slashes below)",
        "stakes",
        bad,
        lambda i: (
            f"{kind[i]} of {amount[i]:,} base units to device {device[i]} by "
            f"{owner[i] or 'its staker'}: not what {tx[i]} did on chain"
        ),
    )
