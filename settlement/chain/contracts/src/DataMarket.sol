// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {DeviceRegistry} from "./DeviceRegistry.sol";

/// @title DataMarket: a data buyer pays for aggregated readings; the devices and the treasury
/// are paid in the same transaction, or in chunks when one transaction cannot pay them all.
/// @notice A sale pulls `amount` EnergyCredit from the buyer, within the ERC-2612 permit the
/// buyer signed with its own key for this contract (its consent: no role here can move more
/// than the buyer permitted), and pays it out at once: each contributing device's share to
/// the device NFT's owner at payout time ({DeviceRegistry.payeeOf}), the rest to the treasury.
/// The split must sum to `amount` exactly, so the contract holds nothing between sales.
/// `releaseRoot` is the digest of the aggregates released to the buyer (off chain).
/// @dev The SELLER (the operator) computes the split off chain (pro rata to each device's
/// readings in the released aggregates); every share is an event, so it can be re-derived.
/// A sale with more devices than one block can pay (about 35,000 gas a device) is made in
/// chunks: {openSale} pulls the whole payment and commits to the whole split (device count,
/// totals, {splitDigest} of the full list), each {payChunk} pays the next devices, and the one
/// that pays the last device pays the treasury, checks the digest and closes the sale
/// (`DataSold`), leaving the contract holding nothing for it (its commitment stays readable). Same payouts and events as one
/// {sellData} of the same split.
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

    /// @dev A sale made in chunks ({openSale}, {payChunk}) while it is open: what its opening
    /// committed to, and how far its chunks got.
    struct OpenSale {
        address buyer;
        uint256 amount;
        uint256 devices;
        uint256 toDevices;
        uint256 toTreasury;
        bytes32 splitDigest;
        bytes32 releaseRoot;
        uint256 next;
        uint256 paid;
        bytes32 digest;
    }

    mapping(uint256 saleId => OpenSale) private _open;

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
    /// @notice Sale `saleId` is open: `buyer` paid `amount` micro-euro into the contract, to be
    /// paid in chunks to `devices` devices (`toDevices` in all, split digest `splitDigest`) and
    /// `toTreasury` to the treasury.
    event SaleOpened(
        uint256 indexed saleId,
        address indexed buyer,
        uint256 amount,
        uint256 devices,
        uint256 toDevices,
        uint256 toTreasury,
        bytes32 splitDigest
    );
    /// @notice Sale `saleId` paid `amount` micro-euro to `payee`, the owner of `deviceId`.
    event DataPayout(uint256 indexed saleId, uint256 indexed deviceId, address indexed payee, uint256 amount);

    /// @dev Sale `saleId` was made already.
    error AlreadySold(uint256 saleId);
    /// @dev Two arrays differ in length.
    error LengthMismatch(uint256 devices, uint256 amounts);
    /// @dev The split (`split` micro-euro) does not sum to the payment `amount`.
    error SplitMismatch(uint256 amount, uint256 split);
    /// @dev Sale `saleId` is open (being paid in chunks): only its next chunk runs.
    error SaleIsOpen(uint256 saleId);
    /// @dev Sale `saleId` was not opened ({openSale}), or is closed already.
    error SaleNotOpen(uint256 saleId);
    /// @dev A chunk of sale `saleId` starts at device `from`; the next unpaid one is `next`.
    error ChunkOutOfOrder(uint256 saleId, uint256 next, uint256 from);
    /// @dev A chunk of sale `saleId` pays devices up to `end`, past its `devices` devices.
    error ChunkPastTheSale(uint256 saleId, uint256 end, uint256 devices);
    /// @dev The chunks of sale `saleId` paid `paid` to devices, not the committed `toDevices`.
    error DevicesTotalMismatch(uint256 saleId, uint256 toDevices, uint256 paid);
    /// @dev The chunks of sale `saleId` hash to `chunks`, not the committed `committed`.
    error SplitDigestMismatch(uint256 saleId, bytes32 committed, bytes32 chunks);

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
        if (_open[saleId].buyer != address(0)) revert SaleIsOpen(saleId);
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

    /// @notice Open sale `saleId` to be paid in chunks ({payChunk}): pull `amount` from `buyer`
    /// with its permit (as {sellData}) into this contract and commit to the split: `devices`
    /// devices paid `toDevices` in all, with {splitDigest} `digest_`, and `toTreasury`.
    function openSale(
        uint256 saleId,
        address buyer,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s,
        uint256 devices,
        uint256 toDevices,
        uint256 toTreasury,
        bytes32 digest_,
        bytes32 releaseRoot
    ) external onlyRole(SELLER_ROLE) {
        if (_sold[saleId]) revert AlreadySold(saleId);
        OpenSale storage sale = _open[saleId];
        if (sale.buyer != address(0)) revert SaleIsOpen(saleId);
        if (toDevices + toTreasury != amount) revert SplitMismatch(amount, toDevices + toTreasury);
        (sale.buyer, sale.amount, sale.devices) = (buyer, amount, devices);
        (sale.toDevices, sale.toTreasury, sale.splitDigest, sale.releaseRoot) =
            (toDevices, toTreasury, digest_, releaseRoot);
        try IERC20Permit(address(credit)).permit(buyer, address(this), amount, deadline, v, r, s) {} catch {}
        credit.safeTransferFrom(buyer, address(this), amount);
        emit SaleOpened(saleId, buyer, amount, devices, toDevices, toTreasury, digest_);
    }

    /// @notice Pay the next devices of open sale `saleId`: `amounts[i]` to the owner of
    /// `deviceIds[i]`, starting at device `from` of the committed list. The chunk that pays
    /// the last device pays the treasury, checks the totals and the digest and closes the
    /// sale (`DataSold`).
    /// @return done whether this chunk closed the sale.
    function payChunk(uint256 saleId, uint256 from, uint256[] calldata deviceIds, uint256[] calldata amounts)
        external
        onlyRole(SELLER_ROLE)
        returns (bool done)
    {
        OpenSale storage sale = _nextChunk(saleId, from, deviceIds.length, amounts.length);
        uint256 end = from + deviceIds.length;
        (bytes32 digest, uint256 paid) = _hashChunk(sale.digest, sale.paid, deviceIds, amounts);
        if (paid > sale.toDevices) revert DevicesTotalMismatch(saleId, sale.toDevices, paid);
        done = end == sale.devices;
        if (done) {
            if (paid != sale.toDevices) revert DevicesTotalMismatch(saleId, sale.toDevices, paid);
            if (digest != sale.splitDigest) revert SplitDigestMismatch(saleId, sale.splitDigest, digest);
            _sold[saleId] = true;
        }
        (sale.next, sale.paid, sale.digest) = (end, paid, digest);
        for (uint256 i; i < deviceIds.length; ++i) {
            address payee = registry.payeeOf(deviceIds[i]);
            credit.safeTransfer(payee, amounts[i]);
            emit DataPayout(saleId, deviceIds[i], payee, amounts[i]);
        }
        if (done) {
            credit.safeTransfer(treasury, sale.toTreasury);
            emit DataSold(saleId, sale.buyer, sale.amount, sale.toDevices, sale.toTreasury, sale.releaseRoot);
        }
    }

    /// @dev The open sale `saleId` whose next chunk starts at `from` and has `n` devices.
    function _nextChunk(uint256 saleId, uint256 from, uint256 n, uint256 nAmounts)
        private
        view
        returns (OpenSale storage sale)
    {
        if (_sold[saleId]) revert AlreadySold(saleId);
        sale = _open[saleId];
        if (sale.buyer == address(0)) revert SaleNotOpen(saleId);
        if (from != sale.next) revert ChunkOutOfOrder(saleId, sale.next, from);
        if (n != nAmounts) revert LengthMismatch(n, nAmounts);
        if (from + n > sale.devices) revert ChunkPastTheSale(saleId, from + n, sale.devices);
    }

    /// @dev The split digest and devices' total after a chunk, from those before it.
    function _hashChunk(bytes32 digest, uint256 paid, uint256[] calldata deviceIds, uint256[] calldata amounts)
        private
        pure
        returns (bytes32, uint256)
    {
        for (uint256 i; i < deviceIds.length; ++i) {
            digest = keccak256(abi.encode(digest, deviceIds[i], amounts[i]));
            paid += amounts[i];
        }
        return (digest, paid);
    }

    /// @notice The digest a chunked sale commits to: the hash chain h = keccak256(abi.encode(h,
    /// deviceIds[i], amounts[i])) over the whole list, from h = 0 (the same for any chunking).
    function splitDigest(uint256[] calldata deviceIds, uint256[] calldata amounts) external pure returns (bytes32) {
        if (deviceIds.length != amounts.length) revert LengthMismatch(deviceIds.length, amounts.length);
        (bytes32 digest,) = _hashChunk(bytes32(0), 0, deviceIds, amounts);
        return digest;
    }

    /// @notice How far chunked sale `saleId` got: whether it is open (opened, not closed), and
    /// its next unpaid device.
    function openSaleProgress(uint256 saleId) external view returns (bool open, uint256 next) {
        OpenSale storage sale = _open[saleId];
        return (sale.buyer != address(0) && !_sold[saleId], sale.next);
    }

    /// @notice Whether sale `saleId` was made.
    function sold(uint256 saleId) external view returns (bool) {
        return _sold[saleId];
    }
}
