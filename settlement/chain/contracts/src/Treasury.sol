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
///
/// Burn-and-mint (gridtwin's `revenue` emission schedule): its owner may name, once, a
/// {buyback} contract (BuybackBurn) that draws the treasury's new revenue ({drawRevenue}):
/// everything that arrived since the buyback was named or last drew, never what was there
/// before (members' contributions stay). Each draw emits {Paid} too.
contract Treasury is Ownable {
    using SafeERC20 for IERC20;

    /// @notice The EnergyCredit token (base unit = one micro-euro).
    IERC20 public immutable credit;

    /// @notice The contract that may draw the treasury's new revenue (zero: none).
    address public buyback;
    /// @notice What the buyback may not draw [micro-euro]: the balance when it was named or
    /// last drew, lowered by the owner's payouts.
    uint256 public reserved;

    /// @notice `amount` base units [micro-euro] paid to `to`, for `purpose`.
    event Paid(address indexed to, uint256 amount, string purpose);
    /// @notice `buyback` may draw the treasury's revenue from now on.
    event BuybackSet(address indexed buyback, uint256 reserved);

    /// @dev A buyback was already named (it can be, once).
    error BuybackAlreadySet(address buyback);
    /// @dev The buyback must not be the zero address.
    error ZeroBuyback();
    /// @dev The caller is not {buyback}.
    error NotBuyback(address caller);

    /// @param credit_ the EnergyCredit token.
    /// @param owner_ the CommunityTimelock.
    constructor(IERC20 credit_, address owner_) Ownable(owner_) {
        credit = credit_;
    }

    /// @notice Pay `amount` base units [micro-euro] of EnergyCredit to `to` (owner only).
    function pay(address to, uint256 amount, string calldata purpose) external onlyOwner {
        credit.safeTransfer(to, amount);
        uint256 left = credit.balanceOf(address(this));
        if (reserved > left) reserved = left;
        emit Paid(to, amount, purpose);
    }

    /// @notice Let `buyback_` draw the treasury's revenue from now on (owner only, once).
    function setBuyback(address buyback_) external onlyOwner {
        if (buyback != address(0)) revert BuybackAlreadySet(buyback);
        if (buyback_ == address(0)) revert ZeroBuyback();
        buyback = buyback_;
        reserved = credit.balanceOf(address(this));
        emit BuybackSet(buyback_, reserved);
    }

    /// @notice Pay {buyback} what arrived since it was named or last drew ({buyback} only).
    /// @return amount what was paid [micro-euro].
    function drawRevenue() external returns (uint256 amount) {
        if (msg.sender != buyback || msg.sender == address(0)) revert NotBuyback(msg.sender);
        uint256 held = credit.balanceOf(address(this));
        amount = held > reserved ? held - reserved : 0;
        if (amount > 0) {
            credit.safeTransfer(msg.sender, amount);
            emit Paid(msg.sender, amount, "buyback");
        }
    }

    /// @notice The treasury's EnergyCredit balance [micro-euro].
    function balance() external view returns (uint256) {
        return credit.balanceOf(address(this));
    }
}
