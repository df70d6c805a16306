// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {DeviceRegistry} from "./DeviceRegistry.sol";

/// @title DataMarket: a data buyer pays for aggregated readings; the devices and the treasury
/// are paid in the same transaction.
/// @notice A sale pulls `amount` EnergyCredit from the buyer, within the ERC-2612 permit the
/// buyer signed with its own key for this contract (its consent: no role here can move more
/// than the buyer permitted), and pays it out at once: each contributing device's share to
/// the device NFT's owner at payout time ({DeviceRegistry.payeeOf}), the rest to the treasury.
/// The split must sum to `amount` exactly, so the contract holds nothing between sales.
/// `releaseRoot` is the digest of the aggregates released to the buyer (off chain).
/// @dev The SELLER (the operator) computes the split off chain (pro rata to each device's
/// readings in the released aggregates); every share is an event, so it can be re-derived.
contract DataMarket is AccessControl {
    using SafeERC20 for IERC20;

    bytes32 public constant SELLER_ROLE = keccak256("SELLER_ROLE");

    /// @notice The EnergyCredit token (base unit = one micro-euro).
    IERC20 public immutable credit;
    /// @notice Whose NFT owners are paid for their devices' readings.
    DeviceRegistry public immutable registry;
    /// @notice Receives the treasury's cut and the rounding remainder.
    address public immutable treasury;

    mapping(uint256 saleId => bool) private _sold;

    /// @notice Sale `saleId`: `buyer` paid `amount` micro-euro, `toDevices` to devices and
    /// `toTreasury` to the treasury, for the aggregates with digest `releaseRoot`.
    event DataSold(
        uint256 indexed saleId,
        address indexed buyer,
        uint256 amount,
        uint256 toDevices,
        uint256 toTreasury,
        bytes32 releaseRoot
    );
    /// @notice Sale `saleId` paid `amount` micro-euro to `payee`, the owner of `deviceId`.
    event DataPayout(uint256 indexed saleId, uint256 indexed deviceId, address indexed payee, uint256 amount);

    /// @dev Sale `saleId` was made already.
    error AlreadySold(uint256 saleId);
    /// @dev Two arrays differ in length.
    error LengthMismatch(uint256 devices, uint256 amounts);
    /// @dev The split (`split` micro-euro) does not sum to the payment `amount`.
    error SplitMismatch(uint256 amount, uint256 split);

    /// @param credit_ the EnergyCredit token (with ERC-2612 permits).
    /// @param registry_ the DeviceRegistry.
    /// @param treasury_ the community Treasury.
    /// @param admin DEFAULT_ADMIN_ROLE (the timelock).
    /// @param seller SELLER_ROLE (the operator).
    constructor(IERC20 credit_, DeviceRegistry registry_, address treasury_, address admin, address seller) {
        credit = credit_;
        registry = registry_;
        treasury = treasury_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(SELLER_ROLE, seller);
    }

    /// @notice Sell aggregates to `buyer` for `amount` micro-euro, with the buyer's permit
    /// (`deadline`, `v`, `r`, `s`) for this contract, and pay `amounts[i]` to the owner of
    /// `deviceIds[i]` and `toTreasury` to the treasury; once per `saleId`.
    function sellData(
        uint256 saleId,
        address buyer,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s,
        uint256[] calldata deviceIds,
        uint256[] calldata amounts,
        uint256 toTreasury,
        bytes32 releaseRoot
    ) external onlyRole(SELLER_ROLE) {
        if (_sold[saleId]) revert AlreadySold(saleId);
        uint256 n = deviceIds.length;
        if (n != amounts.length) revert LengthMismatch(n, amounts.length);
        uint256 toDevices;
        for (uint256 i; i < n; ++i) {
            toDevices += amounts[i];
        }
        if (toDevices + toTreasury != amount) revert SplitMismatch(amount, toDevices + toTreasury);
        _sold[saleId] = true;
        // A permit already used (front-run) reverts here; the allowance it set still counts.
        try IERC20Permit(address(credit)).permit(buyer, address(this), amount, deadline, v, r, s) {} catch {}
        credit.safeTransferFrom(buyer, address(this), amount);
        for (uint256 i; i < n; ++i) {
            address payee = registry.payeeOf(deviceIds[i]);
            credit.safeTransfer(payee, amounts[i]);
            emit DataPayout(saleId, deviceIds[i], payee, amounts[i]);
        }
        credit.safeTransfer(treasury, toTreasury);
        emit DataSold(saleId, buyer, amount, toDevices, toTreasury, releaseRoot);
    }

    /// @notice Whether sale `saleId` was made.
    function sold(uint256 saleId) external view returns (bool) {
        return _sold[saleId];
    }
}
