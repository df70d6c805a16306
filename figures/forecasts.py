"""The forecasts page's builders: forecast vs actual, error by horizon, the backtest table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.common import KIND_COLOURS, MARGIN

#: Colours of the recorded horizons, in order.
HORIZON_COLOURS = ("#e45756", "#f58518", "#54a24b", "#4c78a8", "#b279a2", "#9d755d")


def horizon_label(steps: int, interval_s: int) -> str:
    """A horizon in words: ``4`` steps of 900 s is ``"1 h"``."""
    minutes = int(steps) * int(interval_s) // 60
    if minutes % 60:
        return f"{minutes} min"
    return f"{minutes // 60} h"


def forecast_figure(
    forecasts: pd.DataFrame,
    actual: pd.Series | None,
    node_id: str,
    interval_s: int,
) -> go.Figure:
    """One node's forecasts at every recorded horizon against what it did [kW].

    Parameters
    ----------
    forecasts : DataFrame
        The ``forecasts`` rows of the node: ``time``, ``horizon_steps``, ``predicted_mw``,
        ``actual_mw``.
    actual : Series, optional
        The node's metered power [MW] by time (``node_power``), drawn as the actual line;
        the forecasts' ``actual_mw`` otherwise.
    node_id : str
        For the title.
    interval_s : int
        Market interval [s], to name the horizons.
    """
    fig = go.Figure()
    if actual is not None:
        fig.add_trace(
            go.Scatter(
                x=actual.index,
                y=actual.to_numpy() * 1000,
                name="actual",
                mode="lines",
                line={"color": "black", "width": 1.2},
            )
        )
    for i, steps in enumerate(sorted(forecasts["horizon_steps"].unique())):
        rows = forecasts[forecasts["horizon_steps"] == steps].sort_values("time")
        if actual is None and i == 0:
            fig.add_trace(
                go.Scatter(
                    x=rows["time"],
                    y=rows["actual_mw"] * 1000,
                    name="actual",
                    mode="lines",
                    line={"color": "black", "width": 1.2},
                )
            )
        fig.add_trace(
            go.Scatter(
                x=rows["time"],
                y=rows["predicted_mw"] * 1000,
                name=f"forecast {horizon_label(int(steps), interval_s)} ahead",
                mode="markers",
                marker={"size": 5, "color": HORIZON_COLOURS[i % len(HORIZON_COLOURS)]},
            )
        )
    fig.update_layout(
        title=f"{node_id}: forecast vs actual (load convention)",
        yaxis_title="p [kW]",
        xaxis_title="time (UTC)",
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.15},
        hovermode="x unified",
    )
    return fig


def forecast_errors(forecasts: pd.DataFrame, nodes: pd.DataFrame) -> pd.DataFrame:
    """Forecast error by node kind and horizon.

    Parameters
    ----------
    forecasts : DataFrame
        The ``forecasts`` table.
    nodes : DataFrame
        The ``nodes`` table (``node_id``, ``kind``).

    Returns
    -------
    DataFrame
        ``kind``, ``horizon_steps``, ``count``, ``mae_kw`` [kW], ``rmse_kw`` [kW], ``nmae``
        [-] (MAE over the mean absolute actual power), ``bias_kw`` [kW] (mean forecast -
        actual).
    """
    kinds = nodes.set_index("node_id")["kind"].astype(str)
    err = (forecasts["predicted_mw"] - forecasts["actual_mw"]).to_numpy() * 1000
    frame = pd.DataFrame(
        {
            "kind": forecasts["node_id"].astype(str).map(kinds).to_numpy(),
            "horizon_steps": forecasts["horizon_steps"].to_numpy(),
            "abs": np.abs(err),
            "sq": err**2,
            "err": err,
            "actual": np.abs(forecasts["actual_mw"].to_numpy()) * 1000,
        }
    ).dropna()
    grouped = frame.groupby(["kind", "horizon_steps"], sort=True)
    out = pd.DataFrame(
        {
            "count": grouped.size(),
            "mae_kw": grouped["abs"].mean(),
            "rmse_kw": np.sqrt(grouped["sq"].mean()),
            "bias_kw": grouped["err"].mean(),
            "mean_abs_actual_kw": grouped["actual"].mean(),
        }
    )
    scale = out["mean_abs_actual_kw"].where(out["mean_abs_actual_kw"] > 0)
    out["nmae"] = out["mae_kw"] / scale
    return out.drop(columns="mean_abs_actual_kw").reset_index()


def error_by_horizon(errors: pd.DataFrame, interval_s: int) -> go.Figure:
    """nMAE of each node kind against the horizon (bars), from :func:`forecast_errors`."""
    fig = go.Figure()
    for kind, rows in errors.groupby("kind", sort=True):
        fig.add_trace(
            go.Bar(
                x=[horizon_label(int(h), interval_s) for h in rows["horizon_steps"]],
                y=rows["nmae"],
                name=str(kind),
                marker_color=KIND_COLOURS.get(str(kind)),
                customdata=np.column_stack([rows["mae_kw"], rows["rmse_kw"], rows["count"]]),
                hovertemplate="%{x}: nMAE %{y:.3f}<br>MAE %{customdata[0]:.3f} kW"
                "<br>RMSE %{customdata[1]:.3f} kW<br>%{customdata[2]} forecasts",
            )
        )
    fig.update_layout(
        title="Forecast error by horizon (nMAE: MAE / mean |actual|)",
        barmode="group",
        xaxis_title="horizon",
        yaxis_title="nMAE [-]",
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def error_rows(errors: pd.DataFrame, interval_s: int) -> list[dict[str, Any]]:
    """:func:`forecast_errors` as table rows."""
    return [
        {
            "kind": str(r["kind"]),
            "horizon": horizon_label(int(r["horizon_steps"]), interval_s),
            "forecasts": int(r["count"]),
            "MAE [kW]": round(float(r["mae_kw"]), 4),
            "RMSE [kW]": round(float(r["rmse_kw"]), 4),
            "bias [kW]": round(float(r["bias_kw"]), 4),
            "nMAE": None if pd.isna(r["nmae"]) else round(float(r["nmae"]), 4),
        }
        for r in errors.to_dict("records")
    ]


def backtest_rows(backtest: pd.DataFrame, interval_s: int) -> list[dict[str, Any]]:
    """The backtest (``series``, ``model``, ``horizon_steps``, ``nmae``, ``skill``, ...) as rows.

    One row a series and model; per horizon its nMAE and its skill against the seasonal
    naive forecast, as ``gridtwin backtest`` prints them.
    """
    rows: list[dict[str, Any]] = []
    horizons = sorted(int(h) for h in backtest["horizon_steps"].unique())
    for (series, model), group in backtest.groupby(["series", "model"], sort=False):
        by_h = group.set_index("horizon_steps")
        row: dict[str, Any] = {"series": str(series), "model": str(model)}
        for h in horizons:
            label = horizon_label(h, interval_s)
            nmae = by_h["nmae"].get(h, np.nan) if "nmae" in by_h else np.nan
            skill = by_h["skill"].get(h, np.nan) if "skill" in by_h else np.nan
            row[f"nMAE {label}"] = None if pd.isna(nmae) else round(float(nmae), 3)
            row[f"skill {label}"] = None if pd.isna(skill) else round(float(skill), 3)
        rows.append(row)
    return rows
