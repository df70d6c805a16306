"""The roles of gridtwin's settlement contracts: who administers them, and the hand-over.

The operator account deploys the contracts and, during setup only, holds DEFAULT_ADMIN of both
and MINTER of EnergyCredit (it credits the members: the on-ramp, within the token's cap).
:meth:`Roles.hand_over` then gives DEFAULT_ADMIN to a timelock (the DAO's CommunityTimelock,
whose only proposer is the governor; or, without a DAO, one of the chain's own from
:meth:`Roles.deploy_admin_timelock`, with no proposer: roles frozen) and the operator renounces
DEFAULT_ADMIN and MINTER: from then on it holds SETTLER (commit batches) and PAUSER (stop
commits) of Settlement and nothing else, so it can neither mint nor grant itself a role.

:class:`Roles` is a part of :class:`~settlement.chain.connection.Chain`, which provides
:meth:`~settlement.chain.connection.Chain.contract`.
"""

from __future__ import annotations

from collections.abc import Sequence

from web3 import Web3
from web3.contract import Contract

from settlement.chain.artifacts import load_artifact
from settlement.chain.errors import ChainError
from settlement.chain.node import Node

DEPLOY_GAS = 4_000_000
ROLE_GAS = 100_000

#: The delay of the chain's own admin timelock (when the run has no DAO) [s]: two days.
ADMIN_DELAY_S = 2 * 86_400
ZERO_ADDRESS = "0x" + "00" * 20


class Roles(Node):
    """The roles of EnergyCredit and Settlement: the admin timelock and the hand-over."""

    def contract(self, name: str) -> Contract:
        """The web3 contract object of ``name`` (provided by the chain)."""
        raise NotImplementedError

    def deploy_admin_timelock(
        self, delay_s: int = ADMIN_DELAY_S, proposers: Sequence[str] = ()
    ) -> str:
        """Deploy a CommunityTimelock to be the admin of a chain that has no DAO; its address.

        It is its own admin, anyone may execute, and only ``proposers`` may schedule (and
        cancel), each change public for ``delay_s`` [s] before it can happen. The default, no
        proposer, freezes the roles: nobody, the operator least, can grant a role or mint again
        (a community that wants to govern them runs the economy layer: its DAO's timelock is the
        admin then). The operator is never a proposer here: it would escalate, if slowly.
        """
        holders = [Web3.to_checksum_address(p) for p in proposers]
        if self.operator in holders:
            raise ChainError("the operator cannot propose to the timelock that administers it")
        args = (int(delay_s), holders, [ZERO_ADDRESS], ZERO_ADDRESS)
        timelock = self.deploy_contract(load_artifact("CommunityTimelock"), *args, gas=DEPLOY_GAS)
        return str(timelock.address)

    def hand_over(self, admin: str) -> None:
        """End the setup: ``admin`` (a timelock) gets DEFAULT_ADMIN of EnergyCredit and
        Settlement; the operator renounces DEFAULT_ADMIN and MINTER and keeps only SETTLER and
        PAUSER of Settlement."""
        admin = Web3.to_checksum_address(admin)
        credit, settlement = self.contract("EnergyCredit"), self.contract("Settlement")
        self.hand_over_admin([credit, settlement], admin)
        minter = self.call(credit, "MINTER_ROLE")
        self.transact(credit, "renounceRole", [minter, self.operator], gas=ROLE_GAS)

    def hand_over_admin(self, contracts: Sequence[Contract], admin: str) -> None:
        """Grant DEFAULT_ADMIN_ROLE of each AccessControl contract to ``admin`` and renounce the
        operator's."""
        for contract in contracts:
            role = self.call(contract, "DEFAULT_ADMIN_ROLE")
            self.transact(contract, "grantRole", [role, admin], gas=ROLE_GAS)
            self.transact(contract, "renounceRole", [role, self.operator], gas=ROLE_GAS)

    def has_role(self, name: str, role: str, account: str) -> bool:
        """Whether ``account`` holds ``role`` (e.g. "MINTER_ROLE") of contract ``name``."""
        contract = self.contract(name)
        role_id = self.call(contract, role)
        return bool(self.call(contract, "hasRole", role_id, Web3.to_checksum_address(account)))
