"""``gridtwin faults``: run the twin's fault table (:mod:`twin.faults`) and print it."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from twin.cli_run import console


def faults(
    only: Annotated[
        list[str] | None, typer.Option(help="Run only this fault (repeatable); default all.")
    ] = None,
    quick: Annotated[bool, typer.Option(help="Shorter faults where a fault allows it.")] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the rows to this JSON file.")
    ] = None,
    keep: Annotated[
        Path | None, typer.Option(help="Keep the faults' runs in this folder (must not exist).")
    ] = None,
) -> None:
    """Inject each fault into a short run and print fault, expected, observed, data lost.

    Exits 1 if any row fails (data lost, or not the expected behaviour).
    """
    from twin.faults import FAULTS, run_faults

    unknown = [n for n in only or [] if n not in FAULTS]
    if unknown:
        console.print(
            f"[red]error:[/red] unknown fault {', '.join(unknown)}; known: {', '.join(FAULTS)}",
            highlight=False,
        )
        raise typer.Exit(2)
    if keep is not None and keep.exists():
        console.print(f"[red]error:[/red] --keep {keep}: exists already", highlight=False)
        raise typer.Exit(2)
    table = Table(title="gridtwin faults", show_lines=True)
    table.add_column("fault", no_wrap=True)
    for name in ("expected", "observed", "data lost", "result"):
        table.add_column(name, overflow="fold")
    names = only or list(FAULTS)
    failed = 0
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="gridtwin-faults-") as tmp:
        work = keep or Path(tmp)
        with console.status("") as status:
            done = [0]

            def started(name: str) -> None:
                done[0] += 1
                status.update(f"fault {done[0]}/{len(names)}: {name}")

            for row in run_faults(work, only, quick, started):
                result = "skipped" if row.skipped else ("ok" if row.ok else "FAIL")
                failed += not row.ok
                lost = "-" if row.lost is None else str(row.lost)
                table.add_row(row.fault, row.expected, row.observed, lost, result)
                rows.append(asdict(row))
                console.print(f"{row.fault}: {result}", highlight=False)
    console.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(rows, indent=2) + "\n")
    if failed:
        console.print(f"[red]{failed} of {len(names)} faults failed[/red]")
        raise typer.Exit(1)
