"""Device identity, EIP-712 signed uploads, the journal's verdicts and the physics checks."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.solar import Site, clear_sky_ceiling_w_per_m2
from settlement.chain.merkle import merkle_root, merkle_tree, tree_proof, verify_proof
from settlement.chain.participants import participant_private_key
from settlement.depin import devices as dv
from settlement.depin import fraud
from settlement.depin.keys import key_address, recover_signer, sign_digest
from settlement.depin.leaves import reading_leaves, readings_root
from settlement.depin.peers import median_of_others
from settlement.depin.plausibility import Plausibility, flag_names, plausibility_flags
from settlement.depin.readings import verify_uploads
from settlement.depin.uploads import (
    DEFAULT_PERIOD_INTERVALS,
    DOMAIN_NAME,
    Upload,
    domain_separator,
    sign_period,
    sign_upload,
    upload_digest,
)
from settlement.depin.verdict import STATUSES, Verification
from settlement.depin.verifier_state import VerifierState

CHAIN = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ON_CHAIN: dict[str, Any] = {"chain_id": CHAIN, "verifying_contract": CONTRACT}
INTERVAL_S = 900
P = DEFAULT_PERIOD_INTERVALS
YEAR = pd.Timestamp("2016-01-01", tz="UTC")
SUMMER, WINTER = 157, 345  # 2016-06-06 and 2016-12-11, as day numbers of 2016
CONTRACTS = Path(__file__).resolve().parent.parent / "settlement" / "chain" / "contracts"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
FIELDS = (("deviceId", "uint256"), ("period", "uint64"), ("readingsRoot", "bytes32"))
TYPES = {"Upload": [{"name": n, "type": t} for n, t in (*FIELDS, ("nonce", "uint64"))]}


def fleet(n_pv: int = 12, seed: int = 42) -> list[dv.Device]:
    """A consumer, ``n_pv`` PV systems of 3-10 kW, a 30 kW turbine and a 10 kWh battery."""
    kinds = ["consumer"] + ["solar"] * n_pv + ["wind", "battery"]
    p_max = [0.004, *np.linspace(0.003, 0.01, n_pv), 0.03, 0.005]
    capacity = [0.0] * (n_pv + 2) + [10.0]
    return dv.make_devices([f"{k}-{i}" for i, k in enumerate(kinds)], kinds, p_max, capacity, seed)


DEVICES = fleet()
CONSUMER, PV, WIND, BATTERY = DEVICES[0], DEVICES[1:13], DEVICES[13], DEVICES[14]


def verify(
    uploads: list[Upload], registry: dict[int, dv.RegisteredDevice] | None = None, **kw: Any
) -> Verification:
    """The journal's verdict on ``uploads`` on our chain (registry: all of :data:`DEVICES`)."""
    return verify_uploads(uploads, registry or dv.registry_of(DEVICES), **ON_CHAIN, **kw)


def per_upload(v: Verification) -> list[set[str]]:
    """The set of reading statuses of each upload."""
    return [set(v.statuses[v.upload == u]) for u in range(len(v.uploads))]


def honest(
    device: dv.Device, period: int = 0, nonce: int = 0, energy: np.ndarray | None = None
) -> Upload:
    values = np.full(P, 100, dtype=np.int64) if energy is None else energy
    return sign_upload(
        device, period, period * P + np.arange(len(values)), values, nonce, **ON_CHAIN
    )


@pytest.fixture(scope="module")
def pv5() -> pd.Series:
    from grid.profiles import profile_library

    return profile_library(0)["renewables"]["PV5"]


@pytest.fixture(scope="module")
def ceiling() -> np.ndarray:
    """Clear-sky ceiling of every interval of 2016 at the default site, interval 0 = Jan 1."""
    site = Site(latitude_deg=52.5, longitude_deg=10.5, altitude_m=100.0)
    return clear_sky_ceiling_w_per_m2(YEAR, 366 * P, INTERVAL_S, site)


def pv_day(profile: pd.Series, day: int, rng: np.random.Generator) -> np.ndarray:
    """Honest readings of :data:`PV` on one day [Wh], (96, 12): profile x nameplate x noise 5 %."""
    start = YEAR + pd.Timedelta(days=day)
    cf = profile.loc[start : start + pd.Timedelta(minutes=15 * (P - 1))].to_numpy()
    p_max_wh = np.array([d.p_max_mw for d in PV]) * 1e6 * INTERVAL_S / 3600
    noise = np.clip(1 + 0.05 * rng.standard_normal((P, len(PV))), 0, None)
    return np.round(cf[:, None] * p_max_wh * noise).astype(np.int64)


# -- identity and EIP-712 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device_id", "period", "nonce", "chain_id"),
    [(1, 0, 0, 1), (4242, 365, 17, CHAIN), (2**24 - 1, 2**64 - 1, 2**64 - 1, 2**255)],
)
def test_digest_and_signature_equal_eth_account(
    device_id: int, period: int, nonce: int, chain_id: int
) -> None:
    key, root = dv.device_private_key("pv-7", seed=3), keccak(b"readings")
    domain = {"name": DOMAIN_NAME, "version": "1", "chainId": chain_id}
    domain["verifyingContract"] = CONTRACT
    message = {"deviceId": device_id, "period": period, "readingsRoot": root, "nonce": nonce}
    reference = Account.sign_typed_data(key, domain, TYPES, message)
    digest = upload_digest(domain_separator(chain_id, CONTRACT), device_id, period, root, nonce)
    signature = sign_digest(key, digest)
    assert digest == bytes(reference.message_hash)
    assert signature == bytes(reference.signature)
    assert signature[64] in (27, 28)
    address = key_address(key)
    assert address == Account.from_key(key).address
    assert recover_signer(digest, signature) == bytes.fromhex(address[2:])
    signable = encode_typed_data(domain, TYPES, message)
    assert Account.recover_message(signable, signature=signature) == address


def test_recovering_a_signature_made_here_equals_recovering_it_in_full() -> None:
    """A signature :func:`sign_digest` made is recovered from the memo once, as libsecp256k1
    recovers it; changed bytes (digest, ``s``, ``v``, the high-``s`` twin) miss the memo."""
    from settlement.depin import keys

    key = dv.device_private_key("pv-3", seed=5)
    signer = bytes.fromhex(key_address(key)[2:])
    digest = keccak(b"an upload")
    signature = sign_digest(key, digest)
    assert digest + signature in keys._SIGNED
    assert recover_signer(digest, signature) == signer  # the memo's answer, handed out once
    assert digest + signature not in keys._SIGNED
    assert recover_signer(digest, signature) == signer  # recovered in full: the same
    sign_digest(key, digest)
    other = keccak(b"another upload")
    assert recover_signer(other, signature) not in (signer, None)  # a changed digest
    flipped = signature[:64] + bytes([55 - signature[64]])
    assert recover_signer(digest, flipped) != signer
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + flipped[64:]
    assert recover_signer(digest, twin) is None  # high s: refused before any lookup
    keys._SIGNED[digest + twin] = signer  # even a memo entry cannot make it valid
    assert recover_signer(digest, twin) is None
    del keys._SIGNED[digest + twin]
    assert recover_signer(digest, signature) == signer


def test_sign_upload_signs_the_root_of_its_readings() -> None:
    device, intervals, energy = PV[2], np.arange(5 * P, 6 * P), np.arange(P) * 7 - 50
    up = sign_upload(device, 5, intervals, energy, 9, **ON_CHAIN)
    leaves = reading_leaves(device.device_id, intervals, energy)
    assert (
        up.readings_root
        == merkle_root(leaves)
        == readings_root(device.device_id, intervals, energy)
    )
    domain = {
        "name": DOMAIN_NAME,
        "version": "1",
        "chainId": CHAIN,
        "verifyingContract": CONTRACT,
    }
    message = {
        "deviceId": device.device_id,
        "period": 5,
        "readingsRoot": up.readings_root,
        "nonce": 9,
    }
    signed = Account.sign_typed_data(device.private_key, domain, TYPES, message)
    assert up.signature == bytes(signed.signature)
    tree = merkle_tree(leaves)
    assert all(verify_proof(up.readings_root, leaves[i], tree_proof(tree, i)) for i in (0, 41, 95))


int63 = st.integers(0, 2**63 - 1)


@settings(max_examples=50, deadline=None)
@given(rows=st.lists(st.tuples(int63, int63, st.integers(-(2**63), 2**63 - 1)), max_size=6))
def test_leaves_equal_eth_abi_encoding(rows: list[tuple[int, int, int]]) -> None:
    columns = np.array(rows, dtype=np.int64).reshape(len(rows), 3).T
    expected = [keccak(keccak(encode(["uint256", "uint64", "int64"], list(r)))) for r in rows]
    assert reading_leaves(*columns) == expected
    with pytest.raises(TypeError):
        reading_leaves(1, [0, 1], [1.5, 2.0])
    with pytest.raises(ValueError, match="shape"):
        reading_leaves(1, [0, 1], [1])
    with pytest.raises(ValueError, match="non-negative"):
        reading_leaves(1, [-1], [1])


JS_CHECK = """
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const tree = StandardMerkleTree.of(input, ["uint256", "uint64", "int64"], { sortLeaves: false });
process.stdout.write(JSON.stringify({ root: tree.root, proof: tree.getProof(3) }));
"""


def test_readings_root_equals_openzeppelin_merkle_tree_js() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the JavaScript cross-check needs it")
    if not (CONTRACTS / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        pytest.skip("settlement/chain/contracts/node_modules is missing (make contracts)")
    intervals = np.arange(96, 96 + 13)
    energy = np.array([0, 1, -1, 2**63 - 1, -(2**63), 5000, -5000, 7, 0, 3, -2, 9, 11])
    values = [["7", str(i), str(e)] for i, e in zip(intervals, energy, strict=True)]
    run = subprocess.run(
        ["node", "-e", JS_CHECK], input=json.dumps(values), capture_output=True, text=True,
        cwd=CONTRACTS, timeout=60, check=True,
    )  # fmt: skip
    js = json.loads(run.stdout)
    leaves = reading_leaves(7, intervals, energy)
    assert "0x" + merkle_root(leaves).hex() == js["root"]
    assert ["0x" + p.hex() for p in tree_proof(merkle_tree(leaves), 3)] == js["proof"]


def test_keys_and_signatures_are_deterministic_and_distinct() -> None:
    again, other = fleet(seed=42), fleet(seed=43)
    assert [d.address for d in DEVICES] == [d.address for d in again]
    assert len({d.address for d in DEVICES}) == len(DEVICES)
    assert not {d.address for d in DEVICES} & {d.address for d in other}
    assert [d.device_id for d in DEVICES] == list(range(1, len(DEVICES) + 1))
    assert CONSUMER.private_key != participant_private_key(CONSUMER.node_id, 42)
    assert "private_key" not in repr(CONSUMER)
    energy = np.arange(P * len(DEVICES)).reshape(P, len(DEVICES))
    first = sign_period(DEVICES, 2, energy, [1] * len(DEVICES), **ON_CHAIN)
    second = sign_period(again, 2, energy, {d.device_id: 1 for d in again}, **ON_CHAIN)
    assert [u.signature for u in first] == [u.signature for u in second]
    single = sign_upload(DEVICES[4], 2, np.arange(2 * P, 3 * P), energy[:, 4], 1, **ON_CHAIN)
    assert single.signature == first[4].signature
    assert np.array_equal(first[4].intervals, np.arange(2 * P, 3 * P))


# -- the journal's verdicts ---------------------------------------------------------------------


def test_honest_upload_is_accepted_and_recorded() -> None:
    v = verify([honest(CONSUMER)])
    assert per_upload(v) == [{"accepted"}]
    assert v.counts()["accepted"] == P
    state = VerifierState()
    state.record(v)
    assert (state.n_readings, state.n_uploads) == (P, 1)
    assert state.has_readings([1, 1, 2], [0, 95, 0]).tolist() == [True, True, False]


def test_tampered_forged_and_malformed_uploads_are_rejected_and_burn_nothing() -> None:
    up = honest(CONSUMER)
    in_transit = fraud.tamper(up, index=7, delta_wh=1)
    forged = honest(fraud.forger(PV[1], seed=1))
    assert forged.device_id == PV[1].device_id
    r, s, v = up.signature[:32], int.from_bytes(up.signature[32:64], "big"), up.signature[64]
    high_s = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # malleable twin
    bad = [high_s, up.signature[:64] + bytes([v - 27]), up.signature[:64], bytes(65)]
    outside = sign_upload(CONSUMER, 0, np.arange(P, 2 * P), np.ones(P, dtype=int), 0, **ON_CHAIN)
    twice = sign_upload(CONSUMER, 0, [0, 0], [1, 1], 0, **ON_CHAIN)
    rejected = [in_transit, forged, *(replace(up, signature=b) for b in bad), outside, twice]
    verdict = verify([*rejected, up, honest(PV[1])])
    assert per_upload(verdict) == [{"rejected_tampered"}] * len(rejected) + [{"accepted"}] * 2
    assert verdict.nonce_used.tolist() == [False] * len(rejected) + [True] * 2


def test_wrong_chain_is_rejected_and_told_apart_from_a_forgery() -> None:
    sent = fraud.attack_uploads(PV[0], 0, np.full(P, 100), 0, "wrong_chain", **ON_CHAIN)
    assert [s.attack for s in sent] == ["none", "wrong_chain"]
    foreign = sent[1].upload
    assert foreign.chain_id == CHAIN + 1
    assert per_upload(verify([foreign, sent[0].upload])) == [{"rejected_wrong_chain"}, {"accepted"}]
    other: dict[str, Any] = {"chain_id": CHAIN, "verifying_contract": "0x" + "11" * 20}
    other_contract = sign_upload(PV[0], 0, np.arange(P), np.full(P, 1), 0, **other)
    relabelled = replace(foreign, chain_id=CHAIN)  # a foreign signature passed off as ours
    forged = replace(foreign, signature=honest(fraud.forger(PV[0], 0)).signature)
    verdict = verify([other_contract, relabelled, forged])
    assert per_upload(verdict) == [{"rejected_wrong_chain"}, *[{"rejected_tampered"}] * 2]


def test_replays_are_rejected_in_batch_and_across_batches() -> None:
    first = honest(PV[0], period=0, nonce=0)
    v = verify([first, first])
    assert per_upload(v) == [{"accepted"}, {"rejected_replayed"}]
    state = VerifierState()
    state.record(v)
    sent = fraud.attack_uploads(PV[0], 1, np.full(P, 90), 1, "replay", **ON_CHAIN, previous=first)
    assert [s.attack for s in sent] == ["none", "replay"]
    assert sent[1].upload is first
    later = verify([s.upload for s in sent], state=state)
    assert per_upload(later) == [{"accepted"}, {"rejected_replayed"}]
    # a fresh nonce re-claiming journaled intervals: those readings are replays
    again = sign_upload(PV[0], 0, np.arange(P // 2, P), np.full(P // 2, 5), 7, **ON_CHAIN)
    more = verify([again], state=state)
    assert per_upload(more) == [{"rejected_replayed"}]
    assert more.nonce_used.tolist() == [True]
    journal = ([PV[0].device_id] * P, np.arange(P)), ([PV[0].device_id], [0])
    restored = VerifierState(readings=journal[0], nonces=journal[1])
    assert per_upload(verify([first], state=restored)) == [{"rejected_replayed"}]


def test_unregistered_and_revoked_devices_are_rejected_and_counted() -> None:
    stranger = dv.Device(999, "x", "solar", 0.005, 0.0, dv.device_private_key("x", 9))
    registry = dv.registry_of(DEVICES, revoked=[PV[0].device_id])
    huge = replace(honest(stranger), device_id=2**200, nonce=2**64 - 1, period=2**64 - 1)
    v = verify([honest(stranger), honest(PV[0]), honest(PV[1]), huge], registry)
    assert per_upload(v) == [{"rejected_unregistered"}] * 2 + [
        {"accepted"},
        {"rejected_unregistered"},
    ]
    counts = v.counts()
    assert (counts["rejected_unregistered"], counts["revoked"]) == (3 * P, P)


def test_statuses_follow_the_documented_order() -> None:
    """A revoked device's replay is unregistered; a tampered replay is tampered."""
    up = honest(PV[0])
    state = VerifierState()
    state.record(verify([up]))
    revoked = dv.registry_of(DEVICES, revoked=[PV[0].device_id])
    assert per_upload(verify([up], revoked, state=state)) == [{"rejected_unregistered"}]
    assert per_upload(verify([fraud.tamper(up)], state=state)) == [{"rejected_tampered"}]
    assert per_upload(verify([up], state=state)) == [{"rejected_replayed"}]


# -- physics ----------------------------------------------------------------------------------


def test_physics_flags_each_kind_of_impossible_reading(ceiling: np.ndarray) -> None:
    day, at = SUMMER, SUMMER * P
    noon = np.zeros(P)
    noon[44:52] = 0.4  # capacity factor from 11:00 to 13:00 UTC
    energy = [np.round(noon * d.p_max_mw * 2.5e5).astype(np.int64) for d in PV[:3]]
    energy[0][92] = 100  # 23:00 UTC: above the clear-sky ceiling and the peers
    energy[0][3] = -5  # negative generation
    gust = np.full(P, 1000, dtype=np.int64)
    gust[10] = 8000  # 30 kW x 0.25 h = 7,500 Wh
    cycle = np.zeros(P, dtype=np.int64)
    cycle[:8] = 1250  # 10 kWh out of a full 10 kWh battery: fine
    cycle[8] = 1000  # more than was ever stored
    senders, readings = [*PV[:3], WIND, BATTERY], [*energy, gust, cycle]
    ups = [honest(d, day, 0, e) for d, e in zip(senders, readings, strict=True)]
    v = verify(ups, clear_sky_w_per_m2=ceiling)
    found = zip(v.device_id, v.interval, v.flags, strict=True)
    flagged = {(int(d), int(i) - at): flag_names(int(f)) for d, i, f in found if f}
    assert flagged == {
        (PV[0].device_id, 92): ["clear_sky", "peer"],
        (PV[0].device_id, 3): ["negative"],
        (WIND.device_id, 10): ["nameplate"],
        (BATTERY.device_id, 8): ["battery"],
    }
    assert v.counts()["flagged_implausible"] == 4
    assert v.battery_book[BATTERY.device_id] == (at + P - 1, pytest.approx(-1000.0))


def test_battery_bookkeeping_carries_across_uploads() -> None:
    empty, charge, drain = (np.zeros(P, dtype=np.int64) for _ in range(3))
    empty[:8] = 1250  # day 0: 10 kWh out of the battery, assumed full at first
    charge[:8] = -1250  # day 1: 10 kWh in
    drain[:16] = 1250  # day 2: 20 kWh out: only the first 10 were stored
    state = VerifierState()
    for period, energy in enumerate((empty, charge, drain)):
        v = verify([honest(BATTERY, period, period, energy)], state=state)
        state.record(v)
    assert state.battery_book[BATTERY.device_id] == (3 * P - 1, pytest.approx(-10_000.0))
    assert v.statuses[:16].tolist() == ["accepted"] * 8 + ["flagged_implausible"] * 8
    lossy = Plausibility(battery_charge_efficiency=0.9, battery_discharge_efficiency=0.9)
    # from full: 8 kWh out (8.9 stored), 10 kWh in (9 stored, capped at 10), then 11 kWh out
    parts = [np.full(8, 1000), np.full(8, -1250), np.full(11, 1000), np.zeros(P - 27)]
    v = verify([honest(BATTERY, 0, 0, np.concatenate(parts).astype(np.int64))], limits=lossy)
    assert v.statuses[16:27].tolist() == ["accepted"] * 9 + ["flagged_implausible"] * 2


def honest_battery_days(days: int, rng: np.random.Generator) -> np.ndarray:
    """Readings [Wh] of the twin's battery model (grid.nodes.BatteryNodes): 10 kWh, 5 kW,
    efficiencies 0.95, SoC band 5-95 %, starting half full, asked random powers."""
    soc_kwh, out = 5.0, np.zeros(days * P, dtype=np.int64)
    for k in range(days * P):
        request_kw = rng.uniform(-5, 5)  # load convention: charging positive
        room, stock = 9.5 - soc_kwh, soc_kwh - 0.5
        p_kw = float(np.clip(request_kw, -min(5, stock * 0.95 / 0.25), min(5, room / 0.25 / 0.95)))
        soc_kwh += p_kw * 0.25 * 0.95 if p_kw > 0 else p_kw * 0.25 / 0.95
        out[k] = round(-p_kw * 250)  # discharged positive [Wh]
    return out


def test_honest_batteries_and_turbines_are_never_flagged(pv5: pd.Series) -> None:
    from grid.profiles import profile_library

    wp4 = profile_library(0)["renewables"]["WP4"].to_numpy()
    exact = Plausibility(
        battery_charge_efficiency=0.95, battery_discharge_efficiency=0.95, battery_soc_initial=0.5
    )
    for limits in (None, exact):
        rng = np.random.default_rng(3)
        readings = honest_battery_days(4, rng)
        state = VerifierState()
        for day in range(4):
            cf = wp4[day * P : (day + 1) * P] * np.clip(1 + 0.05 * rng.standard_normal(P), 0, 1)
            battery = honest(BATTERY, day, day, readings[day * P : (day + 1) * P])
            wind = honest(WIND, day, day, np.round(cf * 7500).astype(np.int64))
            v = verify([battery, wind], state=state, limits=limits)
            state.record(v)
            assert per_upload(v) == [{"accepted"}] * 2, (day, v.counts())
        assert state.battery_book[BATTERY.device_id][1] >= 0


def test_median_of_others_equals_brute_force() -> None:
    rng = np.random.default_rng(5)
    values = rng.uniform(0, 1, (40, 7))
    values[rng.uniform(size=values.shape) < 0.3] = np.nan
    got = median_of_others(values)
    for t in range(values.shape[0]):
        for d in range(values.shape[1]):
            others = np.delete(values[t], d)
            others = others[~np.isnan(others)]
            want = np.nan if np.isnan(values[t, d]) or not len(others) else np.median(others)
            assert got[t, d] == pytest.approx(want, nan_ok=True)


def test_the_ceiling_holds_every_simbench_pv_profile_with_noise(ceiling: np.ndarray) -> None:
    """No honest PV reading of 2016 (eight SimBench profiles, 5 % noise) is over the ceiling."""
    from grid.profiles import profile_library

    renewables = profile_library(0)["renewables"].loc[YEAR : YEAR + pd.Timedelta(days=366)]
    rng = np.random.default_rng(0)
    for name in [f"PV{i}" for i in range(1, 9)]:
        cf = renewables[name].to_numpy()[: len(ceiling)]
        e = np.round(cf * 1250 * np.clip(1 + 0.05 * rng.standard_normal(len(cf)), 0, None))
        one, when = np.ones(len(e)), np.arange(len(e))
        flags, _ = plausibility_flags(
            one,
            when // P,
            when,
            e,
            one,
            one * 0.005,
            one * 0,
            interval_s=900,
            clear_sky_w_per_m2=ceiling,
        )
        assert not flags.any(), name


@pytest.mark.parametrize("day", [SUMMER, WINTER])
def test_honest_noisy_devices_are_never_flagged(
    pv5: pd.Series, ceiling: np.ndarray, day: int
) -> None:
    for seed in range(25):
        uploads = sign_period(
            PV, day, pv_day(pv5, day, np.random.default_rng(seed)), [0] * 12, **ON_CHAIN
        )
        v = verify(uploads, clear_sky_w_per_m2=ceiling)
        assert set(v.statuses) == {"accepted"}, (seed, v.counts())


@pytest.mark.parametrize("day", [SUMMER, WINTER, 60, 251])
def test_inflating_by_1_3_is_always_flagged(pv5: pd.Series, ceiling: np.ndarray, day: int) -> None:
    for seed in range(15):
        rng = np.random.default_rng(100 + seed)
        energy = pv_day(pv5, day, rng)
        cheat = int(rng.integers(len(PV)))
        uploads = sign_period(PV, day, energy, [0] * len(PV), **ON_CHAIN)
        sent = fraud.attack_uploads(PV[cheat], day, energy[:, cheat], 0, "inflate", **ON_CHAIN)
        uploads[cheat] = sent[0].upload
        v = verify(uploads, clear_sky_w_per_m2=ceiling)
        mine, produced = v.device_id == PV[cheat].device_id, energy[:, cheat] > 0
        assert produced.any()
        assert (v.statuses[mine][produced] == "flagged_implausible").all(), seed
        assert set(v.statuses[~mine]) == {"accepted"}, seed


def test_every_attack_is_rejected_or_flagged_and_honest_uploads_pass(
    pv5: pd.Series, ceiling: np.ndarray
) -> None:
    attacks = ["none", "inflate", "replay", "forge", "wrong_chain"] + ["none"] * (len(PV) - 5)
    expected = {"inflate": "flagged_implausible", "forge": "rejected_tampered"}
    expected |= {"wrong_chain": "rejected_wrong_chain", "replay": "rejected_replayed"}
    rng, state = np.random.default_rng(7), VerifierState()
    previous: dict[int, Upload] = {}
    for period, day in enumerate((SUMMER, SUMMER + 1)):
        energy = pv_day(pv5, day, rng)
        sent = []
        for j, (device, attack) in enumerate(zip(PV, attacks, strict=True)):
            earlier = previous.get(device.device_id)
            sent += fraud.attack_uploads(
                device, day, energy[:, j], period, attack, **ON_CHAIN, previous=earlier, seed=42
            )
        v = verify([s.upload for s in sent], state=state, clear_sky_w_per_m2=ceiling)
        state.record(v)
        kinds = np.array([s.attack for s in sent])[v.upload]
        assert set(v.statuses[kinds == "none"]) == {"accepted"}
        assert (kinds == "replay").any() == (period == 1)  # nothing to replay on day one
        for attack, status in list(expected.items())[: 4 if period else 3]:
            produced = v.energy_wh[kinds == attack] > 0
            assert set(v.statuses[kinds == attack][produced]) == {status}, attack
        previous = {s.upload.device_id: s.upload for s in sent if s.attack == "none"}
    with pytest.raises(ValueError, match="unknown attack"):
        fraud.attack_uploads(PV[0], 0, np.ones(P), 0, "bribe", **ON_CHAIN)


def test_readings_table_has_the_store_columns() -> None:
    v = verify([honest(CONSUMER, period=2), fraud.tamper(honest(PV[0], period=2))])
    table = v.readings_table({d.device_id: d.node_id for d in DEVICES}, YEAR, INTERVAL_S)
    columns = ["time", "device_address", "node_id", "energy_wh", "signature", "status"]
    assert list(table.columns[:6]) == columns
    assert len(table) == 2 * P
    assert table["time"].iloc[0] == YEAR + pd.Timedelta(days=2)
    assert table["device_address"].iloc[0] == CONSUMER.address
    assert table["node_id"].iloc[-1] == PV[0].node_id
    assert table["signature"].iloc[0] == "0x" + v.uploads[0].signature.hex()
    assert list(table["status"].cat.categories) == list(STATUSES)
    assert table["status"].value_counts()[["accepted", "rejected_tampered"]].tolist() == [P, P]
    assert table["energy_wh"].dtype == np.int64
    assert len(verify([]).readings_table()) == 0


def test_plausibility_refuses_bad_thresholds() -> None:
    with pytest.raises(ValueError, match="finite"):
        Plausibility(peer_tolerance=float("nan"))
    with pytest.raises(ValueError, match="efficiency"):
        Plausibility(battery_charge_efficiency=1.2)
