// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {DeviceRegistry} from "./DeviceRegistry.sol";

/// @title DeviceMarket: device NFT sales in EnergyCredit that pay the ERC-2981 royalty.
/// @notice A sale moves a device's NFT (and so every future reward: Rewards pays `ownerOf` at
/// payout time) from its seller to its buyer, and the price in EnergyCredit from the buyer to
/// the seller, less the registry's royalty ({DeviceRegistry.royaltyInfo}), which goes to the
/// royalty receiver: in one call, atomically. It needs both sides' consent and holds no power
/// of its own:
/// - the seller approved this market for the device (ERC-721 `approve`, its own transaction;
///   the transfer clears it) and agreed to the terms: it signed the {Sale} (EIP-712, domain
///   {name: "gridtwin DeviceMarket", version: "1"}), or it sends the call itself;
/// - the buyer agreed to the same terms (signed the same {Sale}, or sends the call itself) and
///   pays from its own EnergyCredit allowance to this market: an `approve` or an ERC-2612
///   permit it signed ({buyWithPermit}).
/// Anyone may relay a sale both sides signed. A Sale names the device's sale counter
/// ({saleNonce}), so each signature settles at most one sale. The market has no roles and
/// holds no credits or NFTs between calls.
contract DeviceMarket is EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The terms both sides sign.
    /// @param deviceId the device (its NFT's token id).
    /// @param seller the device's owner, who sells.
    /// @param buyer who buys and pays.
    /// @param price what the buyer pays [EnergyCredit base units, micro-euro], royalty included.
    /// @param nonce the device's {saleNonce} when the sale settles.
    /// @param deadline the last block timestamp the sale may settle at [s].
    struct Sale {
        uint256 deviceId;
        address seller;
        address buyer;
        uint256 price;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice EIP-712 type hash of a {Sale}.
    bytes32 public constant SALE_TYPEHASH = keccak256(
        "Sale(uint256 deviceId,address seller,address buyer,uint256 price,uint256 nonce,uint256 deadline)"
    );

    /// @notice The token prices are paid in (EnergyCredit: a base unit is a micro-euro).
    IERC20 public immutable credit;
    /// @notice The devices' registry: their NFTs and their ERC-2981 royalty.
    DeviceRegistry public immutable registry;

    /// @notice Sales settled per device: the nonce the next Sale of the device must name.
    mapping(uint256 deviceId => uint256) public saleNonce;

    /// @notice Device `deviceId` was sold: `buyer` paid `price`, `royalty` of it to
    /// `royaltyReceiver` and `price - royalty` to `seller` [base units].
    event DeviceSold(
        uint256 indexed deviceId,
        address indexed seller,
        address indexed buyer,
        uint256 price,
        address royaltyReceiver,
        uint256 royalty,
        uint256 nonce
    );

    /// @dev The sale's deadline has passed.
    error SaleExpired(uint256 deadline);
    /// @dev The sale names another sale counter of the device than the next one.
    error WrongNonce(uint256 deviceId, uint256 expected, uint256 given);
    /// @dev The seller does not own the device.
    error NotOwner(uint256 deviceId, address seller);
    /// @dev Seller and buyer are the same account.
    error SelfSale(uint256 deviceId);
    /// @dev `party` neither signed the sale nor sent the call.
    error NoConsent(address party);

    /// @param credit_ the EnergyCredit token.
    /// @param registry_ the device registry.
    constructor(IERC20 credit_, DeviceRegistry registry_) EIP712("gridtwin DeviceMarket", "1") {
        credit = credit_;
        registry = registry_;
    }

    /// @notice The EIP-712 digest seller and buyer sign for `sale`.
    function saleDigest(Sale calldata sale) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SALE_TYPEHASH, sale.deviceId, sale.seller, sale.buyer, sale.price, sale.nonce, sale.deadline
                )
            )
        );
    }

    /// @notice Settle `sale`; the buyer pays from the allowance it gave this market.
    /// @param sellerSignature the seller's signature of {saleDigest} (empty if it sends the call).
    /// @param buyerSignature the buyer's signature of {saleDigest} (empty if it sends the call).
    /// @return royalty what the royalty receiver was paid [base units].
    function buy(Sale calldata sale, bytes calldata sellerSignature, bytes calldata buyerSignature)
        external
        nonReentrant
        returns (uint256 royalty)
    {
        _checkConsent(sale, sellerSignature, buyerSignature);
        return _settle(sale);
    }

    /// @notice {buy}, the buyer's allowance given by its ERC-2612 permit of `sale.price` to
    /// this market (v, r, s, valid until `permitDeadline`) in the same call. A permit someone
    /// already submitted (front-running) is skipped: the allowance it gave is used.
    function buyWithPermit(
        Sale calldata sale,
        bytes calldata sellerSignature,
        bytes calldata buyerSignature,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (uint256 royalty) {
        _checkConsent(sale, sellerSignature, buyerSignature);
        try IERC20Permit(address(credit)).permit(sale.buyer, address(this), sale.price, permitDeadline, v, r, s) {}
            catch {}
        return _settle(sale);
    }

    function _checkConsent(Sale calldata sale, bytes calldata sellerSignature, bytes calldata buyerSignature)
        private
        view
    {
        if (sale.seller == sale.buyer) revert SelfSale(sale.deviceId);
        bytes32 digest = saleDigest(sale);
        if (msg.sender != sale.seller && !SignatureChecker.isValidSignatureNow(sale.seller, digest, sellerSignature)) {
            revert NoConsent(sale.seller);
        }
        if (msg.sender != sale.buyer && !SignatureChecker.isValidSignatureNow(sale.buyer, digest, buyerSignature)) {
            revert NoConsent(sale.buyer);
        }
    }

    /// @dev Checks, then the counter (effects), then the NFT and the two payments. The NFT
    /// moves only if the seller approved this market (the registry checks it), the credits
    /// only within the buyer's allowance (the token checks it); any failure reverts it all.
    function _settle(Sale calldata sale) private returns (uint256 royalty) {
        uint256 deviceId = sale.deviceId;
        if (block.timestamp > sale.deadline) revert SaleExpired(sale.deadline);
        uint256 nonce = saleNonce[deviceId];
        if (sale.nonce != nonce) revert WrongNonce(deviceId, nonce, sale.nonce);
        if (registry.ownerOf(deviceId) != sale.seller) revert NotOwner(deviceId, sale.seller);
        saleNonce[deviceId] = nonce + 1;
        address receiver;
        (receiver, royalty) = registry.royaltyInfo(deviceId, sale.price); // royalty <= price
        emit DeviceSold(deviceId, sale.seller, sale.buyer, sale.price, receiver, royalty, nonce);
        registry.transferFrom(sale.seller, sale.buyer, deviceId);
        if (royalty != 0) credit.safeTransferFrom(sale.buyer, receiver, royalty);
        credit.safeTransferFrom(sale.buyer, sale.seller, sale.price - royalty);
    }
}
