// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title RewardToken: the ERC-20 gridtwin's DePIN devices earn.
/// @notice One token is 10**6 base units (decimals = 6, as EnergyCredit): rewards are integers
/// of base units and a device's yearly reward stays far inside int64, the integer type of
/// gridtwin's Parquet tables. Only MINTER_ROLE holders mint: the deployment grants that role
/// to the Rewards contract (rewards paid) and to DeviceStaking (the one-off genesis allocation
/// owners stake from), so the total supply is the genesis plus the rewards paid, less what
/// was burned (ERC20Burnable: slashed stakes DeviceStaking burns). ERC-2612 `permit` lets an
/// owner consent to a stake with a signature the operator submits (no ether needed).
contract RewardToken is ERC20, ERC20Burnable, ERC20Permit, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @dev `to` and `amounts` differ in length.
    error LengthMismatch(uint256 to, uint256 amounts);

    /// @param admin gets DEFAULT_ADMIN_ROLE (and grants MINTER_ROLE to the Rewards contract).
    constructor(address admin) ERC20("gridtwin Reward", "GRW") ERC20Permit("gridtwin Reward") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice 1 token = 10**6 base units.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mint `amount` base units to `to`.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Mint `amounts[i]` base units to `to[i]`, for every i, in one call.
    function mintBatch(address[] calldata to, uint256[] calldata amounts)
        external
        onlyRole(MINTER_ROLE)
    {
        uint256 n = to.length;
        if (n != amounts.length) revert LengthMismatch(n, amounts.length);
        for (uint256 i; i < n; ++i) {
            _mint(to[i], amounts[i]);
        }
    }
}
