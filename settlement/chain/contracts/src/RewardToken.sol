// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title RewardToken: the ERC-20 gridtwin's DePIN devices earn.
/// @notice One token is 10**6 base units (decimals = 6, as EnergyCredit): rewards are integers
/// of base units and a device's yearly reward stays far inside int64, the integer type of
/// gridtwin's Parquet tables. Only {minter} mints: the Rewards contract that deployed this
/// token, fixed at construction. There is no role to grant, so no key (the operator's, an
/// admin's) can ever mint, and the total supply equals the rewards paid out, each epoch within
/// the cap Rewards enforces.
contract RewardToken is ERC20 {
    /// @notice The only account that may mint: the contract that deployed this token.
    address public immutable minter;

    /// @dev `to` and `amounts` differ in length.
    error LengthMismatch(uint256 to, uint256 amounts);
    /// @dev The caller is not {minter}.
    error NotMinter(address caller);

    /// @notice The deployer (the Rewards contract) becomes {minter}.
    constructor() ERC20("gridtwin Reward", "GRW") {
        minter = msg.sender;
    }

    /// @notice 1 token = 10**6 base units.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mint `amount` base units to `to` ({minter} only).
    function mint(address to, uint256 amount) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }

    /// @notice Mint `amounts[i]` base units to `to[i]`, for every i, in one call ({minter} only).
    function mintBatch(address[] calldata to, uint256[] calldata amounts) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        uint256 n = to.length;
        if (n != amounts.length) revert LengthMismatch(n, amounts.length);
        for (uint256 i; i < n; ++i) {
            _mint(to[i], amounts[i]);
        }
    }
}
