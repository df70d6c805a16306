// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title CommunityTimelock: OpenZeppelin's TimelockController, unchanged.
/// @notice Owns the community's Treasury. After setup its only proposer (and canceller) is the
/// CommunityGovernor, its executor role is open (anyone may execute a ready operation), and
/// it is its own only admin: changing a role or the delay takes a proposal that passes.
/// @dev Defined here only so that the build emits its artifact.
contract CommunityTimelock is TimelockController {
    /// @param minDelay seconds between queueing and executing an operation.
    /// @param proposers accounts that may schedule and cancel.
    /// @param executors accounts that may execute; address(0) = anyone.
    /// @param admin an optional setup admin (address(0) = none), to renounce after setup.
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
