"""The results store's tables of the community and token economy: the treasury, proposals
and ballots, asset shares and payouts, stakes, device NFT sales and the token economy per
epoch (merged into :data:`twin.schemas.SCHEMAS`)."""

from __future__ import annotations

import pyarrow as pa

TIME = pa.timestamp("us", tz="UTC")

#: The economy's declared tables: name -> (schema, meaning).
ECONOMY_SCHEMAS: dict[str, tuple[pa.Schema, str]] = {
    "treasury": (
        pa.schema(
            [
                ("batch_id", pa.int64()),
                ("time", TIME),
                ("kind", pa.string()),
                ("account", pa.string()),
                ("amount_micro_eur", pa.int64()),
                ("tx_hash", pa.string()),
            ]
        ),
        "every movement of the community treasury: inflows positive (kind contribution: a "
        "member's own transfer at the start, account the member's address; kind "
        "protocol_fees: a batch's fees, time when the batch became final, its commit "
        "transaction; kind device_royalty: a device sale's royalty, account the buyer's "
        "address, the sale's transaction), outflows negative (kind asset_purchase: an "
        "executed proposal paying the vendor, account its address, its execute "
        "transaction; kind shortfall: the part of a batch's fees not paid because payers "
        "fell short, cut pro rata by Settlement; kind buyback: the revenue schedule's "
        "BuybackBurn drawing the revenue that arrived since its last draw, account its "
        "address, its draw transaction); "
        "the amounts sum to the Treasury's balance on chain",
    ),
    "proposals": (
        pa.schema(
            [
                ("proposal", pa.string()),
                ("proposal_id", pa.string()),
                ("description", pa.string()),
                ("time", TIME),
                ("cost_micro_eur", pa.int64()),
                ("votes_for", pa.int64()),
                ("votes_against", pa.int64()),
                ("votes_abstain", pa.int64()),
                ("quorum", pa.int64()),
                ("state", pa.string()),
                ("executed", TIME),
                ("in_service_from", TIME),
                ("tx_hash", pa.string()),
                ("whatif_s", pa.float64()),
            ]
        ),
        "each [[economy.proposals]] entry: when it was made, the votes cast (vote base units) "
        "and the quorum, its outcome (executed, defeated, queued: delay past the run's end, "
        "unfunded, not_reached), the execute transaction, the first interval its asset is in the "
        "grid, and the wall time of the members' what-if (twin.whatif)",
    ),
    "ballots": (
        pa.schema(
            [
                ("proposal", pa.string()),
                ("member", pa.string()),
                ("weight", pa.int64()),
                ("support", pa.string()),
                ("whatif_saving_micro_eur", pa.int64()),
                ("projected_benefit_micro_eur", pa.int64()),
            ]
        ),
        "every member's signed ballot: its weight, for/against, the bill saving its what-if "
        "found over the window and its projected net benefit over the asset's life",
    ),
    "asset_shares": (
        pa.schema(
            [
                ("asset", pa.string()),
                ("holder", pa.string()),
                ("shares", pa.int64()),
                ("held_at_end", pa.int64()),
                ("tx_hash", pa.string()),
            ]
        ),
        "the shares of each community asset minted to its funders (one per euro contributed) "
        "and what each holds at the end of the run",
    ),
    "asset_payouts": (
        pa.schema(
            [
                ("asset", pa.string()),
                ("batch_id", pa.int64()),
                ("holder", pa.string()),
                ("shares", pa.int64()),
                ("amount_micro_eur", pa.int64()),
                ("tx_hash", pa.string()),
            ]
        ),
        "each asset's net receipt in a settlement batch paid to its holders pro rata (shares "
        "held when paid), its distribute transaction",
    ),
    "stakes": (
        pa.schema(
            [
                ("time", TIME),
                ("kind", pa.string()),
                ("device_id", pa.int64()),
                ("node_id", pa.string()),
                ("owner_address", pa.string()),
                ("amount_units", pa.int64()),
                ("active_after_units", pa.int64()),
                ("reason", pa.string()),
                ("evidence_id", pa.string()),
                ("burned_units", pa.int64()),
                ("to_treasury_units", pa.int64()),
                ("to_reporter_units", pa.int64()),
                ("tx_hash", pa.string()),
            ]
        ),
        "DeviceStaking's movements [RewardToken base units]: kind genesis (the one-off genesis "
        "allocation minted to an owner, device_id 0), stake (an owner's permit-signed stake on "
        "a device), slash (evidence_id: the device's signed upload's EIP-712 digest; reason: "
        "the hard bound it broke; amount = burned + to_treasury + to_reporter)",
    ),
    "token_economy": (
        pa.schema(
            [
                ("epoch", pa.int64()),
                ("time", TIME),
                ("intervals", pa.int64()),
                ("pool_units", pa.int64()),
                ("emitted_units", pa.int64()),
                ("genesis_units", pa.int64()),
                ("slashed_units", pa.int64()),
                ("burned_units", pa.int64()),
                ("staked_units", pa.int64()),
                ("supply_units", pa.int64()),
                ("circulating_units", pa.int64()),
                ("buyback_burned_units", pa.int64()),
                ("buyback_paid_micro_eur", pa.int64()),
                ("treasury_balance_micro_eur", pa.int64()),
                ("protocol_revenue_micro_eur", pa.int64()),
                ("break_even_eur_per_token", pa.float64()),
                ("reference_price_eur_per_token", pa.float64()),
                ("pays_for_itself", pa.bool_()),
            ]
        ),
        "one row a reward epoch [RewardToken base units]: the pool of the emission schedule "
        "(pro-rated for a partial epoch), rewards minted (emitted), genesis allocation, slashed "
        "and burned in the epoch; staked and supply read on chain at the epoch's end "
        "(supply = cumulative genesis + emitted - burned), circulating = supply - staked; "
        "burned counts slashes' burns and the revenue schedule's buyback burn "
        "(buyback_burned_units, bought for buyback_paid_micro_eur); the Treasury's balance at "
        "the epoch's end [micro-euro]; the protocol fees of the batches starting in the epoch "
        "[micro-euro], the token value at which the epoch's rewards equal them [EUR/token], "
        "the reference price [EUR/token] and whether revenue >= emitted x price",
    ),
    "buybacks": (
        pa.schema(
            [
                ("epoch", pa.int64()),
                ("time", TIME),
                ("kind", pa.string()),
                ("account", pa.string()),
                ("units", pa.int64()),
                ("amount_micro_eur", pa.int64()),
                ("tx_hash", pa.string()),
            ]
        ),
        "the revenue schedule's buyback-and-burn at each epoch's end: kind draw (revenue "
        "drawn from the Treasury into BuybackBurn, account the buyback, amount [micro-euro]), "
        "kind sale (a device owner's tokens sold by its own permit at the reference price and "
        "burned: account the seller, units [RewardToken base units] burned, amount paid "
        "[micro-euro])",
    ),
    "data_sales": (
        pa.schema(
            [
                ("sale", pa.int64()),
                ("first_time", TIME),
                ("last_time", TIME),
                ("kind", pa.string()),
                ("device_id", pa.int64()),
                ("node_id", pa.string()),
                ("group", pa.string()),
                ("payee", pa.string()),
                ("readings", pa.int64()),
                ("amount_micro_eur", pa.int64()),
                ("payment_micro_eur", pa.int64()),
                ("buyer", pa.string()),
                ("release_root", pa.string()),
                ("tx_hash", pa.string()),
                ("sold_at", TIME),
            ]
        ),
        "one row per payee per data sale (devices.data_sales), the treasury's row last (kind "
        "treasury, device_id 0): the sale's intervals (first_time..last_time), each "
        "contributing device's release group, its owner paid at payout time (payee), its "
        "readings in released aggregates and its share [micro-euro]; the buyer's payment; the "
        "digest of the released aggregates committed on chain and the DataMarket.sellData "
        "transaction (a sale made in chunks: the payChunk that paid the row, the treasury's row "
        "the one that closed the sale); amounts sum to the payment per sale; sold_at: when it "
        "was sold (its aggregates hold the readings the journal had then: later late uploads are "
        "left out)",
    ),
    "data_releases": (
        pa.schema(
            [
                ("sale", pa.int64()),
                ("time", TIME),
                ("group", pa.string()),
                ("kind", pa.string()),
                ("energy_wh", pa.int64()),
                ("devices", pa.int64()),
                ("households", pa.int64()),
            ]
        ),
        "every aggregate released to the data buyer: a release group's (feeder and device "
        "kind, or the kind's merged small feeders) sum of accepted readings in one interval "
        "[Wh, production convention], and the devices and distinct households in it (never "
        "fewer than devices.data_sales.k)",
    ),
    "device_transfers": (
        pa.schema(
            [
                ("time", TIME),
                ("day", pa.int64()),
                ("node_id", pa.string()),
                ("device_id", pa.int64()),
                ("seller", pa.string()),
                ("seller_address", pa.string()),
                ("buyer", pa.string()),
                ("buyer_address", pa.string()),
                ("price_micro_eur", pa.int64()),
                ("royalty_micro_eur", pa.int64()),
                ("receiver", pa.string()),
                ("receiver_address", pa.string()),
                ("nonce", pa.int64()),
                ("tx_hash", pa.string()),
                ("block", pa.int64()),
                ("gas_used", pa.int64()),
            ]
        ),
        "every device NFT sale ([[devices.transfers]], DeviceMarket): the buyer paid price, "
        "royalty of it (ERC-2981, price x bps // 10000) to the receiver (installer or "
        "treasury) and the rest to the seller, and got the NFT and its later rewards; nonce: "
        "the device's sale counter; time: the start of the sale's day",
    ),
}
