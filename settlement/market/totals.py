"""A run's market totals: the ``bills`` table (one row an owner) and the market's KPIs.

Money and energy are summed as integers (micro-euro, Wh) and turned into EUR and MWh only
for the KPIs.

Energy traded and energy delivered: ``p2p_traded_mwh`` is what the trades say;
``p2p_delivered_mwh`` the part of it its seller's metered export in that interval covers
(``min(sold, export)`` per seller and interval), and ``p2p_bought_beyond_deficit_mwh`` what
buyers bought beyond their metered import (it went back to the utility at feed-in). An
ex-ante market on forecasts sells energy that was not there (delivered < traded); a rule on
metered energy cannot (delivered = traded, nothing beyond deficit).

Who gains: ``homes_gaining`` / ``homes_losing`` count the homes (the members) whose savings
(utility-only cost minus cost) are positive / negative. The other market accounts are counted
apart, by kind (:mod:`settlement.market.accounts`): ``community_generators_gaining`` /
``_losing`` (the community's own generators, e.g. its turbine) and ``shared_assets_gaining``
/ ``_losing`` (the shared assets' accounts). ``savings_min_eur`` is the worst-off owner's
saving, of any kind, and ``savings_gini`` the spread of all owners' savings (:func:`gini`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from settlement.market.accounts import ACCOUNT_KINDS, AccountKind
from settlement.market.bills import SettledBlock
from settlement.units import MICRO_EUR_PER_EUR

#: Per-owner sums of the ``bills`` table, in its column order.
OWNER_SUMS = (
    "cost_micro_eur",
    "baseline_cost_micro_eur",
    "import_wh",
    "export_wh",
    "p2p_bought_wh",
    "p2p_sold_wh",
    "p2p_paid_micro_eur",
    "forecast_error_cost_micro_eur",
    "protocol_fee_micro_eur",
    "grid_fee_reduction_micro_eur",
)

Kpis = dict[str, tuple[float, str]]

#: The KPI name prefix of each kind of account's gaining / losing counts.
GAINING_PREFIX: dict[AccountKind, str] = {
    "home": "homes",
    "community": "community_generators",
    "asset": "shared_assets",
}


def gini(values: np.ndarray) -> float:
    """Gini coefficient of values that may be negative (savings), in ``[0, 1]``.

    The mean absolute difference over twice the mean *absolute* value (Raffinetti, Siletti &
    Vernizzi 2015, "On the Gini coefficient with negative attributes"):

    ``G = sum_i sum_j |x_i - x_j| / (2 n^2 mean(|x|))``

    For values >= 0 it is the usual Gini; with negative values the usual one can exceed 1 (or
    divide by a mean of 0), this one cannot, since ``|x_i - x_j| <= |x_i| + |x_j|``. 0: every
    owner saves the same; near 1: one owner takes all, or gains are offset by others' losses.
    0 when every value is 0 (and NaN for no values).

    Parameters
    ----------
    values : ndarray of int
        One value per owner (savings [micro-euro]); summed exactly as Python integers.
    """
    x = sorted(int(v) for v in np.asarray(values).ravel())
    n = len(x)
    if not n:
        return float("nan")
    scale = sum(abs(v) for v in x)
    if not scale:
        return 0.0
    # sum_i sum_j |x_i - x_j| of sorted values = 2 sum_i (2 i - n + 1) x_i (i from 0)
    spread = 2 * sum((2 * i - n + 1) * v for i, v in enumerate(x))
    return spread / (2 * n * scale)


@dataclass
class MarketTotals:
    """Run totals of the market, per owner and over all trades.

    Parameters
    ----------
    n_owners : int
        Number of participants.
    kinds : ndarray of str
        Each owner's kind of account (:func:`settlement.market.accounts.account_kinds`).
    """

    n_owners: int
    kinds: np.ndarray
    trades: int = 0
    traded_wh: int = 0
    delivered_wh: int = 0
    beyond_deficit_wh: int = 0
    grid_fees_micro_eur: int = 0
    protocol_fees_micro_eur: int = 0
    curtailed_trade_wh: int = 0
    price_energy: float = 0.0  # sum of price * energy, for the volume-weighted mean
    price_min: float = float("inf")
    price_max: float = float("-inf")
    cleared_intervals: int = 0
    by_owner: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_owner = {k: np.zeros(self.n_owners, dtype=np.int64) for k in OWNER_SUMS}
        if len(self.kinds) != self.n_owners:
            raise ValueError(f"{len(self.kinds)} kinds for {self.n_owners} owners")

    def add(self, block: SettledBlock, interval: np.ndarray, price: np.ndarray) -> None:
        """Add a settled block (``interval`` and ``price`` [EUR/MWh] of each trade)."""
        s = self.by_owner
        s["cost_micro_eur"] += block.cost_micro_eur.sum(axis=0)
        s["baseline_cost_micro_eur"] += block.baseline_micro_eur.sum(axis=0)
        s["import_wh"] += block.import_wh.sum(axis=0)
        s["export_wh"] += block.export_wh.sum(axis=0)
        s["p2p_bought_wh"] += block.bought_wh.sum(axis=0)
        s["p2p_sold_wh"] += block.sold_wh.sum(axis=0)
        s["p2p_paid_micro_eur"] += block.paid_micro_eur.sum(axis=0)
        s["forecast_error_cost_micro_eur"] += block.forecast_error_cost_micro_eur.sum(axis=0)
        s["protocol_fee_micro_eur"] += block.fee_paid_micro_eur.sum(axis=0)
        energy = block.energy_wh
        price_sum = np.zeros(len(block.bought_wh))
        np.add.at(price_sum, interval, energy * price)
        live = energy > 0
        self.trades += int(live.sum())
        self.traded_wh += int(energy.sum())
        self.delivered_wh += int(block.delivered_wh.sum())
        self.beyond_deficit_wh += int(block.beyond_deficit_wh.sum())
        self.grid_fees_micro_eur += int(block.grid_fee_micro_eur.sum())
        self.protocol_fees_micro_eur += int(block.protocol_fee_micro_eur.sum())
        self.curtailed_trade_wh += int(block.curtailed_wh.sum())
        self.price_energy += float(price_sum.sum())
        if live.any():
            self.price_min = min(self.price_min, float(price[live].min()))
            self.price_max = max(self.price_max, float(price[live].max()))
        self.cleared_intervals += int((block.bought_wh.sum(axis=1) > 0).sum())

    def credit_fee_reduction(self, reduction_micro_eur: np.ndarray) -> None:
        """Credit each owner's grid-fee reduction (§14a EnWG, :mod:`settlement.market.grid_fee`)
        [micro-euro]: it lowers the owner's cost and its utility-only baseline alike (the
        reduction is the device's, whatever the market), and the grid operator pays it."""
        credit = np.asarray(reduction_micro_eur, dtype=np.int64)
        s = self.by_owner
        s["grid_fee_reduction_micro_eur"] += credit
        s["cost_micro_eur"] -= credit
        s["baseline_cost_micro_eur"] -= credit

    def kpis(self) -> Kpis:
        """The market's KPIs."""
        s = self.by_owner
        eur = float(MICRO_EUR_PER_EUR)
        bought = float(s["p2p_bought_wh"].sum())
        demand = bought + float(s["import_wh"].sum())
        savings = s["baseline_cost_micro_eur"] - s["cost_micro_eur"]
        return {
            "community_cost_eur": (float(s["cost_micro_eur"].sum()) / eur, "EUR"),
            "baseline_cost_eur": (float(s["baseline_cost_micro_eur"].sum()) / eur, "EUR"),
            "savings_eur": (float(savings.sum()) / eur, "EUR"),
            "p2p_share": (bought / demand if demand else float("nan"), "-"),
            "p2p_traded_mwh": (self.traded_wh / 1e6, "MWh"),
            "p2p_delivered_mwh": (self.delivered_wh / 1e6, "MWh"),
            "p2p_bought_beyond_deficit_mwh": (self.beyond_deficit_wh / 1e6, "MWh"),
            "grid_fees_eur": (self.grid_fees_micro_eur / eur, "EUR"),
            "grid_fee_reduction_eur": (
                float(s["grid_fee_reduction_micro_eur"].sum()) / eur,
                "EUR",
            ),
            "grid_operator_net_fees_eur": (
                (self.grid_fees_micro_eur - int(s["grid_fee_reduction_micro_eur"].sum())) / eur,
                "EUR",
            ),
            "trades": (float(self.trades), "count"),
            "curtailed_trade_wh": (float(self.curtailed_trade_wh), "Wh"),
            "price_mean_eur_per_mwh": (
                self.price_energy / self.traded_wh if self.traded_wh else float("nan"),
                "EUR/MWh",
            ),
            "price_min_eur_per_mwh": (self.price_min if self.trades else float("nan"), "EUR/MWh"),
            "price_max_eur_per_mwh": (self.price_max if self.trades else float("nan"), "EUR/MWh"),
            **gaining_losing(savings, self.kinds),
            "savings_min_eur": (
                float(savings.min()) / eur if len(savings) else float("nan"),
                "EUR",
            ),
            "savings_gini": (gini(savings), "-"),
            "forecast_error_cost_eur": (
                float(s["forecast_error_cost_micro_eur"].sum()) / eur,
                "EUR",
            ),
        }

    def bills(self, owners: np.ndarray) -> dict[str, np.ndarray]:
        """Columns of the ``bills`` table: one row an owner."""
        s = self.by_owner
        return {
            "owner": owners,
            **{k: s[k] for k in OWNER_SUMS},
            "savings_micro_eur": s["baseline_cost_micro_eur"] - s["cost_micro_eur"],
        }


def gaining_losing(savings: np.ndarray, kinds: np.ndarray) -> Kpis:
    """How many accounts of each kind gain and lose against utility only [count].

    ``homes_gaining`` / ``homes_losing`` count the homes (the members);
    ``community_generators_…`` and ``shared_assets_…`` the other accounts, apart.

    Parameters
    ----------
    savings : ndarray of int
        Each owner's saving (utility-only cost minus cost) [micro-euro].
    kinds : ndarray of str
        Each owner's kind of account (:data:`settlement.market.accounts.ACCOUNT_KINDS`).
    """
    out: Kpis = {}
    for kind in ACCOUNT_KINDS:
        mine = kinds == kind
        prefix = GAINING_PREFIX[kind]
        out[f"{prefix}_gaining"] = (float((savings[mine] > 0).sum()), "count")
        out[f"{prefix}_losing"] = (float((savings[mine] < 0).sum()), "count")
    return out
