"""The scenario sections of how energy becomes money: the utility's tariffs, the P2P market,
on-chain settlement and the DePIN devices (``[tariffs]``, ``[market]``, ``[chain]``,
``[devices]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from twin.scenario.base import NonNegativeFloat, PositiveFloat, Section, Share
from twin.scenario.gate import LateOrderConfig
from twin.scenario.links import DelayPeriods, DropoutConfig
from twin.scenario.royalties import DeviceTransferConfig, RoyaltyConfig

#: An hour band ``[start, end)`` [h UTC]; a TOML list becomes the tuple (the hours stay strict).
HourSpan = Annotated[
    tuple[
        Annotated[int, Field(ge=0, le=24, strict=True)],
        Annotated[int, Field(ge=0, le=24, strict=True)],
    ],
    Field(strict=False),
]


class TariffsConfig(Section):
    """``[tariffs]``: the utility's retail price (time-of-use or dynamic) and its feed-in price.

    Time-of-use (without ``day_ahead_csv``): retail is ``peak_eur_per_mwh`` in
    ``peak_hours_utc`` ``[start, end)``, ``offpeak_eur_per_mwh`` in ``offpeak_hours_utc``,
    ``retail_eur_per_mwh`` otherwise; give an empty span (``[0, 0]``) to drop a band.

    Dynamic (§41a EnWG; ``day_ahead_csv`` names a day-ahead price CSV, relative to the
    scenario file, see :mod:`twin.scenario.day_ahead_csv`): retail is
    ``(day-ahead + network_eur_per_mwh + levies_eur_per_mwh + supplier_margin_eur_per_mwh)
    * (1 + vat_share)`` in every interval, and the bands are unused. The defaults are of the
    order of German 2024 household prices: network charges about 11 ct/kWh; electricity tax
    2.05 ct/kWh, concession fee about 1.7 ct/kWh and the other surcharges about 1.6 ct/kWh;
    VAT 19 %. Feed-in stays ``feed_in_eur_per_mwh``, capped at an interval's retail price.
    """

    retail_eur_per_mwh: NonNegativeFloat = 320.0
    peak_eur_per_mwh: NonNegativeFloat = 420.0
    peak_hours_utc: HourSpan = (16, 20)
    offpeak_eur_per_mwh: NonNegativeFloat = 220.0
    offpeak_hours_utc: HourSpan = (0, 5)
    feed_in_eur_per_mwh: NonNegativeFloat = 80.0
    day_ahead_csv: Annotated[Path, Field(strict=False)] | None = None  # a TOML string is a path
    network_eur_per_mwh: NonNegativeFloat = 110.0
    levies_eur_per_mwh: NonNegativeFloat = 53.0
    supplier_margin_eur_per_mwh: NonNegativeFloat = 20.0
    vat_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.19

    @model_validator(mode="after")
    def _order(self) -> Self:
        for name in ("retail_eur_per_mwh", "peak_eur_per_mwh", "offpeak_eur_per_mwh"):
            if self.feed_in_eur_per_mwh > getattr(self, name):
                raise ValueError(f"feed_in_eur_per_mwh must not exceed {name}")
        for name in ("peak_hours_utc", "offpeak_hours_utc"):
            start, end = getattr(self, name)
            if start > end:
                raise ValueError(f"{name}: start hour after end hour")
        (a, b), (c, d) = self.peak_hours_utc, self.offpeak_hours_utc
        if max(a, c) < min(b, d):
            raise ValueError("peak_hours_utc and offpeak_hours_utc overlap")
        return self


class MarketConfig(Section):
    """``[market]``: the peer-to-peer market of every interval, and its grid check.

    ``rule``: ``ex_ante_auction`` (a double auction of the owners' expected positions, cleared
    before the interval; ``positions`` says which), or a rule on the metered net energy of each
    owner after the interval (:mod:`settlement.market.ex_post`), so that no energy is sold that
    was not there: ``ex_post_auction`` (the same double auction, the metered positions as
    orders), ``mid_market`` (one price halfway between retail and feed-in; the matched energy
    ``min(surplus, deficit)`` shared pro rata on both sides), ``static_sharing`` (the surplus
    allocated to consumers by the fixed key ``static_shares``: owner -> weight, empty: equal
    shares among the owners of a consumer; capped at each one's deficit) or
    ``dynamic_sharing`` (allocated pro rata to deficit) (:mod:`settlement.market.sharing`;
    the sharing price is ``community_price_eur_per_mwh`` clipped into ``[feed_in, retail]``,
    unset: the mid-market price).
    ``mechanism`` (the auctions' clearing): ``uniform`` (k = 0.5 double auction: one price, the
    middle of the range of prices that clear the market) or ``pay_as_bid`` (each trade at its
    buyer's bid). ``strategy`` sets the auctions' limit prices: ``truthful`` (buyers bid the
    retail price, sellers ask the feed-in price: their outside options), ``zero_intelligence``
    (seeded uniform draws between the two) or ``markup`` (a share ``markup`` of the spread kept
    by each side).
    ``grid_fee_eur_per_mwh_per_level``: a trade pays this for every transformer between its
    seller's and buyer's voltage zone (orders clear inside each zone first, then across zones;
    :mod:`settlement.market.grid_fee`).
    ``network_aware``: after the market clears, the interval's AC power flow is checked and
    the generation behind the violations is curtailed, with its trades, until the voltage band
    and loading limit of ``[grid]`` hold; ``false`` lets violations happen and counts them.
    ``positions`` (``ex_ante_auction`` only): what each owner orders: ``forecast`` (its nodes'
    forecasts in force and its batteries' plans; a node without a forecast orders its last
    metered power) or ``last_metered`` (every node's power of the interval before, a one-step
    persistence forecast).
    ``gate_closure_s`` (``ex_ante_auction`` only): the gate for an interval closes this long
    [s] before it starts; orders are sent as the interval before starts and an order that
    arrives after the gate is refused (status ``late`` in ``orders``), its owner's metered
    energy settled at the tariff. ``late_orders`` injects late arrivals: windows in which an
    owner's orders arrive ``delay_s`` late (:class:`twin.scenario.gate.LateOrderConfig`). The
    ex-post rules take no orders in advance and have no gate.
    """

    enabled: bool = True
    rule: Literal[
        "ex_ante_auction", "ex_post_auction", "mid_market", "static_sharing", "dynamic_sharing"
    ] = "mid_market"
    mechanism: Literal["uniform", "pay_as_bid"] = "uniform"
    strategy: Literal["truthful", "zero_intelligence", "markup"] = "truthful"
    markup: Share = 0.5
    grid_fee_eur_per_mwh_per_level: NonNegativeFloat = 0.0
    network_aware: bool = True
    curtailment_rounds: Annotated[int, Field(ge=1, le=50)] = 12
    positions: Literal["forecast", "last_metered"] = "forecast"
    static_shares: dict[str, NonNegativeFloat] = Field(default_factory=dict)
    community_price_eur_per_mwh: NonNegativeFloat | None = None
    gate_closure_s: Annotated[int, Field(ge=0, le=86_400)] = 0
    late_orders: list[LateOrderConfig] = Field(default_factory=list)

    @field_validator("static_shares")
    @classmethod
    def _some_share(cls, v: dict[str, float]) -> dict[str, float]:
        if v and not sum(v.values()) > 0:
            raise ValueError("the weights must not all be 0")
        return v


class ChainOutageConfig(Section):
    """One scheduled outage of the chain (no batch is sent during it)."""

    start_h: NonNegativeFloat
    duration_h: PositiveFloat


class ChainConfig(Section):
    """``[chain]``: on-chain settlement of the market's trades.

    ``rpc_url`` unset: the embedded chain (eth-tester + py-evm, in-process, saved with the
    run); else any JSON-RPC node (anvil, a testnet), its operator key read from the
    environment variable named by ``private_key_env`` (on anvil, chain id 31337, anvil's
    first public development key is the default). Every ``batch_hours`` the batch's trades
    are journaled and committed as one Merkle root plus net payments (a batch is a whole
    number of ``run.interval_s`` intervals, checked by the scenario); a batch is final after
    ``confirmations`` blocks of ``block_time_s``. Outages (scheduled, or random at
    ``outage_rate_per_day``) hold batches back; they are sent when the chain returns.
    Every member starts with ``credits_eur`` and consents (an ERC-2612 permit signed with its
    own key) that settlement moves up to ``consent_eur`` of them over the run; a member whose
    debit exceeds what is left of its consent or balance pays what it can and owes the rest
    (``Settlement.sol``: shortfalls).
    Every transaction's gas is counted (the ``transactions`` table) and priced, as an
    assumption the scenario states, at a layer-1 and a layer-2 gas price ``gas_price_l1_gwei``,
    ``gas_price_l2_gwei`` [gwei] and an ether price ``eth_eur`` [EUR/ETH].
    No settlement transaction is given more than ``max_tx_gas`` [gas] (nor more than the
    chain's block gas limit): a batch with more accounts than fit is settled in chunks.
    """

    enabled: bool = True
    rpc_url: str | None = None
    private_key_env: str = "GRIDTWIN_CHAIN_KEY"
    batch_hours: Annotated[int, Field(ge=1, le=168)] = 168
    confirmations: Annotated[int, Field(ge=0, le=64)] = 2
    block_time_s: PositiveFloat = 12.0
    credits_eur: NonNegativeFloat = 10_000.0
    consent_eur: NonNegativeFloat = 10_000.0
    outage_rate_per_day: NonNegativeFloat = 0.0
    outage_mean_duration_h: PositiveFloat = 2.0
    outages: list[ChainOutageConfig] = Field(default_factory=list)
    gas_price_l1_gwei: PositiveFloat = 5.0
    gas_price_l2_gwei: PositiveFloat = 0.01
    eth_eur: PositiveFloat = 3000.0
    max_tx_gas: Annotated[int, Field(ge=250_000, le=10**9)] = 30_000_000

    @field_validator("batch_hours")
    @classmethod
    def _fits_days(cls, v: int) -> int:
        if 24 % v and v % 24:
            raise ValueError("must divide 24 or be a whole number of days")
        return v


class AttackConfig(Section):
    """A device under attack: what it, or someone posing as it, sends.

    ``factor`` is the inflation of an ``inflate`` or ``forge`` attack (a subtle inflater:
    ``factor = 1.1``); ``devices.inflate_factor`` when unset.
    """

    node_id: str
    kind: Literal["inflate", "replay", "forge", "wrong_chain"]
    #: This attack's factor on its readings (``inflate``, ``forge``); None: the devices'.
    inflate_factor: Annotated[float, Field(gt=1.0, le=100.0)] | None = None


#: Physics checks that prove a signed reading fraudulent (hard bounds, not peer statistics).
SlashReason = Literal["nameplate", "clear_sky", "negative", "state_estimation"]
_HARD_BOUNDS: tuple[SlashReason, ...] = ("nameplate", "clear_sky")


class StakingConfig(Section):
    """``[devices.staking]``: devices stake RewardTokens to earn; proven fraud is slashed.

    Owners' first tokens are the token economy's genesis allocation: ``genesis_tokens_per_kw``
    per kW of every device they stake for, minted once (``DeviceStaking.allocateGenesis``).
    Every solar, wind and battery device not in ``unstaked`` then stakes
    ``min_stake_tokens_per_kw`` per kW of its rated power, by its owner's permit; only staked
    devices earn. Unbonding takes ``unbonding_days``. A device whose own signed reading breaks
    a hard physical bound named in ``slash_on`` loses ``slash_share`` of its stake, once a
    run: ``reporter_share`` of it to the reporter (the verifier), the rest burned or paid to
    the treasury (``slash_to``; the treasury needs ``[economy]``). ``state_estimation`` in
    ``slash_on`` also slashes on the grid-side physics check's flag
    (``[devices.physics_check]``): a statistical verdict, so opt-in.
    """

    enabled: bool = False
    min_stake_tokens_per_kw: Annotated[float, Field(gt=0.0, le=1e6)] = 10.0
    genesis_tokens_per_kw: Annotated[float, Field(ge=0.0, le=1e6)] = 10.0
    unbonding_days: Annotated[float, Field(ge=0.0, le=365.0)] = 7.0
    slash_share: Share = 0.5
    slash_to: Literal["burn", "treasury"] = "burn"
    reporter_share: Share = 0.0
    slash_on: list[SlashReason] = Field(default_factory=lambda: list(_HARD_BOUNDS))
    unstaked: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _genesis_covers_stake(self) -> Self:
        if self.genesis_tokens_per_kw < self.min_stake_tokens_per_kw:
            raise ValueError(
                f"genesis_tokens_per_kw ({self.genesis_tokens_per_kw}) is below "
                f"min_stake_tokens_per_kw ({self.min_stake_tokens_per_kw}): owners could not stake"
            )
        return self


class EmissionConfig(Section):
    """``[devices.emission]``: the reward pool per epoch (:mod:`settlement.depin.emission`):
    ``constant`` (``reward_tokens_per_epoch`` every epoch), ``halving`` (halved every
    ``halving_epochs``), ``decay`` (``decay_per_epoch`` less each epoch) or ``revenue``
    (burn-and-mint: the treasury's protocol revenue buys tokens at ``token_price_eur`` and
    burns them, and the next epoch emits what was burned, at most ``reward_tokens_per_epoch``;
    needs ``[economy]``). ``token_price_eur`` [EUR/token] is also the price at which every
    schedule's ``token_economy`` table says whether the economy pays for itself."""

    schedule: Literal["constant", "halving", "decay", "revenue"] = "constant"
    halving_epochs: Annotated[int, Field(ge=1, le=10_000)] = 52
    decay_per_epoch: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    # at least one micro-euro per token: the buyback pays integer micro-euro
    token_price_eur: Annotated[float, Field(ge=1e-6, le=1e6)] = 0.01


class PhysicsCheckConfig(Section):
    """``[devices.physics_check]``: state estimation against the devices' claims.

    Every upload period the claimed readings are checked against the substation meter's
    import and the smart meters' voltages by pandapower's state estimator
    (:mod:`grid.estimation`): a bus whose signed normalized residuals, summed over the
    period's generating intervals (/ sqrt(n)), exceed ``z_threshold`` and lead the next bus by
    ``margin`` is localized, and its generating device that best explains the residuals has
    the period's readings flagged (``flagged_implausible`` with the ``state_estimation``
    flag): they earn nothing. Noise is one standard deviation of the meters; the defaults are
    meter classes (0.5 % voltage, 1 % substation power). ``method`` says who is blamed:
    ``hypotheses`` (:mod:`grid.localization`: every generating device's inflation is fitted
    to the meters; the best must exceed ``z_threshold`` and lead the next device by
    ``margin``; ~0.3 s a day) or ``state_estimation`` (the largest matched-filtered normalized
    residual of pandapower's WLS, as above; ~0.1-0.2 s per generating interval). With
    ``home_meters`` the hypotheses also weigh each home's smart meter's net active power
    (its consumption and what sits behind it: ``home_power_std`` of the flow, at least
    ``home_power_floor_mw`` [MW]), which places a rooftop PV's lie at its own home; the
    hypotheses then blame one device at a time, each blamed device's claim a free parameter
    of the next round, so two liars in one period are both found. Off by default.
    """

    enabled: bool = False
    voltage_std_pu: Annotated[float, Field(gt=0.0, le=0.05)] = 0.005
    power_std: Annotated[float, Field(gt=0.0, le=0.2)] = 0.01
    power_floor_mw: Annotated[float, Field(gt=0.0, le=1.0)] = 0.0005
    home_meters: bool = True
    home_power_std: Annotated[float, Field(gt=0.0, le=0.2)] = 0.01
    home_power_floor_mw: Annotated[float, Field(gt=0.0, le=1.0)] = 0.00005
    z_threshold: Annotated[float, Field(ge=1.0, le=100.0)] = 5.0
    margin: Annotated[float, Field(ge=0.0, le=100.0)] = 2.0
    method: Literal["hypotheses", "state_estimation"] = "hypotheses"


#: The k-anonymity floor of released aggregates: common practice for smart-meter data.
K_ANONYMITY_FLOOR = 5


class DataSalesConfig(Section):
    """``[devices.data_sales]``: a data buyer pays for aggregates of verified readings.

    From ``start_day`` on, every ``sale_days`` (and at the run's end for the rest) the buyer
    buys the period's aggregates (:mod:`settlement.economy.data_sales`): sums of accepted
    readings per feeder and device kind per interval, released only where at least ``k``
    households contribute (small groups merged per kind, or suppressed); no individual
    series leaves the store. It pays ``price_eur_per_device_month`` [EUR] per device-month of
    released readings (a month: 30 days) from its own ``buyer_credits_eur`` of EnergyCredit,
    by a permit it signs for each sale; ``DataMarket.sol`` pays the contributing devices'
    owners pro rata to their released readings and ``treasury_share`` of it (plus rounding
    remainders) to the treasury (needs ``[economy]``), in one transaction.
    """

    enabled: bool = False
    price_eur_per_device_month: Annotated[float, Field(ge=0.0, le=1e6)] = 2.0
    start_day: Annotated[int, Field(ge=0, le=366)] = 0
    sale_days: Annotated[int, Field(ge=1, le=366)] = 30
    k: int = K_ANONYMITY_FLOOR
    treasury_share: Share = 0.1
    buyer_credits_eur: Annotated[float, Field(ge=0.0, le=1e9)] = 10_000.0

    @field_validator("k")
    @classmethod
    def _k_anonymous(cls, v: int) -> int:
        if v < K_ANONYMITY_FLOOR:
            raise ValueError(
                f"k = {v} is below {K_ANONYMITY_FLOOR}: every released aggregate must cover at "
                f"least {K_ANONYMITY_FLOOR} households (k-anonymity of smart-meter data)"
            )
        return v


class DevicesConfig(Section):
    """``[devices]``: DePIN devices, signed meter readings and rewards (needs ``[chain]``).

    Every node is a device with its own key, registered as an NFT. Every
    ``upload_intervals`` each device uploads its readings with one EIP-712 signature; the
    journal verifies them (signature, chain, replay, registry, physics). Every
    ``epoch_days`` ``reward_tokens_per_epoch`` RewardTokens are shared by verified delivered
    energy, location and availability (:mod:`settlement.depin.rewards`). ``attacks`` and
    ``revoked`` name nodes that attack the network or whose device is revoked; ``transfers``
    device NFTs sold during the run, paying ``royalty``. An epoch must
    be a whole number of upload periods (checked against ``run.interval_s`` by the scenario).
    ``data_sales`` sells k-anonymous aggregates of the accepted readings to a data buyer
    (:class:`DataSalesConfig`). ``dropouts`` take devices' meter links down for a while
    (:class:`~twin.scenario.links.DropoutConfig`) and ``upload_delay_periods`` (node id ->
    upload periods) makes a device's every upload reach the journal that many upload periods
    after its period's end: both make uploads late (:mod:`settlement.depin.links`).
    """

    enabled: bool = True
    upload_intervals: Annotated[int, Field(ge=1, le=96)] = 96
    epoch_days: Annotated[int, Field(ge=1, le=31)] = 7
    # at most 1e12 tokens: an epoch's pool in base units (6 decimals) must fit an int64
    reward_tokens_per_epoch: Annotated[float, Field(ge=0.0, le=1e12)] = 1_000.0
    voltage_support: NonNegativeFloat = 1.0
    congestion_relief: NonNegativeFloat = 1.0
    voltage_stress: NonNegativeFloat = 1.0
    inflate_factor: Annotated[float, Field(gt=1.0, le=100.0)] = 1.3
    attacks: list[AttackConfig] = Field(default_factory=list)
    revoked: list[str] = Field(default_factory=list)
    staking: StakingConfig = Field(default_factory=StakingConfig)
    emission: EmissionConfig = Field(default_factory=EmissionConfig)
    physics_check: PhysicsCheckConfig = Field(default_factory=PhysicsCheckConfig)
    data_sales: DataSalesConfig = Field(default_factory=DataSalesConfig)
    royalty: RoyaltyConfig = Field(default_factory=RoyaltyConfig)
    transfers: list[DeviceTransferConfig] = Field(default_factory=list)
    dropouts: list[DropoutConfig] = Field(default_factory=list)
    upload_delay_periods: dict[str, DelayPeriods] = Field(default_factory=dict)
