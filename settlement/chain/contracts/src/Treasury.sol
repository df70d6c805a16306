// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Treasury: the energy community's EnergyCredit, spent only by its DAO.
/// @notice Fees reach it as ordinary EnergyCredit transfers (it is a payee of a batch's net
/// payments: ERC-20 `Transfer` events to this address). It pays out only when its owner, the
/// CommunityTimelock, calls {pay}: only a proposal that passed and waited out the timelock
/// delay. Every payout emits {Paid}, so a `treasury` table reconciles with the chain:
/// balance = sum of Transfer-in - sum of Paid.
contract Treasury is Ownable {
    using SafeERC20 for IERC20;

    /// @notice The EnergyCredit token (base unit = one micro-euro).
    IERC20 public immutable credit;

    /// @notice `amount` base units [micro-euro] paid to `to`, for `purpose`.
    event Paid(address indexed to, uint256 amount, string purpose);

    /// @param credit_ the EnergyCredit token.
    /// @param owner_ the CommunityTimelock.
    constructor(IERC20 credit_, address owner_) Ownable(owner_) {
        credit = credit_;
    }

    /// @notice Pay `amount` base units [micro-euro] of EnergyCredit to `to` (owner only).
    function pay(address to, uint256 amount, string calldata purpose) external onlyOwner {
        credit.safeTransfer(to, amount);
        emit Paid(to, amount, purpose);
    }

    /// @notice The treasury's EnergyCredit balance [micro-euro].
    function balance() external view returns (uint256) {
        return credit.balanceOf(address(this));
    }
}
