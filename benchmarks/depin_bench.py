"""DePIN rewards: gas per rewarded device per epoch, by payout mode and epoch length.

1. Payout modes on the embedded chain, 25 devices whose owners already hold tokens (the
   steady state): (a) one ``Rewards.distribute`` batch mint per epoch, (b) one
   ``commitEpoch`` plus a ``claim`` per device, (c) ``commitEpoch`` plus ``claimMany``.
2. Whole runs of the default community (self-consumption rule) with the reward epoch at 1
   and 7 days: gas per rewarded device per epoch and the devices layer's wall time, scaled
   to a year.
3. ``scenarios/fraud.toml``: the attacks and what they earned.

Run: ``.venv/bin/python benchmarks/depin_bench.py [--days 14]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _modes(n: int = 25) -> list[tuple[str, float]]:
    from settlement.chain.connection import Chain
    from settlement.depin.client import DepinContracts

    chain = Chain.embedded()
    depin = DepinContracts(chain)
    depin.deploy()
    ids = list(range(1, n + 1))
    owners = Chain.participant_addresses([f"owner-{i}" for i in ids], 1)
    signers = Chain.participant_addresses([f"device-{i}" for i in ids], 2)
    depin.register_devices(ids, owners, signers, [1] * n, [6000] * n)
    amounts = [1_000_000 + i for i in ids]
    root = b"\x01" * 32
    # epoch 0 makes every owner a holder; then measure steady-state epochs
    depin.distribute(0, root, ids, amounts)
    a = depin.distribute(1, root, ids, amounts)["gasUsed"] / n
    from settlement.chain.merkle import merkle_tree, tree_proof
    from settlement.depin.rewards import reward_leaves

    leaves = reward_leaves(3, ids, amounts)
    tree = merkle_tree(leaves)
    commit = depin.commit_epoch(3, root, tree[0], sum(amounts))["gasUsed"]
    claims = sum(
        depin.claim(3, i, amt, tree_proof(tree, k))["gasUsed"]
        for k, (i, amt) in enumerate(zip(ids, amounts, strict=True))
    )
    b = (commit + claims) / n
    receipts = depin.commit_and_claim(4, root, ids, amounts)
    c = sum(r["gasUsed"] for r in receipts) / n
    return [
        ("(a) distribute: one batch mint per epoch", a),
        ("(b) commitEpoch + one claim per device", b),
        ("(c) commitEpoch + claimMany (multiproof)", c),
    ]


def _run(scenario: Path, overrides: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    from twin.engine import run_scenario
    from twin.scenario import load_scenario

    sc = load_scenario(scenario, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_scenario(sc, Path(tmp) / "run")
    return {k: v for k, (v, _) in result.kpis.items()}, result.timings_s


def depin_table(days: int = 14) -> str:
    """Markdown: payout modes, epoch length, the fraud scenario."""
    lines = [
        "Payout modes, 25 devices whose owners already hold RewardTokens (embedded chain):",
        "",
        "| mode | gas per rewarded device per epoch |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {gas:,.0f} |" for label, gas in _modes()]
    lines += [
        "",
        f"Reward epoch on the default community, {days} d, self-consumption rule:",
        "",
        "| epoch [d] | gas per rewarded device per epoch | devices layer [s] | devices s / year |",
        "|---:|---:|---:|---:|",
    ]
    default = ROOT / "scenarios" / "default.toml"
    for epoch in (1, 7):
        k, t = _run(
            default,
            [
                f"run.days={days}",
                f"devices.epoch_days={epoch}",
                "forecasting.battery_control=self_consumption",
            ],
        )
        lines.append(
            f"| {epoch} | {k['reward_gas_per_device']:,.0f} | {t['devices']:.1f} "
            f"| {t['devices'] * 365 / days:,.0f} |"
        )
    k, _ = _run(ROOT / "scenarios" / "fraud.toml", [])
    refused = k["attack_readings"] - k["attack_readings_rewarded"]
    lines += [
        "",
        f"`scenarios/fraud.toml` (1 day): {k['attack_readings']:,.0f} attack readings "
        f"(inflated, replayed, forged, wrong chain), {refused:,.0f} refused or flagged, "
        f"{k['attack_readings_rewarded']:,.0f} rewarded; "
        f"{k['readings_accepted']:,.0f} honest readings accepted, "
        f"{np.round(k['rewards_tokens'], 2):,} reward tokens paid.",
    ]
    return "\n".join(lines)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    args = parser.parse_args()
    print(depin_table(args.days))


if __name__ == "__main__":
    main()
