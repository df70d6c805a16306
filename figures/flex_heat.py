"""The heat pumps' builders: electric power and indoor temperature against the comfort band,
and who left the band by how much.

They read ``flex_heat_pumps`` (per heat pump and interval: ``p_mw``, ``heat_kwh``,
``demand_kwh``, ``cop``, ``indoor_c`` at the interval's end) and the run's comfort band
(``flex.heat_pump.comfort_min_c`` / ``_max_c``; :func:`figures.flex_shift.comfort_band_c`).
A violation is counted as the flex layer counts the KPI
``hp_comfort_violation_kelvin_hours``: each interval's distance of the indoor temperature
outside the band [K] times the interval [h].
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.common import MARGIN, empty_figure
from figures.flex_shift import FLEX_COLOURS, actual_mw, hp_profile_mw

NO_HP = "this run has no flex_heat_pumps table ([flex] off, or no heat pump)"


def kelvin_hours(
    flex_heat_pumps: pd.DataFrame, band_c: tuple[float, float], interval_s: int
) -> pd.Series:
    """Each heat pump's comfort violation [K h]: indoor temperature outside the band [K]
    times the interval [h], summed over the run; indexed by ``node_id``, sorted."""
    low, high = band_c
    indoor = flex_heat_pumps["indoor_c"]
    outside = (low - indoor).clip(lower=0.0) + (indoor - high).clip(lower=0.0)
    hours = outside * interval_s / 3600.0
    return hours.groupby(flex_heat_pumps["node_id"].astype(str)).sum().sort_index()


def heat_pump_comfort(
    flex_heat_pumps: pd.DataFrame | None, band_c: tuple[float, float], interval_s: int
) -> go.Figure:
    """Heat pumps' electric power, summed, against their fixed profile [kW] (above); each
    building's indoor temperature against the comfort band [degC] (below)."""
    if flex_heat_pumps is None or flex_heat_pumps.empty:
        return empty_figure(NO_HP)
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.4, 0.6], vertical_spacing=0.06
    )
    power = actual_mw(flex_heat_pumps).sum(axis=1) * 1e3
    profile = hp_profile_mw(flex_heat_pumps, interval_s).sum(axis=1) * 1e3
    fig.add_trace(
        go.Scatter(
            x=power.index,
            y=power,
            name="heat pumps' power [kW]",
            mode="lines",
            line={"shape": "hv", "color": FLEX_COLOURS["heat_pump"]},
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=profile.index,
            y=profile,
            name="fixed profile [kW]",
            mode="lines",
            line={"shape": "hv", "color": "#555", "dash": "dot"},
        ),
        row=1,
        col=1,
    )
    frame = flex_heat_pumps.sort_values(["node_id", "time"], kind="stable")
    for node, rows in frame.groupby(frame["node_id"].astype(str), sort=True, observed=True):
        fig.add_trace(
            go.Scatter(
                x=rows["time"],
                y=rows["indoor_c"],
                name=node,
                legendgroup="indoor",
                legendgrouptitle_text="indoor [degC]",
                mode="lines",
                line={"width": 1},
            ),
            row=2,
            col=1,
        )
    low, high = band_c
    fig.add_hrect(y0=low, y1=high, fillcolor="#54a24b", opacity=0.12, line_width=0, row=2, col=1)
    for y in band_c:
        fig.add_hline(y=y, line={"color": "#54a24b", "dash": "dash", "width": 1}, row=2, col=1)
    total = float(kelvin_hours(flex_heat_pumps, band_c, interval_s).sum())
    fig.update_yaxes(title_text="power [kW]", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="indoor [degC]", row=2, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=2, col=1)
    fig.update_layout(
        title=f"Heat pumps: power against the fixed profile [kW]; indoor temperature against "
        f"the comfort band {low:g}-{high:g} degC ({total:,.2f} K h outside)",
        margin={**MARGIN, "t": 60},
        legend={"orientation": "v"},
        plot_bgcolor="white",
        hovermode="x",
    )
    return fig


def comfort_violation_by_heat_pump(
    flex_heat_pumps: pd.DataFrame | None, band_c: tuple[float, float], interval_s: int
) -> go.Figure:
    """Who lost comfort: each heat pump's violation of the band [K h], the community's total
    in the title (the KPI ``hp_comfort_violation_kelvin_hours``)."""
    if flex_heat_pumps is None or flex_heat_pumps.empty:
        return empty_figure(NO_HP)
    per = kelvin_hours(flex_heat_pumps, band_c, interval_s)
    fig = go.Figure(
        go.Bar(
            x=list(per.index),
            y=per.to_numpy(float),
            name="comfort violation [K h]",
            marker_color=FLEX_COLOURS["heat_pump"],
        )
    )
    outside = int((per > 0).sum())
    fig.update_layout(
        title=f"Comfort violation per heat pump [K h]: {per.sum():,.2f} K h in all, "
        f"{outside} of {len(per)} buildings left the band",
        yaxis={"title": "K h", "rangemode": "tozero"},
        xaxis={"title": "heat pump"},
        margin=MARGIN,
        plot_bgcolor="white",
    )
    return fig
