"""Keys and roles: members' money moves only with their consent; no member blocks a batch; the
operator commits batches and can do nothing else.

Known truths: the operator key's direct attempt to move a member's credits reverts; a batch
never takes more of a member's credits than the allowance it signed; a payer short of funds
pays what it can and the batch commits, with every micro-euro traced (what payers paid equals
what receivers got, debts equal claims, the clearing account ends empty); after the hand-over
the operator can neither mint nor grant itself a role; RewardToken mints only through Rewards,
within the epoch cap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eth_account import Account
from web3.logs import DISCARD

from settlement.chain.artifacts import load_artifact
from settlement.chain.connection import Chain
from settlement.chain.errors import TransactionRevertedError
from settlement.chain.participants import participant_private_key
from settlement.depin.client import DepinContracts
from tests.conftest import scenario
from twin.engine import run_scenario
from twin.results import open_run
from twin.verify import verify_run

EUR = 10**6
CREDITS = 1_000 * EUR
CONSENT = 100 * EUR
OWNERS = ["alice", "bob", "carol", "dave"]
_root = iter(range(1, 10**6))


def _batch_root() -> bytes:
    return next(_root).to_bytes(32, "big")


class Community:
    """An embedded chain with four members, each minted CREDITS and consenting to CONSENT."""

    def __init__(self) -> None:
        self.chain = Chain.embedded()
        self.keys = [participant_private_key(o, 5) for o in OWNERS]
        self.members = [Account.from_key(k).address for k in self.keys]
        self.chain.mint_credits(self.members, CREDITS)
        self.chain.consent(self.keys, CONSENT)
        self.attacker = Account.create().address
        self.batch_id = 0

    def commit(self, accounts: list[str], amounts: list[int]) -> Any:
        self.batch_id += 1
        chain = self.chain
        tx_hash = chain.send_commit_batch(self.batch_id, _batch_root(), 1, 1, accounts, amounts)
        return chain.wait_receipt(tx_hash)

    def as_member(self, i: int, function: str, args: list[object]) -> None:
        """Member ``i`` sends its own EnergyCredit transaction, signed with its own key."""
        chain = self.chain
        chain.send_ether(self.members[i], 10**17)
        credit = chain.contract("EnergyCredit")
        chain.transact(credit, function, args, gas=100_000, key=self.keys[i])

    def balances(self) -> list[int]:
        return [self.chain.balance_of(a) for a in [*self.members, self.attacker]]


@pytest.fixture
def community() -> Community:
    return Community()


def _reverts(error: str, call: Callable[[], object]) -> None:
    with pytest.raises(TransactionRevertedError, match=error):
        call()


def test_consent_is_a_permit_signed_by_the_member(community: Community) -> None:
    chain = community.chain
    assert [chain.allowance(a) for a in community.members] == [CONSENT] * 4
    credit = chain.contract("EnergyCredit")
    assert [chain.call(credit, "nonces", a) for a in community.members] == [1] * 4
    # a replayed permit is refused (its nonce is used) and does not revert the others' permits
    permit = chain.sign_permit(community.keys[0], 10 * CONSENT, nonce=0)
    settlement = chain.contract("Settlement")
    receipt = chain.transact(settlement, "acceptPermits", [[permit]], gas=200_000)
    failed = settlement.events.PermitFailed().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["owner"] for e in failed] == [community.members[0]]
    assert chain.allowance(community.members[0]) == CONSENT
    # a permit signed by another key than the owner's gives nothing
    forged = (community.members[1], *chain.sign_permit(community.keys[0], 10**12)[1:])
    chain.transact(settlement, "acceptPermits", [[forged]], gas=200_000)
    assert chain.allowance(community.members[1]) == CONSENT


def test_the_operator_cannot_take_a_members_credits(community: Community) -> None:
    chain, alice = community.chain, community.members[0]
    credit = chain.contract("EnergyCredit")
    before = community.balances()
    # the operator's key, straight at the token: no allowance, no role that moves credits
    _reverts(
        "ERC20InsufficientAllowance",
        lambda: chain.transact(
            credit, "transferFrom", [alice, community.attacker, EUR], gas=100_000
        ),
    )
    assert community.balances() == before
    # through Settlement, a "batch" that pays alice's whole balance to an attacker moves only
    # what alice consented to; the rest is alice's debt, the attacker's claim: traced, not paid
    community.commit([alice, community.attacker], [-CREDITS, CREDITS])
    assert chain.balance_of(alice) == CREDITS - CONSENT
    assert chain.balance_of(community.attacker) == CONSENT
    assert chain.debt_of(alice) == chain.claim_of(community.attacker) == CREDITS - CONSENT
    assert chain.allowance(alice) == 0
    # once the consent is used up, nothing more moves, in any number of batches
    community.commit([alice, community.attacker], [-CREDITS, CREDITS])
    assert chain.balance_of(alice) == CREDITS - CONSENT
    assert chain.balance_of(community.attacker) == CONSENT


def test_a_member_revokes_its_consent(community: Community) -> None:
    chain, bob, carol = community.chain, community.members[1], community.members[2]
    settlement = chain.contract("Settlement").address
    community.as_member(1, "approve", [settlement, 0])
    assert chain.allowance(bob) == 0
    community.commit([bob, carol], [-5 * EUR, 5 * EUR])
    assert chain.balance_of(bob) == CREDITS
    assert chain.balance_of(carol) == CREDITS
    assert chain.debt_of(bob) == chain.claim_of(carol) == 5 * EUR


def test_a_member_that_empties_its_account_does_not_block_the_batch(
    community: Community,
) -> None:
    chain = community.chain
    alice, bob, carol, dave = community.members
    credit_supply = chain.total_supply()
    # batch 1: everyone pays and is paid in full
    community.commit([alice, bob, carol, dave], [-30 * EUR, -10 * EUR, 25 * EUR, 15 * EUR])
    assert chain.debt_of(alice) == 0
    # alice empties her account mid-run (her own transfer, her own key)
    community.as_member(0, "transfer", [community.attacker, chain.balance_of(alice)])
    assert chain.balance_of(alice) == 0
    before = community.balances()
    # batch 2: alice owes 40 EUR and has nothing; bob pays in full; carol and dave are cut pro
    # rata to what they are due (cumulative rounding: the cuts sum to the shortfall exactly)
    due = [7_000_001, 40_000_000 + 3_000_000 - 7_000_001]
    receipt = community.commit([alice, bob, carol, dave], [-40 * EUR, -3 * EUR, *due])
    shortfall = 40 * EUR
    cuts = np.diff(np.array([0, *np.cumsum(due)], dtype=object) * shortfall // sum(due))
    assert sum(cuts) == shortfall
    after = community.balances()
    assert after[0] == 0
    assert after[1] == before[1] - 3 * EUR
    assert after[2] == before[2] + due[0] - cuts[0]
    assert after[3] == before[3] + due[1] - cuts[1]
    # conservation: no credit created or destroyed, the clearing account is empty
    assert sum(after) == sum(before)
    assert chain.total_supply() == credit_supply
    assert chain.balance_of(chain.contract("Settlement").address) == 0
    assert chain.debt_of(alice) == shortfall
    assert [chain.claim_of(carol), chain.claim_of(dave)] == list(cuts)
    settlement = chain.contract("Settlement")
    assert chain.call(settlement, "totalDebt") == shortfall
    short = settlement.events.Shortfall().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["account"], e["args"]["owed"], e["args"]["paid"]) for e in short] == [
        (alice, 40 * EUR, 0)
    ]
    reduced = settlement.events.CreditReduced().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["cut"] for e in reduced] == list(cuts)
    # batch 3: alice still has nothing; a batch in which she neither pays nor receives settles
    community.commit([bob, carol], [-EUR, EUR])
    assert chain.debt_of(alice) == shortfall


def test_after_the_hand_over_the_operator_only_commits_and_pauses(community: Community) -> None:
    chain = community.chain
    op = chain.operator
    credit, settlement = chain.contract("EnergyCredit"), chain.contract("Settlement")
    # during setup the operator mints, never past the cap
    cap = chain.call(credit, "cap")
    _reverts(
        "ERC20ExceededCap",
        lambda: chain.transact(credit, "mint", [op, cap - chain.total_supply() + 1], gas=100_000),
    )
    timelock = chain.deploy_admin_timelock()
    chain.hand_over(timelock)
    for name, role in [
        ("EnergyCredit", "DEFAULT_ADMIN_ROLE"),
        ("EnergyCredit", "MINTER_ROLE"),
        ("Settlement", "DEFAULT_ADMIN_ROLE"),
    ]:
        assert not chain.has_role(name, role, op), (name, role)
    assert chain.has_role("EnergyCredit", "DEFAULT_ADMIN_ROLE", timelock)
    assert chain.has_role("Settlement", "DEFAULT_ADMIN_ROLE", timelock)
    assert chain.has_role("Settlement", "SETTLER_ROLE", op)
    assert chain.has_role("Settlement", "PAUSER_ROLE", op)
    # no minting, no role escalation
    _reverts(
        "AccessControlUnauthorizedAccount",
        lambda: chain.transact(credit, "mint", [op, 10**30], gas=100_000),
    )
    for contract, role in [
        (credit, "MINTER_ROLE"),
        (credit, "DEFAULT_ADMIN_ROLE"),
        (settlement, "DEFAULT_ADMIN_ROLE"),
        (settlement, "SETTLER_ROLE"),
    ]:
        role_id = chain.call(contract, role)
        _reverts(
            "AccessControlUnauthorizedAccount",
            lambda c=contract, r=role_id: chain.transact(c, "grantRole", [r, op], gas=100_000),
        )
    # the chain's own timelock (no DAO) has no proposer: the operator cannot schedule either
    lock = chain.attach(load_artifact("CommunityTimelock"), timelock)
    proposer = chain.call(lock, "PROPOSER_ROLE")
    assert not chain.call(lock, "hasRole", proposer, op)
    grant = credit.encode_abi("grantRole", args=[chain.call(credit, "MINTER_ROLE"), op])
    schedule = [credit.address, 0, grant, b"\0" * 32, b"\0" * 32, 2 * 86_400]
    _reverts(
        "AccessControlUnauthorizedAccount",
        lambda: chain.transact(lock, "schedule", schedule, gas=200_000),
    )
    # and it still settles
    alice, bob = community.members[:2]
    community.commit([alice, bob], [-EUR, EUR])
    assert chain.balance_of(bob) == CREDITS + EUR


def test_reward_tokens_are_minted_only_by_rewards_within_the_epoch_cap() -> None:
    chain = Chain.embedded()
    depin = DepinContracts(chain, epoch_cap=1_000)
    token, rewards = depin.contract("RewardToken"), depin.contract("Rewards")
    assert chain.call(token, "minter") == rewards.address
    op = chain.operator
    _reverts("NotMinter", lambda: chain.transact(token, "mint", [op, 10**30], gas=100_000))
    _reverts(
        "NotMinter",
        lambda: chain.transact(token, "mintBatch", [[op], [10**30]], gas=100_000),
    )
    owners = Chain.participant_addresses(["a", "b"], 1)
    depin.register_devices([1, 2], owners, owners, [0, 0], [1_000, 1_000])
    _reverts(
        "ExceedsEpochCap",
        lambda: chain.transact(
            rewards, "distribute", [0, b"\0" * 32, [1, 2], [600, 401]], gas=300_000
        ),
    )
    _reverts(
        "ExceedsEpochCap",
        lambda: chain.transact(
            rewards, "commitEpoch", [0, b"\0" * 32, b"\1" * 32, 1_001], gas=300_000
        ),
    )
    chain.transact(rewards, "distribute", [0, b"\0" * 32, [1, 2], [600, 400]], gas=300_000)
    assert chain.call(token, "totalSupply") == 1_000
    timelock = chain.deploy_admin_timelock()
    depin.hand_over(timelock)
    for contract in (rewards, depin.contract("DeviceRegistry")):
        admin = chain.call(contract, "DEFAULT_ADMIN_ROLE")
        assert not chain.call(contract, "hasRole", admin, op)
        assert chain.call(contract, "hasRole", admin, timelock)
    role = chain.call(rewards, "DISTRIBUTOR_ROLE")
    _reverts(
        "AccessControlUnauthorizedAccount",
        lambda: chain.transact(rewards, "grantRole", [role, Account.create().address], gas=10**5),
    )


def test_a_run_whose_members_outspend_their_consent_settles_every_batch(tmp_path: Path) -> None:
    """Members consent to 1 EUR each: most run short in a day; every batch still commits,
    each member's balance is its credits + net payments + debt - claims, and verify passes."""
    out = tmp_path / "run"
    sc = scenario(
        "run.days=2", "chain.batch_hours=6", "chain.consent_eur=1.0", "devices.enabled=false"
    )
    run_scenario(sc, out)
    run = open_run(out)
    batches = run.table("batches")
    assert (batches["state"] == "final").all()
    checks = verify_run(out)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = [c.name for c in checks]
    assert "shortfalls: debts = claims" in names
    assert "roles: admin is the timelock, the operator only settles" in names
    detail = next(c.detail for c in checks if c.name == "shortfalls: debts = claims")
    assert not detail.startswith("0 micro-euro"), detail  # the rule was exercised
    assert run.manifest["chain"]["admin"]
