"""The results store's declared tables: name -> (Arrow schema, meaning).

The contract between the engine and every face: columns carry their unit in their name; time
columns are ``time`` (UTC, the interval's start). Add tables and columns freely; rename none
without updating every reader.
"""

from __future__ import annotations

import pyarrow as pa

from twin.schemas_economy import ECONOMY_SCHEMAS, TIME
from twin.schemas_flex import FLEX_SCHEMAS

#: Declared tables: name -> (schema, meaning). Columns carry their unit in their name.
SCHEMAS: dict[str, tuple[pa.Schema, str]] = {
    **ECONOMY_SCHEMAS,
    **FLEX_SCHEMAS,
    "nodes": (
        pa.schema(
            [
                ("node_id", pa.string()),
                ("kind", pa.string()),
                ("bus", pa.int64()),
                ("p_max_mw", pa.float64()),
                ("capacity_kwh", pa.float64()),
                ("owner", pa.string()),
                ("device_address", pa.string()),
                ("device_id", pa.int64()),
                ("attack", pa.string()),
            ]
        ),
        "static, one row a node",
    ),
    "buses": (
        pa.schema(
            [
                ("bus", pa.int64()),
                ("name", pa.string()),
                ("vn_kv", pa.float64()),
                ("slack", pa.bool_()),
                ("x", pa.float64()),
                ("y", pa.float64()),
                ("geodata", pa.bool_()),
            ]
        ),
        "static, one row a bus of bus_voltage, map coordinates (twin/static_tables.py)",
    ),
    "branches": (
        pa.schema(
            [
                ("branch", pa.int64()),
                ("kind", pa.string()),
                ("from_bus", pa.int64()),
                ("to_bus", pa.int64()),
            ]
        ),
        "static, one row a branch of branch_loading, then bus-bus switches (kind switch)",
    ),
    "node_power": (
        pa.schema(
            [
                ("time", TIME),
                ("node_id", pa.dictionary(pa.int32(), pa.string())),
                ("p_mw", pa.float64()),
            ]
        ),
        "actual power per node and interval, load convention",
    ),
    "battery_state": (
        pa.schema(
            [
                ("time", TIME),
                ("node_id", pa.dictionary(pa.int32(), pa.string())),
                ("soc_kwh", pa.float64()),
            ]
        ),
        "battery state of charge at the end of each interval",
    ),
    "bus_voltage": (
        pa.schema([("time", TIME), ("bus", pa.int64()), ("vm_pu", pa.float64())]),
        "power-flow bus voltage magnitude",
    ),
    "branch_loading": (
        pa.schema(
            [
                ("time", TIME),
                ("branch", pa.int64()),
                ("kind", pa.dictionary(pa.int8(), pa.string())),
                ("loading_percent", pa.float64()),
            ]
        ),
        "power-flow line / transformer loading",
    ),
    "grid_exchange": (
        pa.schema([("time", TIME), ("import_mw", pa.float64()), ("losses_mw", pa.float64())]),
        "exchange at the slack (import positive) and grid losses",
    ),
    "intervals": (
        pa.schema(
            [
                ("time", TIME),
                ("converged", pa.bool_()),
                ("violations", pa.int64()),
                ("curtailed_wh", pa.int64()),
                ("nodes_out", pa.int64()),
                ("clearing_price_eur_per_mwh", pa.float64()),
                ("traded_wh", pa.int64()),
                ("flags", pa.string()),
            ]
        ),
        "one row an interval",
    ),
    "forecasts": (
        pa.schema(
            [
                ("time", TIME),
                ("issued", TIME),
                ("node_id", pa.dictionary(pa.int32(), pa.string())),
                ("horizon_steps", pa.int64()),
                ("predicted_mw", pa.float64()),
                ("actual_mw", pa.float64()),
            ]
        ),
        "forecasts of each node at a few horizons (time: the interval forecast)",
    ),
    "imbalances": (
        pa.schema(
            [
                ("time", TIME),
                ("node_id", pa.dictionary(pa.int32(), pa.string())),
                ("forecast_mw", pa.float64()),
                ("actual_mw", pa.float64()),
                ("imbalance_wh", pa.int64()),
            ]
        ),
        "each forecast node's actual - forecast power in every interval",
    ),
    "dispatch_plans": (
        pa.schema(
            [
                ("time", TIME),
                ("issued", TIME),
                ("node_id", pa.dictionary(pa.int32(), pa.string())),
                ("planned_p_mw", pa.float64()),
                ("actual_p_mw", pa.float64()),
            ]
        ),
        "each battery's plan in force in every interval (issued: when it was planned) and "
        "what it did (it absorbs its home's forecast error); NaN: no plan (fallback)",
    ),
    "curtailments": (
        pa.schema(
            [
                ("time", TIME),
                ("node_id", pa.string()),
                ("curtailed_wh", pa.int64()),
            ]
        ),
        "generation curtailed by network-aware clearing, one row a node and interval",
    ),
    "orders": (
        pa.schema(
            [
                ("time", TIME),
                ("participant", pa.dictionary(pa.int32(), pa.string())),
                ("side", pa.dictionary(pa.int8(), pa.string())),
                ("energy_wh", pa.int64()),
                ("limit_price_eur_per_mwh", pa.float64()),
                ("status", pa.dictionary(pa.int8(), pa.string())),
                ("submitted", TIME),
            ]
        ),
        "each owner's order in each interval: its forecast net position (ex ante) or its metered "
        "one (ex post); status on_time (cleared or unmatched), late (arrived after the gate, "
        "market.gate_closure_s before the interval: refused, the owner's metered energy settled "
        "at the tariff) or ex_post (an ex-post rule's metered position: no gate); submitted: "
        "when the order arrived (UTC; ex ante: sent one interval before the interval starts, "
        "plus its delay; ex post: the interval's end)",
    ),
    "trades": (
        pa.schema(
            [
                ("time", TIME),
                ("trade_id", pa.int64()),
                ("batch_id", pa.int64()),
                ("seller", pa.dictionary(pa.int32(), pa.string())),
                ("buyer", pa.dictionary(pa.int32(), pa.string())),
                ("energy_wh", pa.int64()),
                ("price_eur_per_mwh", pa.float64()),
                ("payment_micro_eur", pa.int64()),
                ("grid_fee_micro_eur", pa.int64()),
                ("curtailed_wh", pa.int64()),
                ("protocol_fee_micro_eur", pa.int64()),
            ]
        ),
        "settled P2P trades (energy after network-aware curtailment; a trade curtailed to 0 Wh "
        "stays, with its curtailed_wh); the buyer pays "
        "payment_micro_eur, the seller receives it less grid_fee_micro_eur and "
        "protocol_fee_micro_eur (to the treasury)",
    ),
    "prices": (
        pa.schema(
            [
                ("time", TIME),
                ("retail_eur_per_mwh", pa.float64()),
                ("feed_in_eur_per_mwh", pa.float64()),
                ("day_ahead_eur_per_mwh", pa.float64()),
            ]
        ),
        "the utility's retail and feed-in price of each interval, which the bills settle at "
        "and the dispatch plans on; day_ahead_eur_per_mwh: the day-ahead price a dynamic "
        "tariff passes through (null under the time-of-use tariff)",
    ),
    "batches": (
        pa.schema(
            [
                ("batch_id", pa.int64()),
                ("first_time", TIME),
                ("last_time", TIME),
                ("trades_root", pa.string()),
                ("trade_count", pa.int64()),
                ("energy_wh", pa.int64()),
                ("accounts", pa.int64()),
                ("tx_hash", pa.string()),
                ("nonce", pa.int64()),
                ("block", pa.int64()),
                ("gas_used", pa.int64()),
                ("state", pa.string()),
                ("sends", pa.int64()),
                ("closed", TIME),
                ("sent", TIME),
                ("final", TIME),
            ]
        ),
        "settlement batches: Merkle root of the trades and net payments committed on-chain "
        "(accounts: how many net payments); closed / sent / final in simulated time",
    ),
    "readings": (
        pa.schema(
            [
                ("time", TIME),
                ("device_address", pa.dictionary(pa.int32(), pa.string())),
                ("node_id", pa.dictionary(pa.int32(), pa.string())),
                ("energy_wh", pa.int64()),
                ("signature", pa.dictionary(pa.int32(), pa.string())),
                ("status", pa.dictionary(pa.int32(), pa.string())),
                ("attack", pa.dictionary(pa.int32(), pa.string())),
                ("device_id", pa.int64()),
                ("flags", pa.int64()),
                ("uploaded_at", TIME),
                ("late_periods", pa.int64()),
                ("after_epoch", pa.bool_()),
            ]
        ),
        "every reading the journal received, in the order received: the device's production "
        "convention (generation and discharge positive), the upload's signature, the "
        "journal's verdict, the attack it belongs to (none: honest) and the physics flags; "
        "uploaded_at: when the journal received it (the end of the upload period, its slot, "
        "it arrived with); late_periods: upload periods [-] between its own period's slot and "
        "that one (0: on time; devices.dropouts, devices.upload_delay_periods); after_epoch: "
        "it arrived after its reward epoch was paid (journaled, earns nothing)",
    ),
    "physics_checks": (
        pa.schema(
            [
                ("time", TIME),
                ("method", pa.string()),
                ("applied", pa.bool_()),
                ("flagged_node", pa.string()),
                ("top_node", pa.string()),
                ("runner_up_node", pa.string()),
                ("top_z", pa.float64()),
                ("runner_up_z", pa.float64()),
                ("uploaded_at", TIME),
            ]
        ),
        "the grid-side fraud check (devices.physics_check), per upload period (time: its "
        "first interval) and method computed, one row a node blamed (the hypotheses blame one "
        "a round) or one row blaming nobody: the node blamed (empty: nobody), the "
        "strongest and the next hypothesis (hypotheses: devices; state_estimation: the "
        "devices of the two highest-scoring buses) and their scores [-]; applied: the method "
        "whose blame flagged readings; uploaded_at: the slot of the uploads checked (a period "
        "is checked on time and again, with its held claims, when a late upload of it "
        "arrives: only the arriving readings of a node blamed are flagged)",
    ),
    "rewards": (
        pa.schema(
            [
                ("epoch", pa.int64()),
                ("device_address", pa.string()),
                ("owner", pa.string()),
                ("node_id", pa.string()),
                ("device_id", pa.int64()),
                ("amount", pa.int64()),
                ("energy_wh", pa.int64()),
                ("score", pa.float64()),
                ("readings_root", pa.string()),
            ]
        ),
        "DePIN rewards per epoch and device (amount in RewardToken base units, 6 decimals), "
        "minted to the device NFT's owner; readings_root: the epoch's accepted readings",
    ),
    "participants": (
        pa.schema([("owner", pa.string()), ("address", pa.string()), ("role", pa.string())]),
        "each participant's chain address and role: member, grid_operator (receives grid "
        "fees), treasury (the Treasury contract: receives protocol fees, no minted credits)",
    ),
    "transactions": (
        pa.schema(
            [
                ("block", pa.int64()),
                ("tx_hash", pa.string()),
                ("sender", pa.string()),
                ("to", pa.string()),
                ("function", pa.string()),
                ("kind", pa.string()),
                ("one_off", pa.bool_()),
                ("gas_used", pa.int64()),
                ("gas_price_wei", pa.int64()),
            ]
        ),
        "every transaction the run sent, read back from the chain: kind (deploy, role, mint, "
        "register, commit, reward, transfer, revoke, ...), who paid (sender), gas used",
    ),
    "bills": (
        pa.schema(
            [
                ("owner", pa.string()),
                ("cost_micro_eur", pa.int64()),
                ("baseline_cost_micro_eur", pa.int64()),
                ("import_wh", pa.int64()),
                ("export_wh", pa.int64()),
                ("p2p_bought_wh", pa.int64()),
                ("p2p_sold_wh", pa.int64()),
                ("p2p_paid_micro_eur", pa.int64()),
                ("forecast_error_cost_micro_eur", pa.int64()),
                ("protocol_fee_micro_eur", pa.int64()),
                ("grid_fee_reduction_micro_eur", pa.int64()),
                ("savings_micro_eur", pa.int64()),
            ]
        ),
        "each owner's money over the run: P2P payments (fees included) plus the utility bill of "
        "its imbalance, less its §14a grid-fee reduction (cost), the utility-only bill of the "
        "same energy less the same reduction (baseline), what forecast error cost it, the "
        "protocol fees it paid as a seller and the grid-fee reduction credited for its "
        "controllable devices ([flex.dimming], paid by the grid operator)",
    ),
    "kpis": (
        pa.schema([("name", pa.string()), ("value", pa.float64()), ("unit", pa.string())]),
        "the run's summary",
    ),
}
