"""The scenario sections of what is simulated: the clock, the site, the network, its nodes,
and how their batteries are forecast and dispatched (``[run]``, ``[site]``, ``[grid]``,
``[nodes]``, ``[forecasting]``)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, field_validator, model_validator

from forecasting.solar import DEFAULT_SITE, Site
from twin.scenario.base import Efficiency, NonNegativeFloat, PositiveFloat, Section, Share

#: First and last+1 instants covered by the SimBench profile year (2016, German local time,
#: converted to UTC).
PROFILE_START = datetime(2015, 12, 31, 23, 0, tzinfo=UTC)
PROFILE_END = datetime(2016, 12, 31, 23, 0, tzinfo=UTC)
#: Resolution of the SimBench profiles [s].
PROFILE_STEP_S = 900

#: pandapower example networks a scenario may name in ``grid.example``.
EXAMPLES = ("cigre_lv", "cigre_mv", "kerber_landnetz_kabel_1", "kerber_dorfnetz")


class RunConfig(Section):
    """``[run]``: horizon, clock and seed."""

    days: Annotated[int, Field(ge=1, le=366)] = 7
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 42
    interval_s: Annotated[int, Field(ge=PROFILE_STEP_S, le=86_400)] = PROFILE_STEP_S
    start: Annotated[AwareDatetime, Field(strict=False)] = datetime(2016, 6, 6, tzinfo=UTC)

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


class SiteConfig(Section):
    """``[site]``: where the community is.

    The site of the clear-sky model (the forecasters' PV clear-sky index, the DePIN clear-sky
    ceiling of PV readings) and the time zone of the households' clock (the forecasters'
    calendar features). The defaults are the middle of Germany, where SimBench's profiles come
    from.
    """

    latitude_deg: Annotated[float, Field(ge=-90.0, le=90.0)] = DEFAULT_SITE.latitude_deg
    longitude_deg: Annotated[float, Field(ge=-180.0, le=180.0)] = DEFAULT_SITE.longitude_deg
    altitude_m: Annotated[float, Field(ge=-500.0, le=9_000.0)] = DEFAULT_SITE.altitude_m
    timezone: str = DEFAULT_SITE.timezone

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (an IANA name, e.g. Europe/Berlin)"
            ) from None
        return v

    def as_site(self) -> Site:
        """The site as the forecasting and clear-sky functions take it."""
        return Site(self.latitude_deg, self.longitude_deg, self.altitude_m, self.timezone)


class GridConfig(Section):
    """``[grid]``: the network (exactly one of simbench_code, example, file) and its limits."""

    simbench_code: str | None = None
    example: Literal[EXAMPLES] | None = None  # type: ignore[valid-type]
    file: Annotated[Path, Field(strict=False)] | None = None  # a TOML string is a path
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


class OutageConfig(Section):
    """One scheduled outage of a node (snapped to interval boundaries)."""

    node_id: str
    start_h: NonNegativeFloat
    duration_h: PositiveFloat


#: The keys that pin placement: the nodes they place, and their ids, are the same under any seed.
PIN_KEYS = ("nodes.pv_homes", "nodes.battery_homes", "nodes.wind_buses")


class NodesConfig(Section):
    """``[nodes]``: which homes get PV and batteries, the wind turbine, sizes, outages.

    The seed draws which homes get PV and batteries and where turbines stand, unless pinned:
    ``pv_homes`` and ``battery_homes`` name homes that get PV / a battery under any seed (by
    consumer node id ``load-<i>`` or load name), ``wind_buses`` the buses [pandapower index]
    of the first turbines. The shares (``pv_share``, ``battery_share``) and ``wind_turbines``
    then add seeded homes and buses only while the pins fall short of them (0: exactly the
    pinned ones). A pinned node's id (``pv-<i>``, ``bat-<i>``: ``i`` its home's load index;
    ``wind-<t>``, pinned turbines first) is the same under any seed, so the nodes a scenario
    names in ``outages``, ``devices.attacks`` and ``devices.revoked`` exist under any seed.
    """

    pv_share: Share = 0.4
    pv_p_max_kw: Annotated[float, Field(gt=0.0, le=10_000.0)] = 6.0  # up to 10 MW a roof
    pv_profile: str = "PV5"
    pv_placement: Literal["random", "feeder_end"] = "random"
    pv_homes: list[str] = Field(default_factory=list)
    battery_share: Share = 0.2
    battery_homes: list[str] = Field(default_factory=list)
    battery_capacity_kwh: Annotated[float, Field(gt=0.0, le=100_000.0)] = 10.0
    battery_p_max_kw: Annotated[float, Field(gt=0.0, le=50_000.0)] = 5.0
    battery_charge_efficiency: Efficiency = 0.95
    battery_discharge_efficiency: Efficiency = 0.95
    battery_soc_min: Share = 0.05
    battery_soc_max: Share = 0.95
    battery_soc_initial: Share = 0.5
    wind_turbines: Annotated[int, Field(ge=0, le=100)] = 1
    wind_p_max_kw: Annotated[float, Field(gt=0.0, le=100_000.0)] = 30.0
    wind_profile: str = "WP4"
    wind_buses: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    load_scale: PositiveFloat = 1.0
    load_noise_std: Annotated[float, Field(ge=0.0, le=0.5)] = 0.05
    outage_rate_per_day: NonNegativeFloat = 0.0
    outage_mean_duration_h: PositiveFloat = 4.0
    outages: list[OutageConfig] = Field(default_factory=list)

    @field_validator("pv_homes", "battery_homes")
    @classmethod
    def _named_once(cls, v: list[str]) -> list[str]:
        twice = sorted({x for x in v if v.count(x) > 1})
        if twice:
            raise ValueError(f"named more than once: {', '.join(twice)}")
        return v

    @model_validator(mode="after")
    def _soc_band(self) -> Self:
        if not self.battery_soc_min <= self.battery_soc_initial <= self.battery_soc_max:
            raise ValueError("need battery_soc_min <= battery_soc_initial <= battery_soc_max")
        if self.battery_soc_min >= self.battery_soc_max:
            raise ValueError("battery_soc_min must be below battery_soc_max")
        return self


def unknown_node(key: str, node_id: str, node_ids: Sequence[str], seed: int) -> str:
    """Why ``key`` cannot name ``node_id``: the nodes of its kind, and the keys that pin them.

    Parameters
    ----------
    key : str
        The dotted scenario key that names the node, e.g. ``devices.attacks[2].node_id``.
    node_id : str
        The node it names.
    node_ids : sequence of str
        The run's node ids.
    seed : int
        The run's seed (it drew the unpinned placement).
    """
    prefix = node_id.rpartition("-")[0]
    kin = [n for n in node_ids if n.rpartition("-")[0] == prefix] if prefix else []
    here = f" (at this seed there are {', '.join(kin)})" if kin else ""
    return (
        f"{key}: no node {node_id!r} at seed {seed}{here}. Node ids: load-<i> (i: the home's "
        "pandapower load index), pv-<i> and bat-<i> (behind home load-<i>), wind-<t>. Which "
        "homes get PV and batteries and where turbines stand is drawn from the seed unless "
        f"{', '.join(PIN_KEYS)} pin them"
    )


class ForecastingConfig(Section):
    """``[forecasting]``: forecasters trained inside the run and the batteries' dispatch.

    ``battery_control``: ``forecast`` (rolling-horizon LP on the forecasts of ``model``),
    ``self_consumption`` (charge from surplus, discharge into deficit) or ``idle``.
    ``model``: ``gb`` (gradient boosting, one global model pooled over all nodes, trained on
    ``training_samples`` sampled rows with ``trees`` boosting iterations per horizon group),
    ``seasonal_naive`` (same time yesterday) or ``perfect`` (the actual future: the bound).
    ``perfect_kinds``: node kinds (``consumer``, ``solar``, ``wind``) forecast perfectly while
    ``model`` forecasts the rest: what a better forecast of one source would be worth.
    ``retrain_days``: refit every that many days [d], on the newest ``warmup_days`` of actuals
    ending ``fit_lead_days`` [d] before the refit goes into service (an operator's model trains
    while the old one serves; ``gb`` refits run in a background worker process meanwhile, on
    the machine's other core; 0: the run waits for each refit, fitted on every actual before it;
    :mod:`forecasting.refits`).
    ``placement``: where the forecaster runs. ``central``: one model upstream, fitted on every
    device's readings; ``edge``: each device fits a small model of its own on its own readings
    only and sends its forecasts upstream (:class:`forecasting.edge.EdgeForecasters`; a model
    that learns, ``gb`` or ``seasonal_naive``: perfect foresight has no device to run on).
    """

    battery_control: Literal["forecast", "self_consumption", "idle"] = "forecast"
    model: Literal["gb", "seasonal_naive", "perfect"] = "gb"
    placement: Literal["central", "edge"] = "central"
    warmup_days: Annotated[int, Field(ge=8, le=120)] = 28
    horizon_steps: Annotated[int, Field(ge=4, le=192)] = 96
    replan_intervals: Annotated[int, Field(ge=1, le=96)] = 24
    retrain_days: Annotated[int, Field(ge=1, le=366)] = 28
    fit_lead_days: Annotated[int, Field(ge=0, le=366)] = 7
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
        if self.placement == "edge" and self.model == "perfect":
            raise ValueError(
                "placement = 'edge' needs a model a device can run (gb or seasonal_naive), "
                "not perfect foresight"
            )
        return self


#: The default scenario's SimBench grid.
DEFAULT_CODE = "1-LV-semiurb4--0-sw"


@lru_cache(maxsize=1)
def _simbench_codes() -> frozenset[str]:
    import simbench

    return frozenset(simbench.collect_all_simbench_codes())
