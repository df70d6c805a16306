"""``[[market.late_orders]]``: orders that reach the ex-ante market late (a fault to inject)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from twin.scenario.base import NonNegativeFloat, PositiveFloat, Section


class LateOrderConfig(Section):
    """One window in which an owner's orders arrive late, ``[[market.late_orders]]``.

    The orders of ``participant`` (an owner of the run, e.g. ``member-0003`` or ``community``),
    or of the owner of node ``node_id`` (one of the two), for the intervals that start from
    ``start_h`` [h from the run's start] for ``duration_h`` [h] arrive ``delay_s`` [s] after
    they were sent (one interval before the interval starts): later than the gate
    (``market.gate_closure_s`` before the start) they are refused
    (:mod:`settlement.market.gate`). Only the ``ex_ante_auction`` takes orders in advance.
    """

    participant: str | None = None
    node_id: str | None = None
    start_h: NonNegativeFloat
    duration_h: PositiveFloat
    delay_s: Annotated[int, Field(ge=1, le=86_400)]

    @model_validator(mode="after")
    def _one_owner(self) -> Self:
        if (self.participant is None) == (self.node_id is None):
            raise ValueError("give exactly one of participant or node_id")
        return self

    @property
    def key(self) -> str:
        """The key naming the owner: ``participant`` or ``node_id``."""
        return "participant" if self.participant is not None else "node_id"
