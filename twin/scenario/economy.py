"""The scenario section of the community economy: the protocol fee and the DAO that governs
the treasury it fills (``[economy]``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from twin.scenario.base import Section


class EconomyConfig(Section):
    """``[economy]``: the protocol fee, the treasury it is paid into and the DAO governing it
    (needs ``[chain]``: without a chain there is no treasury and no fee).

    ``protocol_fee_bps``: basis points [1/10,000] of each P2P trade's value (its payment)
    kept from the seller's receipt and paid into the ``Treasury`` contract within the batch's
    net payments (:mod:`settlement.economy.fees`; integer micro-euro, rounded half to even).
    ``votes``: how the DAO's CommunityVotes are minted to the members at the start: ``equal``
    (one vote each: one member, one vote) or ``by_nodes`` (one vote per node the member owns:
    homes with PV and a battery weigh three). ``voting_delay_blocks``,
    ``voting_period_blocks``, ``quorum_percent`` and ``timelock_delay_s`` configure the
    governor and its timelock (:class:`settlement.economy.dao.DaoSettings`).
    """

    enabled: bool = True
    protocol_fee_bps: Annotated[int, Field(ge=0, le=10_000)] = 50
    votes: Literal["equal", "by_nodes"] = "equal"
    voting_delay_blocks: Annotated[int, Field(ge=0, le=100_000)] = 1
    voting_period_blocks: Annotated[int, Field(ge=1, le=1_000_000)] = 50
    quorum_percent: Annotated[int, Field(ge=0, le=100)] = 20
    timelock_delay_s: Annotated[int, Field(ge=0, le=30 * 86_400)] = 86_400
