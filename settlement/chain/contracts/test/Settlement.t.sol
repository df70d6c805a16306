// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Base} from "./Base.sol";
import {CommunityTimelock} from "../src/CommunityTimelock.sol";
import {EnergyCredit} from "../src/EnergyCredit.sol";
import {Settlement} from "../src/Settlement.sol";

/// @notice A community as gridtwin deploys it: a timelock admin, an operator that only commits
/// and pauses, members minted credits who each approve Settlement for a part of them.
abstract contract Community is Base {
    uint256 internal constant MEMBERS = 5;
    uint256 internal constant CREDITS = 1_000e6; // micro-euro each
    uint256 internal constant CAP = MEMBERS * CREDITS;

    address internal operator = address(0x0905);
    CommunityTimelock internal timelock;
    EnergyCredit internal credit;
    Settlement internal settlement;
    address[] internal members;

    function _deploy() internal {
        address[] memory proposers = new address[](0); // as gridtwin without a DAO: roles frozen
        address[] memory executors = new address[](1);
        timelock = new CommunityTimelock(2 days, proposers, executors, address(0));
        // setup: this contract mints (the on-ramp), then renounces; the timelock is the admin
        credit = new EnergyCredit(address(timelock), address(this), CAP);
        settlement = new Settlement(IERC20(address(credit)), address(timelock), operator, operator);
        for (uint256 i; i < MEMBERS; ++i) {
            members.push(vm.addr(i + 1));
        }
        credit.mintBatch(members, CREDITS);
        credit.renounceRole(credit.MINTER_ROLE(), address(this));
    }
}

/// @notice Drives Settlement with random batches, approvals, emptied accounts and attempts at
/// escalation, and keeps the ghost books the invariants check.
contract SettlementHandler is Base {
    EnergyCredit public immutable credit;
    Settlement public immutable settlement;
    address public immutable operator;
    address public constant OUTSIDER = address(0xBEEF); // never approves anything
    address[] public accounts; // the members, then OUTSIDER

    mapping(address => uint256) public allowed; // the member's last approval
    mapping(address => uint256) public pulledSince; // what Settlement took since then
    bool public outsiderLost;
    bool public escalated;
    uint256 public batches;

    constructor(EnergyCredit credit_, Settlement settlement_, address operator_, address[] memory members_) {
        credit = credit_;
        settlement = settlement_;
        operator = operator_;
        for (uint256 i; i < members_.length; ++i) {
            accounts.push(members_[i]);
        }
        accounts.push(OUTSIDER);
    }

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    /// A balanced batch among `count` distinct accounts from `offset` on, random amounts.
    function commit(uint256 seed, uint256 count, uint256 offset) external {
        uint256 total = accounts.length;
        uint256 n = bound(count, 2, total);
        offset %= total;
        address[] memory who = new address[](n);
        int256[] memory amounts = new int256[](n);
        int256 sum;
        for (uint256 i; i < n; ++i) {
            who[i] = accounts[(offset + i) % total];
            if (i + 1 < n) {
                int256 a = int256(bound(uint256(keccak256(abi.encode(seed, i))), 0, 600e6));
                amounts[i] = uint256(keccak256(abi.encode(seed, i, "sign"))) % 2 == 0 ? a : -a;
                sum += amounts[i];
            }
        }
        amounts[n - 1] = -sum;
        uint256[] memory before = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            before[i] = credit.balanceOf(who[i]);
        }
        vm.prank(operator);
        settlement.commitBatch(++batches, bytes32(batches), 1, 1, who, amounts);
        for (uint256 i; i < n; ++i) {
            uint256 after_ = credit.balanceOf(who[i]);
            if (after_ < before[i]) {
                if (who[i] == OUTSIDER) outsiderLost = true;
                pulledSince[who[i]] += before[i] - after_;
            }
        }
    }

    /// A member sets a new allowance for Settlement.
    function approve(uint256 who, uint256 amount) external {
        address member = accounts[who % (accounts.length - 1)];
        amount = bound(amount, 0, 2_000e6);
        vm.prank(member);
        credit.approve(address(settlement), amount);
        allowed[member] = amount;
        pulledSince[member] = 0;
    }

    /// A member empties its account to the outsider (its own transfer).
    function empty(uint256 who) external {
        address member = accounts[who % (accounts.length - 1)];
        uint256 balance = credit.balanceOf(member);
        vm.prank(member);
        credit.transfer(OUTSIDER, balance);
    }

    /// The operator tries to grant itself a role, to mint, or to pull a member's credits.
    function escalate(uint256 which, uint256 who) external {
        which %= 5;
        address member = accounts[who % (accounts.length - 1)];
        vm.startPrank(operator);
        if (which == 0) {
            try settlement.grantRole(settlement.DEFAULT_ADMIN_ROLE(), operator) { escalated = true; } catch {}
        } else if (which == 1) {
            try credit.grantRole(credit.MINTER_ROLE(), operator) { escalated = true; } catch {}
        } else if (which == 2) {
            try credit.mint(operator, 1) { escalated = true; } catch {}
        } else if (which == 3) {
            try credit.transferFrom(member, operator, 1) { escalated = true; } catch {}
        } else {
            try settlement.grantRole(settlement.SETTLER_ROLE(), address(0xBAD)) { escalated = true; } catch {}
        }
        vm.stopPrank();
    }
}

contract SettlementInvariants is Community {
    SettlementHandler internal handler;

    function setUp() public {
        _deploy();
        handler = new SettlementHandler(credit, settlement, operator, members);
        for (uint256 i; i < MEMBERS; ++i) {
            vm.prank(members[i]);
            credit.approve(address(settlement), 0);
        }
        targetContract(address(handler));
    }

    /// Credits are conserved by every batch: none minted or burnt, the clearing account empty.
    function invariant_creditsConserved() public view {
        assertEq(credit.totalSupply(), CAP, "supply");
        assertEq(credit.balanceOf(address(settlement)), 0, "clearing account");
        uint256 sum = credit.balanceOf(handler.OUTSIDER());
        for (uint256 i; i < MEMBERS; ++i) {
            sum += credit.balanceOf(members[i]);
        }
        assertEq(sum, CAP, "balances");
    }

    /// Every micro-euro a payer could not pay is a receiver's claim.
    function invariant_debtsEqualClaims() public view {
        uint256 debts;
        uint256 claims;
        uint256 n = handler.accountCount();
        for (uint256 i; i < n; ++i) {
            address a = handler.accounts(i);
            debts += settlement.debtOf(a);
            claims += settlement.claimOf(a);
        }
        assertEq(debts, settlement.totalDebt(), "debts");
        assertEq(claims, settlement.totalDebt(), "claims");
    }

    /// No account loses credits to settlement beyond its allowance; one without, loses none.
    function invariant_noLossWithoutAllowance() public view {
        assertTrue(!handler.outsiderLost(), "an account without allowance paid");
        for (uint256 i; i < MEMBERS; ++i) {
            address m = members[i];
            assertLe(handler.pulledSince(m), handler.allowed(m), "pulled beyond the allowance");
        }
    }

    /// No role escalates: the operator commits and pauses, nothing else.
    function invariant_noRoleEscalates() public view {
        assertTrue(!handler.escalated(), "the operator escalated");
        assertTrue(!settlement.hasRole(settlement.DEFAULT_ADMIN_ROLE(), operator), "admin");
        assertTrue(!credit.hasRole(credit.DEFAULT_ADMIN_ROLE(), operator), "credit admin");
        assertTrue(!credit.hasRole(credit.MINTER_ROLE(), operator), "minter");
        assertTrue(settlement.hasRole(settlement.SETTLER_ROLE(), operator), "settler");
    }
}

contract SettlementFuzz is Community {
    function setUp() public {
        _deploy();
    }

    /// The operator's key cannot move a member's credits itself.
    function testFuzz_operatorCannotTransferFrom(uint256 who, uint256 amount) public {
        address member = members[who % MEMBERS];
        amount = bound(amount, 1, CREDITS);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, operator, 0, amount
            )
        );
        credit.transferFrom(member, operator, amount);
    }

    /// Nor can it mint or grant itself a role.
    function testFuzz_operatorCannotMintOrGrant(uint256 amount) public {
        bytes32 minter = credit.MINTER_ROLE();
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, operator, minter)
        );
        credit.mint(operator, amount);
        bytes32 admin = settlement.DEFAULT_ADMIN_ROLE();
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, operator, admin)
        );
        settlement.grantRole(admin, operator);
    }

    /// Two payers, three receivers; payer 0's allowance and balance random: the batch commits,
    /// payers pay min(debit, balance, allowance), receivers are cut pro rata, exactly.
    function testFuzz_shortPayerDoesNotBlockTheBatch(
        uint256 owe0,
        uint256 owe1,
        uint256 allowance0,
        uint256 keep0,
        uint256 split
    ) public {
        owe0 = bound(owe0, 1, 3 * CREDITS);
        owe1 = bound(owe1, 0, CREDITS);
        allowance0 = bound(allowance0, 0, 3 * CREDITS);
        keep0 = bound(keep0, 0, CREDITS);
        vm.prank(members[0]);
        credit.approve(address(settlement), allowance0);
        vm.prank(members[1]);
        credit.approve(address(settlement), CREDITS);
        vm.prank(members[0]);
        credit.transfer(address(0xBEEF), CREDITS - keep0); // member 0 keeps only keep0
        uint256 due = owe0 + owe1;
        uint256 due2 = bound(split, 0, due);
        uint256 due3 = (due - due2) / 2;
        uint256 due4 = due - due2 - due3;
        address[] memory who = new address[](5);
        int256[] memory amounts = new int256[](5);
        for (uint256 i; i < 5; ++i) {
            who[i] = members[i];
        }
        amounts[0] = -int256(owe0);
        amounts[1] = -int256(owe1);
        amounts[2] = int256(due2);
        amounts[3] = int256(due3);
        amounts[4] = int256(due4);
        uint256[5] memory before;
        for (uint256 i; i < 5; ++i) {
            before[i] = credit.balanceOf(members[i]);
        }
        vm.prank(operator);
        settlement.commitBatch(1, bytes32(uint256(1)), 1, 1, who, amounts);
        uint256 paid0 = owe0 < keep0 ? owe0 : keep0;
        if (allowance0 < paid0) paid0 = allowance0;
        uint256 shortfall = owe0 - paid0;
        assertEq(credit.balanceOf(members[0]), before[0] - paid0, "payer 0");
        assertEq(credit.balanceOf(members[1]), before[1] - owe1, "payer 1");
        assertEq(settlement.debtOf(members[0]), shortfall, "debt");
        uint256 received;
        uint256 cuts;
        for (uint256 i = 2; i < 5; ++i) {
            uint256 got = credit.balanceOf(members[i]) - before[i];
            assertEq(got + settlement.claimOf(members[i]), uint256(amounts[i]), "due = paid + claim");
            received += got;
            cuts += settlement.claimOf(members[i]);
        }
        assertEq(received, paid0 + owe1, "what payers paid is what receivers got");
        assertEq(cuts, shortfall, "cuts = shortfall");
        assertEq(credit.balanceOf(address(settlement)), 0, "clearing account");
    }

    /// The zero address and the contract itself cannot be settled against.
    function test_invalidAccountsRevert() public {
        address[] memory who = new address[](2);
        int256[] memory amounts = new int256[](2);
        who[0] = address(settlement);
        who[1] = members[0];
        amounts[0] = -5;
        amounts[1] = 5;
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(Settlement.InvalidAccount.selector, address(settlement)));
        settlement.commitBatch(1, bytes32(uint256(1)), 1, 1, who, amounts);
    }
}
