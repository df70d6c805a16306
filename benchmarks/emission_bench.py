"""Does the token economy pay for itself? Emission schedules against protocol fee levels.

The default community over 3 one-day reward epochs (hourly intervals, daily batches, the
embedded chain), once per emission schedule (``constant``; ``halving`` every epoch; ``decay``
30 % an epoch; ``revenue``: burn-and-mint) and protocol fee (``economy.protocol_fee_bps``).
Per run, from the ``token_economy`` table: tokens emitted, protocol revenue, tokens burned
(bought back with revenue), the net supply change on chain, the break-even token value (the
value of one token at which the rewards emitted equal the revenue) and whether the economy
pays for itself at the reference price ``devices.emission.token_price_eur`` (0.01 EUR/token):
revenue >= emitted x price, over the run and after the first epoch (the revenue schedule
emits the whole first pool as its bootstrap, so its steady state starts at epoch 1). A
batch's fees reach the Treasury when it commits, just after its epoch closed: each epoch's
burn buys with the fees of the epoch before, and the Treasury's balance at the last epoch's
end holds what the buyback has not drawn (the last batch's fees arrive after it). The
buyback's gas (its draws and the holders' sales, one transaction a seller) is priced at the
default layer-2 gas price (0.01 gwei, 3,000 EUR/ETH).

Run: ``.venv/bin/python benchmarks/emission_bench.py [--days 3]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEDULES: tuple[tuple[str, list[str]], ...] = (
    ("constant", []),
    ("halving", ["devices.emission.halving_epochs=1"]),
    ("decay", ["devices.emission.decay_per_epoch=0.3"]),
    ("revenue", []),
)
FEES_BPS = (50, 200, 1000)
PRICE_EUR = 0.01
BASE = [
    "run.interval_s=3600",
    "devices.upload_intervals=24",
    "devices.epoch_days=1",
    "chain.batch_hours=24",
    'forecasting.model="seasonal_naive"',
    f"devices.emission.token_price_eur={PRICE_EUR}",
]


def _run(schedule: str, extra: list[str], fee_bps: int, days: int, out: Path) -> dict[str, float]:
    from twin.engine import run_scenario
    from twin.results import open_run
    from twin.scenario import load_scenario

    overrides = [
        *BASE,
        f"run.days={days}",
        f'devices.emission.schedule="{schedule}"',
        f"economy.protocol_fee_bps={fee_bps}",
        *extra,
    ]
    t0 = time.perf_counter()
    run_scenario(load_scenario(ROOT / "scenarios" / "default.toml", overrides), out)
    wall = time.perf_counter() - t0
    run = open_run(out)
    economy = run.table("token_economy")
    txs = run.table("transactions")
    buyback_gas = int(txs.loc[txs["kind"] == "buyback", "gas_used"].sum())
    emitted = int(economy["emitted_units"].sum()) / 1e6
    revenue = int(economy["protocol_revenue_micro_eur"].sum()) / 1e6
    burned = int(economy["buyback_burned_units"].sum()) / 1e6
    supply = int(economy["supply_units"].iloc[-1]) / 1e6
    later = economy[economy["epoch"] >= 1]
    emitted_1 = int(later["emitted_units"].sum()) / 1e6
    revenue_1 = int(later["protocol_revenue_micro_eur"].sum()) / 1e6
    return {
        "emitted_1": emitted_1,
        "break_even_1": revenue_1 / emitted_1 if emitted_1 else float("inf"),
        "pays_1": float(revenue_1 >= emitted_1 * PRICE_EUR),
        "emitted": emitted,
        "revenue": revenue,
        "burned": burned,
        "paid": int(economy["buyback_paid_micro_eur"].sum()) / 1e6,
        "supply": supply,
        "treasury": int(economy["treasury_balance_micro_eur"].iloc[-1]) / 1e6,
        "break_even": revenue / emitted if emitted else float("nan"),
        "pays": float(revenue >= emitted * PRICE_EUR),
        "buyback_gas": buyback_gas,
        # at the scenario's layer-2 gas price (0.01 gwei) and ether price (3,000 EUR/ETH)
        "buyback_gas_l2_eur": buyback_gas * 0.01e-9 * 3000.0,
        "wall": wall,
    }


def emission_table(days: int = 3, plot: Path | None = None) -> str:
    """The markdown table across schedules and fee levels (and the HTML plot)."""
    rows: list[tuple[str, int, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for schedule, extra in SCHEDULES:
            for fee in FEES_BPS:
                out = Path(tmp) / f"{schedule}-{fee}"
                rows.append((schedule, fee, _run(schedule, extra, fee, days, out)))
    lines = [
        "| schedule | fee [bps] | emitted [token] | revenue [EUR] | burned [token] "
        "| net supply change [token] | treasury at last epoch's end [EUR] "
        "| break-even [EUR/token] | pays for itself | emitted from epoch 1 [token] "
        "| break-even from epoch 1 [EUR/token] | pays for itself from epoch 1 "
        "| buyback gas [gas] | buyback gas at L2 [EUR] | wall [s] |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|",
    ]
    for schedule, fee, r in rows:
        lines.append(
            f"| {schedule} | {fee} | {r['emitted']:,.2f} | {r['revenue']:,.2f} "
            f"| {r['burned']:,.2f} | {r['supply']:,.2f} | {r['treasury']:,.2f} "
            f"| {r['break_even']:.5f} | {'yes' if r['pays'] else 'no'} "
            f"| {r['emitted_1']:,.2f} | {r['break_even_1']:.5f} "
            f"| {'yes' if r['pays_1'] else 'no'} | {r['buyback_gas']:,.0f} "
            f"| {r['buyback_gas_l2_eur']:.4f} | {r['wall']:.1f} |"
        )
    wall = sum(r["wall"] for _, _, r in rows)
    lines += [
        "",
        f"{len(rows)} runs of {days} d in {wall:.0f} s; reference price {PRICE_EUR} EUR/token; "
        "pays for itself: revenue >= emitted x price.",
    ]
    _plot(rows, plot or Path(__file__).with_name("emission.html"))
    return "\n".join(lines)


def _plot(rows: list[tuple[str, int, dict[str, float]]], path: Path) -> None:
    """Break-even token value and net supply change by schedule and fee level, as HTML."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("break-even token value [EUR/token]", "net supply change [token]"),
    )
    for schedule, _ in SCHEDULES:
        mine = [(fee, r) for s, fee, r in rows if s == schedule]
        x = [f"{fee} bps" for fee, _ in mine]
        fig.add_trace(
            go.Bar(x=x, y=[r["break_even"] for _, r in mine], name=schedule, legendgroup=schedule),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=x,
                y=[r["supply"] for _, r in mine],
                name=schedule,
                legendgroup=schedule,
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    fig.add_hline(y=PRICE_EUR, line_dash="dash", annotation_text="reference price", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(
        barmode="group",
        title="Does the token economy pay for itself? (protocol fee level on the x axis)",
    )
    fig.write_html(str(path), include_plotlyjs="cdn")
    print(f"plot written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    print(emission_table(parser.parse_args().days))


if __name__ == "__main__":
    main()
