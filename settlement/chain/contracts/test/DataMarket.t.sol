// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {DataMarket} from "../src/DataMarket.sol";
import {DeviceRegistry} from "../src/DeviceRegistry.sol";
import {EnergyCredit} from "../src/EnergyCredit.sol";

/// @notice A sale moves exactly the buyer's permitted payment: every micro-euro to a device's
/// owner or the treasury, nothing kept; a split that does not sum, a second sale of the same
/// id, a caller without SELLER_ROLE and a sale without the buyer's permit all revert.
contract DataMarketTest is Base {
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    uint256 private constant BUYER_KEY = 0xB0B;
    address private constant TREASURY = address(0x7EA5);
    address private constant OWNER_A = address(0xA11CE);
    address private constant OWNER_B = address(0xB0B0);
    EnergyCredit private credit;
    DeviceRegistry private registry;
    DataMarket private market;
    address private buyer;

    constructor() {
        credit = new EnergyCredit(address(this), address(this), 10 ** 15);
        registry = new DeviceRegistry(address(this), address(this), 0);
        registry.register(1, OWNER_A, address(0x5161), 1, 6000);
        registry.register(2, OWNER_B, address(0x5162), 0, 0);
        market = new DataMarket(credit, registry, TREASURY, address(this), address(this));
        buyer = vm.addr(BUYER_KEY);
        credit.mint(buyer, 10 ** 12);
    }

    function _permit(uint256 value) private view returns (uint8 v, bytes32 r, bytes32 s) {
        bytes32 structHash = keccak256(
            abi.encode(PERMIT_TYPEHASH, buyer, address(market), value, credit.nonces(buyer), block.timestamp + 1)
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", credit.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(BUYER_KEY, digest);
    }

    function _sell(uint256 sale, uint256 amount, uint256 a, uint256 b, uint256 toTreasury) private {
        _sellExpecting("", sale, amount, a, b, toTreasury);
    }

    /// @dev A sale; `err` non-empty: expect it to revert with `err`.
    function _sellExpecting(bytes memory err, uint256 sale, uint256 amount, uint256 a, uint256 b, uint256 toTreasury)
        private
    {
        (uint8 v, bytes32 r, bytes32 s) = _permit(amount);
        if (err.length != 0) vm.expectRevert(err);
        uint256[] memory ids = new uint256[](2);
        uint256[] memory amounts = new uint256[](2);
        (ids[0], ids[1], amounts[0], amounts[1]) = (1, 2, a, b);
        market.sellData(sale, buyer, amount, block.timestamp + 1, v, r, s, ids, amounts, toTreasury, bytes32(0));
    }

    function testFuzz_aSaleMovesExactlyThePaymentToOwnersAndTreasury(uint256 a, uint256 b, uint256 t) external {
        a = bound(a, 0, 10 ** 9);
        b = bound(b, 0, 10 ** 9);
        t = bound(t, 0, 10 ** 9);
        uint256 before = credit.balanceOf(buyer);
        _sell(7, a + b + t, a, b, t);
        assertEq(credit.balanceOf(OWNER_A), a, "owner A");
        assertEq(credit.balanceOf(OWNER_B), b, "owner B");
        assertEq(credit.balanceOf(TREASURY), t, "treasury");
        assertEq(before - credit.balanceOf(buyer), a + b + t, "buyer paid");
        assertEq(credit.balanceOf(address(market)), 0, "market keeps nothing");
        assertEq(credit.allowance(buyer, address(market)), 0, "permit used up");
        assertTrue(market.sold(7), "sale recorded");
    }

    function test_aSplitThatDoesNotSumReverts() external {
        _sellExpecting(abi.encodeWithSelector(DataMarket.SplitMismatch.selector, 100, 99), 1, 100, 50, 40, 9);
    }

    function test_aSaleIsMadeOnce() external {
        _sell(1, 100, 50, 40, 10);
        _sellExpecting(abi.encodeWithSelector(DataMarket.AlreadySold.selector, 1), 1, 100, 50, 40, 10);
    }

    function test_onlyTheSellerSells() external {
        (uint8 v, bytes32 r, bytes32 s) = _permit(100);
        bytes32 role = market.SELLER_ROLE();
        vm.prank(address(0xBAD));
        vm.expectRevert(
            abi.encodeWithSignature("AccessControlUnauthorizedAccount(address,bytes32)", address(0xBAD), role)
        );
        market.sellData(1, buyer, 100, block.timestamp + 1, v, r, s, new uint256[](0), new uint256[](0), 100, 0);
    }

    function test_noPermitNoPayment() external {
        vm.expectRevert(
            abi.encodeWithSignature(
                "ERC20InsufficientAllowance(address,uint256,uint256)", address(market), 0, 100
            )
        );
        market.sellData(1, buyer, 100, block.timestamp + 1, 27, bytes32(0), bytes32(0), new uint256[](0), new uint256[](0), 100, 0);
    }
}
