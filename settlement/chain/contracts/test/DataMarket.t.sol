// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {DataMarket} from "../src/DataMarket.sol";
import {DeviceRegistry} from "../src/DeviceRegistry.sol";
import {EnergyCredit} from "../src/EnergyCredit.sol";

/// @notice A sale moves exactly the buyer's permitted payment: every micro-euro to a device's
/// owner or the treasury, nothing kept; a split that does not sum, a second sale of the same
/// id, a caller without SELLER_ROLE and a sale without the buyer's permit all revert. A sale
/// made in chunks pays every owner and the treasury what one sellData pays, for any chunk
/// size, and keeps nothing; chunks out of order, twice, after the close, or not matching the
/// opening's commitment revert with named errors.
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
    uint256 private constant MAX_DEVICES = 12;
    uint256 private constant FIRST_ID = 100;

    constructor() {
        credit = new EnergyCredit(address(this), address(this), 10 ** 15);
        registry = new DeviceRegistry(address(this), address(this), 0);
        registry.register(1, OWNER_A, address(0x5161), 1, 6000);
        registry.register(2, OWNER_B, address(0x5162), 0, 0);
        for (uint256 i; i < MAX_DEVICES; ++i) {
            registry.register(FIRST_ID + i, _owner(i), address(uint160(0x2000 + i)), 0, 0);
        }
        market = new DataMarket(credit, registry, TREASURY, address(this), address(this));
        buyer = vm.addr(BUYER_KEY);
        credit.mint(buyer, 10 ** 12);
    }

    function _owner(uint256 i) private pure returns (address) {
        return address(uint160(0x1000 + i));
    }

    function _permit(uint256 value) private view returns (uint8 v, bytes32 r, bytes32 s) {
        return _permitFor(address(market), value);
    }

    function _permitFor(address spender, uint256 value) private view returns (uint8 v, bytes32 r, bytes32 s) {
        bytes32 structHash = keccak256(
            abi.encode(PERMIT_TYPEHASH, buyer, spender, value, credit.nonces(buyer), block.timestamp + 1)
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

    /// @dev `n` devices (ids FIRST_ID..), amounts from `seed`; their sum.
    function _split(uint256 n, uint256 seed)
        private
        pure
        returns (uint256[] memory ids, uint256[] memory amounts, uint256 toDevices)
    {
        ids = new uint256[](n);
        amounts = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            ids[i] = FIRST_ID + i;
            amounts[i] = bound(uint256(keccak256(abi.encode(seed, i))), 0, 10 ** 9);
            toDevices += amounts[i];
        }
    }

    function _slice(uint256[] memory a, uint256 from, uint256 to) private pure returns (uint256[] memory out) {
        out = new uint256[](to - from);
        for (uint256 i = from; i < to; ++i) {
            out[i - from] = a[i];
        }
    }

    function _open(DataMarket m, uint256 sale, uint256[] memory ids, uint256[] memory amounts, uint256 toDevices, uint256 t)
        private
    {
        _openExpecting("", m, sale, ids, amounts, toDevices, t);
    }

    /// @dev Open a sale; `err` non-empty: expect it to revert with `err`.
    function _openExpecting(
        bytes memory err,
        DataMarket m,
        uint256 sale,
        uint256[] memory ids,
        uint256[] memory amounts,
        uint256 toDevices,
        uint256 t
    ) private {
        (uint8 v, bytes32 r, bytes32 s) = _permitFor(address(m), toDevices + t);
        bytes32 digest = m.splitDigest(ids, amounts);
        if (err.length != 0) vm.expectRevert(err);
        m.openSale(sale, buyer, toDevices + t, block.timestamp + 1, v, r, s, ids.length, toDevices, t, digest, bytes32(uint256(7)));
    }

    /// @dev Every owner's and the treasury's balance.
    function _balances(uint256 n) private view returns (uint256[] memory got) {
        got = new uint256[](n + 1);
        for (uint256 i; i < n; ++i) {
            got[i] = credit.balanceOf(_owner(i));
        }
        got[n] = credit.balanceOf(TREASURY);
    }

    function testFuzz_chunksPayWhatOneSalePays(uint256 n, uint256 seed, uint256 t, uint256 count) external {
        n = bound(n, 0, MAX_DEVICES);
        t = bound(t, 0, 10 ** 9);
        count = bound(count, 1, MAX_DEVICES);
        (uint256[] memory ids, uint256[] memory amounts, uint256 toDevices) = _split(n, seed);
        uint256 amount = toDevices + t;
        uint256[] memory before = _balances(n);
        (uint8 v, bytes32 r, bytes32 s) = _permit(amount);
        market.sellData(1, buyer, amount, block.timestamp + 1, v, r, s, ids, amounts, t, bytes32(uint256(7)));
        uint256[] memory mid = _balances(n);
        DataMarket chunked = new DataMarket(credit, registry, TREASURY, address(this), address(this));
        uint256 buyerBefore = credit.balanceOf(buyer);
        _open(chunked, 1, ids, amounts, toDevices, t);
        assertEq(credit.balanceOf(address(chunked)), amount, "opening pulls the whole payment");
        bool done = n == 0;
        for (uint256 from; from < n; from += count) {
            uint256 to = from + count < n ? from + count : n;
            done = chunked.payChunk(1, from, _slice(ids, from, to), _slice(amounts, from, to));
            assertTrue(done == (to == n), "the last chunk closes the sale");
        }
        if (n == 0) done = chunked.payChunk(1, 0, ids, amounts);
        assertTrue(done, "closed");
        uint256[] memory last = _balances(n);
        for (uint256 i; i <= n; ++i) {
            assertEq(last[i] - mid[i], mid[i] - before[i], i == n ? "treasury" : "owner");
        }
        assertEq(buyerBefore - credit.balanceOf(buyer), amount, "buyer paid");
        assertEq(credit.balanceOf(address(chunked)), 0, "market keeps nothing");
        assertEq(credit.allowance(buyer, address(chunked)), 0, "permit used up");
        assertTrue(chunked.sold(1), "sale recorded");
        (bool open,) = chunked.openSaleProgress(1);
        assertTrue(!open, "no longer open");
    }

    function test_chunksOutOfOrderTwiceOrAfterTheCloseRevert() external {
        (uint256[] memory ids, uint256[] memory amounts, uint256 toDevices) = _split(6, 42);
        uint256[] memory none = new uint256[](0);
        vm.expectRevert(abi.encodeWithSelector(DataMarket.SaleNotOpen.selector, 3));
        market.payChunk(3, 0, none, none);
        _open(market, 3, ids, amounts, toDevices, 5);
        _openExpecting(abi.encodeWithSelector(DataMarket.SaleIsOpen.selector, 3), market, 3, ids, amounts, toDevices, 5);
        vm.expectRevert(abi.encodeWithSelector(DataMarket.SaleIsOpen.selector, 3));
        market.sellData(3, buyer, 0, block.timestamp + 1, 27, 0, 0, none, none, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(DataMarket.ChunkOutOfOrder.selector, 3, 0, 2));
        market.payChunk(3, 2, _slice(ids, 2, 4), _slice(amounts, 2, 4));
        market.payChunk(3, 0, _slice(ids, 0, 2), _slice(amounts, 0, 2));
        vm.expectRevert(abi.encodeWithSelector(DataMarket.ChunkOutOfOrder.selector, 3, 2, 0));
        market.payChunk(3, 0, _slice(ids, 0, 2), _slice(amounts, 0, 2)); // twice
        vm.expectRevert(abi.encodeWithSelector(DataMarket.ChunkPastTheSale.selector, 3, 7, 6));
        market.payChunk(3, 2, _slice(ids, 1, 6), _slice(amounts, 1, 6));
        assertTrue(market.payChunk(3, 2, _slice(ids, 2, 6), _slice(amounts, 2, 6)), "closed");
        vm.expectRevert(abi.encodeWithSelector(DataMarket.AlreadySold.selector, 3));
        market.payChunk(3, 6, none, none);
        _openExpecting(abi.encodeWithSelector(DataMarket.AlreadySold.selector, 3), market, 3, ids, amounts, toDevices, 5);
        assertEq(credit.balanceOf(address(market)), 0, "market keeps nothing");
    }

    function test_chunksThatDoNotMatchTheCommitmentRevert() external {
        (uint256[] memory ids, uint256[] memory amounts, uint256 toDevices) = _split(4, 9);
        _open(market, 4, ids, amounts, toDevices, 5);
        // Another split of the same total: the digest gives it away at the close.
        uint256[] memory swapped = _slice(amounts, 0, 4);
        (swapped[0], swapped[1]) = (amounts[1], amounts[0]);
        bytes32 committed = market.splitDigest(ids, amounts);
        bytes32 other = market.splitDigest(ids, swapped);
        market.payChunk(4, 0, _slice(ids, 0, 2), _slice(swapped, 0, 2));
        vm.expectRevert(abi.encodeWithSelector(DataMarket.SplitDigestMismatch.selector, 4, committed, other));
        market.payChunk(4, 2, _slice(ids, 2, 4), _slice(swapped, 2, 4));
        // More than the devices' committed total reverts at once.
        uint256[] memory more = _slice(amounts, 2, 4);
        more[0] = toDevices + 1;
        vm.expectRevert(
            abi.encodeWithSelector(DataMarket.DevicesTotalMismatch.selector, 4, toDevices, amounts[1] + amounts[0] + toDevices + 1 + more[1])
        );
        market.payChunk(4, 2, _slice(ids, 2, 4), more);
        // A split that does not sum to the payment cannot open.
        (uint8 v, bytes32 r, bytes32 s) = _permit(100);
        vm.expectRevert(abi.encodeWithSelector(DataMarket.SplitMismatch.selector, 100, 99));
        market.openSale(5, buyer, 100, block.timestamp + 1, v, r, s, 1, 90, 9, bytes32(0), bytes32(0));
        // Less than the committed total at the close.
        uint256[] memory less = _slice(amounts, 2, 4);
        less[1] = 0;
        vm.expectRevert(
            abi.encodeWithSelector(DataMarket.DevicesTotalMismatch.selector, 4, toDevices, toDevices - amounts[3])
        );
        market.payChunk(4, 2, _slice(ids, 2, 4), less);
    }

    function test_onlyTheSellerOpensAndPaysChunks() external {
        bytes32 role = market.SELLER_ROLE();
        uint256[] memory none = new uint256[](0);
        vm.prank(address(0xBAD));
        vm.expectRevert(
            abi.encodeWithSignature("AccessControlUnauthorizedAccount(address,bytes32)", address(0xBAD), role)
        );
        market.payChunk(1, 0, none, none);
        vm.prank(address(0xBAD));
        vm.expectRevert(
            abi.encodeWithSignature("AccessControlUnauthorizedAccount(address,bytes32)", address(0xBAD), role)
        );
        market.openSale(1, buyer, 0, 0, 27, 0, 0, 0, 0, 0, 0, 0);
    }
}
