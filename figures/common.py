"""Figure and table builders for the dashboard's overview: pure functions of run data.

Every builder here and in the other ``figures`` modules takes DataFrames (or plain
mappings) of the results store and returns a plotly ``Figure`` or rows for a table; none
reads run files, none rebuilds the net (the map reads the static ``buses`` and ``branches``
tables) and none changes its inputs (the dashboard caches the frames it passes in).

The other pages' builders live beside this module: :mod:`figures.grid` (network map),
:mod:`figures.forecasts`, :mod:`figures.market`, :mod:`figures.settlement`
and :mod:`figures.compare` (scenario comparison).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Patch

from figures.tokens import TOKEN_UNIT, format_tokens, token_sum
from twin.results import RunFolder

#: KPIs shown in the run list, with their column labels.
RUN_LIST_KPIS = {
    "self_sufficiency": "self-sufficiency",
    "p2p_share": "P2P share",
    "savings_eur": "savings [EUR]",
    "peak_import_mw": "peak import [MW]",
    "violations": "violations",
    "infeasible_intervals": "infeasible",
}

#: Headline KPIs of the overview: name -> (label, unit shown, scale, decimals).
HEADLINE_KPIS: dict[str, tuple[str, str, float, int]] = {
    "self_sufficiency": ("self-sufficiency", "%", 100.0, 1),
    "p2p_share": ("P2P share of purchases", "%", 100.0, 1),
    "savings_eur": ("savings vs utility only", "EUR", 1.0, 0),
    "peak_import_mw": ("peak import", "kW", 1000.0, 1),
    "violations": ("limit violations", "", 1.0, 0),
}

#: Who gains and who loses: KPI prefix -> label. Homes (the members) are the headline; the
#: community's generators and the shared assets have accounts of their own, shown apart.
GAINS_KPIS = {
    "homes": "homes (members)",
    "community_generators": "apart: community generators' accounts",
    "shared_assets": "apart: shared assets' accounts",
}
#: Runs made before homes were counted apart: every account of every kind, in one count.
LEGACY_GAINS_KPIS = {"participants": "accounts of every kind (homes, generators, assets)"}

#: The card of the batch commits' gas per settled trade (not all of the run's gas).
COMMIT_GAS_LABEL = "commit gas per trade"

#: Colours of the node kinds, shared by every page.
KIND_COLOURS = {
    "consumer": "#636efa",
    "solar": "#f5b700",
    "wind": "#00a6a6",
    "battery": "#ab63fa",
    "grid import": "#222222",
}

#: The common margins of the dashboard's figures.
MARGIN = {"l": 55, "r": 20, "t": 50, "b": 40}


def run_rows(
    runs: Sequence[RunFolder], kpis: Sequence[Mapping[str, float]] | None = None
) -> list[dict[str, Any]]:
    """One row a run for the run list: identity, horizon and headline KPIs.

    Parameters
    ----------
    runs : sequence of RunFolder
        The runs, in the order to show.
    kpis : sequence of mapping, optional
        Each run's KPIs ``{name: value}``; read from the run folders when not given.
    """
    rows = []
    for i, run in enumerate(runs):
        m = run.manifest
        config = m.get("config") or {}
        market = config.get("market") or {}
        row: dict[str, Any] = {
            "run": run.path.name,
            "scenario": m.get("scenario"),
            "days": m.get("days"),
            "seed": m.get("seed"),
            "mechanism": market.get("mechanism") if market.get("enabled", True) else "off",
            "started": str(m.get("started", ""))[:19],
            "wall time [s]": m.get("wall_time_s"),
        }
        if kpis is not None:
            values: Mapping[str, float] = kpis[i]
        else:
            try:
                values = run.kpis()
            except FileNotFoundError:
                values = {}
        for key, label in RUN_LIST_KPIS.items():
            value = values.get(key)
            row[label] = None if value is None or not math.isfinite(value) else round(value, 4)
        rows.append(row)
    return rows


def kpi_rows(kpis: pd.DataFrame) -> list[dict[str, Any]]:
    """The ``kpis`` table as rows of name, value, unit (values rounded to 6 digits)."""
    return [
        {"name": str(n), "value": _round(float(v), 6), "unit": str(u)}
        for n, v, u in zip(kpis["name"], kpis["value"], kpis["unit"], strict=True)
    ]


def gains_cards(kpis: Mapping[str, float]) -> list[dict[str, str]]:
    """Cards of how many accounts gain and lose against utility only [count].

    The homes (``homes_gaining`` / ``homes_losing``: the members) first; the community's
    generators' and the shared assets' accounts apart, labelled as such, and only when the
    run has such an account that gains or loses. A run made before homes were counted apart
    (``participants_gaining``) shows its count labelled as every kind of account.
    """
    labels = GAINS_KPIS if "homes_gaining" in kpis else LEGACY_GAINS_KPIS
    cards = []
    for prefix, label in labels.items():
        counts = {s: kpis.get(f"{prefix}_{s}") for s in ("gaining", "losing")}
        if prefix != "homes" and prefix in GAINS_KPIS and not any(counts.values()):
            continue
        for side, value in counts.items():
            if value is not None:
                cards.append(
                    {"label": f"{label} {side}", "value": format_value(value, 0), "unit": ""}
                )
    return cards


def headline_kpis(
    kpis: Mapping[str, float],
    batches: pd.DataFrame | None = None,
    rewards: pd.DataFrame | None = None,
) -> list[dict[str, str]]:
    """The overview's KPI cards: label, formatted value and unit.

    Parameters
    ----------
    kpis : mapping
        The run's KPIs ``{name: value}``.
    batches : DataFrame, optional
        The ``batches`` table (``gas_used``, ``trade_count``); adds the batch commits' gas
        per settled trade when the KPIs lack it.
    rewards : DataFrame, optional
        The ``rewards`` table (``amount`` [token base units]); adds the rewards paid
        [tokens].

    Returns
    -------
    list of dict
        ``{"label", "value", "unit"}`` per card; KPIs the run lacks are left out.
    """
    cards = []
    for name, (label, unit, scale, decimals) in HEADLINE_KPIS.items():
        if name in kpis:
            cards.append(
                {"label": label, "value": format_value(kpis[name] * scale, decimals), "unit": unit}
            )
    gas = kpis.get("commit_gas_per_trade", kpis.get("gas_per_trade"))  # older runs: gas_per_trade
    if gas is None and batches is not None and {"gas_used", "trade_count"} <= set(batches):
        trades = float(batches["trade_count"].sum())
        gas = float(batches["gas_used"].sum()) / trades if trades else math.nan
    if gas is not None:
        cards.append({"label": COMMIT_GAS_LABEL, "value": format_value(gas, 0), "unit": "gas"})
    if rewards is not None and "amount" in rewards:
        total = token_sum(rewards["amount"])
        cards.append({"label": "rewards paid", "value": format_tokens(total), "unit": TOKEN_UNIT})
    return cards


def energy_by_source(
    node_power: pd.DataFrame, nodes: pd.DataFrame, grid_exchange: pd.DataFrame
) -> go.Figure:
    """Power by node kind over time, with the import at the slack [MW].

    Parameters
    ----------
    node_power : DataFrame
        ``time``, ``node_id``, ``p_mw`` (load convention).
    nodes : DataFrame
        ``node_id``, ``kind``.
    grid_exchange : DataFrame
        ``time``, ``import_mw``.
    """
    kinds = nodes.set_index("node_id")["kind"].astype(str)
    kind = node_power["node_id"].astype(str).map(kinds)
    frame = pd.DataFrame({"time": node_power["time"], "kind": kind, "p_mw": node_power["p_mw"]})
    by_kind = frame.pivot_table(
        index="time", columns="kind", values="p_mw", aggfunc="sum", observed=True
    )
    fig = go.Figure()
    for name in ("consumer", "solar", "wind", "battery"):
        if name in by_kind:
            fig.add_trace(
                go.Scatter(
                    x=by_kind.index,
                    y=by_kind[name],
                    name=name,
                    mode="lines",
                    line={"color": KIND_COLOURS[name], "width": 1.5},
                )
            )
    fig.add_trace(
        go.Scatter(
            x=grid_exchange["time"],
            y=grid_exchange["import_mw"],
            name="grid import",
            mode="lines",
            line={"dash": "dot", "color": KIND_COLOURS["grid import"], "width": 1.5},
        )
    )
    fig.update_layout(
        title="Power by source (load convention: generation negative)",
        yaxis_title="p [MW]",
        xaxis_title="time (UTC)",
        legend={"orientation": "h", "y": -0.15},
        margin=MARGIN,
        hovermode="x unified",
    )
    return fig


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(
        text=message,
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"size": 14, "color": "#666"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(margin=MARGIN, plot_bgcolor="white")
    return fig


def frame_rows(frame: pd.DataFrame, decimals: int = 6) -> list[dict[str, Any]]:
    """A DataFrame as JSON-safe rows for a DataTable (times as ISO strings, floats rounded)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
            series
        ):
            out[column] = series.dt.strftime("%Y-%m-%d %H:%M")
        elif isinstance(series.dtype, pd.CategoricalDtype):
            out[column] = series.astype(str)
        elif pd.api.types.is_float_dtype(series):
            out[column] = series.round(decimals)
    out = out.astype(object).where(out.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in out.to_dict("records")]


def time_marks(times: pd.DatetimeIndex, max_marks: int = 10) -> dict[int, str]:
    """Slider marks over interval positions: one at the first interval of every k-th day.

    Parameters
    ----------
    times : DatetimeIndex
        Interval starts (UTC), sorted.
    max_marks : int
        At most this many marks.
    """
    if not len(times):
        return {}
    days = times.normalize()
    firsts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    if len(firsts) == 1:
        hours = np.flatnonzero(np.r_[True, times.hour[1:] != times.hour[:-1]])
        firsts = hours[:: max(1, math.ceil(len(hours) / max_marks))]
        return {int(i): times[int(i)].strftime("%H:%M") for i in firsts}
    firsts = firsts[:: max(1, math.ceil(len(firsts) / max_marks))]
    return {int(i): times[int(i)].strftime("%m-%d") for i in firsts}


def as_utc(value: Any) -> pd.Timestamp:
    """A time from a figure (e.g. a click's ``x``: naive means UTC) as a UTC Timestamp."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def moved_marker(time: pd.Timestamp) -> Patch:
    """A Patch that moves a figure's first shape (a builder's vertical time marker) to ``time``."""
    patch = Patch()
    x = pd.Timestamp(time).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S")
    patch["layout"]["shapes"][0]["x0"] = x
    patch["layout"]["shapes"][0]["x1"] = x
    return patch


def _round(value: float, digits: int) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def format_value(value: float, decimals: int) -> str:
    """``value`` with thousands separators and ``decimals`` digits; ``n/a`` if not finite."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.{decimals}f}"
