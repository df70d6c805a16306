"""Scenario files: typed, validated configuration of one run.

A scenario is a TOML file with the sections ``[run]``, ``[site]``, ``[grid]``, ``[nodes]``,
``[tariffs]``, ``[forecasting]``, ``[market]``, ``[chain]``, ``[devices]``, ``[economy]``
and ``[flex]``.
It is loaded once, validated by pydantic (finite numbers, ranges, units in keys, unknown keys
rejected, periods that fit the market interval) and frozen. A bad file fails with
:class:`ScenarioError`, which names the file, the key and the reason, before anything runs.

Any key can be overridden with ``KEY=VALUE`` strings (``grid.solver=pandapower``); the value
is read as a TOML value when it parses as one (``0.6``, ``true``, ``"x"``), else as a string.

Modules: :mod:`~twin.scenario.world` (run, site, grid, nodes, forecasting),
:mod:`~twin.scenario.settlement` (tariffs, market, chain, devices),
:mod:`~twin.scenario.economy` (the protocol fee and the DAO), :mod:`~twin.scenario.model`
(the whole scenario and its checks across sections), :mod:`~twin.scenario.loader` (files and
overrides).
"""

from twin.scenario.base import ScenarioError
from twin.scenario.economy import EconomyConfig
from twin.scenario.flex import EvConfig, FlexConfig, HeatPumpConfig
from twin.scenario.loader import load_scenario, parse_override, scenario_from_dict
from twin.scenario.model import Scenario, interval_misfits
from twin.scenario.settlement import (
    AttackConfig,
    ChainConfig,
    ChainOutageConfig,
    DevicesConfig,
    MarketConfig,
    TariffsConfig,
)
from twin.scenario.world import (
    DEFAULT_CODE,
    EXAMPLES,
    PROFILE_END,
    PROFILE_START,
    PROFILE_STEP_S,
    ForecastingConfig,
    GridConfig,
    NodesConfig,
    OutageConfig,
    RunConfig,
    SiteConfig,
)

__all__ = [
    "DEFAULT_CODE",
    "EXAMPLES",
    "PROFILE_END",
    "PROFILE_START",
    "PROFILE_STEP_S",
    "AttackConfig",
    "ChainConfig",
    "ChainOutageConfig",
    "DevicesConfig",
    "EconomyConfig",
    "EvConfig",
    "FlexConfig",
    "ForecastingConfig",
    "GridConfig",
    "HeatPumpConfig",
    "MarketConfig",
    "NodesConfig",
    "OutageConfig",
    "RunConfig",
    "Scenario",
    "ScenarioError",
    "SiteConfig",
    "TariffsConfig",
    "interval_misfits",
    "load_scenario",
    "parse_override",
    "scenario_from_dict",
]
