"""The scenario's ``[[market.late_orders]]`` as each owner's order delay in each interval.

One function for the market layer, which refuses the late orders, and for ``gridtwin
verify``, which re-derives every order's submission time and status from the scenario
(:mod:`settlement.market.gate`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from settlement.market.gate import order_delays_s
from twin.scenario import MarketConfig, ScenarioError
from twin.scenario.world import unknown_node


def order_delays(
    market: MarketConfig,
    n_intervals: int,
    interval_s: int,
    owners: Sequence[str],
    node_owner: Mapping[str, str],
    seed: int,
) -> np.ndarray:
    """Each owner's order delay in each interval [s], from ``market.late_orders``.

    A window covers the intervals whose start lies in ``[start_h, start_h + duration_h)``.

    Parameters
    ----------
    market : MarketConfig
        The ``[market]`` section.
    n_intervals, interval_s : int
        The run's intervals and their length [s].
    owners : sequence of str
        The participants, in the market's order (the columns of the result).
    node_owner : mapping of str to str
        Each node id's owner.
    seed : int
        The run's seed (named when a node id is unknown).

    Returns
    -------
    ndarray of int64, shape (n_intervals, len(owners))
        Delay [s].

    Raises
    ------
    ScenarioError
        A window names an owner or a node the run does not have (the message names the key).
    """
    column = {o: i for i, o in enumerate(owners)}
    windows = []
    for k, late in enumerate(market.late_orders):
        key = f"market.late_orders[{k}].{late.key}"
        if late.node_id is not None:
            if late.node_id not in node_owner:
                raise ScenarioError(unknown_node(key, late.node_id, list(node_owner), seed))
            owner = node_owner[late.node_id]
        else:
            owner = str(late.participant)
            if owner not in column:
                raise ScenarioError(
                    f"{key}: no participant {owner!r} in the run (participants: "
                    f"{', '.join(owners[:3])}, ..., {owners[-1]}: the nodes' owners)"
                )
        first = math.ceil(late.start_h * 3600 / interval_s)
        stop = math.ceil((late.start_h + late.duration_h) * 3600 / interval_s)
        windows.append((column[owner], first, stop, late.delay_s))
    return order_delays_s(n_intervals, len(owners), windows)
