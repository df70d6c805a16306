"""Signed meter readings: signing, recovery, leaf hashing and a year of journal verification.

Rows: EIP-712 signatures/s and recoveries/s (coincurve on hand-built digests), reading
leaves/s (:func:`settlement.depin.devices.reading_leaves`), and a year of 15-minute readings of 70
devices (40 consumers, 20 PV, 1 wind turbine, 9 batteries) uploaded once a day
(:data:`settlement.depin.devices.DEFAULT_PERIOD_INTERVALS`): signing every upload
(:func:`settlement.depin.devices.sign_period`) and verifying them day by day as the journal does
(:func:`settlement.depin.readings.verify_uploads` with the clear-sky ceiling and every physics
check, then :meth:`settlement.depin.readings.VerifierState.record`). Readings are synthetic: a
seasonal PV bell with shared clouds and 5 % noise per device, random loads, a battery that
charges at noon and discharges in the evening.

Run: ``.venv/bin/python benchmarks/devices_bench.py [--days 365]``; ``devices_table()``
returns the markdown for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from forecasting.solar import clear_sky_ceiling_w_per_m2
from settlement.depin.devices import Device, make_devices, registry_of
from settlement.depin.keys import recover_signer, sign_digest
from settlement.depin.leaves import reading_leaves
from settlement.depin.readings import verify_uploads
from settlement.depin.uploads import DEFAULT_PERIOD_INTERVALS, sign_period
from settlement.depin.verifier_state import VerifierState

CHAIN_ID = 1337
CONTRACT = "0x" + "42" * 20
INTERVAL_S = 900
START = pd.Timestamp("2016-01-01", tz="UTC")
KINDS = ("consumer",) * 40 + ("solar",) * 20 + ("wind",) + ("battery",) * 9


def fleet(seed: int = 0) -> tuple[list[Device], np.ndarray]:
    """70 devices and their nameplates [MW]."""
    p_max = np.array([0.005 if k != "wind" else 0.03 for k in KINDS])
    capacity = np.array([10.0 if k == "battery" else 0.0 for k in KINDS])
    nodes = [f"{k}-{i}" for i, k in enumerate(KINDS)]
    return make_devices(nodes, list(KINDS), p_max, capacity, seed), p_max


def day_readings(day: int, p_max_mw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One day of readings [Wh], shape (96, device), each device's production convention."""
    n = DEFAULT_PERIOD_INTERVALS
    hours = (np.arange(n) + 0.5) * 24 / n
    half_day_h = 6.05 + 2.15 * np.sin(2 * np.pi * (day - 80) / 365)  # 52.5 deg N
    from_noon = np.abs(hours - 11.3)  # solar noon at 10.5 deg E [h UTC]
    bell = np.where(from_noon < half_day_h, np.cos(np.pi * from_noon / (2 * half_day_h)), 0.0)
    sky = 0.6 * bell * rng.uniform(0.3, 1.0) * rng.uniform(0.7, 1.0, n)
    e_max = p_max_mw * 1e6 * INTERVAL_S / 3600
    cf = np.zeros((n, len(KINDS)))
    kinds = np.array(KINDS)
    solar, wind = kinds == "solar", kinds == "wind"
    cf[:, solar] = sky[:, None] * np.clip(1 + 0.05 * rng.standard_normal((n, solar.sum())), 0, None)
    cf[:, wind] = rng.uniform(0, 0.9, (n, 1))
    cf[:, kinds == "consumer"] = rng.uniform(0.05, 0.6, (n, (kinds == "consumer").sum()))
    battery = np.where((hours > 10) & (hours < 14), -0.5, np.where(hours > 18, 0.3, 0.0))
    cf[:, kinds == "battery"] = battery[:, None]
    return np.round(cf * e_max).astype(np.int64)


def rate(fn: Callable[[int], object], n: int) -> float:
    """Calls of ``fn(i)`` per second over ``i in range(n)``."""
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - started)


def year(days: int, seed: int = 0) -> dict[str, float]:
    """Sign and verify ``days`` of daily uploads of the 70 devices; seconds and readings."""
    devices, p_max = fleet(seed)
    registry = registry_of(devices)
    rng = np.random.default_rng(seed)
    readings = [day_readings(d, p_max, rng) for d in range(days)]
    started = time.perf_counter()
    ceiling = clear_sky_ceiling_w_per_m2(START, days * DEFAULT_PERIOD_INTERVALS, INTERVAL_S)
    ceiling_s = time.perf_counter() - started
    started = time.perf_counter()
    uploads = [
        sign_period(
            devices,
            d,
            readings[d],
            [d] * len(devices),
            chain_id=CHAIN_ID,
            verifying_contract=CONTRACT,
        )
        for d in range(days)
    ]
    sign_s = time.perf_counter() - started
    state = VerifierState()
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for batch in uploads:
        verdict = verify_uploads(
            batch,
            registry,
            chain_id=CHAIN_ID,
            verifying_contract=CONTRACT,
            state=state,
            clear_sky_w_per_m2=ceiling,
        )
        state.record(verdict)
        for name, n in verdict.counts().items():
            counts[name] = counts.get(name, 0) + n
    verify_s = time.perf_counter() - started
    n_readings = days * DEFAULT_PERIOD_INTERVALS * len(devices)
    return {
        "readings": n_readings,
        "uploads": days * len(devices),
        "ceiling_s": ceiling_s,
        "sign_s": sign_s,
        "verify_s": verify_s,
        "accepted": counts.get("accepted", 0),
        "flagged": counts.get("flagged_implausible", 0),
    }


def devices_table(days: int = 365, seed: int = 0) -> str:
    """The markdown table: crypto rates, leaf rate and a year of signing + verification."""
    devices, _ = fleet(seed)
    key = devices[0].private_key
    digests = [
        bytes(np.random.default_rng(i).integers(0, 256, 32, dtype=np.uint8)) for i in range(4000)
    ]
    signatures = [sign_digest(key, d) for d in digests]
    sign_rate = rate(lambda i: sign_digest(key, digests[i]), len(digests))
    recover_rate = rate(lambda i: recover_signer(digests[i], signatures[i]), len(digests))
    n = 500_000
    rng = np.random.default_rng(seed)
    energy = rng.integers(-5_000, 5_000, n)
    started = time.perf_counter()
    reading_leaves(np.repeat(np.arange(1, 71), n // 70 + 1)[:n], np.arange(n), energy)
    leaf_rate = n / (time.perf_counter() - started)
    y = year(days, seed)
    total = y["readings"]
    rows = [
        ("EIP-712 signatures (coincurve)", f"{sign_rate:,.0f} /s", "≥ 5,000 /s"),
        ("signature recoveries (coincurve)", f"{recover_rate:,.0f} /s", "≥ 5,000 /s"),
        ("reading leaves (numpy + keccak)", f"{leaf_rate:,.0f} /s", ""),
        (
            f"clear-sky ceiling, {days} d (pvlib, once a run)",
            f"{y['ceiling_s']:.2f} s",
            "",
        ),
        (
            f"sign {days} d x 70 devices ({y['uploads']:,} uploads, {total:,} readings)",
            f"{y['sign_s']:.1f} s ({total / y['sign_s']:,.0f} readings/s)",
            "",
        ),
        (
            f"verify the same, day by day (all checks; {y['flagged']:,} flagged)",
            f"{y['verify_s']:.1f} s ({total / y['verify_s']:,.0f} readings/s)",
            "",
        ),
    ]
    lines = ["| devices | measured | target |", "|---|---:|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores")
    print(devices_table(args.days, args.seed))


if __name__ == "__main__":
    main()
