"""``gridtwin verify``'s checks of the DePIN devices: readings roots, rewards, registry, the
genesis and roles of the token economy, stakes and the ``token_economy`` table
(:func:`twin.verify.verify_run` calls them)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hexbytes import HexBytes

from settlement.chain.connection import Chain
from settlement.chain.merkle import merkle_root
from settlement.depin.client import DepinContracts
from settlement.depin.leaves import reading_leaves
from settlement.depin.staking import DeviceStaking
from twin.checks import Check, row_check
from twin.results import RunFolder
from twin.verify_buyback import sold_by_seller, verify_buyback
from twin.verify_late import upload_times, verify_upload_times
from twin.verify_stakes import verify_stake_rows, verify_stakes
from twin.verify_token_economy import verify_token_economy
from twin.verify_transfers import verify_transfers
from twin.verify_verdicts import verify_verdicts


def verify_genesis(run: RunFolder, depin: DepinContracts, genesis: int) -> Check:
    """The RewardToken's one genesis: minted by DeviceStaking alone (the genesis minter Rewards
    named), once, within its cap, and what the ``stakes`` table's genesis rows say."""
    token = depin.contract("RewardToken")
    chain = depin.chain
    minter = str(chain.call(token, "genesisMinter"))
    total, cap = int(chain.call(token, "genesisTotal")), int(chain.call(token, "genesisCap"))
    staking = run.manifest["chain"]["addresses"].get("DeviceStaking")
    if staking is None:
        ok = minter == "0x" + "00" * 20 and total == genesis == 0
    else:
        ok = minter.lower() == str(staking).lower() and total == genesis and total <= cap
    return Check(
        "RewardToken genesis: once, by DeviceStaking, within its cap = stakes' genesis rows",
        ok,
        f"minter {minter}, minted {total:,} of cap {cap:,}, tables {genesis:,} base units",
    )


def verify_depin_roles(run: RunFolder, depin: DepinContracts, admin: str) -> Check:
    """The DePIN contracts' (and DeviceStaking's) admin is the timelock, not the operator."""
    chain = depin.chain
    operator = str(run.manifest["chain"]["operator"])
    contracts = [depin.contract("DeviceRegistry"), depin.contract("Rewards")]
    if staking := run.manifest["chain"]["addresses"].get("DeviceStaking"):
        contracts.append(DeviceStaking(depin, address=str(staking)).contract)
    wrong = []
    for contract in contracts:
        role = chain.call(contract, "DEFAULT_ADMIN_ROLE")
        for who, held in ((admin, True), (operator, False)):
            if bool(chain.call(contract, "hasRole", role, who)) != held:
                state = "missing for" if held else "held by"
                wrong.append(f"{contract.address} admin {state} {who}")
    return Check(
        "roles: the DePIN contracts' admin is the timelock, not the operator",
        not wrong,
        "; ".join(wrong) if wrong else f"{len(contracts)} contracts, admin {admin}",
    )


def verify_devices(run: RunFolder, chain: Chain) -> list[Check]:
    """Readings roots, reward supply and balances, and the registry against the chain."""
    depin = DepinContracts(chain, addresses=run.manifest["chain"]["addresses"])
    config = run.manifest["config"]
    interval_s = int(config["run"]["interval_s"])
    epoch_len = int(config["devices"]["epoch_days"]) * 86_400 // interval_s
    readings = run.table("readings")
    rewards = run.table("rewards")
    nodes = run.table("nodes")
    start = pd.Timestamp(config["run"]["start"])
    # an epoch's readings: accepted, and arrived before it was paid (after_epoch re-derived)
    counted = (readings["status"].astype(str) == "accepted").to_numpy() & ~(
        upload_times(readings, config).after_epoch
    )
    ok = readings[counted]
    k = ((ok["time"] - start) // pd.Timedelta(seconds=interval_s)).to_numpy(dtype=np.int64)
    epoch = k // epoch_len
    checks = verify_upload_times(readings, config)
    for e in np.unique(epoch):
        rows = epoch == e
        ids = ok["device_id"].to_numpy(dtype=np.int64)[rows]
        order = np.lexsort((k[rows], ids))
        root = merkle_root(
            reading_leaves(ids[order], k[rows][order], ok["energy_wh"].to_numpy()[rows][order])
        )
        on_chain = depin.epoch_root(int(e))[0]
        stored = set(rewards.loc[rewards["epoch"] == e, "readings_root"])
        checks.append(
            Check(
                f"epoch {e}: readings root (Parquet = contract)",
                on_chain == root and stored <= {"0x" + root.hex()},
                f"{int(rows.sum())} accepted readings",
            )
        )
    checks.append(verify_verdicts(run, readings))
    checks += verify_rewards(run, depin, readings, rewards)
    total = sum(int(x) for x in rewards["amount"])
    supply = depin.reward_supply()
    stakes = run.table("stakes") if (run.path / "stakes.parquet").is_file() else None
    genesis = burned = 0
    if stakes is not None:
        genesis = int(stakes.loc[stakes["kind"] == "genesis", "amount_units"].sum())
        burned = int(stakes["burned_units"].sum())
    sold = sold_by_seller(run)
    burned += sum(sold.values())
    checks.append(
        Check(
            "RewardToken supply = genesis + rewards - burned",
            supply == genesis + total - burned,
            f"{supply:,} base units (genesis {genesis:,}, rewards {total:,}, burned {burned:,})",
        )
    )
    checks.append(verify_genesis(run, depin, genesis))
    if admin := run.manifest["chain"].get("admin"):
        checks.append(verify_depin_roles(run, depin, str(admin)))
    participants = run.table("participants")
    owners = dict(zip(participants["owner"], participants["address"], strict=True))
    expected = {owners[o]: int(a) for o, a in rewards.groupby("owner")["amount"].sum().items()}
    if stakes is not None:
        moved = stakes[stakes["kind"].isin(["genesis", "stake", "withdraw"])]
        sign = np.where(moved["kind"] == "stake", -1, 1)  # a withdrawal pays the staker back
        for address, amount in zip(
            moved["owner_address"], sign * moved["amount_units"], strict=True
        ):
            expected[str(address)] = expected.get(str(address), 0) + int(amount)
    for address, amount in sold.items():  # sold to the buyback, by the owner's permit
        expected[address] = expected.get(address, 0) - amount
    names = {a: o for o, a in owners.items()}
    wrong = [names.get(a, a) for a, amount in expected.items() if depin.reward_balance(a) != amount]
    checks.append(
        Check(
            "reward balances = genesis + rewards - stakes - buyback sales of each owner",
            not wrong,
            f"{len(expected)} owners" + (f"; wrong: {wrong[:3]}" if wrong else ""),
        )
    )
    if stakes is not None:
        address = run.manifest["chain"]["addresses"]["DeviceStaking"]
        staking = DeviceStaking(depin, address=address)
        checks.append(verify_stake_rows(staking, stakes))
        checks += verify_stakes(staking, stakes)
    if (run.path / "token_economy.parquet").is_file():
        staked = (
            DeviceStaking(
                depin, address=run.manifest["chain"]["addresses"]["DeviceStaking"]
            ).total_staked()
            if stakes is not None
            else None
        )
        checks += verify_token_economy(run.table("token_economy"), rewards, supply, stakes, staked)
    if (run.path / "buybacks.parquet").is_file():
        checks += verify_buyback(run, depin)
    revoked = set(config["devices"]["revoked"])
    bad = [
        str(n.node_id)
        for n in nodes.itertuples()
        if depin.signer_of(int(str(n.device_id))).lower() != str(n.device_address).lower()
        or depin.is_active(int(str(n.device_id))) == (str(n.node_id) in revoked)
    ]
    checks.append(
        Check(
            "registry: every device's signer and status",
            not bad,
            f"{len(nodes)} devices" + (f"; wrong: {bad[:3]}" if bad else ""),
        )
    )
    if (run.path / "device_transfers.parquet").is_file():
        checks += verify_transfers(run, depin)
    return checks


def _paid_rewards(run: RunFolder, depin: DepinContracts) -> dict[tuple[int, int], int]:
    """(epoch, device id) -> the reward the chain paid [base units], decoded from every
    ``distribute``, ``claim`` and ``claimMany`` that left a Rewards event."""
    chain = depin.chain
    contract = depin.contract("Rewards")
    logs = chain.w3.eth.get_logs(
        {
            "address": contract.address,
            "fromBlock": int(run.manifest["chain"].get("first_block", 0)),
            "toBlock": "latest",
        }
    )
    paid: dict[tuple[int, int], int] = {}
    for tx_hash in dict.fromkeys(bytes(log["transactionHash"]) for log in logs):
        tx = chain.w3.eth.get_transaction(HexBytes(tx_hash))
        try:
            function, args = contract.decode_function_input(tx["input"])
        except ValueError:  # a call to another contract (a timelock's, staking's) left the event
            continue
        name = function.fn_name
        if name in ("distribute", "claimMany"):
            pairs = zip(args["deviceIds"], args["amounts"], strict=True)
        elif name == "claim":
            pairs = zip([args["deviceId"]], [args["amount"]], strict=True)
        else:
            continue
        for device, amount in pairs:
            key = (int(args["epoch"]), int(device))
            paid[key] = paid.get(key, 0) + int(amount)
    return paid


def verify_rewards(
    run: RunFolder,
    depin: DepinContracts,
    readings: pd.DataFrame,
    rewards: pd.DataFrame,
) -> list[Check]:
    """Each ``rewards`` row: its amount is what the chain paid the device for the epoch, its
    energy the device's accepted readings of the epoch; each accepted reading belongs to a
    rewarded device whose epoch energy is its ``rewards`` row's. A reading that arrived after
    its epoch was paid (:func:`twin.verify_late.upload_times`) counts in none."""
    config = run.manifest["config"]
    interval_s = int(config["run"]["interval_s"])
    epoch_len = int(config["devices"]["epoch_days"]) * 86_400 // interval_s
    start = pd.Timestamp(config["run"]["start"])
    k = ((readings["time"] - start) // pd.Timedelta(seconds=interval_s)).to_numpy(dtype=np.int64)
    accepted = readings["status"].astype(str).to_numpy() == "accepted"
    accepted &= ~upload_times(readings, config).after_epoch  # paid epochs take none
    key = pd.MultiIndex.from_arrays(
        [k // epoch_len, readings["device_id"].to_numpy(dtype=np.int64)]
    )
    energy = np.maximum(readings["energy_wh"].to_numpy(dtype=np.int64), 0)
    per_device = pd.Series(np.where(accepted, energy, 0), index=key).groupby(level=[0, 1]).sum()
    epochs = rewards["epoch"].to_numpy(dtype=np.int64)
    devices = rewards["device_id"].to_numpy(dtype=np.int64)
    rows = pd.MultiIndex.from_arrays([epochs, devices])
    derived = per_device.reindex(rows).fillna(0).to_numpy(dtype=np.int64)
    stated = rewards["energy_wh"].to_numpy(dtype=np.int64)
    amount = rewards["amount"].to_numpy(dtype=np.int64)
    paid = _paid_rewards(run, depin)
    on_chain = np.array(
        [paid.get((int(e), int(d)), -1) for e, d in zip(epochs, devices, strict=True)]
    )
    rewarded = pd.Series(stated, index=rows)
    rewarded = rewarded[~rewarded.index.duplicated()]
    claimed = rewarded.reindex(key).to_numpy(dtype=np.float64)  # NaN: not rewarded
    mine = per_device.reindex(key).to_numpy(dtype=np.int64)
    return [
        row_check(
            "rewards: amount = the chain's payment, energy_wh = the accepted readings",
            "rewards",
            (amount != on_chain) | (stated != derived),
            lambda i: (
                f"epoch {epochs[i]}, device {devices[i]}: amount {amount[i]:,} (chain paid "
                f"{on_chain[i]:,}), energy_wh {stated[i]:,} (accepted readings {derived[i]:,})"
            ),
        ),
        row_check(
            "readings: each device's accepted energy of an epoch = its rewards row's",
            "readings",
            accepted & np.isfinite(claimed) & (mine != claimed),
            lambda i: (
                f"device {readings['device_id'].iat[i]} at {readings['time'].iat[i]}: accepted,"
                f" its epoch's accepted readings {mine[i]:,} Wh, rewarded {claimed[i]:,.0f} Wh"
            ),
        ),
    ]
