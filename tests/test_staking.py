"""DeviceStaking on the embedded chain: genesis, stake by permit, unbonding, slashing on evidence.

Known truths: the token supply is genesis + rewards - burned; the staking contract holds
exactly the total stake; a slash takes the configured share and it lands where configured
(burned, the sink, the reporter); the same signed upload never slashes twice; only the
verifier slashes; evidence the device did not sign, or whose proof or reason fails, slashes
nothing; an owner's stake moves only with its signature.
"""

from __future__ import annotations

import numpy as np
import pytest
from eth_account import Account

from settlement.chain.connection import Chain
from settlement.chain.errors import TransactionRevertedError
from settlement.depin.client import DepinContracts
from settlement.depin.devices import Device, device_private_key
from settlement.depin.emission import break_even_eur_per_token, epoch_emission
from settlement.depin.staking import (
    DeviceStaking,
    StakingSettings,
    evidence_of,
    min_stake,
    slash_split,
)
from settlement.depin.uploads import Upload, sign_upload

SOLAR = 1
CAPACITY_W = 5_000  # 5 kW: 1.25 kWh per 15-minute interval at nameplate
PER_KW = 10_000_000  # 10 tokens per kW
GENESIS = 100_000_000  # 100 tokens per owner


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.embedded()


def owner_key(i: int) -> bytes:
    return device_private_key(f"staking-owner-{i}", 7)


def make(
    chain: Chain, *, sink: str | None = None, reporter_bps: int = 0, delay_s: int = 3600
) -> tuple[DepinContracts, DeviceStaking, list[Device]]:
    """Fresh contracts, two solar devices of two owners, the genesis minted, both staked."""
    depin = DepinContracts(chain)
    depin.deploy()
    devices = [
        Device(i, f"pv-{i}", "solar", CAPACITY_W / 1e6, 0.0, device_private_key(f"pv-{i}", 7))
        for i in (1, 2)
    ]
    owners = [Account.from_key(owner_key(i)).address for i in (1, 2)]
    depin.register_devices(
        [1, 2], owners, [d.address for d in devices], [SOLAR, SOLAR], [CAPACITY_W] * 2
    )
    settings = StakingSettings(
        min_stake_per_kw=PER_KW,
        unbonding_delay_s=delay_s,
        slash_bps=5_000,
        reporter_bps=reporter_bps,
        slash_sink=sink,
        interval_s=900,
    )
    staking = DeviceStaking(depin, settings)
    staking.open_genesis(2 * GENESIS)
    staking.allocate_genesis(owners, [GENESIS, GENESIS])
    for i in (1, 2):
        staking.stake_with_permit(i, min_stake(PER_KW, CAPACITY_W), owner_key(i))
    return depin, staking, devices


def upload(
    chain: Chain, depin: DepinContracts, device: Device, energy_wh: list[int], nonce: int
) -> Upload:
    intervals = np.arange(len(energy_wh), dtype=np.int64) + 96 * nonce
    return sign_upload(
        device,
        nonce,
        intervals,
        np.array(energy_wh, dtype=np.int64),
        nonce,
        chain_id=chain.chain_id,
        verifying_contract=depin.addresses["DeviceRegistry"],
    )


def test_genesis_and_stake_by_permit(chain: Chain) -> None:
    depin, staking, _ = make(chain)
    need = min_stake(PER_KW, CAPACITY_W)
    assert need == staking.min_stake(1) == 50_000_000
    assert depin.reward_supply() == staking.genesis_total() == 2 * GENESIS
    assert staking.total_staked() == 2 * need == depin.reward_balance(staking.address)
    record = staking.stake_of(1)
    assert record.staker == Account.from_key(owner_key(1)).address
    assert (record.active, record.unbonding) == (need, 0)
    assert staking.staked_mask([1, 2, 3]) == [True, True, False]
    with pytest.raises(TransactionRevertedError, match="GenesisAlreadyAllocated"):
        staking.allocate_genesis([record.staker], [1])
    # the genesis is opened once, ever: no second minter, no second cap
    with pytest.raises(TransactionRevertedError, match="GenesisAlreadyOpened"):
        depin.open_genesis(chain.operator, 1)
    token = depin.contract("RewardToken")
    with pytest.raises(TransactionRevertedError, match="NotGenesisMinter"):
        chain.transact(token, "mintGenesis", [[chain.operator], [1]], gas=200_000)
    with pytest.raises(TransactionRevertedError, match="NotMinter"):
        chain.transact(token, "setGenesisMinter", [chain.operator, 1], gas=200_000)
    # a permit signed by someone other than the device's owner moves nothing
    with pytest.raises(TransactionRevertedError):
        staking.stake_with_permit(1, 1_000_000, owner_key(2))
    assert staking.total_staked() == 2 * need


def test_genesis_within_its_cap_and_by_rewards_admin_only(chain: Chain) -> None:
    depin = DepinContracts(chain)
    depin.deploy()
    settings = StakingSettings(min_stake_per_kw=PER_KW, unbonding_delay_s=0, slash_bps=0)
    staking = DeviceStaking(depin, settings)
    owner = Account.from_key(owner_key(1)).address
    with pytest.raises(TransactionRevertedError, match="NotGenesisMinter"):
        staking.allocate_genesis([owner], [GENESIS])  # not opened: no genesis at all
    outsider = owner_key(3)
    chain.send_ether(Account.from_key(outsider).address, 10**17)
    rewards = depin.contract("Rewards")
    with pytest.raises(TransactionRevertedError, match="AccessControlUnauthorizedAccount"):
        chain.transact(
            rewards, "openGenesis", [staking.address, GENESIS], gas=200_000, key=outsider
        )
    staking.open_genesis(GENESIS)
    with pytest.raises(TransactionRevertedError, match="ExceedsGenesisCap"):
        staking.allocate_genesis([owner], [GENESIS + 1])
    staking.allocate_genesis([owner], [GENESIS])
    assert depin.reward_supply() == GENESIS == staking.genesis_total()


def test_unbonding_waits_the_delay(chain: Chain) -> None:
    depin, staking, _ = make(chain, delay_s=7 * 86_400)
    key, owner = owner_key(1), Account.from_key(owner_key(1)).address
    chain.send_ether(owner, 10**17)
    chain.send_ether(Account.from_key(owner_key(2)).address, 10**17)
    before = depin.reward_balance(owner)
    staking.request_unbond(1, 1_000_000, key)
    assert staking.staked_mask([1]) == [False]  # below the minimum: it no longer earns
    with pytest.raises(TransactionRevertedError, match="StillUnbonding"):
        staking.withdraw(1)
    with pytest.raises(TransactionRevertedError, match="NotStaker"):
        staking.request_unbond(1, 1, owner_key(2))
    chain.advance_time(7 * 86_400 + 1)
    staking.withdraw(1)
    assert depin.reward_balance(owner) == before + 1_000_000
    assert staking.total_staked() == depin.reward_balance(staking.address)


@pytest.mark.parametrize(
    ("sink", "reporter_bps"), [(None, 0), ("0x000000000000000000000000000000000000dEaD", 2_000)]
)
def test_slash_on_nameplate_evidence_lands_where_configured(
    chain: Chain, sink: str | None, reporter_bps: int
) -> None:
    depin, staking, devices = make(chain, sink=sink, reporter_bps=reporter_bps)
    reporter = Account.from_key(owner_key(9)).address
    supply = depin.reward_supply()
    held = staking.stake_of(1).active
    # 2 kWh in 15 minutes from a 5 kW inverter: above its nameplate, signed by itself
    up = upload(chain, depin, devices[0], [100, 2_000, 300, 0, 50], nonce=3)
    evidence = evidence_of(up, 1, "nameplate")
    receipt = staking.slash(evidence, reporter)
    event = staking.slashed_event(receipt)
    amount, burned, to_sink, to_reporter = slash_split(
        held, 5_000, reporter_bps, reporter=True, sink=sink is not None
    )
    assert event["amount"] == amount == held // 2
    assert (event["burnedAmount"], event["toSink"], event["toReporter"]) == (
        burned,
        to_sink,
        to_reporter,
    )
    assert staking.stake_of(1).active == held - amount
    assert depin.reward_supply() == supply - burned == 2 * GENESIS - staking.burned()
    assert depin.reward_balance(reporter) == to_reporter
    if sink is not None:
        assert depin.reward_balance(sink) == to_sink
    assert staking.total_staked() == depin.reward_balance(staking.address)
    # the same evidence (the same signed upload) never slashes twice, by any reading of it
    with pytest.raises(TransactionRevertedError, match="EvidenceAlreadyUsed"):
        staking.slash(evidence, reporter)
    with pytest.raises(TransactionRevertedError, match="EvidenceAlreadyUsed"):
        staking.slash(evidence_of(up, 0, "clear_sky"), reporter)
    assert staking.stake_of(2).active == held  # the honest device keeps its stake


def test_bad_evidence_and_wrong_roles_slash_nothing(chain: Chain) -> None:
    depin, staking, devices = make(chain)
    held = staking.stake_of(1).active
    honest = upload(chain, depin, devices[0], [100, 1_200, 300], nonce=1)
    # an honest reading under the nameplate: the contract refuses the reason
    with pytest.raises(TransactionRevertedError, match="ReasonNotShown"):
        staking.slash(evidence_of(honest, 1, "nameplate"))
    with pytest.raises(TransactionRevertedError, match="ReasonNotShown"):
        staking.slash(evidence_of(honest, 1, "negative"))
    bad = upload(chain, depin, devices[0], [100, 9_000, 300], nonce=2)
    good = evidence_of(bad, 1, "nameplate")
    # a reading that is not the one signed: the proof fails
    with pytest.raises(TransactionRevertedError, match="InvalidProof"):
        staking.slash(good._replace(energy_wh=9_001))
    # a forgery: another key signed device 1's upload
    forged = upload(chain, depin, devices[1], [100, 9_000, 300], nonce=2)
    with pytest.raises(TransactionRevertedError, match="NotSignedByDevice"):
        staking.slash(evidence_of(forged, 1, "nameplate")._replace(device_id=1))
    with pytest.raises(TransactionRevertedError, match="UnknownReason"):
        staking.slash(good._replace(reason=9))
    # only the verifier slashes
    outsider = owner_key(3)
    chain.send_ether(Account.from_key(outsider).address, 10**17)
    with pytest.raises(TransactionRevertedError, match="AccessControlUnauthorizedAccount"):
        staking.slash(good, key=outsider)
    assert staking.stake_of(1).active == held
    assert staking.burned() == 0
    staking.slash(good)
    assert staking.stake_of(1).active == held - held // 2


def test_emission_schedules() -> None:
    assert [epoch_emission(1000, n) for n in (0, 5)] == [1000, 1000]
    halving = [epoch_emission(1000, n, "halving", halving_epochs=2) for n in range(5)]
    assert halving == [1000, 1000, 500, 500, 250]
    decay = [epoch_emission(1000, n, "decay", decay_per_epoch=0.1) for n in range(3)]
    assert decay == [1000, 900, 810]
    # floor of the exact decay (a float power gave 857,374,999: depin_economy's epoch 3)
    assert epoch_emission(10**9, 3, "decay", decay_per_epoch=0.05) == 857_375_000
    assert break_even_eur_per_token(2_000_000, 4_000_000, 6) == pytest.approx(0.5)
    assert np.isnan(break_even_eur_per_token(1, 0, 6))
