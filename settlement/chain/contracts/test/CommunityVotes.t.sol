// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {CommunityVotes} from "../src/CommunityVotes.sol";

/// @notice Chunked minting: only the setup address mints, only until it seals; after the seal
/// nobody mints (the supply is final), and a contract deployed without a setup is sealed at once.
contract CommunityVotesTest is Base {
    address private constant MEMBER_A = address(0xA11CE);
    address private constant MEMBER_B = address(0xB0B0);
    address private constant STRANGER = address(0x5757);
    CommunityVotes private votes;

    constructor() {
        (address[] memory m, uint256[] memory a) = _chunk(MEMBER_A, 3);
        votes = new CommunityVotes(m, a, address(this));
    }

    function _chunk(address member, uint256 amount) private pure returns (address[] memory m, uint256[] memory a) {
        m = new address[](1);
        a = new uint256[](1);
        (m[0], a[0]) = (member, amount);
    }

    function testFuzz_chunksAddUpThenSealFixesTheSupply(uint256 amount) external {
        amount = bound(amount, 0, 10 ** 30);
        (address[] memory m, uint256[] memory a) = _chunk(MEMBER_B, amount);
        votes.mintChunk(m, a);
        assertEq(votes.totalSupply(), 3 + amount, "supply = the chunks");
        assertEq(votes.balanceOf(MEMBER_B), amount, "member B minted");
        assertTrue(!votes.isSealed(), "not sealed yet");
        votes.seal();
        assertTrue(votes.isSealed(), "sealed");
        vm.expectRevert(CommunityVotes.MintingClosed.selector);
        votes.mintChunk(m, a);
        vm.expectRevert(CommunityVotes.MintingClosed.selector);
        votes.seal();
        assertEq(votes.totalSupply(), 3 + amount, "supply unchanged after the seal");
    }

    function testFuzz_onlyTheSetupAddressMints(address caller) external {
        vm.assume(caller != address(this));
        (address[] memory m, uint256[] memory a) = _chunk(caller, 1);
        vm.prank(caller);
        vm.expectRevert(CommunityVotes.MintingClosed.selector);
        votes.mintChunk(m, a);
        vm.prank(caller);
        vm.expectRevert(CommunityVotes.MintingClosed.selector);
        votes.seal();
        assertEq(votes.totalSupply(), 3, "nothing minted");
    }

    function test_withoutSetupSealedAtDeploy() external {
        (address[] memory m, uint256[] memory a) = _chunk(MEMBER_A, 5);
        CommunityVotes once = new CommunityVotes(m, a, address(0));
        assertTrue(once.isSealed(), "sealed at deploy");
        vm.expectRevert(CommunityVotes.MintingClosed.selector);
        once.mintChunk(m, a);
        assertEq(once.totalSupply(), 5, "supply = the constructor's members");
    }
}
