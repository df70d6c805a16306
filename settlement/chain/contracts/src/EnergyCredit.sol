// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title EnergyCredit: the token gridtwin's participants pay each other with.
/// @notice One credit base unit is one micro-euro (decimals = 6). Credits are minted to the
/// participants at scenario start by a MINTER_ROLE holder; a SETTLEMENT_ROLE holder (the
/// Settlement contract) moves a batch's net payments with one call to {settle}.
contract EnergyCredit is ERC20, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");

    /// @dev `accounts` and `netAmounts` differ in length.
    error LengthMismatch(uint256 accounts, uint256 netAmounts);
    /// @dev The net amounts of a settlement do not sum to zero.
    error UnbalancedSettlement(int256 sum);

    /// @param admin gets DEFAULT_ADMIN_ROLE and MINTER_ROLE.
    constructor(address admin) ERC20("gridtwin EnergyCredit", "GEC") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @notice 1 credit = 10**6 base units = 1 euro; a base unit is a micro-euro.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mint `amount` base units to `to`.
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

    /// @notice Move a batch's net payments: a negative amount pays, a positive one receives.
    /// @dev The amounts must sum to zero. Payments pass through the caller as a clearing
    /// account (payers -> caller, then caller -> receivers), so every movement is a real
    /// ERC-20 Transfer, the caller's balance ends where it started, and the only cold
    /// storage touched is one balance slot per account. An account with amount 0 is skipped;
    /// the zero address reverts (ERC20InvalidSender/Receiver), so settling can never mint or burn.
    function settle(address[] calldata accounts, int256[] calldata netAmounts)
        external
        onlyRole(SETTLEMENT_ROLE)
    {
        uint256 n = accounts.length;
        if (n != netAmounts.length) revert LengthMismatch(n, netAmounts.length);
        address clearing = _msgSender();
        int256 sum;
        // Payers first, so the clearing account never runs short.
        for (uint256 i; i < n; ++i) {
            int256 amount = netAmounts[i];
            sum += amount; // checked: an overflow reverts, so no wrap-around can fake a zero sum
            if (amount < 0) {
                _transfer(accounts[i], clearing, uint256(-amount)); // checked: int256.min reverts
            }
        }
        if (sum != 0) revert UnbalancedSettlement(sum);
        for (uint256 i; i < n; ++i) {
            int256 amount = netAmounts[i];
            if (amount > 0) {
                _transfer(clearing, accounts[i], uint256(amount));
            }
        }
    }
}
