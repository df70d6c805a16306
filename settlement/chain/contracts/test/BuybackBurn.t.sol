// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Base} from "./Base.sol";
import {BuybackBurn} from "../src/BuybackBurn.sol";
import {EnergyCredit} from "../src/EnergyCredit.sol";
import {RewardToken} from "../src/RewardToken.sol";
import {Treasury} from "../src/Treasury.sol";

/// @notice The revenue schedule's buyback: it draws only the treasury's new revenue, buys a
/// holder's tokens only with the holder's consent, pays the reference price and burns them.
contract BuybackBurnTest is Base {
    uint256 internal constant PRICE = 10_000; // micro-euro per token (0.01 EUR)
    uint256 internal constant CREDITS = 1_000e6;

    EnergyCredit internal credit;
    RewardToken internal token; // this contract is its minter
    Treasury internal treasury; // owned by this contract (the set-up owner)
    BuybackBurn internal buyback;
    address internal member = vm.addr(1);
    address internal seller = vm.addr(2);
    address internal outsider = vm.addr(3);

    function setUp() public {
        credit = new EnergyCredit(address(this), address(this), 2 * CREDITS);
        address[] memory to = new address[](2);
        to[0] = member;
        to[1] = address(this); // stands in for Settlement paying fees
        credit.mintBatch(to, CREDITS);
        token = new RewardToken();
        token.mint(seller, 500e6);
        token.mint(outsider, 500e6);
        treasury = new Treasury(IERC20(address(credit)), address(this));
        buyback = new BuybackBurn(IERC20(address(credit)), token, treasury, PRICE);
    }

    /// Contributions made before the buyback was named stay; only later inflows are drawn.
    function testFuzz_drawTakesOnlyNewRevenue(uint256 contribution, uint256 fee) public {
        contribution = bound(contribution, 0, CREDITS);
        fee = bound(fee, 0, CREDITS);
        vm.prank(member);
        credit.transfer(address(treasury), contribution);
        treasury.setBuyback(address(buyback));
        credit.transfer(address(treasury), fee);
        assertEq(buyback.draw(), fee, "drawn");
        assertEq(credit.balanceOf(address(treasury)), contribution, "treasury keeps contributions");
        assertEq(buyback.draw(), 0, "nothing new");
    }

    /// A sale pays floor(units x price / 1e6), burns exactly the units, conserves credits.
    function testFuzz_saleBurnsAndPaysAtPrice(uint256 units) public {
        treasury.setBuyback(address(buyback));
        credit.transfer(address(treasury), CREDITS);
        buyback.draw();
        units = bound(units, 100, 500e6);
        uint256 supply = token.totalSupply();
        uint256 paid = (units * PRICE) / 1e6;
        vm.startPrank(seller);
        token.approve(address(buyback), units);
        buyback.sell(units);
        vm.stopPrank();
        assertEq(token.totalSupply(), supply - units, "burned");
        assertEq(credit.balanceOf(seller), paid, "paid");
        assertEq(credit.balanceOf(address(buyback)) + paid, CREDITS, "credits conserved");
        assertEq(buyback.totalBurned(), units, "totalBurned");
    }

    /// Nobody's tokens are sold without their consent: no allowance, no sale.
    function test_noSaleWithoutConsent() public {
        treasury.setBuyback(address(buyback));
        credit.transfer(address(treasury), CREDITS);
        buyback.draw();
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(3, keccak256("not a permit"));
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(buyback), 0, 1e6)
        );
        buyback.sellWithPermit(seller, 1e6, block.timestamp + 1, v, r, s);
        assertEq(token.balanceOf(seller), 500e6, "seller untouched");
    }

    /// Only the named buyback draws; only the owner names it, once; no sale beyond the budget.
    function test_rolesAndBudget() public {
        vm.expectRevert(abi.encodeWithSelector(Treasury.NotBuyback.selector, outsider));
        vm.prank(outsider);
        treasury.drawRevenue();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, outsider));
        vm.prank(outsider);
        treasury.setBuyback(outsider);
        treasury.setBuyback(address(buyback));
        vm.expectRevert(abi.encodeWithSelector(Treasury.BuybackAlreadySet.selector, address(buyback)));
        treasury.setBuyback(outsider);
        vm.startPrank(seller);
        token.approve(address(buyback), 1e6);
        vm.expectRevert(abi.encodeWithSelector(BuybackBurn.ExceedsBudget.selector, PRICE, 0));
        buyback.sell(1e6);
        vm.stopPrank();
    }
}
