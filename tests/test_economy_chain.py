"""The community economy on chain: DAO votes, governor, timelock, treasury, asset shares.

Known truths: a proposal that passes executes through the timelock and the treasury pays
exactly its amount; a defeated one changes nothing; votes weigh what was delegated at the
snapshot; no role escalates (only the timelock pays, only the governor schedules); a share
distribution pays each holder within one base unit of its exact share, to whoever holds at that
moment; every micro-euro is conserved; no member's credits move without its own allowance.
Gas per operation is measured and printed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from eth_account import Account
from web3 import Web3

from settlement.chain.connection import Chain
from settlement.chain.errors import TransactionRevertedError
from settlement.chain.participants import participant_private_key
from settlement.chain.transactions import scan_transactions
from settlement.economy.ballots import Support
from settlement.economy.consent import allowance, grant_allowance
from settlement.economy.dao import (
    CommunityDao,
    DaoSettings,
    Proposal,
    ProposalState,
)
from settlement.economy.shares import AssetShareToken, pro_rata
from settlement.economy.votes import votes_chunks
from settlement.units import MicroEur, TokenUnits
from tests.anvil import MISSING, AnvilNode, anvil_binary

SEED = 42
EUR = 1_000_000  # micro-euro
SETTINGS = DaoSettings(
    voting_delay_blocks=2, voting_period_blocks=6, quorum_percent=20, timelock_delay_s=3600
)


def keys(tag: str, n: int) -> list[bytes]:
    """``n`` members' keys, as a run derives them (distinct per test ``tag``)."""
    return [participant_private_key(f"{tag}-{i}", SEED) for i in range(n)]


def address(key: bytes) -> str:
    return str(Account.from_key(key).address)


@pytest.fixture(scope="module")
def chain() -> Chain:
    chain = Chain.embedded()
    chain.deploy()
    return chain


def credits(chain: Chain, accounts: Sequence[str]) -> list[int]:
    return [chain.balance_of(a) for a in accounts]


def make_dao(chain: Chain, member_keys: Sequence[bytes], votes: Sequence[int]) -> CommunityDao:
    """A DAO with ``votes`` minted to the members, each delegating to itself by signature."""
    members = [address(k) for k in member_keys]
    dao = CommunityDao.deploy(chain, members, [TokenUnits(v) for v in votes], SETTINGS)
    for key in member_keys:
        dao.delegate_by_sig(dao.sign_delegation(key))
    return dao


def fund_treasury(chain: Chain, dao: CommunityDao, payer: str, amount: int) -> None:
    """Fees reach the treasury as a payee of a batch's net payments (one member pays)."""
    treasury = dao.addresses["Treasury"]
    tx = chain.send_commit_batch(
        batch_id=int.from_bytes(os.urandom(6), "big"),
        trades_root=os.urandom(32),
        trade_count=1,
        energy_wh=1,
        accounts=[payer, treasury],
        net_amounts=[-amount, amount],
    )
    chain.wait_receipt(tx)


def vote(dao: CommunityDao, proposal_id: int, ballots: dict[bytes, Support]) -> None:
    dao.advance_to_voting(proposal_id)
    for key, support in ballots.items():
        dao.cast_vote_by_sig(dao.sign_ballot(key, proposal_id, support))
    dao.advance_past_voting(proposal_id)


@pytest.fixture
def community(chain: Chain, request: pytest.FixtureRequest) -> tuple[CommunityDao, list[bytes]]:
    """Four members holding 40, 30, 20 and 10 votes and 1,000 EUR each; 500 EUR of fees."""
    member_keys = keys(request.node.name, 4)
    chain.mint_credits([address(k) for k in member_keys], MicroEur(1_000 * EUR))
    chain.consent(member_keys, 1_000 * EUR)  # each member's permit: settlement may move its credits
    dao = make_dao(chain, member_keys, [40, 30, 20, 10])
    fund_treasury(chain, dao, address(member_keys[3]), 500 * EUR)
    return dao, member_keys


def test_a_passed_proposal_pays_exactly_through_the_timelock(
    chain: Chain, community: tuple[CommunityDao, list[bytes]]
) -> None:
    dao, member_keys = community
    installer = address(keys("installer", 1)[0])
    watched = [address(k) for k in member_keys] + [installer, dao.addresses["Treasury"]]
    before, supply = credits(chain, watched), chain.total_supply()
    assert dao.treasury_balance() == 500 * EUR
    amount = MicroEur(123_456_789)
    proposal = dao.treasury_payment(installer, amount, "battery bus 7", "Fund a battery")
    dao.propose(proposal)
    proposal_id = dao.proposal_id(proposal)
    assert dao.state(proposal_id) == ProposalState.PENDING
    vote(dao, proposal_id, {member_keys[0]: Support.FOR, member_keys[2]: Support.AGAINST})
    assert dao.proposal_votes(proposal_id) == (20, 40, 0)
    assert dao.state(proposal_id) == ProposalState.SUCCEEDED
    dao.queue(proposal)
    assert dao.state(proposal_id) == ProposalState.QUEUED
    with pytest.raises(TransactionRevertedError, match="TimelockUnexpectedOperationState"):
        dao.execute(proposal)  # the delay has not passed
    dao.advance_past_timelock(proposal_id)
    receipt = dao.execute(proposal)
    assert dao.state(proposal_id) == ProposalState.EXECUTED
    assert dao.treasury_payouts(receipt) == [(installer, amount, "battery bus 7")]
    after = credits(chain, watched)
    assert after[-1] == before[-1] - amount  # the treasury paid exactly
    assert after[-2] == before[-2] + amount  # to the installer
    assert after[:-2] == before[:-2]  # and no member paid anything
    assert sum(after) == sum(before)
    assert chain.total_supply() == supply
    with pytest.raises(TransactionRevertedError, match="GovernorUnexpectedProposalState"):
        dao.execute(proposal)  # once


def test_a_defeated_proposal_changes_nothing(
    chain: Chain, community: tuple[CommunityDao, list[bytes]]
) -> None:
    dao, member_keys = community
    watched = [address(k) for k in member_keys] + [dao.addresses["Treasury"]]
    before = credits(chain, watched)
    proposal = dao.treasury_payment(address(member_keys[3]), MicroEur(EUR), "x", "Pay member 3")
    dao.propose(proposal)
    proposal_id = dao.proposal_id(proposal)
    ballots = {member_keys[0]: Support.AGAINST, member_keys[1]: Support.FOR}
    vote(dao, proposal_id, ballots | {member_keys[3]: Support.FOR})
    assert dao.proposal_votes(proposal_id) == (40, 40, 0)  # a tie is defeated
    assert dao.state(proposal_id) == ProposalState.DEFEATED
    with pytest.raises(TransactionRevertedError, match="GovernorUnexpectedProposalState"):
        dao.queue(proposal)
    with pytest.raises(TransactionRevertedError, match="GovernorUnexpectedProposalState"):
        dao.execute(proposal)
    assert credits(chain, watched) == before
    # Below quorum (20 % of 100 votes) fails too, even with no vote against.
    quiet = Proposal(proposal.targets, proposal.values_wei, proposal.calldatas, "Quietly")
    dao.propose(quiet)
    vote(dao, dao.proposal_id(quiet), {member_keys[3]: Support.FOR})
    assert dao.state(dao.proposal_id(quiet)) == ProposalState.DEFEATED
    assert credits(chain, watched) == before


def test_votes_are_weighted_by_delegated_balance(chain: Chain) -> None:
    member_keys = keys("weights", 4)
    members = [address(k) for k in member_keys]
    dao = CommunityDao.deploy(chain, members, [TokenUnits(v) for v in (40, 30, 20, 10)], SETTINGS)
    dao.delegate_by_sig(dao.sign_delegation(member_keys[0]))
    dao.delegate_by_sig(dao.sign_delegation(member_keys[1], delegatee=members[0]))
    signed = dao.sign_delegation(member_keys[2])
    dao.delegate_by_sig(signed)  # member 3 never delegates: its 10 votes count nowhere
    with pytest.raises(TransactionRevertedError, match="InvalidAccountNonce"):
        dao.delegate_by_sig(signed)  # a signature is used once
    assert [dao.votes_of(m) for m in members] == [70, 0, 20, 0]
    assert dao.balance_of_votes(members[3]) == 10
    proposal = dao.treasury_payment(members[3], MicroEur(1), "x", "Weights")
    dao.propose(proposal)
    proposal_id = dao.proposal_id(proposal)
    dao.advance_to_voting(proposal_id)
    # Votes moved after the snapshot do not count for this proposal.
    dao.delegate_by_sig(dao.sign_delegation(member_keys[1]))
    ballots = {member_keys[0]: Support.FOR, member_keys[2]: Support.AGAINST}
    for key, support in (
        ballots | {member_keys[1]: Support.FOR, member_keys[3]: Support.ABSTAIN}
    ).items():
        dao.cast_vote_by_sig(dao.sign_ballot(key, proposal_id, support))
    assert dao.proposal_votes(proposal_id) == (20, 70, 0)
    assert all(dao.has_voted(proposal_id, m) for m in members)
    with pytest.raises(TransactionRevertedError, match="GovernorAlreadyCastVote"):
        dao.cast_vote_by_sig(dao.sign_ballot(member_keys[0], proposal_id, Support.AGAINST))
    # A ballot signed by one key for another voter is refused.
    forged = dao.sign_ballot(member_keys[3], proposal_id, Support.FOR)
    forged = type(forged)(forged.proposal_id, forged.support, members[2], forged.signature)
    with pytest.raises(TransactionRevertedError, match="GovernorInvalidSignature"):
        dao.cast_vote_by_sig(forged)


def test_votes_minted_in_chunks_within_the_gas_budget(chain: Chain) -> None:
    """40 members, a budget too small for the one-shot constructor: the operator mints in
    chunks under the budget and seals before the governor exists; the governor then works."""
    member_keys = keys("chunked", 40)
    members = [address(k) for k in member_keys]
    votes = [TokenUnits(1 + i % 3) for i in range(40)]
    budget = 3_000_000
    assert votes_chunks(40, budget) == [(0, 35), (35, 40)]
    assert votes_chunks(40, 30_000_000) is None  # the default community: one transaction
    first = chain.block_number() + 1
    settings = DaoSettings(voting_delay_blocks=2, voting_period_blocks=30, quorum_percent=20)
    dao = CommunityDao.deploy(chain, members, votes, settings, gas_budget=budget)
    token = dao.contract("CommunityVotes")
    assert chain.call(token, "isSealed")
    assert chain.call(token, "totalSupply") == sum(votes)
    assert [dao.balance_of_votes(m) for m in members] == votes
    sent = [
        chain.w3.eth.get_block(b, full_transactions=True)
        for b in range(first, chain.block_number() + 1)
    ]
    txs = [tx for block in sent for tx in block["transactions"]]
    minting = [txs[0]] + [tx for tx in txs if tx["to"] == token.address]  # deploy, mint, seal
    assert len(minting) == 4
    assert max(int(tx["gas"]) for tx in minting) <= budget
    functions = scan_transactions(chain, first, [chain.operator], []).function
    assert functions.count("mintChunk") == 2
    assert functions.count("seal") == 1
    with pytest.raises(TransactionRevertedError, match="MintingClosed"):
        chain.transact(token, "mintChunk", [[members[0]], [1]], gas=200_000)
    for key in member_keys[:10]:
        dao.delegate_by_sig(dao.sign_delegation(key))
    proposal = dao.treasury_payment(members[0], MicroEur(1), "x", "Chunked votes")
    dao.propose(proposal)
    proposal_id = dao.proposal_id(proposal)
    vote(dao, proposal_id, dict.fromkeys(member_keys[:10], Support.FOR))
    assert dao.proposal_votes(proposal_id).for_ == sum(votes[:10])
    assert dao.state(proposal_id) == ProposalState.SUCCEEDED


def test_no_role_escalates(chain: Chain, community: tuple[CommunityDao, list[bytes]]) -> None:
    dao, member_keys = community
    operator, governor = chain.operator, dao.addresses["CommunityGovernor"]
    timelock = dao.contract("CommunityTimelock")
    treasury = dao.contract("Treasury")
    assert chain.call(treasury, "owner") == timelock.address
    for role in ("DEFAULT_ADMIN_ROLE", "PROPOSER_ROLE", "CANCELLER_ROLE", "EXECUTOR_ROLE"):
        assert not dao.has_role("CommunityTimelock", role, operator), role
    assert dao.has_role("CommunityTimelock", "PROPOSER_ROLE", governor)
    assert dao.has_role("CommunityTimelock", "CANCELLER_ROLE", governor)
    assert dao.has_role("CommunityTimelock", "EXECUTOR_ROLE", "0x" + "00" * 20)  # anyone
    assert dao.has_role("CommunityTimelock", "DEFAULT_ADMIN_ROLE", timelock.address)
    before = dao.treasury_balance()
    pay: list[object] = [address(member_keys[0]), 1, "theft"]
    with pytest.raises(TransactionRevertedError, match="OwnableUnauthorizedAccount"):
        chain.transact(treasury, "pay", pay, gas=100_000)
    with pytest.raises(TransactionRevertedError, match="OwnableUnauthorizedAccount"):
        chain.transact(treasury, "pay", pay, gas=100_000, key=_funded(chain, member_keys[0]))
    proposal = dao.treasury_payment(address(member_keys[0]), MicroEur(1), "theft", "Theft")
    schedule: list[object] = [
        proposal.targets[0],
        0,
        proposal.calldatas[0],
        b"\0" * 32,
        b"\0" * 32,
        3600,
    ]
    with pytest.raises(TransactionRevertedError, match="AccessControlUnauthorizedAccount"):
        chain.transact(timelock, "schedule", schedule, gas=200_000)
    grant = [chain.call(timelock, "PROPOSER_ROLE"), operator]
    with pytest.raises(TransactionRevertedError, match="AccessControlUnauthorizedAccount"):
        chain.transact(timelock, "grantRole", grant, gas=100_000)
    governor_contract = dao.contract("CommunityGovernor")
    with pytest.raises(TransactionRevertedError, match="GovernorOnlyExecutor"):
        chain.transact(governor_contract, "setVotingPeriod", [1], gas=100_000)
    votes = dao.contract("CommunityVotes")
    assert not any(f["name"] == "mint" for f in votes.abi if f["type"] == "function")
    assert dao.treasury_balance() == before


def _funded(chain: Chain, key: bytes) -> bytes:
    """``key``, its account given ether for a few transactions of its own."""
    chain.send_ether(address(key), 10**17)
    return key


@pytest.fixture
def asset(chain: Chain, request: pytest.FixtureRequest) -> tuple[AssetShareToken, bytes, str]:
    """A battery's share token: 100 shares at 5 EUR, proceeds to a treasury account; its
    revenue account holds 10,000 EUR and allows the token to pull them."""
    revenue_key, proceeds_key = keys(f"{request.node.name}-asset", 2)
    chain.mint_credits([address(revenue_key)], MicroEur(10_000 * EUR))
    shares = AssetShareToken.deploy(
        chain,
        name="Battery bus 7 shares",
        symbol="BAT7",
        revenue_account=address(revenue_key),
        proceeds_account=address(proceeds_key),
        price_micro_eur_per_share=MicroEur(5 * EUR),
        max_shares=TokenUnits(100),
    )
    grant_allowance(chain, revenue_key, shares.address, MicroEur(10_000 * EUR), fund_gas=True)
    return shares, revenue_key, address(proceeds_key)


def test_credits_move_only_with_the_members_consent(
    chain: Chain, asset: tuple[AssetShareToken, bytes, str]
) -> None:
    shares, _, proceeds = asset
    buyer_keys = keys("buyers", 3)
    buyers = [address(k) for k in buyer_keys]
    chain.mint_credits(buyers, MicroEur(100 * EUR))
    watched = [*buyers, proceeds]
    before = credits(chain, watched)
    credit = chain.contract("EnergyCredit")
    # Nobody pulls a member's credits without its allowance: not the operator, not the token.
    with pytest.raises(TransactionRevertedError, match="ERC20InsufficientAllowance"):
        chain.transact(credit, "transferFrom", [buyers[0], proceeds, 1], gas=100_000)
    with pytest.raises(TransactionRevertedError, match="ERC20InsufficientAllowance"):
        shares.sell([buyers[0]], [TokenUnits(2)])
    cost = shares.cost_micro_eur(TokenUnits(2))
    grant_allowance(chain, buyer_keys[0], shares.address, cost, fund_gas=True)
    grant_allowance(chain, buyer_keys[1], shares.address, cost, fund_gas=True)
    with pytest.raises(TransactionRevertedError, match="ERC20InsufficientAllowance"):
        shares.sell([buyers[0], buyers[1]], [TokenUnits(2), TokenUnits(3)])  # all or nothing
    assert credits(chain, watched) == before
    assert shares.total_shares() == 0
    shares.sell([buyers[0], buyers[1]], [TokenUnits(2), TokenUnits(2)])
    assert [allowance(chain, b, shares.address) for b in buyers] == [0, 0, 0]
    after = credits(chain, watched)
    assert after == [before[0] - cost, before[1] - cost, before[2], before[3] + 2 * cost]
    assert [shares.shares_of(b) for b in buyers] == [2, 2, 0]
    shares.close_offering()
    with pytest.raises(TransactionRevertedError, match="OfferingIsClosed"):
        shares.mint([chain.operator], [TokenUnits(1)])


def test_distribution_is_pro_rata_and_follows_a_transfer(
    chain: Chain, asset: tuple[AssetShareToken, bytes, str]
) -> None:
    shares, revenue_key, _ = asset
    holder_keys = keys("holders", 4)
    holders = [address(k) for k in holder_keys]
    amounts = [TokenUnits(s) for s in (3, 5, 11, 0)]
    shares.mint(holders[:3], amounts[:3])
    with pytest.raises(TransactionRevertedError, match=r"SharesCapExceeded\(82, 81\)"):
        shares.mint([holders[3]], [TokenUnits(82)])
    revenue = address(revenue_key)
    watched = [*holders, revenue]
    total = sum(credits(chain, watched))
    epoch_1 = MicroEur(1_000_003)
    receipt = shares.distribute(1, epoch_1)
    paid = shares.payouts(receipt)
    expected = pro_rata(epoch_1, amounts)
    assert [paid.get(h, 0) for h in holders] == expected
    for got, held in zip(expected, amounts, strict=True):
        assert 0 <= epoch_1 * held / 19 - got < 1  # within one base unit of exact
    remainder = epoch_1 - sum(expected)
    assert 0 <= remainder < 3
    assert shares.distribution(1) == (True, sum(expected))
    assert chain.balance_of(revenue) == 10_000 * EUR - sum(expected)  # remainder stays
    with pytest.raises(TransactionRevertedError, match=r"AlreadyDistributed\(1\)"):
        shares.distribute(1, epoch_1)
    # Mid-run: holder 0 sells all its shares to holder 3, holder 1 some of its.
    shares.transfer_shares(holder_keys[0], holders[3], TokenUnits(3), fund_gas=True)
    shares.transfer_shares(holder_keys[1], holders[3], TokenUnits(1), fund_gas=True)
    assert sorted(shares.holders()) == sorted(holders[1:])
    epoch_2 = MicroEur(7 * EUR)
    paid_2 = shares.payouts(shares.distribute(2, epoch_2))
    now = [TokenUnits(s) for s in (0, 4, 11, 4)]
    assert [paid_2.get(h, 0) for h in holders] == pro_rata(epoch_2, now)
    assert holders[0] not in paid_2
    assert paid_2[holders[3]] == epoch_2 * 4 // 19
    assert sum(credits(chain, watched)) == total  # every micro-euro conserved


def test_distribution_in_chunks_pays_what_one_transaction_pays(
    chain: Chain, asset: tuple[AssetShareToken, bytes, str]
) -> None:
    shares, revenue_key, _ = asset
    holder_keys = keys("chunk-holders", 3)
    holders = [address(k) for k in holder_keys]
    amounts = [TokenUnits(s) for s in (3, 5, 11)]
    shares.mint(holders, amounts)
    revenue = address(revenue_key)
    watched = [*holders, revenue]
    total = sum(credits(chain, watched))
    epoch = MicroEur(1_000_003)
    # by hand: one holder a chunk; balances are frozen while the distribution is open
    first = shares.chain.transact(
        shares.contract, "distributeRevenueChunk", [1, int(epoch), 1], gas=400_000
    )
    with pytest.raises(TransactionRevertedError, match="DistributionOpen"):
        shares.transfer_shares(holder_keys[0], holders[1], TokenUnits(1), fund_gas=True)
    with pytest.raises(TransactionRevertedError, match="NotTheOpenDistribution"):
        shares.chain.transact(
            shares.contract, "distributeRevenueChunk", [2, int(epoch), 1], gas=400_000
        )
    rest = [
        shares.chain.transact(
            shares.contract, "distributeRevenueChunk", [1, int(epoch), 1], gas=400_000
        )
        for _ in range(2)
    ]
    paid = {h: v for r in (first, *rest) for h, v in shares.payouts(r).items()}
    assert [paid[h] for h in holders] == pro_rata(epoch, amounts)
    assert shares.distribution(1) == (True, sum(paid.values()))
    # the budgeted path, 8 holders: 2 a chunk, then one transaction when it fits
    more = [address(k) for k in keys("chunk-more", 5)]
    shares.mint(more, [TokenUnits(1)] * 5)
    receipts = shares.distribute_within(2, epoch, 250_000 + 45_000 * 2)
    assert len(receipts) == 4
    paid = {h: v for r in receipts for h, v in shares.payouts(r).items()}
    everyone = [*holders, *more]
    assert [paid[h] for h in everyone] == pro_rata(epoch, [*amounts, *[TokenUnits(1)] * 5])
    watched += more
    assert len(shares.distribute_within(3, epoch, 30_000_000)) == 1
    shares.transfer_shares(holder_keys[0], holders[1], TokenUnits(1), fund_gas=True)  # open again
    assert sum(credits(chain, watched)) == total  # every micro-euro conserved


def test_gas_per_operation(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    member_keys = keys("gas", 40)
    members = [address(k) for k in member_keys]
    first_block = chain.block_number() + 1
    settings = DaoSettings(voting_delay_blocks=1, voting_period_blocks=40, timelock_delay_s=60)
    dao = CommunityDao.deploy(chain, members, [TokenUnits(10)] * 40, settings)
    gas: dict[str, int] = {}
    first = dao.delegate_by_sig(dao.sign_delegation(member_keys[0]))
    gas["delegate by sig (each)"] = first["gasUsed"]
    for key in member_keys[1:]:
        dao.delegate_by_sig(dao.sign_delegation(key))
    chain.mint_credits([dao.addresses["Treasury"]], MicroEur(10 * EUR))
    proposal = dao.treasury_payment(members[0], MicroEur(EUR), "gas", "Measure gas")
    gas["propose (1 payment)"] = dao.propose(proposal)["gasUsed"]
    proposal_id = dao.proposal_id(proposal)
    dao.advance_to_voting(proposal_id)
    votes = [
        dao.cast_vote_by_sig(dao.sign_ballot(k, proposal_id, Support.FOR))["gasUsed"]
        for k in member_keys[:10]
    ]
    gas["vote by sig (first)"], gas["vote by sig (later)"] = votes[0], max(votes[1:])
    dao.advance_past_voting(proposal_id)
    gas["queue"] = dao.queue(proposal)["gasUsed"]
    dao.advance_past_timelock(proposal_id)
    gas["execute (treasury pays)"] = dao.execute(proposal)["gasUsed"]
    revenue_key = keys("gas-revenue", 1)[0]
    chain.mint_credits([address(revenue_key)], MicroEur(1_000 * EUR))
    for n in (1, 10, 40):
        shares = AssetShareToken.deploy(
            chain,
            name=f"gas {n}",
            symbol="GAS",
            revenue_account=address(revenue_key),
            proceeds_account=chain.operator,
            price_micro_eur_per_share=MicroEur(EUR),
            max_shares=TokenUnits(1_000),
        )
        shares.mint(members[:n], [TokenUnits(1 + i) for i in range(n)])
        grant_allowance(chain, revenue_key, shares.address, MicroEur(100 * EUR), fund_gas=True)
        gas[f"distribute to {n} holders"] = shares.distribute(1, MicroEur(10 * EUR))["gasUsed"]
    per_holder = (gas["distribute to 40 holders"] - gas["distribute to 10 holders"]) / 30
    with capsys.disabled():
        print("\nEconomy gas per operation (eth-tester; the operator sends and pays):")
        for name, used in gas.items():
            print(f"  {name:<28} {used:>9,}")
        print(f"  {'distribute, per holder':<28} {per_holder:>9,.0f}")
    assert per_holder < 40_000
    # The transactions table names every economy transaction's kind.
    contracts = [*dao.addresses.values(), shares.address, chain.contract("EnergyCredit").address]
    scanned = scan_transactions(chain, first_block, [chain.operator], contracts)
    kinds = set(scanned.kind)
    assert {"deploy", "delegate", "propose", "vote", "queue", "execute", "payout"} <= kinds
    assert {"mint", "consent"} <= kinds
    functions = {f for f, k in zip(scanned.function, scanned.kind, strict=True) if k == "other"}
    assert functions <= {"0x"}  # only the operator's ether for a member's own approve
    assert gas["vote by sig (later)"] < gas["vote by sig (first)"] < 150_000


@pytest.mark.anvil
def test_on_anvil(capsys: pytest.CaptureFixture[str]) -> None:
    """A proposal's whole life on a real node: blocks mined, time advanced, treasury pays."""
    binary = anvil_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    with AnvilNode(binary) as node:
        chain = Chain.connect(node.url)
        chain.deploy()
        member_keys = keys("anvil", 3)
        dao = make_dao(chain, member_keys, [50, 30, 20])
        chain.mint_credits([dao.addresses["Treasury"]], MicroEur(100 * EUR))
        payee = Web3.to_checksum_address("0x" + "ab" * 20)
        proposal = dao.treasury_payment(payee, MicroEur(42 * EUR), "anvil", "On anvil")
        dao.propose(proposal)
        proposal_id = dao.proposal_id(proposal)
        vote(dao, proposal_id, {member_keys[0]: Support.FOR, member_keys[1]: Support.AGAINST})
        dao.queue(proposal)
        started_s = chain.block_timestamp()
        dao.advance_past_timelock(proposal_id)
        assert chain.block_timestamp() >= started_s + SETTINGS.timelock_delay_s
        receipt = dao.execute(proposal)
        assert dao.state(proposal_id) == ProposalState.EXECUTED
        assert chain.balance_of(payee) == 42 * EUR
        assert dao.treasury_balance() == 58 * EUR
        with capsys.disabled():
            print(f"\nanvil: execute {receipt['gasUsed']:,} gas")
