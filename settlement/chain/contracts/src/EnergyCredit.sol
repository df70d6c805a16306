// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title EnergyCredit: the token gridtwin's participants pay each other with.
/// @notice One credit base unit is one micro-euro (decimals = 6). A plain ERC-20 with
/// ERC-2612 permits and a supply cap: no account holds a power over anyone else's credits.
/// Credits leave an account only by its holder's own transfer, or by a spender within the
/// allowance the holder gave (ERC-20 `approve`, or an ERC-2612 `permit` the holder signed).
/// The Settlement contract moves a batch's net payments that way: members consent by giving
/// it an allowance, and it can never take more (see Settlement).
/// @dev Minting: MINTER_ROLE holders only (the setup account that credits the members at
/// scenario start, the "on-ramp"; it renounces the role when the admin is handed to the
/// timelock), and never past {cap}. DEFAULT_ADMIN_ROLE (the timelock) grants roles.
contract EnergyCredit is ERC20Capped, ERC20Permit, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param admin gets DEFAULT_ADMIN_ROLE.
    /// @param minter gets MINTER_ROLE.
    /// @param cap_ the most credits that can ever exist [base units, micro-euro].
    constructor(address admin, address minter, uint256 cap_)
        ERC20("gridtwin EnergyCredit", "GEC")
        ERC20Capped(cap_)
        ERC20Permit("gridtwin EnergyCredit")
    {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, minter);
    }

    /// @notice 1 credit = 10**6 base units = 1 euro; a base unit is a micro-euro.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mint `amount` base units to `to` (never past {cap}).
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Mint `amountEach` base units to each of `to` (scenario start, one transaction).
    function mintBatch(address[] calldata to, uint256 amountEach) external onlyRole(MINTER_ROLE) {
        uint256 n = to.length;
        for (uint256 i; i < n; ++i) {
            _mint(to[i], amountEach);
        }
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
