"""``[devices.royalty]`` and ``[[devices.transfers]]``: device NFT sales and their royalty."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from twin.scenario.base import Section


class RoyaltyConfig(Section):
    """``[devices.royalty]``: the ERC-2981 royalty every device NFT sale pays.

    ``DeviceRegistry`` is deployed with one default royalty (OpenZeppelin's ERC2981):
    ``bps`` [basis points, 1/10,000] of each sale's price, paid by ``DeviceMarket`` to the
    ``receiver``: the ``installer`` (an account of its own that installed the devices) or the
    community ``treasury`` (needs ``[economy]``).
    """

    receiver: Literal["installer", "treasury"] = "installer"
    bps: Annotated[int, Field(ge=0, le=10_000)] = 500


class DeviceTransferConfig(Section):
    """A device NFT sold during the run, ``[[devices.transfers]]``.

    At the start of day ``day`` [d from the run's start] the owner of node ``node_id``'s
    device sells its NFT to ``buyer`` (another owner of the run, e.g. ``member-0003``) for
    ``price_eur`` [EUR] of EnergyCredit, through ``DeviceMarket`` with both sides' consent;
    the royalty of ``[devices.royalty]`` goes to its receiver. Rewards of the epochs paid
    after it go to the buyer.
    """

    node_id: str
    day: Annotated[int, Field(ge=0, le=366)]
    price_eur: Annotated[float, Field(ge=0.0, le=1e9)]
    buyer: str
