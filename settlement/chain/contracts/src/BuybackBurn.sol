// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Treasury} from "./Treasury.sol";

/// @title BuybackBurn: protocol revenue buys RewardTokens at a fixed reference price and burns them.
/// @notice gridtwin's burn-and-mint (`revenue` emission schedule). Anyone may {draw} the
/// Treasury's new revenue (EnergyCredit, micro-euro) into this contract. A token holder sells
/// to it at the reference price {priceMicroEurPerToken}, fixed at deployment, with its own
/// consent: an ERC-2612 permit of the tokens it sells ({sellWithPermit}, anyone submits) or
/// its own transaction after an approve ({sell}). The contract pays the seller from the
/// revenue it holds and burns the tokens it bought, as their holder (ERC20Burnable.burn):
/// nobody's tokens are burned without their sale, and no key can take the revenue it holds.
contract BuybackBurn {
    using SafeERC20 for IERC20;

    /// @notice EnergyCredit (base unit = one micro-euro): what the buyback pays with.
    IERC20 public immutable credit;
    /// @notice RewardToken (6 decimals): what it buys and burns.
    ERC20Burnable public immutable token;
    /// @notice The Treasury whose revenue it spends.
    Treasury public immutable treasury;
    /// @notice The reference token price [micro-euro per whole token, 10**6 base units].
    uint256 public immutable priceMicroEurPerToken;
    /// @notice RewardToken base units bought and burned so far.
    uint256 public totalBurned;
    /// @notice EnergyCredit paid to sellers so far [micro-euro].
    uint256 public totalPaid;
    /// @notice EnergyCredit drawn from the treasury so far [micro-euro].
    uint256 public totalDrawn;

    /// @notice `amount` [micro-euro] of revenue drawn from the treasury.
    event RevenueDrawn(uint256 amount);
    /// @notice `seller` sold `units` base units for `paid` micro-euro; the units were burned.
    event Bought(address indexed seller, uint256 units, uint256 paid);

    /// @dev The sale pays nothing (too few units at the price).
    error NothingToPay(uint256 units);
    /// @dev The sale would pay more than the revenue held.
    error ExceedsBudget(uint256 paid, uint256 budget);
    /// @dev The price must be positive.
    error ZeroPrice();

    /// @param credit_ EnergyCredit; @param token_ RewardToken; @param treasury_ the Treasury;
    /// @param priceMicroEurPerToken_ the reference price [micro-euro per token].
    constructor(IERC20 credit_, ERC20Burnable token_, Treasury treasury_, uint256 priceMicroEurPerToken_) {
        if (priceMicroEurPerToken_ == 0) revert ZeroPrice();
        credit = credit_;
        token = token_;
        treasury = treasury_;
        priceMicroEurPerToken = priceMicroEurPerToken_;
    }

    /// @notice Draw the treasury's new revenue into the buyback (anyone).
    /// @return amount what was drawn [micro-euro].
    function draw() external returns (uint256 amount) {
        amount = treasury.drawRevenue();
        totalDrawn += amount;
        emit RevenueDrawn(amount);
    }

    /// @notice What `units` base units fetch at the reference price [micro-euro], rounded down.
    function quote(uint256 units) public view returns (uint256) {
        return (units * priceMicroEurPerToken) / 1e6;
    }

    /// @notice The revenue the buyback holds [micro-euro].
    function budget() external view returns (uint256) {
        return credit.balanceOf(address(this));
    }

    /// @notice Buy `units` from `seller`, who signed an ERC-2612 permit of `units` to this
    /// contract (its consent to sell at the reference price); anyone may submit it. A permit
    /// already used (front-run) still sells, from the allowance it created.
    function sellWithPermit(address seller, uint256 units, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (uint256)
    {
        try IERC20Permit(address(token)).permit(seller, address(this), units, deadline, v, r, s) {} catch {}
        return _buy(seller, units);
    }

    /// @notice Sell `units` of the caller's tokens (after an approve) at the reference price.
    function sell(uint256 units) external returns (uint256) {
        return _buy(msg.sender, units);
    }

    function _buy(address seller, uint256 units) private returns (uint256 paid) {
        paid = quote(units);
        if (paid == 0) revert NothingToPay(units);
        uint256 held = credit.balanceOf(address(this));
        if (paid > held) revert ExceedsBudget(paid, held);
        totalBurned += units;
        totalPaid += paid;
        emit Bought(seller, units, paid);
        IERC20(address(token)).safeTransferFrom(seller, address(this), units);
        token.burn(units);
        credit.safeTransfer(seller, paid);
    }
}
