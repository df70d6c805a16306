"""The scenario section of the community economy: the protocol fee, the DAO that governs the
treasury it fills, members' contributions, community assets and the proposals members vote on
(``[economy]``, ``[[economy.assets]]``, ``[[economy.proposals]]``)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from twin.scenario.base import Section

#: An asset's or proposal's name: it names the asset's node ``asset-<name>`` and its account.
AssetName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class AssetConfig(Section):
    """A community battery in front of the meters: where it is and how big.

    ``name`` names its node (``asset-<name>``) and its market account; ``bus`` is a
    pandapower bus index of the grid (the ``nodes`` table's ``bus`` column); ``p_max_kw``
    its rated power [kW] and ``capacity_kwh`` its usable energy [kWh]. It charges from the
    community's surplus and discharges into its deficit, as metered at that interval
    (:class:`grid.nodes.SharedBatteries`). Its shares are minted to the members who funded it
    (:class:`EconomyConfig`), and its net market receipts are paid to their holders every
    settlement batch.
    """

    name: AssetName
    kind: Literal["battery"] = "battery"
    bus: Annotated[int, Field(ge=0)]
    p_max_kw: Annotated[float, Field(gt=0.0, le=10_000.0)]
    capacity_kwh: Annotated[float, Field(gt=0.0, le=100_000.0)]


class ProposalConfig(Section):
    """A proposal members vote on at ``day`` [d from the run's start]: the treasury pays
    ``cost_eur`` to the asset's vendor, and the asset joins the grid once it executes.

    Every member votes by its own projected net benefit (:mod:`twin.whatif`): the twin reruns
    the ``whatif_days`` before the proposal with and without the asset (no chain), takes the
    member's bill saving, adds its share of the asset's net market revenue, scales both to
    ``lifetime_years`` and subtracts its share of the cost (shares and cost split by the
    members' treasury contributions). A member whose projected benefit is positive votes for,
    any other against.
    """

    description: Annotated[str, Field(min_length=1, max_length=500)]
    day: Annotated[float, Field(ge=0.0, le=3650.0)]
    asset: AssetConfig
    cost_eur: Annotated[float, Field(ge=0.0, le=1e9)]
    lifetime_years: Annotated[float, Field(gt=0.0, le=50.0)] = 15.0
    whatif_days: Annotated[int, Field(ge=1, le=60)] = 7


class EconomyConfig(Section):
    """``[economy]``: the protocol fee, the treasury it is paid into and the DAO governing it
    (needs ``[chain]``: without a chain there is no treasury and no fee).

    ``protocol_fee_bps``: basis points [1/10,000] of each P2P trade's value (its payment)
    kept from the seller's receipt and paid into the ``Treasury`` contract within the batch's
    net payments (:mod:`settlement.economy.fees`; integer micro-euro, rounded half to even).
    ``votes``: how the DAO's CommunityVotes are minted to the members at the start: ``equal``
    (one vote each: one member, one vote) or ``by_nodes`` (one vote per node the member owns:
    homes with PV and a battery weigh three). Members delegate their votes to themselves at
    the start, each by its own signed delegation. ``voting_delay_blocks``,
    ``voting_period_blocks``, ``quorum_percent`` and ``timelock_delay_s`` configure the
    governor and its timelock (:class:`settlement.economy.dao.DaoSettings`).

    ``contribution_eur``: what every member pays into the treasury at the start, by its own
    signed transfer (its consent); the funded assets' shares are minted to the members pro
    rata to it (one share per euro). ``assets`` are in the grid from the start (their shares
    minted at the start); ``proposals`` are voted on during the run. Each asset's net market
    receipt is paid to its share holders every settlement batch (:mod:`twin.layers.assets`).
    """

    enabled: bool = True
    protocol_fee_bps: Annotated[int, Field(ge=0, le=10_000)] = 50
    votes: Literal["equal", "by_nodes"] = "equal"
    voting_delay_blocks: Annotated[int, Field(ge=0, le=100_000)] = 1
    voting_period_blocks: Annotated[int, Field(ge=1, le=1_000_000)] = 50
    quorum_percent: Annotated[int, Field(ge=0, le=100)] = 20
    timelock_delay_s: Annotated[int, Field(ge=0, le=30 * 86_400)] = 86_400
    contribution_eur: Annotated[float, Field(ge=0.0, le=1e7)] = 0.0
    assets: list[AssetConfig] = Field(default_factory=list)
    proposals: list[ProposalConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_unique(self) -> Self:
        names = [a.name for a in self.assets] + [p.asset.name for p in self.proposals]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"asset name {name!r} is used twice (assets and proposals)")
            seen.add(name)
        return self

    def asset_configs(self) -> list[tuple[AssetConfig, bool]]:
        """Every asset of the scenario with whether it is in the grid from the start (the
        ``assets``) or only once its proposal executes (the ``proposals``'), in node order."""
        return [(a, True) for a in self.assets] + [(p.asset, False) for p in self.proposals]
