"""``gridtwin verify``'s physics: the energy balance of every interval (``node_power`` +
losses = import at the slack, ``grid_exchange``), each honest device's signed reading against
its node's metered power, the readings' EIP-712 signatures and node ids, and the curtailed
energy of ``intervals`` against ``curtailments``."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from settlement.depin.keys import address_bytes, recover_signer
from settlement.depin.leaves import readings_root
from settlement.depin.uploads import domain_separator, upload_digest
from settlement.units import mw_to_wh
from twin.checks import Check, row_check

#: The power flow's tolerance on the balance of an interval [MW] (1 W).
BALANCE_TOLERANCE_MW = 1e-6


def verify_balance(
    node_power: pd.DataFrame, exchange: pd.DataFrame, intervals: pd.DataFrame | None = None
) -> list[Check]:
    """Energy balance per interval; a broken interval names its ``grid_exchange`` row, and the
    ``node_power`` rows of that interval. An interval whose power flow did not converge
    (``intervals.converged`` false, flagged infeasible) has no exchange to balance: its
    import and losses must be unknown (NaN), never invented."""
    total = node_power.groupby("time")["p_mw"].sum()
    p = total.reindex(exchange["time"]).to_numpy()
    gap = p + exchange["losses_mw"].to_numpy() - exchange["import_mw"].to_numpy()
    ok = np.isfinite(gap) & (np.abs(gap) <= BALANCE_TOLERANCE_MW)
    if intervals is not None and "converged" in intervals:
        converged = (
            intervals.set_index("time")["converged"]
            .reindex(exchange["time"])
            .fillna(True)
            .to_numpy(dtype=bool)
        )
        unknown = exchange["import_mw"].isna().to_numpy() & exchange["losses_mw"].isna().to_numpy()
        ok |= ~converged & unknown
    bad_times = set(exchange["time"][~ok])
    first = {t: i for i, t in reversed(list(enumerate(node_power["time"])))}
    rows = np.zeros(len(node_power), dtype=bool)
    for t in bad_times:
        rows[first[t]] = True
    return [
        row_check(
            "energy balance: node_power + losses = import, every interval",
            "grid_exchange",
            ~ok,
            lambda i: (
                f"time {exchange['time'].iat[i]}: node_power {p[i]:.6f} MW + losses "
                f"{exchange['losses_mw'].iat[i]:.6f} MW != import "
                f"{exchange['import_mw'].iat[i]:.6f} MW"
            ),
        ),
        row_check(
            "energy balance: the node_power rows of every interval",
            "node_power",
            rows,
            lambda i: (
                f"the interval {node_power['time'].iat[i]} (node {node_power['node_id'].iat[i]}"
                " and the rest) does not balance with grid_exchange"
            ),
        ),
    ]


def verify_readings(
    readings: pd.DataFrame,
    nodes: pd.DataFrame,
    node_power: pd.DataFrame,
    manifest: dict[str, Any],
) -> list[Check]:
    """Signatures, node ids and the honest devices' energy against ``node_power``."""
    config = manifest["config"]
    interval_s = int(config["run"]["interval_s"])
    period = int(config["devices"]["upload_intervals"])
    start = pd.Timestamp(config["run"]["start"])
    info = manifest["chain"]
    separator = domain_separator(int(info["chain_id"]), str(info["addresses"]["DeviceRegistry"]))
    status = readings["status"].astype(str).to_numpy()
    journaled = (status == "accepted") | (status == "flagged_implausible")
    k = ((readings["time"] - start) // pd.Timedelta(seconds=interval_s)).to_numpy(dtype=np.int64)
    device = readings["device_id"].to_numpy(dtype=np.int64)
    energy = readings["energy_wh"].to_numpy(dtype=np.int64)
    signer = readings["device_address"].astype(str).to_numpy()
    signature = readings["signature"].astype(str).to_numpy()
    forged = np.zeros(len(readings), dtype=bool)
    # one upload a (device, period): its signature signs the root of all its journaled
    # readings. A row whose own signature does not sign that root is named; if none does (a
    # reading edited), each signature is tried over its own rows, as uploaded apart
    groups = pd.DataFrame({"d": device, "j": journaled, "p": k // period})
    live = groups.index[groups.j].to_numpy()
    for key, at in groups[groups.j].groupby(["d", "p"], sort=False).indices.items():
        dev, upload = cast(tuple[int, int], key)  # a 2-key groupby's keys are pairs
        order = live[at][np.argsort(k[live[at]], kind="stable")]
        root = readings_root(int(dev), k[order], energy[order])
        signs = {
            sig: _signed(separator, int(dev), int(upload), root, sig, signer[order[0]])
            for sig in dict.fromkeys(signature[order])
        }
        if any(signs.values()):
            forged[order] = ~np.array([signs[sig] for sig in signature[order]])
            continue
        for sig in signs:
            mine = order[signature[order] == sig]
            own_root = readings_root(int(dev), k[mine], energy[mine])
            forged[mine] = not _signed(
                separator, int(dev), int(upload), own_root, sig, signer[mine[0]]
            )
    checks = [
        row_check(
            "readings: every journaled reading's upload recovers to its device's signer",
            "readings",
            forged,
            lambda i: (
                f"device {device[i]} at {readings['time'].iat[i]}: the signature does not"
                f" recover to {signer[i]} over the readings as stored"
            ),
        )
    ]
    flags = readings["flags"].to_numpy(dtype=np.int64) if "flags" in readings else None
    if flags is not None:
        checks.append(
            row_check(
                "readings: accepted without a failed physics check, flagged with one",
                "readings",
                ((status == "accepted") & (flags != 0))
                | ((status == "flagged_implausible") & (flags == 0)),
                lambda i: (
                    f"device {device[i]} at {readings['time'].iat[i]}: status"
                    f" {status[i]}, flags {flags[i]}"
                ),
            )
        )
    by_address = nodes.set_index(nodes["device_address"].astype(str))
    node_id = readings["node_id"].astype(str).to_numpy()
    own = by_address["node_id"].astype(str).reindex(signer).to_numpy()
    checks.append(
        row_check(
            "readings: node_id = the node of the signing device (nodes)",
            "readings",
            own != node_id,
            lambda i: f"node_id {node_id[i]}, device {signer[i]} is {own[i]}'s",
        )
    )
    kind = by_address["kind"].astype(str).reindex(signer).to_numpy()
    attack = (
        by_address["attack"].astype(str).reindex(signer).to_numpy() if "attack" in nodes else None
    )
    honest = journaled if attack is None else journaled & (attack == "none")
    power = pd.Series(
        node_power["p_mw"].to_numpy(),
        index=pd.MultiIndex.from_arrays([node_power["time"], node_power["node_id"].astype(str)]),
    )
    p = power.reindex(pd.MultiIndex.from_arrays([readings["time"], own])).to_numpy()
    sign = np.where(kind == "consumer", 1.0, -1.0)
    finite = np.isfinite(p)
    metered = np.zeros(len(p), dtype=np.int64)
    metered[finite] = mw_to_wh(sign[finite] * p[finite], interval_s)
    # no node_power row: a node not in service then (an asset before its execution) metered
    # nothing, so only a non-zero reading contradicts it
    mismatch = honest & ~forged & np.where(finite, metered != energy, energy != 0)
    power_rows = pd.Series(np.arange(len(node_power)), index=power.index)
    where = power_rows.reindex(pd.MultiIndex.from_arrays([readings["time"], own])).to_numpy()
    node_bad = np.zeros(len(node_power), dtype=bool)
    node_bad[where[mismatch & finite].astype(np.int64)] = True
    checks.append(
        row_check(
            "node_power = the honest devices' signed readings",
            "node_power",
            node_bad,
            lambda i: (
                f"{node_power['node_id'].iat[i]} at {node_power['time'].iat[i]}: p_mw "
                f"{node_power['p_mw'].iat[i]} is not what its device signed"
            ),
        )
    )
    return checks


def _signed(separator: bytes, device: int, period: int, root: bytes, sig: str, by: str) -> bool:
    """Whether ``sig`` signs the upload (device, period, root) by ``by``, under the device's
    upload counter as nonce (one upload a period: the period, or a few apart)."""
    try:
        signature, signer = bytes.fromhex(sig.removeprefix("0x")), address_bytes(by)
        for nonce in (period, *range(max(period - 3, 0), period + 4)):
            digest = upload_digest(separator, device, period, root, nonce)
            if recover_signer(digest, signature) == signer:
                return True
    except (ValueError, OverflowError):
        return False
    return False


def verify_curtailed(intervals: pd.DataFrame, curtailments: pd.DataFrame, nodes: int) -> Check:
    """``intervals.curtailed_wh`` = the interval's ``curtailments`` (within a Wh a curtailed
    node: each row is rounded apart)."""
    grouped = curtailments.groupby("time")["curtailed_wh"]
    per_time = grouped.sum() if len(curtailments) else pd.Series(dtype=np.int64)
    count = grouped.size() if len(curtailments) else pd.Series(dtype=np.int64)
    expected = per_time.reindex(intervals["time"]).fillna(0).to_numpy(dtype=np.int64)
    tolerance = count.reindex(intervals["time"]).fillna(0).to_numpy(dtype=np.int64)
    got = intervals["curtailed_wh"].to_numpy(dtype=np.int64)
    return row_check(
        "intervals: curtailed_wh = the interval's curtailments",
        "intervals",
        np.abs(got - expected) > np.minimum(tolerance, nodes),
        lambda i: (
            f"time {intervals['time'].iat[i]}: curtailed_wh {got[i]}, curtailments {expected[i]}"
        ),
    )
