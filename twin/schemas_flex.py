"""The results store's tables of the flexible loads (``[flex]``) and the grid operator's
dimming (``[flex.dimming]``): name -> (Arrow schema, meaning), merged into
:data:`twin.schemas.SCHEMAS`."""

from __future__ import annotations

import pyarrow as pa

from twin.schemas_economy import TIME

FLEX_SCHEMAS: dict[str, tuple[pa.Schema, str]] = {
    "flex_ev": (
        pa.schema(
            [
                ("time", TIME),
                ("node_id", pa.string()),
                ("p_mw", pa.float64()),
                ("plugged", pa.bool_()),
                ("delivered_kwh", pa.float64()),
                ("need_kwh", pa.float64()),
            ]
        ),
        "EV chargers per interval ([flex]): power, whether a car is plugged in, energy charged "
        "in its session by the interval's end and its need by departure (grid side)",
    ),
    "flex_heat_pumps": (
        pa.schema(
            [
                ("time", TIME),
                ("node_id", pa.string()),
                ("p_mw", pa.float64()),
                ("heat_kwh", pa.float64()),
                ("demand_kwh", pa.float64()),
                ("cop", pa.float64()),
                ("indoor_c", pa.float64()),
            ]
        ),
        "heat pumps per interval ([flex]): electric power, heat delivered, the building's heat "
        "demand, COP, indoor temperature at the interval's end",
    ),
    "ev_sessions": (
        pa.schema(
            [
                ("node_id", pa.string()),
                ("arrival", TIME),
                ("departure", TIME),
                ("need_kwh", pa.float64()),
                ("delivered_kwh", pa.float64()),
                ("shortfall_kwh", pa.float64()),
                ("departed", pa.bool_()),
                ("p_max_mw", pa.float64()),
            ]
        ),
        "one row an EV charging session ([flex]); departed False: still plugged in at the "
        "run's end (its shortfall is then not final); p_max_mw: its charger's rating [MW]",
    ),
    "dimming": (
        pa.schema(
            [
                ("time", TIME),
                ("node_id", pa.string()),
                ("kind", pa.string()),
                ("owner", pa.string()),
                ("requested_mw", pa.float64()),
                ("p_mw", pa.float64()),
                ("dimmed_kwh", pa.float64()),
            ]
        ),
        "one row an interval and controllable device the grid operator dimmed "
        "([flex.dimming], §14a EnWG): kind (ev, heat_pump, battery), power the device drew "
        "before and after the operator acted [MW], energy it gave up (requested minus metered "
        "power over the interval) [kWh]",
    ),
    "dimming_devices": (
        pa.schema(
            [
                ("node_id", pa.string()),
                ("kind", pa.string()),
                ("owner", pa.string()),
                ("p_max_mw", pa.float64()),
                ("dimmed_kwh", pa.float64()),
                ("intervals_dimmed", pa.int64()),
                ("grid_fee_reduction_micro_eur", pa.int64()),
            ]
        ),
        "one row a controllable device the operator may dim ([flex.dimming]: chargers, heat "
        "pumps, home batteries rated above floor_kw): its rating, energy dimmed over the run, "
        "intervals dimmed, and its §14a grid-fee reduction credited to its owner's bill (the "
        "annual reduction pro rata to the run)",
    ),
}
