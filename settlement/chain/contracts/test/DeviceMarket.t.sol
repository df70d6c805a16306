// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors, IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {DeviceMarket} from "../src/DeviceMarket.sol";
import {DeviceRegistry} from "../src/DeviceRegistry.sol";
import {EnergyCredit} from "../src/EnergyCredit.sol";

/// Device NFT sales: the royalty is paid, money is conserved to the base unit, and nothing
/// moves without both sides' consent (the seller's approval and signature, the buyer's
/// signature and allowance); the operator (registry admin, credit minter) moves nothing.
contract DeviceMarketTest is Base {
    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    uint96 internal constant BPS = 500;
    uint256 internal constant DEVICE = 7;
    uint256 internal constant SELLER_KEY = 0x5E11;
    uint256 internal constant BUYER_KEY = 0xB0B;
    uint256 internal constant CREDITS = 1_000_000e6;

    address internal installer = address(0x1257A11);
    address internal seller;
    address internal buyer;
    EnergyCredit internal credit;
    DeviceRegistry internal registry;
    DeviceMarket internal market;

    function setUp() public {
        seller = vm.addr(SELLER_KEY);
        buyer = vm.addr(BUYER_KEY);
        credit = new EnergyCredit(address(this), address(this), 2 * CREDITS);
        credit.mint(buyer, CREDITS);
        credit.mint(seller, CREDITS);
        registry = new DeviceRegistry(address(this), installer, BPS);
        registry.register(DEVICE, seller, address(0x516), 1, 6_000);
        market = new DeviceMarket(IERC20(address(credit)), registry);
    }

    function _sale(uint256 price) internal view returns (DeviceMarket.Sale memory) {
        return DeviceMarket.Sale(DEVICE, seller, buyer, price, market.saleNonce(DEVICE), block.timestamp + 3600);
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _permit(uint256 value, uint256 deadline) internal view returns (uint8, bytes32, bytes32) {
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, buyer, address(market), value, credit.nonces(buyer), deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", credit.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(BUYER_KEY, digest);
    }

    /// A relayed sale with every consent: the NFT moves, the royalty is paid, money conserved.
    function testFuzz_salePaysRoyaltyAndConserves(uint256 price) public {
        price = bound(price, 0, CREDITS);
        vm.prank(seller);
        registry.approve(address(market), DEVICE);
        DeviceMarket.Sale memory sale = _sale(price);
        bytes32 digest = market.saleDigest(sale);
        (uint8 v, bytes32 r, bytes32 s) = _permit(price, sale.deadline);
        uint256 sellerBefore = credit.balanceOf(seller);
        uint256 buyerBefore = credit.balanceOf(buyer);
        uint256 supply = credit.totalSupply();
        uint256 royalty = market.buyWithPermit(
            sale, _sign(SELLER_KEY, digest), _sign(BUYER_KEY, digest), sale.deadline, v, r, s
        );
        assertEq(royalty, price * BPS / 10_000, "royalty = price x bps");
        assertTrue(registry.ownerOf(DEVICE) == buyer, "the buyer owns the device");
        (address owner,,,,) = registry.deviceInfo(DEVICE);
        assertTrue(owner == buyer, "rewards follow the buyer");
        assertEq(buyerBefore - credit.balanceOf(buyer), price, "the buyer paid the price");
        assertEq(credit.balanceOf(seller) - sellerBefore + credit.balanceOf(installer), price, "paid = received");
        assertEq(credit.balanceOf(installer), royalty, "the receiver got the royalty");
        assertEq(credit.totalSupply(), supply, "no credit created");
        assertEq(credit.balanceOf(address(market)), 0, "the market holds nothing");
        assertEq(credit.allowance(buyer, address(market)), 0, "the permit is spent");
        assertTrue(registry.getApproved(DEVICE) == address(0), "the approval is spent");
    }

    /// Without the seller's ERC-721 approval nothing moves, though both signed.
    function test_noSaleWithoutSellerApproval() public {
        DeviceMarket.Sale memory sale = _sale(100e6);
        bytes32 digest = market.saleDigest(sale);
        (uint8 v, bytes32 r, bytes32 s) = _permit(sale.price, sale.deadline);
        bytes memory sellerSig = _sign(SELLER_KEY, digest);
        bytes memory buyerSig = _sign(BUYER_KEY, digest);
        vm.expectRevert(
            abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, address(market), DEVICE)
        );
        market.buyWithPermit(sale, sellerSig, buyerSig, sale.deadline, v, r, s);
    }

    /// Without the seller's signature (or call) nothing moves, though it approved the market.
    function test_noSaleWithoutSellerSignature() public {
        vm.prank(seller);
        registry.approve(address(market), DEVICE);
        DeviceMarket.Sale memory sale = _sale(100e6);
        bytes32 digest = market.saleDigest(sale);
        (uint8 v, bytes32 r, bytes32 s) = _permit(sale.price, sale.deadline);
        bytes memory forged = _sign(0xBAD, digest);
        bytes memory buyerSig = _sign(BUYER_KEY, digest);
        vm.expectRevert(abi.encodeWithSelector(DeviceMarket.NoConsent.selector, seller));
        market.buyWithPermit(sale, forged, buyerSig, sale.deadline, v, r, s);
    }

    /// Without the buyer's signature nothing moves; with it but no allowance neither.
    function test_noSaleWithoutBuyerConsent() public {
        vm.prank(seller);
        registry.approve(address(market), DEVICE);
        DeviceMarket.Sale memory sale = _sale(100e6);
        bytes32 digest = market.saleDigest(sale);
        bytes memory sellerSig = _sign(SELLER_KEY, digest);
        vm.expectRevert(abi.encodeWithSelector(DeviceMarket.NoConsent.selector, buyer));
        market.buy(sale, sellerSig, _sign(SELLER_KEY, digest));
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(market), 0, sale.price * BPS / 10_000
            )
        );
        market.buy(sale, sellerSig, _sign(BUYER_KEY, digest));
        assertTrue(registry.ownerOf(DEVICE) == seller, "the seller keeps the device");
    }

    /// A signed sale settles once: the same signatures cannot sell the device again.
    function test_signedSaleSettlesOnce() public {
        vm.prank(seller);
        registry.approve(address(market), DEVICE);
        vm.prank(buyer);
        credit.approve(address(market), 200e6);
        DeviceMarket.Sale memory sale = _sale(100e6);
        bytes32 digest = market.saleDigest(sale);
        bytes memory sellerSig = _sign(SELLER_KEY, digest);
        bytes memory buyerSig = _sign(BUYER_KEY, digest);
        market.buy(sale, sellerSig, buyerSig);
        vm.expectRevert(abi.encodeWithSelector(DeviceMarket.WrongNonce.selector, DEVICE, 1, 0));
        market.buy(sale, sellerSig, buyerSig);
    }

    /// The operator (registry admin and registrar, credit minter) cannot move the NFT or credits.
    function test_operatorMovesNothing() public {
        vm.expectRevert(
            abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, address(this), DEVICE)
        );
        registry.transferFrom(seller, address(this), DEVICE);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(this), 0, 1)
        );
        credit.transferFrom(buyer, address(this), 1);
    }

    /// The royalty is validated at deployment: at most 10,000 basis points.
    function test_royaltyAbove10000BpsReverts() public {
        vm.expectRevert(abi.encodeWithSelector(ERC2981.ERC2981InvalidDefaultRoyalty.selector, 10_001, 10_000));
        new DeviceRegistry(address(this), installer, 10_001);
    }
}
