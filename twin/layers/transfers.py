"""Device NFT sales during a run (``[[devices.transfers]]``), paying the ERC-2981 royalty.

The devices layer builds a :class:`DeviceSales` beside its registry: it deploys
``DeviceMarket`` (:mod:`settlement.depin.market`) and, as the run reaches each transfer's
day, sells the device's NFT from its current owner to the buyer with both sides' own
signatures (the seller's ERC-721 approval and signed sale, the buyer's signed sale and
EnergyCredit permit). The royalty goes to ``devices.royalty.receiver``; later epochs' rewards
go to the buyer, because ``Rewards`` pays the NFT's owner at payout time. Every sale is a row
of the ``device_transfers`` table; a royalty paid to the treasury is also a ``device_royalty``
row of the economy's ``treasury`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from settlement.chain.participants import key_address, participant_keys
from settlement.depin.client import DepinContracts
from settlement.depin.market import DeviceMarket, Sold
from settlement.units import eur_to_micro_eur
from twin.scenario import ScenarioError
from twin.scenario.royalties import DeviceTransferConfig
from twin.scenario.world import unknown_node

#: The installer's account name (it receives royalties with ``receiver = "installer"``).
INSTALLER = "installer"
#: The treasury movement of a royalty paid to the treasury.
ROYALTY_KIND = "device_royalty"

#: A treasury movement: (time [s from the start], kind, account, amount [micro-euro], tx).
Movement = tuple[float, str, str, int, str]


def installer_address(seed: int, *, embedded: bool) -> str:
    """The installer's address: seed-derived on the embedded chain, fresh on an RPC chain."""
    return key_address(participant_keys([INSTALLER], seed, from_seed=embedded)[0])


@dataclass
class _Due:
    """One scenario transfer, resolved: where it sits, when it is due."""

    index: int
    config: DeviceTransferConfig
    device: int  # position in the devices' arrays
    interval: int  # the first interval of its day


@dataclass
class DeviceSales:
    """The run's device sales; see the module docstring.

    Parameters
    ----------
    transfers : sequence of DeviceTransferConfig
        ``devices.transfers``.
    depin : DepinContracts
        The run's DePIN contracts (DeviceRegistry deployed with its royalty).
    node_ids, device_ids : sequence
        Each device's node id and NFT id, in the devices' order.
    owner : ndarray of object
        Each device's owner's name, in the devices' order: updated in place as devices are
        sold (the rewards table reads it).
    owner_address : list of str
        Each device's owner's address, likewise.
    key_of : callable
        A participant's private key by name (the chain layer's).
    participants : mapping of str to str
        Every participant's address by name (the buyers are chosen among them).
    receiver : str
        ``devices.royalty.receiver`` (``installer`` or ``treasury``); its address is the
        registry's royalty receiver.
    interval_s, seed : int
        The market interval [s]; the run's seed (error messages).
    treasury_movements : list, optional
        The economy layer's treasury movements: a royalty paid to the treasury joins them.
    """

    transfers: Sequence[DeviceTransferConfig]
    depin: DepinContracts
    node_ids: Sequence[str]
    device_ids: Sequence[int]
    owner: np.ndarray
    owner_address: list[str]
    key_of: Callable[[str], bytes]
    participants: dict[str, str]
    receiver: str
    interval_s: int
    seed: int
    treasury_movements: list[Movement] | None = None
    market: DeviceMarket | None = field(default=None, init=False)
    pending: list[_Due] = field(default_factory=list, init=False)
    sold: list[tuple[_Due, Sold, str]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        position = {node: i for i, node in enumerate(self.node_ids)}
        buyers = sorted(n for n in self.participants if n != "treasury")
        for i, t in enumerate(self.transfers):
            if t.node_id not in position:
                key = f"devices.transfers[{i}].node_id"
                raise ScenarioError(unknown_node(key, t.node_id, list(self.node_ids), self.seed))
            if t.buyer not in buyers:
                more = ", ..." if len(buyers) > 6 else ""
                raise ScenarioError(
                    f"devices.transfers[{i}].buyer: no owner {t.buyer!r} in this run (buyers "
                    f"are the run's owners: {', '.join(buyers[:6])}{more})"
                )
            interval = t.day * 86_400 // self.interval_s
            self.pending.append(_Due(i, t, position[t.node_id], interval))
        self.pending.sort(key=lambda d: (d.interval, d.index))
        owner = list(self.owner)  # each sale's seller, in the order they happen
        for due in self.pending:
            if owner[due.device] == due.config.buyer:
                raise ScenarioError(
                    f"devices.transfers[{due.index}].buyer: {due.config.buyer} already owns "
                    f"{due.config.node_id}'s device on day {due.config.day}"
                )
            owner[due.device] = due.config.buyer
        if self.pending:
            self.market = DeviceMarket(self.depin)

    def due(self, k: int, stamps_s: float) -> None:
        """Sell every device whose transfer is due at or before interval ``k``.

        ``stamps_s`` is the time of interval ``k`` [s from the start]: the sales' time.
        """
        while self.pending and self.pending[0].interval <= k:
            self._sell(self.pending.pop(0), stamps_s)

    def _sell(self, due: _Due, when_s: float) -> None:
        assert self.market is not None
        t, i = due.config, due.device
        seller = self.owner[i]
        sold = self.market.sell(
            int(self.device_ids[i]),
            eur_to_micro_eur(t.price_eur),
            self.key_of(seller),
            self.key_of(t.buyer),
        )
        self.owner[i] = t.buyer
        self.owner_address[i] = self.participants[t.buyer]
        self.sold.append((due, sold, seller))
        if self.receiver == "treasury" and self.treasury_movements is not None and sold.royalty:
            self.treasury_movements.append(
                (when_s, ROYALTY_KIND, sold.buyer, sold.royalty, sold.tx_hash)
            )

    def manifest(self) -> dict[str, str]:
        """{"DeviceMarket": address} when the run sold devices, else nothing."""
        return self.market.manifest() if self.market is not None else {}

    def table(self, stamps_us: np.ndarray) -> dict[str, pa.Array]:
        """The ``device_transfers`` table: one row a sale, amounts [micro-euro]."""
        rows = self.sold
        k = np.array([min(d.interval, len(stamps_us) - 1) for d, _, _ in rows], dtype=np.int64)
        return {
            "time": pa.array(stamps_us[k], pa.timestamp("us")),
            "day": pa.array([d.config.day for d, _, _ in rows], pa.int64()),
            "node_id": pa.array([d.config.node_id for d, _, _ in rows], pa.string()),
            "device_id": pa.array([s.device_id for _, s, _ in rows], pa.int64()),
            "seller": pa.array([seller for _, _, seller in rows], pa.string()),
            "seller_address": pa.array([s.seller for _, s, _ in rows], pa.string()),
            "buyer": pa.array([d.config.buyer for d, _, _ in rows], pa.string()),
            "buyer_address": pa.array([s.buyer for _, s, _ in rows], pa.string()),
            "price_micro_eur": pa.array([s.price for _, s, _ in rows], pa.int64()),
            "royalty_micro_eur": pa.array([s.royalty for _, s, _ in rows], pa.int64()),
            "receiver": pa.array([self.receiver] * len(rows), pa.string()),
            "receiver_address": pa.array([s.receiver for _, s, _ in rows], pa.string()),
            "nonce": pa.array([s.nonce for _, s, _ in rows], pa.int64()),
            "tx_hash": pa.array([s.tx_hash for _, s, _ in rows], pa.string()),
            "block": pa.array([s.block for _, s, _ in rows], pa.int64()),
            "gas_used": pa.array([s.gas_used for _, s, _ in rows], pa.int64()),
        }
