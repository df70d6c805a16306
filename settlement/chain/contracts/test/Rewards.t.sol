// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base} from "./Base.sol";
import {DeviceRegistry} from "../src/DeviceRegistry.sol";
import {RewardToken} from "../src/RewardToken.sol";
import {Rewards} from "../src/Rewards.sol";

/// @notice Pays random epochs both ways ((a) distribute, (b) commit + claim with one-leaf
/// trees), with totals above and below the cap, opens and mints the genesis (again and again,
/// above and below its cap), and tries to mint around Rewards.
contract RewardsHandler is Base {
    /// @notice The genesis minter the admin names (DeviceStaking in a run).
    address public constant STAKING = address(0x57A4E);
    Rewards public immutable rewards;
    RewardToken public immutable token;
    address public immutable operator;
    address public immutable admin;
    uint256 public constant DEVICES = 4;
    uint256[] public epochs;
    bool public mintedAround;
    uint256 public genesisOpens;
    uint256 public genesisMints;

    constructor(Rewards rewards_, address operator_, address admin_) {
        rewards = rewards_;
        token = rewards_.token();
        operator = operator_;
        admin = admin_;
    }

    function epochCount() external view returns (uint256) {
        return epochs.length;
    }

    function distribute(uint256 epoch, uint256 a, uint256 b) external {
        epoch = bound(epoch, 0, 20);
        uint256[] memory ids = new uint256[](2);
        uint256[] memory amounts = new uint256[](2);
        ids[0] = 1;
        ids[1] = 3;
        amounts[0] = bound(a, 0, 2 * rewards.epochCap());
        amounts[1] = bound(b, 0, 2 * rewards.epochCap());
        vm.prank(operator);
        try rewards.distribute(epoch, bytes32(0), ids, amounts) {
            epochs.push(epoch);
        } catch {}
    }

    function commitAndClaim(uint256 epoch, uint256 device, uint256 amount, uint256 total) external {
        epoch = bound(epoch, 21, 40);
        device = bound(device, 1, DEVICES);
        amount = bound(amount, 1, 2 * rewards.epochCap());
        total = bound(total, 0, 2 * rewards.epochCap());
        bytes32 leaf = rewards.rewardLeaf(epoch, device, amount);
        vm.prank(operator);
        try rewards.commitEpoch(epoch, bytes32(0), leaf, total) {
            epochs.push(epoch);
        } catch {}
        try rewards.claim(epoch, device, amount, new bytes32[](0)) {} catch {}
    }

    function openGenesis(uint256 cap, bool asAdmin) external {
        cap = bound(cap, 0, 2 * rewards.epochCap());
        vm.prank(asAdmin ? admin : operator);
        try rewards.openGenesis(STAKING, cap) {
            if (!asAdmin) mintedAround = true;
            ++genesisOpens;
        } catch {}
    }

    function mintGenesis(uint256 a, uint256 b) external {
        address[] memory to = new address[](2);
        uint256[] memory amounts = new uint256[](2);
        to[0] = vm.addr(100);
        to[1] = vm.addr(101);
        amounts[0] = bound(a, 0, 2 * rewards.epochCap());
        amounts[1] = bound(b, 0, 2 * rewards.epochCap());
        vm.prank(STAKING);
        try token.mintGenesis(to, amounts) {
            ++genesisMints;
        } catch {}
    }

    function mintAround(uint256 which, uint256 amount) external {
        address[] memory to = new address[](1);
        uint256[] memory amounts = new uint256[](1);
        to[0] = operator;
        amounts[0] = amount;
        bytes32 adminRole = rewards.DEFAULT_ADMIN_ROLE();
        vm.startPrank(operator);
        which %= 4;
        if (which == 0) {
            try token.mint(operator, amount) { mintedAround = true; } catch {}
        } else if (which == 1) {
            try rewards.grantRole(adminRole, operator) { mintedAround = true; } catch {}
        } else if (which == 2) {
            try token.setGenesisMinter(operator, amount) { mintedAround = true; } catch {}
        } else {
            try token.mintGenesis(to, amounts) { mintedAround = true; } catch {}
        }
        vm.stopPrank();
    }
}

contract RewardsInvariants is Base {
    uint256 internal constant CAP = 1_000e6;
    address internal operator = address(0x0905);
    address internal admin = address(0xAD);
    Rewards internal rewards;
    RewardsHandler internal handler;

    function setUp() public {
        DeviceRegistry registry = new DeviceRegistry(address(this), address(this), 0);
        uint256 n = 4;
        uint256[] memory ids = new uint256[](n);
        address[] memory owners = new address[](n);
        uint8[] memory kinds = new uint8[](n);
        uint32[] memory caps = new uint32[](n);
        for (uint256 i; i < n; ++i) {
            ids[i] = i + 1;
            owners[i] = vm.addr(100 + i);
            caps[i] = 1_000;
        }
        registry.registerBatch(ids, owners, owners, kinds, caps);
        rewards = new Rewards(registry, admin, operator, CAP);
        handler = new RewardsHandler(rewards, operator, admin);
        targetContract(address(handler));
    }

    /// Rewards never exceed an epoch's total, nor the total the cap.
    function invariant_rewardsWithinEpochTotal() public view {
        uint256 n = handler.epochCount();
        for (uint256 i; i < n; ++i) {
            uint256 epoch = handler.epochs(i);
            assertLe(rewards.distributed(epoch), rewards.epochTotal(epoch), "paid > total");
            assertLe(rewards.epochTotal(epoch), CAP, "total > cap");
        }
    }

    /// The token's supply is what the epochs paid plus the one genesis: no mint around Rewards.
    function invariant_supplyIsRewardsPaid() public view {
        assertTrue(!handler.mintedAround(), "minted around Rewards");
        uint256 paid;
        for (uint256 epoch; epoch <= 40; ++epoch) {
            paid += rewards.distributed(epoch);
        }
        RewardToken token = rewards.token();
        assertEq(token.totalSupply(), paid + token.genesisTotal(), "supply");
        assertTrue(!rewards.hasRole(rewards.DEFAULT_ADMIN_ROLE(), operator), "operator admin");
    }

    /// The genesis is opened at most once (by the admin, for the minter it named) and minted at
    /// most once, within its cap.
    function invariant_genesisOnceWithinCap() public view {
        RewardToken token = rewards.token();
        assertLe(handler.genesisOpens(), 1, "genesis opened twice");
        assertLe(handler.genesisMints(), 1, "genesis minted twice");
        assertLe(token.genesisTotal(), token.genesisCap(), "genesis > cap");
        if (handler.genesisMints() == 1) assertTrue(token.genesisMinted(), "genesis not recorded");
        address minter = token.genesisMinter();
        assertTrue(minter == address(0) || minter == handler.STAKING(), "genesis minter");
    }
}
