// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title RewardToken: the ERC-20 gridtwin's DePIN devices earn.
/// @notice One token is 10**6 base units (decimals = 6, as EnergyCredit): rewards are integers
/// of base units and a device's yearly reward stays far inside int64, the integer type of
/// gridtwin's Parquet tables. Only {minter} mints rewards: the Rewards contract that deployed
/// this token, fixed at construction. There is no role to grant, so no key (the operator's, an
/// admin's) can ever mint, and every epoch's rewards stay within the cap Rewards enforces.
/// The one exception is the genesis allocation owners stake from: {minter} (Rewards, on its
/// admin's word) names a genesis minter and its cap once ({setGenesisMinter}); that account
/// mints once, within the cap ({mintGenesis}), and never again. So the total supply is the
/// genesis plus the rewards paid, less what was burned (ERC20Burnable: slashed stakes
/// DeviceStaking burns). ERC-2612 `permit` lets an owner consent to a stake with a signature
/// the operator submits (no ether needed).
contract RewardToken is ERC20, ERC20Burnable, ERC20Permit {
    /// @notice The only account that may mint rewards: the contract that deployed this token.
    address public immutable minter;
    /// @notice The account that may mint the genesis allocation, once (zero: none named yet).
    address public genesisMinter;
    /// @notice The most the genesis allocation may mint [base units].
    uint256 public genesisCap;
    /// @notice What the genesis allocation minted [base units].
    uint256 public genesisTotal;
    /// @notice Whether the genesis allocation was minted (it can be, once).
    bool public genesisMinted;

    /// @notice {minter} named `genesisMinter` to mint a genesis of at most `cap` base units.
    event GenesisOpened(address indexed genesisMinter, uint256 cap);
    /// @notice The genesis allocation: `total` base units minted to `recipients` accounts.
    event GenesisMinted(uint256 recipients, uint256 total);

    /// @dev `to` and `amounts` differ in length.
    error LengthMismatch(uint256 to, uint256 amounts);
    /// @dev The caller is not {minter}.
    error NotMinter(address caller);
    /// @dev The caller is not {genesisMinter}.
    error NotGenesisMinter(address caller);
    /// @dev A genesis minter was already named (it can be, once).
    error GenesisAlreadyOpened(address genesisMinter);
    /// @dev The genesis minter must not be the zero address.
    error ZeroGenesisMinter();
    /// @dev The genesis allocation was already minted.
    error GenesisAlreadyMinted();
    /// @dev The genesis allocation would exceed {genesisCap}.
    error ExceedsGenesisCap(uint256 total, uint256 cap);

    /// @notice The deployer (the Rewards contract) becomes {minter}.
    constructor() ERC20("gridtwin Reward", "GRW") ERC20Permit("gridtwin Reward") {
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

    /// @notice Name `genesisMinter_` the account that may mint the genesis allocation, at most
    /// `cap` base units ({minter} only, once).
    function setGenesisMinter(address genesisMinter_, uint256 cap) external {
        if (msg.sender != minter) revert NotMinter(msg.sender);
        if (genesisMinter != address(0)) revert GenesisAlreadyOpened(genesisMinter);
        if (genesisMinter_ == address(0)) revert ZeroGenesisMinter();
        genesisMinter = genesisMinter_;
        genesisCap = cap;
        emit GenesisOpened(genesisMinter_, cap);
    }

    /// @notice Mint the genesis allocation: `amounts[i]` base units to `to[i]`, for every i
    /// ({genesisMinter} only, once, at most {genesisCap} in all).
    function mintGenesis(address[] calldata to, uint256[] calldata amounts) external {
        if (msg.sender != genesisMinter || msg.sender == address(0)) revert NotGenesisMinter(msg.sender);
        if (genesisMinted) revert GenesisAlreadyMinted();
        uint256 n = to.length;
        if (n != amounts.length) revert LengthMismatch(n, amounts.length);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            total += amounts[i];
        }
        if (total > genesisCap) revert ExceedsGenesisCap(total, genesisCap);
        genesisMinted = true;
        genesisTotal = total;
        emit GenesisMinted(n, total);
        for (uint256 i; i < n; ++i) {
            _mint(to[i], amounts[i]);
        }
    }
}
