"""The community's DAO on a :class:`~settlement.chain.connection.Chain`: votes, governor,
timelock and treasury.

Four contracts (``settlement/chain/contracts/src``), all OpenZeppelin compositions:

- ``CommunityVotes``: ERC20 + ERC20Permit + ERC20Votes, minted once to the members at deploy
  (in its constructor, or, for a community too large for one transaction, in chunks by the
  operator, who then seals it: :mod:`settlement.economy.votes`); no minter once sealed, no
  owner. Clock: block numbers.
- ``CommunityTimelock``: a TimelockController; the governor is its only proposer and
  canceller, anyone may execute, it is its own only admin once :meth:`CommunityDao.deploy`
  has renounced the operator's setup role.
- ``CommunityGovernor``: Governor + Settings + CountingSimple + Votes + QuorumFraction +
  TimelockControl; voting delay and period in blocks.
- ``Treasury``: holds EnergyCredit; only its owner, the timelock, can ``pay``.

A proposal's life: :meth:`~CommunityDao.propose` (the operator sends, pays the gas), members'
signed ballots (:meth:`~CommunityDao.sign_ballot`, :meth:`~CommunityDao.cast_vote_by_sig`),
:meth:`~CommunityDao.advance_past_voting` on a dev chain, :meth:`~CommunityDao.queue`,
:meth:`~CommunityDao.advance_past_timelock`, :meth:`~CommunityDao.execute`. Amounts are
integers: votes [base units], money [micro-euro].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from settlement.chain.artifacts import load_artifact
from settlement.chain.connection import Chain
from settlement.chain.errors import ChainError
from settlement.chain.merkle import keccak256
from settlement.chain.roles import ZERO_ADDRESS
from settlement.economy.ballots import Ballot, Delegation, Support, sign_ballot, sign_delegation
from settlement.economy.votes import deploy_votes
from settlement.units import MicroEur, TokenUnits

DAO_CONTRACTS = ("CommunityVotes", "CommunityTimelock", "CommunityGovernor", "Treasury")
"""The contracts :meth:`CommunityDao.deploy` deploys, in order."""

_DEPLOY_GAS = 6_000_000
# Gas bounds, measured on eth-tester with room to spare (tests/test_economy_chain.py prints them).
_ROLE_GAS = 100_000
_DELEGATE_GAS = 180_000
_VOTE_GAS = 160_000
_PROPOSE_GAS = (150_000, 30_000, 40)  # base, per action, per byte of description and calldata
_QUEUE_GAS = (150_000, 60_000)  # base, per action
_EXECUTE_GAS = (120_000, 100_000)  # base, per action


class ProposalState(IntEnum):
    """``IGovernor.ProposalState``."""

    PENDING = 0
    ACTIVE = 1
    CANCELED = 2
    DEFEATED = 3
    SUCCEEDED = 4
    QUEUED = 5
    EXPIRED = 6
    EXECUTED = 7


class ProposalVotes(NamedTuple):
    """Votes cast on a proposal [vote base units]."""

    against: int
    for_: int
    abstain: int


class TreasuryPayout(NamedTuple):
    """One ``Treasury.Paid`` event."""

    to: str
    amount_micro_eur: MicroEur
    purpose: str


@dataclass(frozen=True)
class DaoSettings:
    """How the governor decides.

    Attributes
    ----------
    voting_delay_blocks : int
        Blocks from a proposal to its snapshot of votes (voting opens after it).
    voting_period_blocks : int
        Blocks voting stays open.
    proposal_threshold_votes : int
        Votes a proposer needs; 0 lets the operator (who holds none) propose.
    quorum_percent : int
        For + abstain votes needed, in percent of all votes at the snapshot.
    timelock_delay_s : int
        Time from queueing to execution [s]: members' last chance to react.
    """

    voting_delay_blocks: int = 1
    voting_period_blocks: int = 50
    proposal_threshold_votes: int = 0
    quorum_percent: int = 20
    timelock_delay_s: int = 86_400


@dataclass(frozen=True)
class Proposal:
    """What a proposal does (calls the timelock makes) and says; its id follows from these."""

    targets: tuple[str, ...]
    values_wei: tuple[int, ...]
    calldatas: tuple[bytes, ...]
    description: str

    def __post_init__(self) -> None:
        if not len(self.targets) == len(self.values_wei) == len(self.calldatas) > 0:
            raise ValueError("a proposal needs as many targets, values and calldatas, at least 1")

    @property
    def description_hash(self) -> bytes:
        """keccak256 of the description (how queue and execute name it)."""
        return keccak256(self.description.encode())

    def args(self, *, described: bool) -> list[Any]:
        """Arguments of ``propose`` (``described``: with the text) or of ``queue``/``execute``."""
        targets = [Web3.to_checksum_address(t) for t in self.targets]
        last = self.description if described else self.description_hash
        return [
            targets,
            [int(v) for v in self.values_wei],
            [bytes(c) for c in self.calldatas],
            last,
        ]


class CommunityDao:
    """CommunityVotes, CommunityTimelock, CommunityGovernor and Treasury on ``chain``.

    Build one with :meth:`deploy`, or attach with ``addresses`` ({name: address} of
    :data:`DAO_CONTRACTS`). The operator sends every transaction and pays its gas; after
    deployment it holds no role in any of the four contracts.
    """

    def __init__(self, chain: Chain, addresses: Mapping[str, str]) -> None:
        if missing := set(DAO_CONTRACTS) - set(addresses):
            raise ChainError(f"addresses lack {sorted(missing)}")
        self.chain = chain
        self._contracts: dict[str, Contract] = {
            name: chain.attach(load_artifact(name), addresses[name]) for name in DAO_CONTRACTS
        }

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        members: Sequence[str],
        votes: Sequence[TokenUnits],
        settings: DaoSettings = DaoSettings(),
        *,
        treasury_setup: bool = False,
        gas_budget: int | None = None,
    ) -> CommunityDao:
        """Deploy the DAO: mint ``votes[i]`` to ``members[i]``, wire the roles, renounce setup.

        No transaction is given more than ``gas_budget`` [gas] (default: 95 % of the block gas
        limit, as :meth:`settlement.chain.settler.Settler.gas_budget`): CommunityVotes is
        minted in its constructor when that fits, else in chunks and sealed
        (:func:`~settlement.economy.votes.deploy_votes`), all before the governor exists, so
        no proposal can see a partial supply.

        The timelock is deployed with the operator as setup admin, grants the governor its
        PROPOSER and CANCELLER roles, and the operator renounces the admin role in the same
        setup: afterwards only a passed proposal changes a role, the delay or the treasury.
        With ``treasury_setup`` the operator owns the Treasury until
        :meth:`hand_over_treasury` (before the run starts), to name its buyback once
        (``Treasury.setBuyback``, :mod:`settlement.depin.buyback`).
        """
        if len(members) != len(votes):
            raise ValueError("members and votes differ in length")
        art = {name: load_artifact(name) for name in DAO_CONTRACTS}
        holders = [Web3.to_checksum_address(m) for m in members]
        amounts = [int(v) for v in votes]
        budget = chain.block_gas_limit() * 19 // 20 if gas_budget is None else gas_budget
        token = deploy_votes(chain, art["CommunityVotes"], holders, amounts, budget)
        timelock_args: tuple[Any, ...] = (
            settings.timelock_delay_s,
            [],
            [ZERO_ADDRESS],
            chain.operator,
        )
        timelock = chain.deploy_contract(art["CommunityTimelock"], *timelock_args, gas=_DEPLOY_GAS)
        governor_args = (
            token.address,
            timelock.address,
            int(settings.voting_delay_blocks),
            int(settings.voting_period_blocks),
            int(settings.proposal_threshold_votes),
            int(settings.quorum_percent),
        )
        governor = chain.deploy_contract(art["CommunityGovernor"], *governor_args, gas=_DEPLOY_GAS)
        credit = chain.contract("EnergyCredit").address
        owner = chain.operator if treasury_setup else timelock.address
        treasury = chain.deploy_contract(art["Treasury"], credit, owner, gas=_DEPLOY_GAS)
        for role in ("PROPOSER_ROLE", "CANCELLER_ROLE"):
            args = [chain.call(timelock, role), governor.address]
            chain.transact(timelock, "grantRole", args, gas=_ROLE_GAS)
        admin = chain.call(timelock, "DEFAULT_ADMIN_ROLE")
        chain.transact(timelock, "renounceRole", [admin, chain.operator], gas=_ROLE_GAS)
        contracts = (token, timelock, governor, treasury)
        return cls(
            chain, {n: str(c.address) for n, c in zip(DAO_CONTRACTS, contracts, strict=True)}
        )

    def hand_over_treasury(self) -> None:
        """The operator hands the Treasury to the timelock (after ``treasury_setup``)."""
        timelock = self.contract("CommunityTimelock").address
        treasury = self.contract("Treasury")
        if str(self.chain.call(treasury, "owner")) != str(timelock):
            self.chain.transact(treasury, "transferOwnership", [timelock], gas=_ROLE_GAS)

    @property
    def addresses(self) -> dict[str, str]:
        """{name: address} of the four contracts (what a run's manifest records)."""
        return {name: str(c.address) for name, c in self._contracts.items()}

    def contract(self, name: str) -> Contract:
        """The web3 contract object of ``name`` (one of :data:`DAO_CONTRACTS`)."""
        return self._contracts[name]

    # -- votes -------------------------------------------------------------------------------

    def sign_delegation(
        self, member_key: bytes | str, delegatee: str | None = None, *, valid_s: int = 3600
    ) -> Delegation:
        """The member's signed delegation to ``delegatee`` (default: itself), valid ``valid_s``
        [s] of chain time. In a real community the member's wallet signs this."""
        member = Account.from_key(member_key).address
        token = self.contract("CommunityVotes")
        return sign_delegation(
            member_key,
            chain_id=self.chain.chain_id,
            votes_token=str(token.address),
            delegatee=Web3.to_checksum_address(delegatee or member),
            nonce=int(self.chain.call(token, "nonces", member)),
            expiry_s=self.chain.block_timestamp() + valid_s,
        )

    def delegate_by_sig(self, delegation: Delegation) -> TxReceipt:
        """Submit a member's signed delegation; the operator pays the gas."""
        d = delegation
        args = [d.delegatee, d.nonce, d.expiry_s, d.v, d.r, d.s]
        return self._transact("CommunityVotes", "delegateBySig", args, gas=_DELEGATE_GAS)

    def votes_of(self, account: str) -> TokenUnits:
        """Votes delegated to ``account`` now [base units]."""
        return TokenUnits(int(self._call("CommunityVotes", "getVotes", _address(account))))

    def balance_of_votes(self, account: str) -> TokenUnits:
        """CommunityVotes held by ``account`` (delegated or not) [base units]."""
        return TokenUnits(int(self._call("CommunityVotes", "balanceOf", _address(account))))

    def delegate_of(self, account: str) -> str:
        """Whom ``account`` delegates to (the zero address: nobody, its votes count nowhere)."""
        return str(self._call("CommunityVotes", "delegates", _address(account)))

    # -- proposals ---------------------------------------------------------------------------

    def treasury_payment(
        self, to: str, amount_micro_eur: MicroEur, purpose: str, description: str
    ) -> Proposal:
        """A proposal that the treasury pay ``amount_micro_eur`` to ``to`` for ``purpose``."""
        treasury = self.contract("Treasury")
        args = [_address(to), int(amount_micro_eur), purpose]
        calldata = bytes.fromhex(treasury.encode_abi("pay", args=args)[2:])
        return Proposal((str(treasury.address),), (0,), (calldata,), description)

    def proposal_id(self, proposal: Proposal) -> int:
        """The governor's id of ``proposal`` (``hashProposal``)."""
        return int(self._call("CommunityGovernor", "hashProposal", *proposal.args(described=False)))

    def propose(self, proposal: Proposal) -> TxReceipt:
        """Send ``propose`` (the operator; threshold 0); :meth:`proposal_id` names it."""
        size = len(proposal.description.encode()) + sum(map(len, proposal.calldatas))
        base, per_action, per_byte = _PROPOSE_GAS
        gas = base + per_action * len(proposal.targets) + per_byte * size
        return self._transact(
            "CommunityGovernor", "propose", proposal.args(described=True), gas=gas
        )

    def sign_ballot(self, member_key: bytes | str, proposal_id: int, support: Support) -> Ballot:
        """The member's signed vote (its wallet would sign this in a real community)."""
        governor = self.contract("CommunityGovernor")
        voter = Account.from_key(member_key).address
        return sign_ballot(
            member_key,
            chain_id=self.chain.chain_id,
            governor=str(governor.address),
            proposal_id=int(proposal_id),
            support=support,
            nonce=int(self.chain.call(governor, "nonces", voter)),
        )

    def cast_vote_by_sig(self, ballot: Ballot) -> TxReceipt:
        """Submit a member's signed ballot; the operator pays the gas. Its weight is the
        member's delegated votes at the proposal's snapshot."""
        args = [ballot.proposal_id, int(ballot.support), ballot.voter, ballot.signature]
        return self._transact("CommunityGovernor", "castVoteBySig", args, gas=_VOTE_GAS)

    def queue(self, proposal: Proposal) -> TxReceipt:
        """Queue a succeeded proposal in the timelock (anyone may; the operator sends)."""
        gas = _QUEUE_GAS[0] + _QUEUE_GAS[1] * len(proposal.targets)
        return self._transact("CommunityGovernor", "queue", proposal.args(described=False), gas=gas)

    def execute(self, proposal: Proposal) -> TxReceipt:
        """Execute a queued proposal whose delay has passed; reverts for any other state."""
        gas = _EXECUTE_GAS[0] + _EXECUTE_GAS[1] * len(proposal.targets)
        return self._transact(
            "CommunityGovernor", "execute", proposal.args(described=False), gas=gas
        )

    def state(self, proposal_id: int) -> ProposalState:
        """Where ``proposal_id`` is in its life."""
        return ProposalState(int(self._call("CommunityGovernor", "state", int(proposal_id))))

    def proposal_votes(self, proposal_id: int) -> ProposalVotes:
        """Votes cast on ``proposal_id`` so far."""
        return ProposalVotes(
            *map(int, self._call("CommunityGovernor", "proposalVotes", proposal_id))
        )

    def has_voted(self, proposal_id: int, account: str) -> bool:
        """Whether ``account`` voted on ``proposal_id``."""
        return bool(self._call("CommunityGovernor", "hasVoted", proposal_id, _address(account)))

    def quorum_votes(self, proposal_id: int) -> int:
        """Votes (for + abstain) ``proposal_id`` needs [base units]."""
        snapshot = self._call("CommunityGovernor", "proposalSnapshot", proposal_id)
        return int(self._call("CommunityGovernor", "quorum", snapshot))

    def advance_to_voting(self, proposal_id: int) -> int:
        """Mine blocks until ``proposal_id``'s voting is open (a dev chain); the head."""
        snapshot = int(self._call("CommunityGovernor", "proposalSnapshot", proposal_id))
        return self.chain.mine_blocks(snapshot + 1 - self.chain.block_number())

    def advance_past_voting(self, proposal_id: int) -> int:
        """Mine blocks until ``proposal_id``'s voting has closed (a dev chain); the head."""
        deadline = int(self._call("CommunityGovernor", "proposalDeadline", proposal_id))
        return self.chain.mine_blocks(deadline + 1 - self.chain.block_number())

    def advance_past_timelock(self, proposal_id: int) -> int:
        """Move chain time to the queued ``proposal_id``'s ETA (a dev chain); the timestamp."""
        eta_s = int(self._call("CommunityGovernor", "proposalEta", proposal_id))
        if eta_s == 0:
            raise ChainError(f"proposal {proposal_id} is not queued")
        return self.chain.advance_time(max(0, eta_s - self.chain.block_timestamp()))

    # -- treasury and roles ------------------------------------------------------------------

    def treasury_balance(self) -> MicroEur:
        """The treasury's EnergyCredit [micro-euro], read on chain."""
        return MicroEur(int(self._call("Treasury", "balance")))

    def treasury_payouts(self, receipt: TxReceipt) -> list[TreasuryPayout]:
        """The ``Paid`` events of a transaction (an :meth:`execute`), in order."""
        events = self.contract("Treasury").events.Paid().process_receipt(receipt, errors=DISCARD)
        return [
            TreasuryPayout(str(e.args.to), MicroEur(int(e.args.amount)), str(e.args.purpose))
            for e in events
        ]

    def has_role(self, name: str, role: str, account: str) -> bool:
        """Whether ``account`` holds ``role`` (e.g. "PROPOSER_ROLE") of the timelock ``name``."""
        contract = self.contract(name)
        return bool(self.chain.call(contract, "hasRole", self.chain.call(contract, role), account))

    def _call(self, name: str, function: str, *args: Any) -> Any:
        return self.chain.call(self._contracts[name], function, *args)

    def _transact(self, name: str, function: str, args: list[Any], *, gas: int) -> TxReceipt:
        return self.chain.transact(self._contracts[name], function, args, gas=gas)


def _address(account: str) -> str:
    return str(Web3.to_checksum_address(account))
