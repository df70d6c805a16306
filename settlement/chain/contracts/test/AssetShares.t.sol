// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {AssetShares} from "../src/AssetShares.sol";
import {EnergyCredit} from "../src/EnergyCredit.sol";

/// @notice A distribution paid in chunks pays every holder exactly what one
/// `distributeRevenue` pays, whatever the chunk size: every micro-euro pulled from the revenue
/// account reaches a holder, nothing stays in the contract; balances are frozen while it is
/// open, a chunk of another epoch or amount and a second distribution of an epoch revert.
contract AssetSharesTest is Base {
    uint256 private constant MAX_HOLDERS = 12;
    EnergyCredit private credit;
    AssetShares private oneShot;
    AssetShares private chunked;

    constructor() {
        credit = new EnergyCredit(address(this), address(this), 10 ** 18);
        credit.mint(address(this), 10 ** 16);
        oneShot = _shares();
        chunked = _shares();
        credit.approve(address(oneShot), type(uint256).max);
        credit.approve(address(chunked), type(uint256).max);
    }

    function _shares() private returns (AssetShares) {
        // revenue and proceeds: this contract; admin, issuer and distributor: this contract
        return new AssetShares(
            "battery", "BAT", credit, address(this), address(this), 1, 10 ** 12, address(this), address(this)
        );
    }

    function _holder(uint256 i) private pure returns (address) {
        return address(uint160(0x1000 + i));
    }

    /// @dev The same `n` holders with the same fuzzed balances in both contracts.
    function _mintBoth(uint256 n, uint256 seed) private {
        address[] memory to = new address[](n);
        uint256[] memory shares = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            to[i] = _holder(i);
            shares[i] = bound(uint256(keccak256(abi.encode(seed, i))), 1, 10 ** 6);
        }
        oneShot.mint(to, shares);
        chunked.mint(to, shares);
    }

    function _credits(uint256 n) private view returns (uint256[] memory balances) {
        balances = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            balances[i] = credit.balanceOf(_holder(i));
        }
    }

    function testFuzz_chunksPayWhatOneDistributionPays(uint256 n, uint256 seed, uint256 amount, uint256 count)
        external
    {
        n = bound(n, 1, MAX_HOLDERS);
        amount = bound(amount, 0, 10 ** 12);
        count = bound(count, 1, n);
        _mintBoth(n, seed);

        uint256 revenue0 = credit.balanceOf(address(this));
        uint256 paidOnce = oneShot.distributeRevenue(3, amount);
        uint256[] memory once = _credits(n);
        assertEq(revenue0 - credit.balanceOf(address(this)), paidOnce, "one shot: pulled = paid");

        uint256 revenue1 = credit.balanceOf(address(this));
        uint256 chunks;
        bool done;
        while (!done) {
            done = chunked.distributeRevenueChunk(3, amount, count);
            ++chunks;
        }
        uint256[] memory twice = _credits(n);
        assertEq(chunks, (n + count - 1) / count, "chunks");
        (bool closed, uint256 paidChunked) = chunked.distribution(3);
        assertTrue(closed, "closed at the last chunk");
        assertEq(paidChunked, paidOnce, "paid");
        assertEq(revenue1 - credit.balanceOf(address(this)), paidChunked, "chunked: pulled = paid");
        for (uint256 i; i < n; ++i) {
            assertEq(twice[i] - once[i], once[i], "each holder paid the same");
        }
        assertLe(amount - paidChunked, n - 1, "remainder below the holder count");
        assertEq(credit.balanceOf(address(chunked)), 0, "contract keeps nothing");
    }

    function test_balancesAreFrozenWhileAChunkedDistributionIsOpen() external {
        _mintBoth(3, 1);
        assertTrue(!chunked.distributeRevenueChunk(5, 1000, 1), "first chunk does not close");
        vm.prank(_holder(0));
        vm.expectRevert(abi.encodeWithSelector(AssetShares.DistributionOpen.selector, 5));
        chunked.transfer(_holder(1), 1);
        vm.expectRevert(abi.encodeWithSelector(AssetShares.DistributionOpen.selector, 5));
        chunked.distributeRevenue(6, 1000);
        vm.expectRevert(abi.encodeWithSelector(AssetShares.NotTheOpenDistribution.selector, 6, 1000));
        chunked.distributeRevenueChunk(6, 1000, 1);
        vm.expectRevert(abi.encodeWithSelector(AssetShares.NotTheOpenDistribution.selector, 5, 999));
        chunked.distributeRevenueChunk(5, 999, 1);
        assertTrue(chunked.distributeRevenueChunk(5, 1000, 2), "last chunk closes");
        vm.prank(_holder(0));
        chunked.transfer(_holder(1), 1); // free again
        vm.expectRevert(abi.encodeWithSelector(AssetShares.AlreadyDistributed.selector, 5));
        chunked.distributeRevenueChunk(5, 1000, 3);
    }
}
