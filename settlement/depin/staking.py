"""Device staking and slashing on a :class:`~settlement.chain.connection.Chain`.

``DeviceStaking`` (``settlement/chain/contracts/src/DeviceStaking.sol``) sits beside the DePIN
contracts of :class:`~settlement.depin.client.DepinContracts`:

- **Genesis.** Owners' first RewardTokens come from the token economy's genesis allocation,
  minted once by ``allocateGenesis``, within the cap Rewards' admin opened it with
  (:meth:`DeviceStaking.open_genesis`: ``Rewards.openGenesis`` makes DeviceStaking the
  token's one-time genesis minter; it mints nothing else; ``GenesisAllocated`` records it).
  The token's supply is then always ``genesis + rewards paid - burned``.
- **Consent.** A stake moves only with its owner's consent: the owner signs an ERC-2612
  ``Permit`` of exactly the amount to exactly the staking contract with its own key
  (:func:`settlement.chain.erc2612.sign_permit`), and the operator submits
  ``stakeWithPermit``; no ether, no allowance the operator could reuse. Unbonding and
  withdrawing are the owner's own transactions.
- **Staked.** A device is staked while its active stake covers ``min_stake_per_kw`` per kW of
  its registered capacity; the run rewards staked devices only. Unbonding takes
  ``unbonding_delay_s`` and unbonding stake stays slashable.
- **Slashing.** The verifier submits :class:`Evidence` (:func:`evidence_of`): the device's own
  signed upload, one reading with its Merkle proof against the signed root, and a reason code
  (:data:`REASONS`). The contract recovers the upload's EIP-712 signature to the device's
  registered signer and verifies the proof; it checks the ``nameplate`` and ``negative``
  reasons itself from the registry. One signed upload slashes at most once.

Amounts are integers [token base units].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from settlement.chain.artifacts import load_artifact
from settlement.chain.connection import Chain
from settlement.chain.erc2612 import sign_permit
from settlement.chain.merkle import merkle_tree, tree_proof
from settlement.depin.client import DepinContracts
from settlement.depin.leaves import reading_leaves
from settlement.depin.uploads import Upload

#: Reason codes of ``DeviceStaking.slash``, by the plausibility check that proves them.
REASONS = {"nameplate": 1, "clear_sky": 2, "negative": 3, "state_estimation": 4}
#: Reasons the contract checks itself (from the registry's capacity and kind).
CHECKED_ON_CHAIN = frozenset({"nameplate", "negative"})
_BPS = 10_000
_DEPLOY_GAS = 6_000_000
_STAKE_GAS = 260_000
_SLASH_GAS = 300_000
_SIMPLE_GAS = 120_000
_GENESIS_GAS = (160_000, 40_000)


@dataclass(frozen=True)
class StakingSettings:
    """What ``DeviceStaking`` is deployed with.

    Attributes
    ----------
    min_stake_per_kw : int
        Minimum active stake per kW of registered capacity [base units / kW].
    unbonding_delay_s : int
        Delay from ``requestUnbond`` to ``withdraw`` [s].
    slash_bps : int
        Share of a device's stake one slash takes [basis points].
    reporter_bps : int
        Share of a slash paid to the reporter [basis points].
    slash_sink : str or None
        Receiver of the rest of a slash (the treasury); None burns it.
    interval_s : int
        Reading interval [s] (the on-chain nameplate bound).
    nameplate_tolerance_bps : int
        Tolerance of the on-chain nameplate bound [basis points].
    """

    min_stake_per_kw: int
    unbonding_delay_s: int
    slash_bps: int
    reporter_bps: int = 0
    slash_sink: str | None = None
    interval_s: int = 900
    nameplate_tolerance_bps: int = 200

    def __post_init__(self) -> None:
        for name in ("slash_bps", "reporter_bps", "nameplate_tolerance_bps"):
            if not 0 <= getattr(self, name) <= _BPS:
                raise ValueError(f"{name} must lie in [0, {_BPS}]")
        if self.min_stake_per_kw < 0 or self.unbonding_delay_s < 0 or self.interval_s <= 0:
            raise ValueError("min_stake_per_kw, unbonding_delay_s >= 0 and interval_s > 0")


def min_stake(min_stake_per_kw: int, capacity_w: int) -> int:
    """``DeviceStaking.minStake``: per kW of ``capacity_w``, rounded up [base units]."""
    return (int(min_stake_per_kw) * int(capacity_w) + 999) // 1000


def slash_split(
    held: int, slash_bps: int, reporter_bps: int, *, reporter: bool, sink: bool
) -> tuple[int, int, int, int]:
    """(amount, burned, to sink, to reporter) of one slash of a stake of ``held``, as the
    contract splits it [base units]."""
    amount = int(held) * slash_bps // _BPS
    to_reporter = amount * reporter_bps // _BPS if reporter else 0
    rest = amount - to_reporter
    to_sink = rest if sink else 0
    return amount, rest - to_sink, to_sink, to_reporter


class Evidence(NamedTuple):
    """``DeviceStaking.Evidence``: a signed upload, one reading of it and its proof."""

    device_id: int
    period: int
    nonce: int
    readings_root: bytes
    signature: bytes
    interval: int
    energy_wh: int
    proof: list[bytes]
    reason: int

    def as_args(self) -> tuple[Any, ...]:
        """The ABI tuple."""
        return (
            int(self.device_id),
            int(self.period),
            int(self.nonce),
            bytes(self.readings_root),
            bytes(self.signature),
            int(self.interval),
            int(self.energy_wh),
            [bytes(p) for p in self.proof],
            int(self.reason),
        )


def evidence_of(upload: Upload, index: int, reason: str) -> Evidence:
    """The evidence that reading ``index`` of ``upload`` is fraudulent for ``reason``.

    The proof is rebuilt from the upload's readings (:mod:`settlement.depin.leaves`), so it
    proves the reading under the root the device signed.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}; one of {sorted(REASONS)}")
    leaves = reading_leaves(upload.device_id, upload.intervals, upload.energy_wh)
    proof = tree_proof(merkle_tree(leaves), index)
    return Evidence(
        upload.device_id,
        upload.period,
        upload.nonce,
        upload.readings_root,
        upload.signature,
        int(upload.intervals[index]),
        int(upload.energy_wh[index]),
        proof,
        REASONS[reason],
    )


class StakeRecord(NamedTuple):
    """``DeviceStaking.stakeOf``: staker, active and unbonding stake [base units], unbond time."""

    staker: str
    active: int
    unbonding: int
    unbond_at_s: int


class DeviceStaking:
    """The ``DeviceStaking`` contract of ``depin``'s RewardToken and DeviceRegistry.

    Parameters
    ----------
    depin : DepinContracts
        The DePIN contracts (deployed); their chain's operator deploys and is admin and verifier.
    settings : StakingSettings, optional
        Deploy a new contract with these settings (with ``address`` None).
    address : str, optional
        Attach to a deployed contract instead.
    """

    def __init__(
        self,
        depin: DepinContracts,
        settings: StakingSettings | None = None,
        address: str | None = None,
    ) -> None:
        self.depin = depin
        self.chain: Chain = depin.chain
        artifact = load_artifact("DeviceStaking")
        if address is not None:
            self.contract: Contract = self.chain.attach(artifact, address)
            return
        if settings is None:
            raise ValueError("settings or address required")
        token = depin.contract("RewardToken")
        registry = depin.contract("DeviceRegistry")
        sink = settings.slash_sink or "0x" + "00" * 20
        args = (
            token.address,
            registry.address,
            self.chain.operator,
            int(settings.min_stake_per_kw),
            int(settings.unbonding_delay_s),
            int(settings.slash_bps),
            int(settings.reporter_bps),
            Web3.to_checksum_address(sink),
            int(settings.interval_s),
            int(settings.nameplate_tolerance_bps),
        )
        self.contract = self.chain.deploy_contract(artifact, *args, gas=_DEPLOY_GAS)

    @property
    def address(self) -> str:
        """The contract's address."""
        return str(self.contract.address)

    def manifest(self) -> Mapping[str, str]:
        """What a run's manifest records: {"DeviceStaking": address}."""
        return {"DeviceStaking": self.address}

    def open_genesis(self, cap: int) -> TxReceipt:
        """Make this contract the token's genesis minter, of at most ``cap`` [base units]
        (``Rewards.openGenesis``, by Rewards' admin: the operator before the hand-over)."""
        return self.depin.open_genesis(self.address, cap)

    def hand_over(self, admin: str) -> None:
        """Give DEFAULT_ADMIN (genesis, roles) to ``admin`` (a timelock); the operator
        renounces it and keeps VERIFIER."""
        self.chain.hand_over_admin([self.contract], admin)

    def allocate_genesis(self, recipients: Sequence[str], amounts: Sequence[int]) -> TxReceipt:
        """Mint the genesis allocation, once (DEFAULT_ADMIN_ROLE), within the cap of
        :meth:`open_genesis` [base units]."""
        args = [[Web3.to_checksum_address(a) for a in recipients], [int(a) for a in amounts]]
        base, per = _GENESIS_GAS
        gas = min(base + per * len(recipients), self.depin.block_gas_limit)
        return self._transact("allocateGenesis", args, gas=gas)

    def stake_with_permit(
        self, device_id: int, amount: int, owner_key: bytes | str, *, deadline: int | None = None
    ) -> TxReceipt:
        """Stake ``amount`` on ``device_id`` from its owner, who signs the permit with
        ``owner_key``; the operator submits it."""
        token = self.depin.contract("RewardToken")
        owner = Account.from_key(owner_key).address
        nonce = int(self.chain.call(token, "nonces", owner))
        if deadline is None:
            deadline = self.chain.block_timestamp() + 3_600
        permit = sign_permit(
            owner_key,
            chain_id=self.chain.chain_id,
            token=str(token.address),
            spender=self.address,
            value=amount,
            nonce=nonce,
            deadline=deadline,
        )
        args = [int(device_id), int(amount), permit.deadline, permit.v, permit.r, permit.s]
        return self._transact("stakeWithPermit", args, gas=_STAKE_GAS)

    def request_unbond(self, device_id: int, amount: int, owner_key: bytes | str) -> TxReceipt:
        """The staker's own ``requestUnbond`` (signed and paid by ``owner_key``)."""
        args = [int(device_id), int(amount)]
        return self._transact("requestUnbond", args, gas=_SIMPLE_GAS, key=owner_key)

    def withdraw(self, device_id: int, *, key: bytes | str | None = None) -> TxReceipt:
        """Pay ``device_id``'s unbonded stake back to its staker (anyone may send)."""
        return self._transact("withdraw", [int(device_id)], gas=_SIMPLE_GAS, key=key)

    def slash(
        self,
        evidence: Evidence,
        reporter: str | None = None,
        *,
        sender: str | None = None,
        key: bytes | str | None = None,
    ) -> TxReceipt:
        """Slash on ``evidence`` (VERIFIER_ROLE); ``reporter`` gets its share (None: nobody)."""
        to = Web3.to_checksum_address(reporter or "0x" + "00" * 20)
        args = [evidence.as_args(), to]
        return self._transact("slash", args, gas=_SLASH_GAS, sender=sender, key=key)

    def slashed_event(self, receipt: TxReceipt) -> dict[str, Any]:
        """The ``Slashed`` event's arguments of a slash's receipt."""
        events = self.contract.events.Slashed().process_receipt(receipt, errors=DISCARD)
        return dict(events[0]["args"])

    def stake_of(self, device_id: int) -> StakeRecord:
        """The on-chain stake of ``device_id``."""
        staker, active, unbonding, at = self._call("stakeOf", int(device_id))
        return StakeRecord(str(staker), int(active), int(unbonding), int(at))

    def staked_mask(self, device_ids: Sequence[int]) -> list[bool]:
        """Whether each device is staked (``isStaked``), in one call."""
        if not len(device_ids):
            return []
        return [bool(b) for b in self._call("stakedMask", [int(d) for d in device_ids])]

    def min_stake(self, device_id: int) -> int:
        """The device's minimum active stake [base units]."""
        return int(self._call("minStake", int(device_id)))

    def evidence_used(self, upload_digest: bytes) -> bool:
        """Whether the signed upload with this digest has slashed."""
        return bool(self._call("evidenceUsed", bytes(upload_digest)))

    def total_staked(self) -> int:
        """Active plus unbonding stake of all devices [base units]."""
        return int(self._call("totalStaked"))

    def burned(self) -> int:
        """Tokens burned by slashes [base units]."""
        return int(self._call("burned"))

    def genesis_total(self) -> int:
        """Tokens minted by the genesis allocation [base units]."""
        return int(self._call("genesisTotal"))

    def verifier_role(self) -> bytes:
        """``VERIFIER_ROLE``."""
        return bytes(self._call("VERIFIER_ROLE"))

    def _call(self, function: str, *args: Any) -> Any:
        return self.chain.call(self.contract, function, *args)

    def _transact(
        self,
        function: str,
        args: list[Any],
        *,
        gas: int,
        sender: str | None = None,
        key: bytes | str | None = None,
    ) -> TxReceipt:
        return self.chain.transact(self.contract, function, args, gas=gas, sender=sender, key=key)
