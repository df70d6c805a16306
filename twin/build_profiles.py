"""The profile-driven node models of a built twin: consumers on their SimBench load profiles
(with seeded noise), generators on their PV / wind profiles, and their powers over a window.

The part of :mod:`twin.build` that turns SimBench's profile library into
:class:`grid.nodes.ProfileNodes`, with an error naming the scenario key of a profile the
library does not have.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grid.nodes import ProfileNodes
from grid.placement import NodeSet
from grid.profiles import window
from twin.scenario import ScenarioError

#: The scenario key that names each kind's profile (a consumer's comes with its grid).
PROFILE_KEYS = {
    "consumer": "the grid's loads (grid.simbench_code or grid.file, column 'profile')",
    "solar": "nodes.pv_profile",
    "wind": "nodes.wind_profile",
}


def _unknown_profiles(kind: str, missing: list[str], columns: pd.Index, suffix: str) -> str:
    """The error for profile names the SimBench library does not have: the key, the names
    and the names it does have for that kind."""
    names = [m.removesuffix(suffix) for m in missing] if suffix else missing
    known = sorted(
        {str(c).removesuffix(suffix) for c in columns if not suffix or str(c).endswith(suffix)}
    )
    if kind in ("solar", "wind"):
        prefix = "PV" if kind == "solar" else "WP"
        known = [k for k in known if k.startswith(prefix)]
    shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    return (
        f"{PROFILE_KEYS.get(kind, kind)}: {kind} profile(s) {', '.join(names)} not in "
        f"SimBench's profiles; known: {shown}"
    )


def _profile_nodes(
    nodes: NodeSet,
    kind: str,
    p_table: pd.DataFrame,
    q_table: pd.DataFrame | None,
    suffix: tuple[str, str],
    sign: float,
    noise_std: float,
    rng: np.random.Generator,
    q_ref: np.ndarray | None = None,
) -> ProfileNodes:
    rows = nodes.rows(kind)
    names = nodes.table["profile"].to_numpy()[rows].astype(str)
    unique, column = np.unique(names, return_inverse=True)
    p_cols = [f"{u}{suffix[0]}" for u in unique]
    missing = sorted(set(p_cols) - set(p_table.columns))
    if missing:
        raise ScenarioError(_unknown_profiles(kind, missing, p_table.columns, suffix[0]))
    q_profiles = None
    if q_table is not None:
        q_profiles = q_table[[f"{u}{suffix[1]}" for u in unique]].to_numpy()
    p_ref = sign * nodes.table["p_max_mw"].to_numpy()[rows]
    return ProfileNodes(
        rows=rows,
        p_profiles=p_table[p_cols].to_numpy(),
        q_profiles=q_profiles,
        column=column.astype(np.int64),
        p_ref_mw=p_ref,
        q_ref_mvar=q_ref if q_ref is not None else np.zeros(len(rows)),
        noise_std=noise_std,
        rng=rng,
    )


def profile_fleets(
    nodes: NodeSet,
    library: dict[str, pd.DataFrame],
    start: pd.Timestamp,
    n_intervals: int,
    interval_s: int,
    q_ref_mvar: np.ndarray,
    noise_std: float,
    rng: np.random.Generator,
) -> tuple[ProfileNodes, list[ProfileNodes]]:
    """The consumer and generator node models over ``n_intervals`` from ``start``.

    Consumers follow their SimBench load profile with seeded noise, generators their PV /
    wind profile; the same nodes over another window (the forecasters' warm-up history) come
    from another call with another random stream.
    """
    loads = window(library["load"], start, n_intervals, interval_s)
    renewables = window(library["renewables"], start, n_intervals, interval_s)
    consumers = _profile_nodes(
        nodes,
        "consumer",
        loads,
        loads,
        ("_pload", "_qload"),
        1.0,
        noise_std,
        rng,
        q_ref=q_ref_mvar,
    )
    generators = [
        _profile_nodes(nodes, kind, renewables, None, ("", ""), -1.0, 0.0, rng)
        for kind in ("solar", "wind")
        if len(nodes.rows(kind))
    ]
    return consumers, generators


def fleet_powers(
    fleets: list[ProfileNodes], n_nodes: int, n_t: int
) -> tuple[np.ndarray, np.ndarray]:
    """Powers of the ``fleets``' nodes over their first ``n_t`` intervals, others zero.

    Returns
    -------
    p_mw, q_mvar : ndarray, shape (n_t, n_nodes)
        Load convention [MW], [Mvar].
    """
    p = np.zeros((n_t, n_nodes))
    q = np.zeros_like(p)
    for group in fleets:
        p[:, group.rows], q[:, group.rows] = group.power(0, n_t)
    return p, q
