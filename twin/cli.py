"""``gridtwin``: the command line (typer + rich)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twin.cli_faults import faults
from twin.cli_run import _error, _load, _resumable, _summary, console
from twin.scenario import ScenarioError, load_scenario

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="gridtwin: a digital twin of a decentralized energy grid.",
)


@app.callback()
def main() -> None:
    """gridtwin: a digital twin of a decentralized energy grid."""


@app.command()
def run(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario TOML file (not with --resume).")
    ] = None,
    days: Annotated[int | None, typer.Option(help="Override run.days.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override run.seed.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override any key, e.g. --set nodes.pv_share=0.6 (repeatable)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Run folder to write (default results/<scenario>-<UTC time>)."),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue a killed or failed run: its partial folder, or where it was to land."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run a scenario headless and write its run folder (or --resume a killed run)."""
    from twin.engine import default_out

    partial: Path | None = None
    if resume is not None:
        sc, scenario_file, out, partial = _resumable(resume, scenario, days, seed, set_, out)
    else:
        if scenario is None:
            console.print("[red]error:[/red] give a scenario file (or --resume RUN)")
            raise typer.Exit(2)
        sc = _load(scenario, days, seed, set_)
        scenario_file = str(scenario)
        if out is not None and out.exists():
            console.print(f"[red]error:[/red] {out}: run folder exists already", highlight=False)
            raise typer.Exit(2)
        blocking = next(
            (p for p in (out.parents if out else ()) if p.exists() and not p.is_dir()), None
        )
        if blocking is not None:
            console.print(f"[red]error:[/red] --out {out}: {blocking} is a file", highlight=False)
            raise typer.Exit(2)
        out = out or default_out(sc)

    from settlement.chain.errors import ChainError
    from twin.engine import LayerError, run_scenario
    from twin.results import ResumeError

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("intervals"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as bar:
        task = bar.add_task(f"{sc.name} ({sc.run.days} d)", total=sc.run.n_intervals)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done)

        try:
            result = run_scenario(sc, out, progress, scenario_file, resume=partial)
        except ScenarioError as err:
            _error(str(err), out)
            raise typer.Exit(2) from None
        except ResumeError as err:  # the replay is not the killed run: that folder is untouched
            _error(f"{partial}: {err}", None)
            raise typer.Exit(1) from None
        except LayerError as err:  # a layer failed; its partial folder is kept
            _error(str(err), out)
            raise typer.Exit(1) from None
        except ChainError as err:  # e.g. no node at chain.rpc_url, before any layer ran
            _error(f"{scenario_file}: chain.rpc_url = {sc.chain.rpc_url!r}: {err}", out)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            _error("interrupted", out)
            raise typer.Exit(130) from None
        except Exception as err:  # e.g. the disk full: the partial folder is kept
            _error(f"{type(err).__name__}: {err}", out)
            raise typer.Exit(1) from None
    solver = sc.grid.solver
    console.print(_summary(result.kpis, result.path, result.wall_time_s, solver))


@app.command()
def backtest(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override any key, e.g. --set run.seed=7 (repeatable)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder to write backtest.parquet into.")] = None,
    local: Annotated[bool, typer.Option(help="Also score one model per series.")] = True,
) -> None:
    """Rolling-origin backtest of the forecasters on the scenario's community.

    Trains on the first 9 months of SimBench's profile year, scores forecasts issued every
    hour over the last 3 months: MAE, nMAE, RMSE and skill vs seasonal naive at 15 min, 1 h
    and 24 h for a household, the feeder aggregate, PV and wind.
    """
    try:
        sc = load_scenario(scenario, list(set_ or []))
    except ScenarioError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    from twin.backtesting import run_backtest

    with console.status("backtesting (about half a minute) ..."):
        frame = run_backtest(sc, compare_local=local)
    table = Table(title=f"backtest of {sc.name}: nMAE (skill vs seasonal naive)")
    table.add_column("series")
    table.add_column("model")
    horizons = sorted(frame["horizon_steps"].unique())
    for h in horizons:
        table.add_column(f"{h * sc.run.interval_s // 60} min", justify="right")
    for (series, model), rows in frame.groupby(["series", "model"], sort=False):
        nmae = dict(zip(rows["horizon_steps"], rows["nmae"].astype(float), strict=True))
        skill = dict(zip(rows["horizon_steps"], rows["skill"].astype(float), strict=True))
        cells = [f"{nmae[h]:.3f} ({skill[h]:+.0%})" for h in horizons]
        table.add_row(str(series), str(model), *cells)
    console.print(table)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        target = out / "backtest.parquet"
        tmp = out / ".backtest.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.replace(target)
        console.print(f"written to {target}")


@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep TOML file (see twin/sweep/spec.py).")],
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a running dask scheduler, e.g. tcp://10.0.0.5:8786."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes of the local cluster (default: CPU count)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Sweep folder (default results/sweeps/<sweep name>).")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run scenarios x parameter grid x seeds on dask.distributed; write sweep.parquet.

    Runs go to a local cluster (a single-threaded worker process a core) or to --scheduler's.
    Each run writes its folder under the sweep folder; a rerun skips finished runs.
    A failed run is reported and the sweep goes on (exit code 1 at the end).
    """
    from twin.sweep import TABLE, RunOutcome, SweepError, load_sweep, run_sweep

    if scheduler is not None and workers is not None:
        console.print("[red]error:[/red] --workers applies to the local cluster, not --scheduler")
        raise typer.Exit(2)
    try:
        sw = load_sweep(sweep_file)
    except SweepError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    folder = out if out is not None else Path("results") / "sweeps" / sw.name
    where = scheduler or f"local cluster, {workers or 'one worker a core'}"
    console.print(f"sweep {sw.name}: {len(sw.runs)} runs on {where} -> {folder}")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs, {task.fields[failed]} failed, {task.fields[skipped]} skipped"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    ) as bar:
        task = bar.add_task(sw.name, total=len(sw.runs), failed=0, skipped=0)
        failed, skipped = [0], [0]

        def progress(outcome: RunOutcome, done: int, total: int) -> None:
            if outcome.status != "ok":
                failed[0] += 1
                bar.console.print(
                    f"[red]failed:[/red] {outcome.name}: {outcome.error}",
                    highlight=False,
                    soft_wrap=True,
                )
            skipped[0] += outcome.skipped
            bar.update(task, completed=done, failed=failed[0], skipped=skipped[0])

        try:
            frame = run_sweep(sw, folder, scheduler=scheduler, workers=workers, progress=progress)
        except OSError as err:  # scheduler unreachable, connection lost
            console.print(f"[red]error:[/red] dask: {err}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    ok = int((frame["status"] == "ok").sum())
    n_failed = len(frame) - ok
    n_skipped = int(frame["skipped"].sum())
    console.print(
        f"{ok} runs ok ({n_skipped} from an earlier sweep), {n_failed} failed -> {folder / TABLE}"
    )
    if n_failed:
        raise typer.Exit(1)


@app.command()
def verify(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    rpc_url: Annotated[
        str | None, typer.Option(help="The node, if not the one in the manifest.")
    ] = None,
) -> None:
    """Re-derive every batch root and net payment from the run's Parquet; check the chain."""
    from settlement.chain.errors import ChainError
    from twin.verify import verify_run

    try:
        checks = verify_run(run_dir, rpc_url)
    except (FileNotFoundError, ValueError, KeyError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except ChainError as err:  # no node, or a node that lost the run's contracts
        console.print(f"[red]error:[/red] {run_dir}: {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    table = Table(title=f"gridtwin verify {run_dir}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for c in checks:
        table.add_row(c.name, "[green]ok[/green]" if c.ok else "[red]FAILED[/red]", c.detail)
    console.print(table)
    failed = [c for c in checks if not c.ok]
    if failed:
        console.print(f"[red]{len(failed)} of {len(checks)} checks failed[/red]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(checks)} checks passed[/green]")


@app.command()
def prove(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    trade_id: Annotated[int, typer.Argument(help="The trade (trades.trade_id).")],
    rpc_url: Annotated[
        str | None, typer.Option(help="The node, if not the one in the manifest.")
    ] = None,
) -> None:
    """Print a trade's Merkle proof and verify it on-chain."""
    from settlement.chain.errors import ChainError
    from twin.verify import prove_trade

    try:
        p = prove_trade(run_dir, trade_id, rpc_url)
    except (FileNotFoundError, ValueError, KeyError) as err:
        console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except ChainError as err:  # no node, or a node that lost the run's contracts
        console.print(f"[red]error:[/red] {run_dir}: {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    for key in ("trade_id", "batch_id", "seller", "buyer", "energy_wh", "payment_micro_eur"):
        console.print(f"{key}: {p[key]}")
    console.print(f"leaf: {p['leaf']}\nroot (on-chain): {p['root']}\nproof:")
    for step in p["proof"]:
        console.print(f"  {step}")
    if not p["verified_on_chain"]:
        console.print("[red]Settlement.verifyTrade: false[/red]")
        raise typer.Exit(1)
    console.print("[green]Settlement.verifyTrade: true[/green]")


@app.command()
def clean(
    results: Annotated[Path, typer.Argument(help="Results folder.")] = Path("results"),
    remove: Annotated[bool, typer.Option("--remove", help="Remove them (default: list).")] = False,
) -> None:
    """List the partial run folders failed or killed runs left behind (with their state);
    remove them on request (never one whose run is still running)."""
    import shutil

    from twin.partial import partial_run
    from twin.results import broken_runs, partial_runs

    partial = partial_runs(results)
    for path in partial:
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        found = partial_run(path)
        action = "partial"
        if remove and found.state != "running":
            shutil.rmtree(path)
            action = "removed"
        why = f": {found.error}" if found.error else ""
        console.print(
            f"{action}  {path}  ({found.state}, {size / 1e6:,.1f} MB){why}",
            highlight=False,
            soft_wrap=True,
        )
    for path, reason in broken_runs(results):
        console.print(f"broken   {path}  ({reason})", highlight=False, soft_wrap=True)
    if not partial:
        console.print(f"no partial run folders under {results}", highlight=False, soft_wrap=True)
    elif not remove:
        console.print(
            "gridtwin run --resume FOLDER continues a failed or killed one; "
            "gridtwin clean --remove removes them",
            highlight=False,
            soft_wrap=True,
        )


app.command()(faults)

if __name__ == "__main__":  # pragma: no cover
    app()
