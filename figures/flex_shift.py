"""Flexibility used: what the chargers and heat pumps drew against what they would have
drawn without flexibility, and the energy moved in time.

The references are rebuilt from the run's own tables (README, "Flexible loads"):

- **EV, uncontrolled**: each session of ``ev_sessions`` charging at its charger's rating
  (``ev_sessions.p_max_mw``) from its arrival interval until its need is met or it departs (what
  ``flex.ev.mode = "uncontrolled"`` does);
- **heat pump, fixed profile**: the SimBench profile, whose heat is the building's demand, so
  its electric power is ``demand_kwh / cop`` over the interval (what
  ``flex.heat_pump.mode = "fixed"`` draws).

*Energy shifted* is the energy a device drew less than its reference in an interval, summed
over devices and intervals [kWh]: energy moved out of the intervals it would have been drawn
in (to later intervals, or, for a heat pump, not drawn where the band allowed it). A run made
uncontrolled and fixed shifts nothing (up to dimming, which takes energy the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.common import MARGIN, empty_figure

#: Colours of the flexible loads, shared by the flex figures.
FLEX_COLOURS = {"ev": "#4c78a8", "heat_pump": "#f58518", "battery": "#ab63fa"}


def comfort_band_c(config: Mapping[str, Any] | None) -> tuple[float, float]:
    """The comfort band ``(min, max)`` [degC] of a run's ``config`` (its manifest's), the
    scenario defaults (20, 22) where it is not recorded."""
    hp = (((config or {}).get("flex") or {}).get("heat_pump")) or {}
    return float(hp.get("comfort_min_c", 20.0)), float(hp.get("comfort_max_c", 22.0))


def ev_uncontrolled_mw(
    flex_ev: pd.DataFrame,
    sessions: pd.DataFrame,
    p_max_mw: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Time x charger power of uncontrolled charging [MW] for the run's sessions.

    Parameters
    ----------
    flex_ev : DataFrame
        ``time``, ``node_id`` (the run's intervals and chargers).
    sessions : DataFrame
        ``ev_sessions``: ``node_id``, ``arrival``, ``departure``, ``need_kwh`` and the
        charger's rating ``p_max_mw`` [MW].
    p_max_mw : mapping, optional
        Each charger's rating [MW], for a run whose ``ev_sessions`` lacks ``p_max_mw`` (made
        before it was recorded; ``nodes.p_max_mw`` is the nearest there is: SimBench's rating,
        scaled with ``nodes.load_scale`` and blind to ``flex.ev.charger_kw``).
    """
    times = pd.DatetimeIndex(pd.to_datetime(flex_ev["time"], utc=True).unique()).sort_values()
    chargers = sorted(flex_ev["node_id"].astype(str).unique())
    power = np.zeros((len(times), len(chargers)))
    if len(times) < 2:
        return pd.DataFrame(power, index=times, columns=chargers)
    dt_h = (times[1] - times[0]).total_seconds() / 3600.0
    column = {node: j for j, node in enumerate(chargers)}
    if "p_max_mw" in sessions:
        ratings = sessions["p_max_mw"].to_numpy(float)
    else:
        ratings = np.array([(p_max_mw or {})[str(n)] for n in sessions["node_id"]], dtype=float)
    arrivals = times.searchsorted(pd.to_datetime(sessions["arrival"], utc=True))
    departures = times.searchsorted(pd.to_datetime(sessions["departure"], utc=True))
    for node, rating_mw, first, last, need in zip(
        sessions["node_id"].astype(str),
        ratings,
        arrivals,
        departures,
        sessions["need_kwh"].to_numpy(float),
        strict=True,
    ):
        rating_kw = float(rating_mw) * 1e3
        k, end = int(first), min(int(last), len(times))
        remaining = float(need)
        while k < end and remaining > 1e-9:
            kwh = min(rating_kw * dt_h, remaining)
            power[k, column[node]] += kwh / dt_h / 1e3
            remaining -= kwh
            k += 1
    out = pd.DataFrame(power, index=times, columns=chargers)
    return out


def hp_profile_mw(flex_heat_pumps: pd.DataFrame, interval_s: int) -> pd.DataFrame:
    """Time x heat pump power of the fixed profile [MW]: the heat demand over the COP."""
    dt_h = interval_s / 3600.0
    p = flex_heat_pumps["demand_kwh"] / flex_heat_pumps["cop"] / dt_h / 1e3
    frame = flex_heat_pumps.assign(p_ref=p, node_id=flex_heat_pumps["node_id"].astype(str))
    return frame.pivot(index="time", columns="node_id", values="p_ref").fillna(0.0)


def actual_mw(table: pd.DataFrame) -> pd.DataFrame:
    """Time x device power [MW] of ``flex_ev`` or ``flex_heat_pumps``."""
    frame = table.assign(node_id=table["node_id"].astype(str))
    return frame.pivot(index="time", columns="node_id", values="p_mw").fillna(0.0)


def shifted_kwh(actual: pd.DataFrame, reference: pd.DataFrame, interval_s: int) -> float:
    """Energy drawn less than the reference, summed over devices and intervals [kWh]."""
    ref = reference.reindex(index=actual.index, columns=actual.columns).fillna(0.0)
    less = (ref - actual).clip(lower=0.0).to_numpy().sum()
    return float(less * 1e3 * interval_s / 3600.0)


def flexibility_used(
    flex_ev: pd.DataFrame | None,
    sessions: pd.DataFrame | None,
    flex_heat_pumps: pd.DataFrame | None,
    interval_s: int,
    p_max_mw: Mapping[str, float] | None = None,
) -> go.Figure:
    """The chargers' and heat pumps' power [kW], summed, against their references
    (uncontrolled charging; the fixed profile), and the energy shifted [kWh] in the title.

    ``p_max_mw``: the chargers' ratings [MW] for a run whose ``ev_sessions`` lacks them
    (:func:`ev_uncontrolled_mw`).
    """
    parts: list[tuple[str, str, pd.DataFrame, pd.DataFrame]] = []
    if flex_ev is not None and not flex_ev.empty and sessions is not None:
        parts.append(
            (
                "ev",
                "EV chargers",
                actual_mw(flex_ev),
                ev_uncontrolled_mw(flex_ev, sessions, p_max_mw),
            )
        )
    if flex_heat_pumps is not None and not flex_heat_pumps.empty:
        parts.append(
            (
                "heat_pump",
                "heat pumps",
                actual_mw(flex_heat_pumps),
                hp_profile_mw(flex_heat_pumps, interval_s),
            )
        )
    if not parts:
        return empty_figure("this run has no flexible loads ([flex] off)")
    fig = make_subplots(
        rows=len(parts),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=[
            f"{label}: {shifted_kwh(act, ref, interval_s):,.1f} kWh shifted"
            for _, label, act, ref in parts
        ],
    )
    for i, (kind, label, act, ref) in enumerate(parts, start=1):
        ref = ref.reindex(index=act.index, columns=act.columns).fillna(0.0)
        reference = "uncontrolled" if kind == "ev" else "fixed profile"
        fig.add_trace(
            go.Scatter(
                x=act.index,
                y=act.sum(axis=1) * 1e3,
                name=f"{label}: drawn [kW]",
                mode="lines",
                line={"shape": "hv", "color": FLEX_COLOURS[kind]},
            ),
            row=i,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=ref.index,
                y=ref.sum(axis=1) * 1e3,
                name=f"{label}: {reference} [kW]",
                mode="lines",
                line={"shape": "hv", "color": "#555", "dash": "dot"},
            ),
            row=i,
            col=1,
        )
        fig.update_yaxes(title_text="power [kW]", rangemode="tozero", row=i, col=1)
    fig.update_xaxes(title_text="time (UTC)", row=len(parts), col=1)
    fig.update_layout(
        title="Flexibility used: power drawn against uncontrolled charging and the heat pumps' "
        "fixed profile [kW]; energy shifted = drawn less than the reference [kWh]",
        margin={**MARGIN, "t": 80},
        legend={"orientation": "h", "y": -0.15},
        plot_bgcolor="white",
        hovermode="x unified",
    )
    return fig


def flex_cards(kpis: Mapping[str, float]) -> list[dict[str, str]]:
    """KPI cards of the flexible loads: sessions, sessions short and their shortfall, EV and
    heat-pump energy, the comfort band's violation; the dimming operator's totals when on."""
    specs = (
        ("ev_sessions", "EV sessions", "", 1.0, 0),
        ("ev_sessions_short", "sessions that left short", "", 1.0, 0),
        ("ev_shortfall_kwh", "EV shortfall at departure", "kWh", 1.0, 2),
        ("ev_sessions_open_at_end", "sessions open at the end", "", 1.0, 0),
        ("ev_charged_mwh", "EV energy charged", "kWh", 1e3, 1),
        ("hp_electric_mwh", "heat-pump electricity", "kWh", 1e3, 1),
        ("hp_comfort_violation_kelvin_hours", "comfort violation", "K h", 1.0, 2),
        ("dimmed_kwh", "energy dimmed (§14a)", "kWh", 1.0, 2),
        ("grid_fee_reduction_eur", "§14a fee reduction", "EUR", 1.0, 2),
    )
    out = []
    for name, label, unit, scale, decimals in specs:
        value = kpis.get(name)
        if value is None or not np.isfinite(value):
            continue
        if name == "grid_fee_reduction_eur" and "dimmed_kwh" not in kpis:
            continue
        out.append({"label": label, "value": f"{value * scale:,.{decimals}f}", "unit": unit})
    return out
