"""A whole scenario: its sections, and the checks that span sections (periods that must be a
whole number of market intervals)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from twin.scenario.base import Section
from twin.scenario.economy import EconomyConfig
from twin.scenario.flex import FlexConfig
from twin.scenario.settlement import ChainConfig, DevicesConfig, MarketConfig, TariffsConfig
from twin.scenario.world import (
    DEFAULT_CODE,
    PROFILE_END,
    PROFILE_START,
    ForecastingConfig,
    GridConfig,
    NodesConfig,
    RunConfig,
    SiteConfig,
)

#: Error type of a period that does not fit the market interval (its context names the key).
MISFIT = "interval_misfit"


class Scenario(Section):
    """A whole scenario: one run's configuration."""

    #: Names the run folder ``results/<name>-<stamp>``: no path separators, no "..".
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] = "scenario"
    run: RunConfig = Field(default_factory=RunConfig)
    site: SiteConfig = Field(default_factory=SiteConfig)
    grid: GridConfig = Field(default_factory=lambda: GridConfig(simbench_code=DEFAULT_CODE))
    nodes: NodesConfig = Field(default_factory=NodesConfig)
    tariffs: TariffsConfig = Field(default_factory=TariffsConfig)
    forecasting: ForecastingConfig = Field(default_factory=ForecastingConfig)
    market: MarketConfig = Field(default_factory=MarketConfig)
    chain: ChainConfig = Field(default_factory=ChainConfig)
    devices: DevicesConfig = Field(default_factory=DevicesConfig)
    economy: EconomyConfig = Field(default_factory=EconomyConfig)
    flex: FlexConfig = Field(default_factory=FlexConfig)

    @property
    def protocol_fee_bps(self) -> int:
        """The protocol fee the market charges [bps]: ``economy.protocol_fee_bps`` where there
        is a treasury to pay it into (``chain`` and ``economy`` enabled), else 0."""
        if self.chain.enabled and self.economy.enabled:
            return self.economy.protocol_fee_bps
        return 0

    @model_validator(mode="after")
    def _periods_fit_the_interval(self) -> Self:
        for key, reason in [*interval_misfits(self), *gate_misfits(self), *flex_misfits(self)]:
            raise PydanticCustomError(MISFIT, "{key}: {reason}", {"key": key, "reason": reason})
        return self


def flex_misfits(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """A ``[flex]`` whose profile window is longer than the SimBench profile year, or whose
    ``joint_batteries`` has no flex LP or no battery forecasts to plan with.

    The flexible loads read their profiles from a day before the run (the heat-demand
    forecast), with the peak term from ``flex.base_forecast_days`` before it (the base
    forecast), to a horizon past its end: all of it must fit in the profile year, else the
    build fails on a window outside the profiles.

    Yields
    ------
    key, reason : str
        The dotted key that does not fit and why.
    """
    flex, run = scenario.flex, scenario.run
    if flex.joint_batteries and not flex.enabled:
        yield "flex.joint_batteries", "needs flex.enabled = true (the flex LP plans the batteries)"
    if flex.joint_batteries and scenario.forecasting.battery_control != "forecast":
        yield (
            "flex.joint_batteries",
            (
                f'needs forecasting.battery_control = "forecast" (is '
                f'"{scenario.forecasting.battery_control}"): the batteries are planned on '
                "their homes' forecasts"
            ),
        )
    if not flex.enabled:
        return
    year_s = (PROFILE_END - PROFILE_START).total_seconds()
    horizon_s = scenario.forecasting.horizon_steps * run.interval_s
    days = flex.base_forecast_days if flex.peak_penalty_eur_per_kw > 0 else 1
    if (1 + run.days) * 86_400 + horizon_s > year_s:
        yield (
            "run.days",
            (
                f"{run.days} days, a day before them and the forecast horizon exceed the "
                "profile year the flexible loads read"
            ),
        )
    elif (days + run.days) * 86_400 + horizon_s > year_s:
        yield (
            "flex.base_forecast_days",
            (
                f"{days} days before the run's {run.days} days and the forecast horizon exceed "
                "the profile year the peak term's base forecast reads"
            ),
        )


def interval_misfits(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """Periods of ``scenario`` that are not a positive whole number of market intervals.

    A settlement batch (``chain.batch_hours``, always: the run plans its batches even without
    a chain) and, where devices run, a reward epoch (``devices.epoch_days``) must be whole
    multiples of ``run.interval_s``, and an epoch a whole number of upload periods
    (``devices.upload_intervals``): else batches are empty or cut short, and readings of an
    upload period that straddles two epochs are never rewarded.

    Yields
    ------
    key, reason : str
        The dotted key that does not fit and why.
    """
    interval_s = scenario.run.interval_s
    where = f"run.interval_s = {interval_s} s"
    batch_h = scenario.chain.batch_hours
    if (batch_h * 3600) % interval_s:
        yield "chain.batch_hours", f"{batch_h} h is not a positive whole multiple of {where}"
    dimming = scenario.flex.dimming
    if dimming.enabled and not (scenario.flex.enabled and scenario.market.network_aware):
        yield (
            "flex.dimming.enabled",
            "the operator dims flexible loads in network-aware mode: needs [flex] enabled and"
            " market.network_aware = true",
        )
    devices = scenario.devices
    if devices.data_sales.enabled and not (scenario.chain.enabled and devices.enabled):
        yield "devices.data_sales.enabled", "data sales need [chain] and [devices] enabled"
    if not (scenario.chain.enabled and devices.enabled):
        return
    if devices.data_sales.enabled and not scenario.economy.enabled:
        yield "devices.data_sales.enabled", "the treasury's cut needs [economy] enabled"
    staking = devices.staking
    if staking.enabled and staking.slash_to == "treasury" and not scenario.economy.enabled:
        yield "devices.staking.slash_to", "slashes go to the treasury, but [economy] is off"
    if devices.royalty.receiver == "treasury" and not scenario.economy.enabled:
        yield "devices.royalty.receiver", "royalties go to the treasury, but [economy] is off"
    for i, transfer in enumerate(devices.transfers):
        if transfer.day >= scenario.run.days:
            yield (
                f"devices.transfers[{i}].day",
                f"day {transfer.day} is not within the run's {scenario.run.days} days",
            )
    if devices.emission.schedule == "revenue" and not scenario.economy.enabled:
        yield (
            "devices.emission.schedule",
            "revenue: the treasury's protocol revenue buys the burns, but [economy] is off",
        )
    epoch_s = devices.epoch_days * 86_400
    period_s = devices.upload_intervals * interval_s
    if epoch_s % interval_s:
        yield "devices.epoch_days", f"{devices.epoch_days} d is not a whole multiple of {where}"
    elif epoch_s % period_s:
        yield (
            "devices.upload_intervals",
            f"upload periods of {devices.upload_intervals} intervals ({period_s / 3600:g} h at "
            f"{where}) do not divide the {devices.epoch_days} d reward epoch",
        )


def gate_misfits(scenario: Scenario) -> Iterator[tuple[str, str]]:
    """The market's gate against the run: ``market.gate_closure_s`` must leave time to order
    (orders are sent as the interval before starts, so it must be below ``run.interval_s``),
    and ``[[market.late_orders]]`` need the ex-ante auction (the ex-post rules take no orders
    in advance) and must start within the run.

    Yields
    ------
    key, reason : str
        The dotted key that does not fit and why.
    """
    market, run = scenario.market, scenario.run
    if market.gate_closure_s >= run.interval_s:
        yield (
            "market.gate_closure_s",
            f"{market.gate_closure_s} s leaves no time to order: orders are sent one interval "
            f"(run.interval_s = {run.interval_s} s) before it starts; give less",
        )
    if market.late_orders and market.rule != "ex_ante_auction":
        yield (
            "market.late_orders",
            f"market.rule = {market.rule!r} forms its trades from metered energy after the "
            "interval: it takes no orders in advance and has no gate (use ex_ante_auction)",
        )
    for i, late in enumerate(market.late_orders):
        if late.start_h >= run.days * 24:
            yield (
                f"market.late_orders[{i}].start_h",
                f"{late.start_h} h is not within the run's {run.days * 24} h",
            )
