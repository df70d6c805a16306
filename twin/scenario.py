"""Scenario files: typed, validated configuration of one run.

A scenario is a TOML file with the sections ``[run]``, ``[grid]``, ``[nodes]``,
``[tariffs]``, ``[forecasting]``, ``[market]``, ``[chain]`` and ``[devices]``. It is loaded once,
validated by pydantic (finite numbers, ranges, units in keys, unknown keys rejected) and
frozen. A bad file fails with :class:`ScenarioError`, which names the file, the key and the
reason, before anything runs.

Any key can be overridden with ``KEY=VALUE`` strings (``grid.solver=pandapower``); the value
is read as a TOML value when it parses as one (``0.6``, ``true``, ``"x"``), else as a string.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

#: First and last+1 instants covered by the SimBench profile year (2016, German local time,
#: converted to UTC).
PROFILE_START = datetime(2015, 12, 31, 23, 0, tzinfo=UTC)
PROFILE_END = datetime(2016, 12, 31, 23, 0, tzinfo=UTC)
#: Resolution of the SimBench profiles [s].
PROFILE_STEP_S = 900

#: pandapower example networks a scenario may name in ``grid.example``.
EXAMPLES = ("cigre_lv", "cigre_mv", "kerber_landnetz_kabel_1", "kerber_dorfnetz")

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Efficiency = Annotated[float, Field(gt=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]


class ScenarioError(ValueError):
    """A scenario file or override that cannot be used; the message names file, key, reason."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class RunConfig(_Section):
    """``[run]``: horizon, clock and seed."""

    days: Annotated[int, Field(ge=1, le=366)] = 7
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 42
    interval_s: Annotated[int, Field(ge=PROFILE_STEP_S, le=86_400)] = PROFILE_STEP_S
    start: AwareDatetime = datetime(2016, 6, 6, tzinfo=UTC)

    @field_validator("interval_s")
    @classmethod
    def _multiple_of_profile_step(cls, v: int) -> int:
        if v % PROFILE_STEP_S:
            raise ValueError(f"must be a multiple of the {PROFILE_STEP_S} s profile resolution")
        return v

    @field_validator("start")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.astimezone(UTC)

    @model_validator(mode="after")
    def _within_profile_year(self) -> Self:
        if not PROFILE_START <= self.start < PROFILE_END:
            raise ValueError(
                f"start {self.start.isoformat()} must lie within the SimBench profile year "
                f"{PROFILE_START.isoformat()} .. {PROFILE_END.isoformat()} (runs past its end "
                "wrap around to its start)"
            )
        if (self.start - PROFILE_START).total_seconds() % PROFILE_STEP_S:
            raise ValueError(f"start must fall on a {PROFILE_STEP_S} s boundary")
        return self

    @property
    def n_intervals(self) -> int:
        """Number of market intervals in the run."""
        return self.days * 86_400 // self.interval_s


class GridConfig(_Section):
    """``[grid]``: the network (exactly one of simbench_code, example, file) and its limits."""

    simbench_code: str | None = None
    example: Literal[EXAMPLES] | None = None  # type: ignore[valid-type]
    file: Path | None = None
    solver: Literal["pandapower", "fast"] = "fast"
    vm_min_pu: PositiveFloat = 0.95
    vm_max_pu: PositiveFloat = 1.05
    max_loading_percent: PositiveFloat = 100.0

    @field_validator("simbench_code")
    @classmethod
    def _known_code(cls, v: str | None) -> str | None:
        if v is not None and v not in _simbench_codes():
            raise ValueError(
                f"unknown SimBench code {v!r} (see simbench.collect_all_simbench_codes())"
            )
        return v

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [k for k in ("simbench_code", "example", "file") if getattr(self, k) is not None]
        if len(given) != 1:
            got = ", ".join(given) or "none"
            raise ValueError(f"give exactly one of simbench_code, example, file (got {got})")
        if self.vm_min_pu >= self.vm_max_pu:
            raise ValueError("vm_min_pu must be below vm_max_pu")
        return self


class OutageConfig(_Section):
    """One scheduled outage of a node (snapped to interval boundaries)."""

    node_id: str
    start_h: NonNegativeFloat
    duration_h: PositiveFloat


class NodesConfig(_Section):
    """``[nodes]``: which homes get PV and batteries, the wind turbine, sizes, outages."""

    pv_share: Share = 0.4
    pv_p_max_kw: PositiveFloat = 6.0
    pv_profile: str = "PV5"
    pv_placement: Literal["random", "feeder_end"] = "random"
    battery_share: Share = 0.2
    battery_capacity_kwh: PositiveFloat = 10.0
    battery_p_max_kw: PositiveFloat = 5.0
    battery_charge_efficiency: Efficiency = 0.95
    battery_discharge_efficiency: Efficiency = 0.95
    battery_soc_min: Share = 0.05
    battery_soc_max: Share = 0.95
    battery_soc_initial: Share = 0.5
    wind_turbines: Annotated[int, Field(ge=0, le=100)] = 1
    wind_p_max_kw: PositiveFloat = 30.0
    wind_profile: str = "WP4"
    load_scale: PositiveFloat = 1.0
    load_noise_std: Annotated[float, Field(ge=0.0, le=0.5)] = 0.05
    outage_rate_per_day: NonNegativeFloat = 0.0
    outage_mean_duration_h: PositiveFloat = 4.0
    outages: list[OutageConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _soc_band(self) -> Self:
        if not self.battery_soc_min <= self.battery_soc_initial <= self.battery_soc_max:
            raise ValueError("need battery_soc_min <= battery_soc_initial <= battery_soc_max")
        if self.battery_soc_min >= self.battery_soc_max:
            raise ValueError("battery_soc_min must be below battery_soc_max")
        return self


HourSpan = tuple[Annotated[int, Field(ge=0, le=24)], Annotated[int, Field(ge=0, le=24)]]


class TariffsConfig(_Section):
    """``[tariffs]``: the utility's time-of-use retail price and its feed-in price.

    Retail is ``peak_eur_per_mwh`` in ``peak_hours_utc`` ``[start, end)``,
    ``offpeak_eur_per_mwh`` in ``offpeak_hours_utc``, ``retail_eur_per_mwh`` otherwise; give
    an empty span (``[0, 0]``) to drop a band.
    """

    retail_eur_per_mwh: NonNegativeFloat = 320.0
    peak_eur_per_mwh: NonNegativeFloat = 420.0
    peak_hours_utc: HourSpan = (16, 20)
    offpeak_eur_per_mwh: NonNegativeFloat = 220.0
    offpeak_hours_utc: HourSpan = (0, 5)
    feed_in_eur_per_mwh: NonNegativeFloat = 80.0

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


class ForecastingConfig(_Section):
    """``[forecasting]``: forecasters trained inside the run and the batteries' dispatch.

    ``battery_control``: ``forecast`` (rolling-horizon LP on the forecasts of ``model``),
    ``self_consumption`` (charge from surplus, discharge into deficit) or ``idle``.
    ``model``: ``gb`` (gradient boosting, one global model pooled over all nodes, trained on
    ``training_samples`` sampled rows with ``trees`` boosting iterations per horizon group),
    ``seasonal_naive`` (same time yesterday) or ``perfect`` (the actual future: the bound).
    ``perfect_kinds``: node kinds (``consumer``, ``solar``, ``wind``) forecast perfectly while
    ``model`` forecasts the rest: what a better forecast of one source would be worth.
    """

    battery_control: Literal["forecast", "self_consumption", "idle"] = "forecast"
    model: Literal["gb", "seasonal_naive", "perfect"] = "gb"
    warmup_days: Annotated[int, Field(ge=8, le=120)] = 28
    horizon_steps: Annotated[int, Field(ge=4, le=192)] = 96
    replan_intervals: Annotated[int, Field(ge=1, le=96)] = 24
    retrain_days: Annotated[int, Field(ge=1, le=366)] = 28
    training_samples: Annotated[int, Field(ge=1_000, le=2_000_000)] = 30_000
    trees: Annotated[int, Field(ge=5, le=1_000)] = 30
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.2
    perfect_kinds: list[Literal["consumer", "solar", "wind"]] = Field(default_factory=list)
    record_horizons: list[Annotated[int, Field(ge=1, le=192)]] = Field(
        default_factory=lambda: [1, 4, 96]
    )

    @model_validator(mode="after")
    def _horizons(self) -> Self:
        if self.replan_intervals > self.horizon_steps:
            raise ValueError("replan_intervals must not exceed horizon_steps")
        if any(h > self.horizon_steps for h in self.record_horizons):
            raise ValueError("record_horizons must not exceed horizon_steps")
        return self


class MarketConfig(_Section):
    """``[market]``: the peer-to-peer market cleared every interval, and its grid check.

    ``mechanism``: ``uniform`` (k = 0.5 double auction: one price, the middle of the range of
    prices that clear the market) or ``pay_as_bid`` (each trade at its buyer's bid). ``strategy``
    sets the limit prices: ``truthful`` (buyers bid the retail price, sellers ask the feed-in
    price: their outside options), ``zero_intelligence`` (seeded uniform draws between the
    two) or ``markup`` (a share ``markup`` of the spread kept by each side).
    ``grid_fee_eur_per_mwh_per_level``: a trade pays this for every transformer between its
    seller's and buyer's voltage zone (orders clear inside each zone first, then across zones;
    :mod:`settlement.market.grid_fee`).
    ``network_aware``: after the market clears, the interval's AC power flow is checked and
    the generation behind the violations is curtailed, with its trades, until the voltage band
    and loading limit of ``[grid]`` hold; ``false`` lets violations happen and counts them.
    ``positions``: what each owner orders: ``forecast`` (its nodes' forecasts in force and its
    batteries' plans; a node without a forecast orders its last metered power) or
    ``last_metered`` (every node's power of the interval before, a one-step persistence
    forecast).
    """

    enabled: bool = True
    mechanism: Literal["uniform", "pay_as_bid"] = "uniform"
    strategy: Literal["truthful", "zero_intelligence", "markup"] = "truthful"
    markup: Share = 0.5
    grid_fee_eur_per_mwh_per_level: NonNegativeFloat = 0.0
    network_aware: bool = True
    curtailment_rounds: Annotated[int, Field(ge=1, le=50)] = 12
    positions: Literal["forecast", "last_metered"] = "forecast"


class ChainOutageConfig(_Section):
    """One scheduled outage of the chain (no batch is sent during it)."""

    start_h: NonNegativeFloat
    duration_h: PositiveFloat


class ChainConfig(_Section):
    """``[chain]``: on-chain settlement of the market's trades.

    ``rpc_url`` unset: the embedded chain (eth-tester + py-evm, in-process, saved with the
    run); else any JSON-RPC node (anvil, a testnet), its operator key read from the
    environment variable named by ``private_key_env`` (on anvil, chain id 31337, anvil's
    first public development key is the default). Every ``batch_hours`` the batch's trades
    are journaled and committed as one Merkle root plus net payments; a batch is final after
    ``confirmations`` blocks of ``block_time_s``. Outages (scheduled, or random at
    ``outage_rate_per_day``) hold batches back; they are sent when the chain returns.
    """

    enabled: bool = True
    rpc_url: str | None = None
    private_key_env: str = "GRIDTWIN_CHAIN_KEY"
    batch_hours: Annotated[int, Field(ge=1, le=168)] = 168
    confirmations: Annotated[int, Field(ge=0, le=64)] = 2
    block_time_s: PositiveFloat = 12.0
    credits_eur: NonNegativeFloat = 10_000.0
    outage_rate_per_day: NonNegativeFloat = 0.0
    outage_mean_duration_h: PositiveFloat = 2.0
    outages: list[ChainOutageConfig] = Field(default_factory=list)

    @field_validator("batch_hours")
    @classmethod
    def _fits_days(cls, v: int) -> int:
        if 24 % v and v % 24:
            raise ValueError("must divide 24 or be a whole number of days")
        return v


class AttackConfig(_Section):
    """A device under attack: what it, or someone posing as it, sends."""

    node_id: str
    kind: Literal["inflate", "replay", "forge", "wrong_chain"]


class DevicesConfig(_Section):
    """``[devices]``: DePIN devices, signed meter readings and rewards (needs ``[chain]``).

    Every node is a device with its own key, registered as an NFT. Every
    ``upload_intervals`` each device uploads its readings with one EIP-712 signature; the
    journal verifies them (signature, chain, replay, registry, physics). Every
    ``epoch_days`` ``reward_tokens_per_epoch`` RewardTokens are shared by verified delivered
    energy, location and availability (:mod:`settlement.depin.rewards`). ``attacks`` and ``revoked``
    name nodes that attack the network or whose device is revoked.
    """

    enabled: bool = True
    upload_intervals: Annotated[int, Field(ge=1, le=96)] = 96
    epoch_days: Annotated[int, Field(ge=1, le=31)] = 7
    reward_tokens_per_epoch: NonNegativeFloat = 1_000.0
    voltage_support: NonNegativeFloat = 1.0
    congestion_relief: NonNegativeFloat = 1.0
    voltage_stress: NonNegativeFloat = 1.0
    inflate_factor: Annotated[float, Field(gt=1.0, le=100.0)] = 1.3
    attacks: list[AttackConfig] = Field(default_factory=list)
    revoked: list[str] = Field(default_factory=list)

    @field_validator("upload_intervals")
    @classmethod
    def _divides_a_day(cls, v: int) -> int:
        if 96 % v:
            raise ValueError("must divide 96 (a day of 15-minute intervals)")
        return v


class Scenario(_Section):
    """A whole scenario: one run's configuration."""

    name: str = "scenario"
    run: RunConfig = Field(default_factory=RunConfig)
    grid: GridConfig = Field(default_factory=lambda: GridConfig(simbench_code=DEFAULT_CODE))
    nodes: NodesConfig = Field(default_factory=NodesConfig)
    tariffs: TariffsConfig = Field(default_factory=TariffsConfig)
    forecasting: ForecastingConfig = Field(default_factory=ForecastingConfig)
    market: MarketConfig = Field(default_factory=MarketConfig)
    chain: ChainConfig = Field(default_factory=ChainConfig)
    devices: DevicesConfig = Field(default_factory=DevicesConfig)


DEFAULT_CODE = "1-LV-semiurb4--0-sw"


@lru_cache(maxsize=1)
def _simbench_codes() -> frozenset[str]:
    import simbench

    return frozenset(simbench.collect_all_simbench_codes())


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``"a.b=value"`` into its key path and its value (TOML-typed where it parses)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ScenarioError(f"--set {item!r}: expected KEY=VALUE, e.g. grid.solver=pandapower")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.split("."), value


def _apply(raw: dict[str, Any], path: list[str], value: Any) -> None:
    node = raw
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ScenarioError(f"--set {'.'.join(path)}: {part!r} is not a section")
        node = child
    node[path[-1]] = value


def _describe(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{source}: {loc}: {msg}")
    return "\n".join(lines)


def scenario_from_dict(
    raw: dict[str, Any], source: str = "<scenario>", base_dir: Path | None = None
) -> Scenario:
    """Validate a raw mapping as a :class:`Scenario`; file paths resolve against ``base_dir``."""
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    grid = raw.get("grid")
    if isinstance(grid, dict) and isinstance(grid.get("file"), str) and base_dir is not None:
        grid["file"] = str((base_dir / grid["file"]).resolve())
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(_describe(err, source)) from None
    path = scenario.grid.file
    if path is not None and not path.is_file():
        raise ScenarioError(f"{source}: grid.file: no such file {str(path)!r}")
    return scenario


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Load, override and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        The TOML file.
    overrides : list of str, optional
        ``KEY=VALUE`` items applied after the file is read and before it is validated.

    Raises
    ------
    ScenarioError
        Missing or unreadable file, bad TOML, unknown key, bad value; the message names the
        file (or ``--set``), the key and the reason.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML: {err}") from None
    raw.setdefault("name", path.stem)
    source = str(path)
    for item in overrides or []:
        keys, value = parse_override(item)
        _apply(raw, keys, value)
    if overrides:
        source = f"{path} (with --set {', '.join(overrides)})"
    return scenario_from_dict(raw, source=source, base_dir=path.parent)
