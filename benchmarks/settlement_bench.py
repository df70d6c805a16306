"""On-chain settlement: gas per settled trade, what it costs at an L1 and an L2 gas price,
and the chain layer's wall time by batch period.

Whole runs of the default community (self-consumption rule, so the chain layer dominates
what differs), same seed, on the embedded chain. "commit gas / trade" counts the batch commits
alone; "all gas / trade" every transaction the run sent (deployments, roles, minting,
registration, rewards, the DAO: the ``transactions`` table), one-off included. The cost per MWh
settled converts all gas at ``chain.gas_price_l1_gwei`` and ``chain.gas_price_l2_gwei`` (the
scenario's L1 and L2 profiles) and ``chain.eth_eur``, side by side; "chain s / year" scales the
layer's wall time to 365 days.

Gas per participant (:func:`participants_table`): one batch in which every participant has a
net payment (half pay, half receive; all funded and consenting), settled by the one-transaction
design (``commitBatch``, on a chain whose block gas limit is lifted to 2 G gas so that it fits
at all) and by the chunked design (``openBatch`` + ``settleChunk``, the settler's default
30 M gas budget on eth-tester's 30 M gas blocks). Gas is measured from receipts.

Run: ``.venv/bin/python benchmarks/settlement_bench.py [--days 7]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "scenarios" / "default.toml"
PERIODS = (1, 6, 24, 168)


def _run(overrides: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    from twin.engine import run_scenario
    from twin.scenario import load_scenario

    sc = load_scenario(DEFAULT, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_scenario(sc, Path(tmp) / "run")
    return {k: v for k, (v, _) in result.kpis.items()}, result.timings_s


def settlement_table(days: int = 7) -> str:
    """Markdown: the 1-day default run's gas per trade, then the batch period's trade-off."""
    kpis, timings = _run(["run.days=1"])
    lines = [
        f"1-day default run (every layer at its defaults): {kpis['settled_trades']:,.0f} "
        f"trades in {kpis['batches']:.0f} batch(es), {kpis['commit_gas_per_trade']:,.0f} commit "
        f"gas and {kpis['gas_all_per_trade']:,.0f} gas of all transactions per settled trade, "
        f"chain layer {timings['chain']:.2f} s.",
        "",
        f"Batch period on the default community, {days} d, self-consumption rule:",
        "",
        "| batch [h] | batches | trades | commit gas / trade | all gas / trade "
        "| one-off share | L1 [EUR/MWh] | L2 [EUR/MWh] | chain [s] | chain s / year |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for hours in PERIODS:
        overrides = [
            f"run.days={days}",
            f"chain.batch_hours={hours}",
            "forecasting.battery_control=self_consumption",
        ]
        k, t = _run(overrides)
        lines.append(
            f"| {hours} | {k['batches']:,.0f} | {k['settled_trades']:,.0f} "
            f"| {k['commit_gas_per_trade']:,.0f} | {k['gas_all_per_trade']:,.0f} "
            f"| {k['gas_one_off'] / k['gas_all']:.0%} "
            f"| {k['settlement_cost_l1_eur_per_mwh']:,.1f} "
            f"| {k['settlement_cost_l2_eur_per_mwh']:,.3f} "
            f"| {t['chain']:.1f} | {t['chain'] * 365 / days:,.0f} |"
        )
    return "\n".join(lines)


#: Participants of one batch, for :func:`participants_table`.
SIZES = (40, 1_000, 10_000)


def _batch_gas(n: int, *, one_tx: bool) -> tuple[int, int, int]:
    """One batch of ``n`` participants settled: (transactions, total gas, max gas of one)."""
    from settlement.chain.connection import Chain
    from settlement.chain.ledger import Ledger
    from settlement.chain.participants import participant_private_key
    from settlement.chain.settler import MAX_TX_GAS, Settler
    from settlement.units import MicroEur

    chain = Chain.embedded(block_gas_limit=2_000_000_000 if one_tx else None)
    owners = [f"p{i}" for i in range(n)]
    accounts = chain.participant_addresses(owners, 1)
    chain.mint_credits(accounts, MicroEur(10**9))
    chain.consent([participant_private_key(o, 1) for o in owners], 10**9)
    half = n // 2
    amounts = [-1_000 - i for i in range(half)] + [1_000 + i for i in range(n - half)]
    amounts[-1] -= sum(amounts)  # they sum to zero
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "ledger.sqlite")
        root = b"\x01" * 32
        trades: dict[str, list[object]] = {"seller": [accounts[0]], "buyer": [accounts[-1]]}
        trades |= {k: [0] for k in ("trade_id", "energy_wh", "payment_micro_eur")}
        ledger.plan(0, "t0", "t1", root, 1, accounts, amounts, trades)
        gas = 2_000_000_000 if one_tx else MAX_TX_GAS
        settler = Settler(ledger, chain, confirmations=0, max_tx_gas=gas)
        settler.submit(0)
        settler.confirm(0)
        chunks = ledger.chunks(0)
        per_tx = [c.gas_used or 0 for c in chunks] or [ledger.batch(0).gas_used or 0]
        ledger.close()
    return len(per_tx), sum(per_tx), max(per_tx)


def participants_table(sizes: tuple[int, ...] = SIZES) -> str:
    """Markdown: gas of one batch per participant, one transaction against chunks."""
    lines = [
        "| participants | design | transactions | total gas | gas / participant | max gas / tx |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for n in sizes:
        for one_tx, design in ((True, "one transaction (limit lifted)"), (False, "chunked")):
            txs, total, most = _batch_gas(n, one_tx=one_tx)
            lines.append(f"| {n:,} | {design} | {txs} | {total:,} | {total / n:,.0f} | {most:,} |")
    return "\n".join(lines)


def main() -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--participants-only", action="store_true")
    args = parser.parse_args()
    print(participants_table())
    if not args.participants_only:
        print(settlement_table(args.days))


if __name__ == "__main__":
    main()
