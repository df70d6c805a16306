"""Flexibility: EV sessions against their need, heat pumps against the comfort band, the
flexibility used, and the grid operator's dimming (§14a EnWG) of the chosen run.

Reads the run's ``flex_ev``, ``flex_heat_pumps`` and ``ev_sessions`` tables, and
``dimming`` / ``dimming_devices`` where dimming was on; a run without them says why its
sections are empty. Every figure comes from :mod:`figures.flex_ev`, :mod:`figures.flex_heat`,
:mod:`figures.flex_shift` and :mod:`figures.dimming`.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from figures.dimming import dimmed_energy, dimming_violations, fee_reduction_by_owner
from figures.flex_ev import ev_charging_over_time, ev_sessions_figure
from figures.flex_heat import comfort_violation_by_heat_pump, heat_pump_comfort
from figures.flex_shift import comfort_band_c, flex_cards, flexibility_used
from pages import _store
from pages._ui import cards, graph, notice

dash.register_page(__name__, path="/flex", name="Flexibility", order=7)

NO_FLEX = (
    "This run has no flexible loads: [flex] is off in its scenario (or the run was made "
    "before flexible loads), so it has no flex_ev, flex_heat_pumps or ev_sessions table."
)
NO_DIMMING = (
    "This run has no dimming tables: [flex.dimming] is off in its scenario (the grid "
    "operator dims no device)."
)


def layout(**_query: Any) -> html.Div:
    """KPI cards; EV sessions; heat pumps; flexibility used; dimming."""
    return html.Div(
        [
            html.Div(id="flex-notice"),
            html.Div(id="flex-cards", className="cards"),
            html.H3("EV sessions against their need"),
            graph("flex-ev-sessions", 420),
            graph("flex-ev-time", 480),
            html.H3("Heat pumps against the comfort band"),
            graph("flex-hp-comfort", 520),
            graph("flex-hp-violations", 320),
            html.H3("Flexibility used"),
            graph("flex-shift", 480),
            html.H3("Dimming (§14a EnWG)"),
            html.Div(id="flex-dimming-notice"),
            graph("flex-dimmed", 360),
            graph("flex-dimming-violations", 300),
            graph("flex-fee-reduction", 460),
        ]
    )


@callback(
    Output("flex-notice", "children"),
    Output("flex-cards", "children"),
    Output("flex-ev-sessions", "figure"),
    Output("flex-ev-time", "figure"),
    Output("flex-hp-comfort", "figure"),
    Output("flex-hp-violations", "figure"),
    Output("flex-shift", "figure"),
    Output("flex-dimming-notice", "children"),
    Output("flex-dimmed", "figure"),
    Output("flex-dimming-violations", "figure"),
    Output("flex-fee-reduction", "figure"),
    Input("run", "value"),
)
def show(run: str | None) -> tuple[Any, ...]:
    """The chosen run's flexible loads and dimming, or why a part is empty."""
    key = _store.run_key(run)
    names = ("flex_ev", "flex_heat_pumps", "ev_sessions", "dimming", "dimming_devices")
    ev, hp, sessions, dimming, devices = (
        _store.table(key, name) if key else None for name in names
    )
    manifest = _store.manifest(key) if key else {}
    kpis = _store.kpis(key) if key else {}
    band = comfort_band_c(manifest.get("config"))
    interval_s = int(manifest.get("interval_s") or 900)
    top = None
    if key is None:
        top = notice("Choose a run.")
    elif ev is None and hp is None:
        top = notice(NO_FLEX)
    nodes = _store.table(key, "nodes", ["node_id", "p_max_mw"]) if key else None
    ratings = (
        dict(zip(nodes["node_id"].astype(str), nodes["p_max_mw"], strict=True))
        if nodes is not None
        else None
    )
    return (
        top,
        cards(flex_cards(kpis) if top is None else []),
        ev_sessions_figure(sessions),
        ev_charging_over_time(ev),
        heat_pump_comfort(hp, band, interval_s),
        comfort_violation_by_heat_pump(hp, band, interval_s),
        flexibility_used(ev, sessions, hp, interval_s, ratings),
        notice(NO_DIMMING) if key is not None and devices is None else None,
        dimmed_energy(dimming if devices is not None else None),
        dimming_violations(kpis),
        fee_reduction_by_owner(devices),
    )
