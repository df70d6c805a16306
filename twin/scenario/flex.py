"""``[flex]``: flexible loads, electric vehicles and heat pumps (off by default).

Which loads are flexible is read from the grid: SimBench names each load's profile, and a
future-scenario grid such as ``1-LV-semiurb4--2-sw`` carries charging points (``HLS_*`` home
charging, ``APLS_*`` other charging points, the rating in kW in the name) and heat pumps
(``Air_*``, ``Soil_*``). With ``[flex]`` enabled, the consumers whose profile starts with one
of ``ev.profiles`` become electric-vehicle chargers and those matching ``heat_pump.profiles``
heat pumps (:mod:`grid.flex`); every other node is untouched, so its power is the same with
flex on or off.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from twin.scenario.base import Section

#: SimBench profile-name prefixes: at least one, none empty.
Prefixes = Annotated[
    tuple[Annotated[str, Field(min_length=1)], ...], Field(strict=False, min_length=1)
]

#: Charger ratings a scenario may name [kW] (single-phase 16 A, three-phase 16 A and 32 A).
CHARGER_KW = (3.7, 11.0, 22.0)


class EvConfig(Section):
    """``[flex.ev]``: charging sessions and how they charge.

    Sessions are derived from the SimBench charging profiles (see :func:`grid.flex.ev_sessions`):
    each run of non-zero charging power is one session, arriving when it starts, needing the
    energy the profile charged; the car stays plugged ``dwell_h`` after arrival (at least until
    the profile's charging ends, at most until the next arrival).

    ``mode``: ``uncontrolled`` (charge at the charger's power from arrival until the need is
    met) or ``smart`` (V1G: the dispatch LP shifts the charging within the session to cheaper
    intervals, the need by departure a constraint).
    ``charger_kw``: the charger's rating, 3.7, 11 or 22 kW; unset: the rating in each profile's
    name.
    """

    profiles: Prefixes = ("HLS", "APLS")
    mode: Literal["uncontrolled", "smart"] = "smart"
    charger_kw: float | None = None
    dwell_h: Annotated[float, Field(ge=0.25, le=72.0)] = 10.0
    shortfall_penalty_eur_per_kwh: Annotated[float, Field(ge=0.0, le=100.0)] = 2.0

    @field_validator("charger_kw")
    @classmethod
    def _rating(cls, v: float | None) -> float | None:
        if v is not None and not any(abs(v - r) < 1e-9 for r in CHARGER_KW):
            raise ValueError(f"must be one of {', '.join(f'{r:g}' for r in CHARGER_KW)} kW")
        return v


class HeatPumpConfig(Section):
    """``[flex.heat_pump]``: heat demand, thermal store, comfort band and control.

    The heat demand is what the SimBench profile's fixed operation delivers: its electric power
    times the COP at the outdoor temperature (:func:`grid.flex.outdoor_temperature_c`; COP from
    hplib's generic air/water or brine/water heat pump at ``supply_temperature_c``). The
    building's thermal mass is the store: ``store_kwh_per_k`` of heat per kelvin of indoor
    temperature, kept within ``comfort_min_c`` .. ``comfort_max_c``, starting at
    ``initial_c``.

    ``mode``: ``fixed`` (the SimBench profile: the indoor temperature stays where it starts) or
    ``flexible`` (the dispatch LP chooses the electric power within the comfort band).
    """

    profiles: Prefixes = ("Air", "Soil")
    mode: Literal["fixed", "flexible"] = "flexible"
    store_kwh_per_k: Annotated[float, Field(gt=0.0, le=200.0)] = 8.0
    comfort_min_c: Annotated[float, Field(ge=10.0, le=30.0)] = 20.0
    comfort_max_c: Annotated[float, Field(ge=10.0, le=30.0)] = 22.0
    initial_c: Annotated[float, Field(ge=10.0, le=30.0)] = 21.0
    supply_temperature_c: Annotated[float, Field(ge=25.0, le=65.0)] = 35.0
    comfort_penalty_eur_per_kelvin_hour: Annotated[float, Field(ge=0.0, le=1000.0)] = 20.0

    @model_validator(mode="after")
    def _band(self) -> Self:
        if self.comfort_min_c >= self.comfort_max_c:
            raise ValueError("comfort_min_c must be below comfort_max_c")
        if not self.comfort_min_c <= self.initial_c <= self.comfort_max_c:
            raise ValueError("initial_c must lie within comfort_min_c .. comfort_max_c")
        return self


class DimmingConfig(Section):
    """``[flex.dimming]``: the grid operator's dimming of controllable devices (§14a EnWG).

    In network-aware mode (``market.network_aware``), in an interval with a demand-driven
    violation (under-voltage, import overload), the operator dims the chargers, heat pumps and
    home batteries rated above ``floor_kw`` that contribute most, to no less than ``floor_kw``
    each, before curtailment acts on generation (:mod:`grid.dimming`).

    ``mode``: ``dim`` (§14a: to the floor at most) or ``switch_off`` (the older tool: whole
    devices off, those contributing most first; the comparison's baseline).
    ``floor_kw``: the power every dimmed device keeps [kW] (§14a: 4.2 kW).
    ``fee_reduction_eur_per_year``: the grid-fee reduction of every controllable device
    (§14a module 1: a flat reduction per device, 2024 about 110-190 EUR/year by operator)
    [EUR/year a device], credited pro rata to the run's length to its owner's bill and paid
    out of the grid operator's fee revenue.
    ``rounds``: at most this many re-solves an interval.
    """

    enabled: bool = False
    mode: Literal["dim", "switch_off"] = "dim"
    floor_kw: Annotated[float, Field(ge=0.0, le=50.0)] = 4.2
    fee_reduction_eur_per_year: Annotated[float, Field(ge=0.0, le=1000.0)] = 150.0
    rounds: Annotated[int, Field(ge=1, le=50)] = 8


class FlexConfig(Section):
    """``[flex]``: flexible loads; ``enabled = false`` (the default) leaves every load fixed.

    ``peak_penalty_eur_per_kw``: the dispatch LP's price of each kW by which the community's
    planned import (the other nodes' load and generation forecast as the day before, plus the
    chargers and heat pumps) would rise above the forecast peak of the other nodes over the
    plan's horizon [EUR/kW, once a plan]; a planning price, not billed (0: no peak term, the
    plan follows the tariff alone).
    ``base_forecast_days``, ``base_forecast_window_h``: how cautious the peak term's forecast
    of the other nodes' import is. Each step of the plan is planned against the largest of
    the day-before forecast and the import observed at the same time of day
    (± ``base_forecast_window_h`` hours [h]) on each of the last ``base_forecast_days`` days
    [days] (:func:`forecasting.flex_policy.cautious_base_forecast`); 1 and 0 (the
    defaults): the day-before forecast alone.
    ``joint_batteries``: the flex LP plans the home batteries too, in the same programme as
    the chargers and heat pumps (the battery LP's constraints and costs on the batteries'
    forecasts), so the tariff and the peak term steer them together; the battery LP then
    plans them no more. Needs ``forecasting.battery_control = "forecast"``; without a flex
    LP (uncontrolled chargers and fixed heat pumps) the battery LP plans them as before.
    ``false`` (the default): the battery LP plans them apart.
    """

    enabled: bool = False
    peak_penalty_eur_per_kw: Annotated[float, Field(ge=0.0, le=1000.0)] = 0.0
    base_forecast_days: Annotated[int, Field(ge=1, le=28)] = 1
    base_forecast_window_h: Annotated[int, Field(ge=0, le=12)] = 0
    joint_batteries: bool = False
    ev: EvConfig = Field(default_factory=EvConfig)
    heat_pump: HeatPumpConfig = Field(default_factory=HeatPumpConfig)
    dimming: DimmingConfig = Field(default_factory=DimmingConfig)
