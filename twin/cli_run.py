"""The helpers of ``gridtwin run``: loading, resuming, reporting (errors and the summary)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from twin.scenario import Scenario, ScenarioError, load_scenario

console = Console()


def _summary(kpis: dict[str, tuple[float, str]], path: Path, wall_s: float, solver: str) -> Table:
    table = Table(title=f"gridtwin run -> {path}", show_lines=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    rows = [
        ("consumption", "consumption_mwh"),
        ("PV generation", "pv_mwh"),
        ("wind generation", "wind_mwh"),
        ("battery charged", "battery_charge_mwh"),
        ("battery discharged", "battery_discharge_mwh"),
        ("grid import", "grid_import_mwh"),
        ("grid export", "grid_export_mwh"),
        ("losses", "losses_mwh"),
        ("self-sufficiency", "self_sufficiency"),
        ("self-consumption", "self_consumption"),
        ("peak import", "peak_import_mw"),
        ("min voltage", "min_vm_pu"),
        ("max voltage", "max_vm_pu"),
        ("max loading", "max_loading_percent"),
        ("violations", "violations"),
        ("infeasible intervals", "infeasible_intervals"),
        ("violations before curtailment", "violations_uncurtailed"),
        ("curtailed", "curtailed_wh"),
        ("P2P traded", "p2p_traded_mwh"),
        ("P2P delivered (covered by the seller's metered export)", "p2p_delivered_mwh"),
        ("P2P share of purchases", "p2p_share"),
        ("mean P2P price", "price_mean_eur_per_mwh"),
        ("community cost (P2P market)", "community_cost_eur"),
        ("community cost (utility only)", "baseline_cost_eur"),
        ("homes (members) gaining", "homes_gaining"),
        ("homes (members) losing", "homes_losing"),
        ("  apart: community generators' accounts gaining", "community_generators_gaining"),
        ("  apart: community generators' accounts losing", "community_generators_losing"),
        ("  apart: shared assets' accounts gaining", "shared_assets_gaining"),
        ("  apart: shared assets' accounts losing", "shared_assets_losing"),
        ("worst-off account's saving (any kind)", "savings_min_eur"),
        ("spread of all accounts' savings (Gini)", "savings_gini"),
        ("settlement batches", "batches"),
        ("transactions sent", "transactions"),
        ("gas, all transactions", "gas_all"),
        ("  of which one-off (deploy, roles, mint, register)", "gas_one_off"),
        ("gas per settled trade, all transactions", "gas_all_per_trade"),
        ("gas per settled trade, batch commits only", "commit_gas_per_trade"),
        (
            "all gas (one-off included) at the L1 gas price, per MWh settled",
            "settlement_cost_l1_eur_per_mwh",
        ),
        (
            "all gas (one-off included) at the L2 gas price, per MWh settled",
            "settlement_cost_l2_eur_per_mwh",
        ),
        ("readings accepted", "readings_accepted"),
        ("readings refused or flagged", "readings_refused"),
        ("attack readings", "attack_readings"),
        ("attack readings rewarded", "attack_readings_rewarded"),
        ("rewards paid", "rewards_tokens"),
    ]
    statuses = ("tampered", "replayed", "wrong_chain", "unregistered")
    if "readings_accepted" in kpis:
        refused = sum(kpis[f"readings_rejected_{k}"][0] for k in statuses)
        refused += kpis["readings_flagged_implausible"][0]
        kpis = {**kpis, "readings_refused": (refused, "count")}
    for prefix in ("community_generators", "shared_assets"):  # accounts of no such kind
        if not any(kpis.get(f"{prefix}_{s}", (0.0, ""))[0] for s in ("gaining", "losing")):
            kpis = {k: v for k, v in kpis.items() if not k.startswith(f"{prefix}_")}
    for label, key in rows:
        if key not in kpis:
            continue
        value, unit = kpis[key]
        if unit in ("count", "gas", "token"):
            text = f"{value:,.0f}"
        elif unit == "-":
            text = f"{value:.1%}"
            unit = ""
        else:
            text = f"{value:,.4f}" if abs(value) < 10 else f"{value:,.1f}"
        table.add_row(label, text, unit)
    table.add_row("wall time", f"{wall_s:.1f}", f"s ({solver})")
    return table


def _load(scenario: Path, days: int | None, seed: int | None, set_: list[str] | None) -> Scenario:
    """The scenario with the command line's overrides; exits 2 on a bad one."""
    overrides = list(set_ or [])
    if days is not None:
        overrides.append(f"run.days={days}")
    if seed is not None:
        overrides.append(f"run.seed={seed}")
    try:
        return load_scenario(scenario, overrides)
    except ScenarioError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _resumable(
    resume: Path,
    scenario: Path | None,
    days: int | None,
    seed: int | None,
    set_: list[str] | None,
    out: Path | None,
) -> tuple[Scenario, str | None, Path, Path]:
    """What ``--resume`` continues: scenario, scenario file, destination, partial folder."""
    from twin.resume import ResumeError, resumable

    if scenario is not None or days is not None or seed is not None or set_ or out is not None:
        console.print(
            "[red]error:[/red] --resume takes the scenario, seed and folder from the run: "
            "give nothing else",
            highlight=False,
        )
        raise typer.Exit(2)
    try:
        found = resumable(resume)
    except ResumeError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if found.out.exists():
        console.print(f"[red]error:[/red] {found.out}: run folder exists already")
        raise typer.Exit(2)
    console.print(f"resuming {found.path} -> {found.out}", highlight=False, soft_wrap=True)
    return found.scenario, found.scenario_file, found.out, found.path


def _error(message: str, out: Path | None) -> None:
    """Print an error and, if the run left a partial folder, where it is and how to resume."""
    from twin.partial import partial_of, partial_run

    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    kept = [p for p in partial_of(out) if partial_run(p).state == "failed"] if out else []
    if not kept:
        return
    folder = kept[-1]
    console.print(
        f"the partial run is kept in {folder} (its journal ledger.sqlite and the tables "
        f"written so far). Resume it with: gridtwin run --resume {folder}  "
        "(or remove it: gridtwin clean --remove)",
        highlight=False,
        soft_wrap=True,
    )
