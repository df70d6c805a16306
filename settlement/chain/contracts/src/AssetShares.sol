// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @title AssetShares: ERC-20 shares of one community asset (a shared battery, a turbine).
/// @notice One share is one base unit (decimals = 0), at most `maxShares`. While the offering
/// is open, the ISSUER sells shares to members at `priceMicroEurPerShare`, each buyer paying in
/// EnergyCredit from its own allowance to this contract (its consent), to `proceedsAccount`; or
/// mints them to funders who paid elsewhere. {closeOffering} ends issuance for good.
/// Each epoch, the DISTRIBUTOR pays the asset's net revenue from `revenueAccount` (with that
/// account's allowance to this contract) to the holders of that moment, pro rata to balance:
/// a share transferred before a distribution pays its new holder.
/// @dev Holders are kept in an enumerable set (updated on every balance change), so a
/// distribution is one transaction that loops over them: about 30,000 gas a holder, a few
/// hundred holders per block. Each holder gets floor(amount * balance / supply): less than one
/// base unit below its exact share; the remainder (fewer base units than holders) is never
/// pulled and stays with `revenueAccount` (a client may add it to the next epoch's amount).
contract AssetShares is ERC20, AccessControl {
    using EnumerableSet for EnumerableSet.AddressSet;
    using SafeERC20 for IERC20;

    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");
    bytes32 public constant DISTRIBUTOR_ROLE = keccak256("DISTRIBUTOR_ROLE");

    /// @notice The EnergyCredit token (base unit = one micro-euro).
    IERC20 public immutable credit;
    /// @notice Whose credits a distribution pays out (the asset's market account).
    address public immutable revenueAccount;
    /// @notice Who receives the offering's payments.
    address public immutable proceedsAccount;
    /// @notice Price of one share in the offering [micro-euro].
    uint256 public immutable priceMicroEurPerShare;
    /// @notice Most shares that can ever exist.
    uint256 public immutable maxShares;
    /// @notice Whether issuance ended (no more sales or mints, ever).
    bool public offeringClosed;

    EnumerableSet.AddressSet private _holders;
    mapping(uint256 epoch => bool) private _distributed;
    mapping(uint256 epoch => uint256) private _paid;

    /// @dev A distribution paid in chunks ({distributeRevenueChunk}) while it is open.
    struct OpenDistribution {
        bool open;
        uint256 epoch;
        uint256 amount;
        uint256 supply;
        uint256 next;
        uint256 paid;
    }

    OpenDistribution private _chunked;

    /// @notice `buyer` bought `shares` for `paid` micro-euro.
    event SharesSold(address indexed buyer, uint256 shares, uint256 paid);
    /// @notice Epoch `epoch` paid `paid` of `amount` micro-euro to `holders` holders.
    event Distributed(uint256 indexed epoch, uint256 amount, uint256 paid, uint256 holders);
    /// @notice `holder` received `amount` micro-euro in epoch `epoch`.
    event Payout(uint256 indexed epoch, address indexed holder, uint256 amount);
    /// @notice No more shares can be issued.
    event OfferingClosed(uint256 totalShares);

    /// @dev Issuing `requested` shares would pass `maxShares` (`available` left).
    error SharesCapExceeded(uint256 requested, uint256 available);
    /// @dev Issuance has ended.
    error OfferingIsClosed();
    /// @dev Two arrays differ in length.
    error LengthMismatch(uint256 accounts, uint256 amounts);
    /// @dev Epoch `epoch` was distributed already.
    error AlreadyDistributed(uint256 epoch);
    /// @dev No share exists: nobody to pay.
    error NoShares();
    /// @dev A chunked distribution is open: balances are frozen and only its next chunk runs.
    error DistributionOpen(uint256 epoch);
    /// @dev A chunk names another epoch or amount than the open distribution.
    error NotTheOpenDistribution(uint256 epoch, uint256 amount);

    /// @param name_ the token's name; symbol_ its symbol.
    /// @param credit_ the EnergyCredit token.
    /// @param revenueAccount_ the asset's account, whose allowance pays distributions.
    /// @param proceedsAccount_ receives the offering's payments (e.g. the Treasury).
    /// @param priceMicroEurPerShare_ price of one share [micro-euro].
    /// @param maxShares_ most shares that can ever exist.
    /// @param admin DEFAULT_ADMIN_ROLE (e.g. the CommunityTimelock).
    /// @param operator ISSUER_ROLE and DISTRIBUTOR_ROLE.
    constructor(
        string memory name_,
        string memory symbol_,
        IERC20 credit_,
        address revenueAccount_,
        address proceedsAccount_,
        uint256 priceMicroEurPerShare_,
        uint256 maxShares_,
        address admin,
        address operator
    ) ERC20(name_, symbol_) {
        credit = credit_;
        revenueAccount = revenueAccount_;
        proceedsAccount = proceedsAccount_;
        priceMicroEurPerShare = priceMicroEurPerShare_;
        maxShares = maxShares_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ISSUER_ROLE, operator);
        _grantRole(DISTRIBUTOR_ROLE, operator);
    }

    /// @notice One share is one base unit.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @notice Sell `shares[i]` to `buyers[i]`, each paying shares * price in EnergyCredit
    /// from its own allowance to this contract, to `proceedsAccount`. All or nothing.
    function sell(address[] calldata buyers, uint256[] calldata shares)
        external
        onlyRole(ISSUER_ROLE)
    {
        uint256 n = buyers.length;
        if (n != shares.length) revert LengthMismatch(n, shares.length);
        for (uint256 i; i < n; ++i) {
            _issue(buyers[i], shares[i]);
            uint256 cost = shares[i] * priceMicroEurPerShare;
            credit.safeTransferFrom(buyers[i], proceedsAccount, cost);
            emit SharesSold(buyers[i], shares[i], cost);
        }
    }

    /// @notice Mint `shares[i]` to funders `to[i]` who paid for the asset elsewhere.
    function mint(address[] calldata to, uint256[] calldata shares) external onlyRole(ISSUER_ROLE) {
        uint256 n = to.length;
        if (n != shares.length) revert LengthMismatch(n, shares.length);
        for (uint256 i; i < n; ++i) {
            _issue(to[i], shares[i]);
        }
    }

    /// @notice End issuance for good: the shares that exist are all there will be.
    function closeOffering() external onlyRole(ISSUER_ROLE) {
        offeringClosed = true;
        emit OfferingClosed(totalSupply());
    }

    /// @notice Pay epoch `epoch`'s net revenue `amount` [micro-euro] from `revenueAccount`
    /// (its allowance) to the current holders, pro rata to balance; once per epoch.
    /// @return paid what was paid: `amount` minus a remainder smaller than the holder count.
    function distributeRevenue(uint256 epoch, uint256 amount)
        external
        onlyRole(DISTRIBUTOR_ROLE)
        returns (uint256 paid)
    {
        if (_chunked.open) revert DistributionOpen(_chunked.epoch);
        if (_distributed[epoch]) revert AlreadyDistributed(epoch);
        uint256 supply = totalSupply();
        if (supply == 0) revert NoShares();
        _distributed[epoch] = true;
        uint256 n = _holders.length();
        paid = _payHolders(epoch, amount, supply, 0, n);
        _paid[epoch] = paid;
        emit Distributed(epoch, amount, paid, n);
    }

    /// @notice {distributeRevenue} in chunks, for more holders than one transaction can pay:
    /// the first chunk opens epoch `epoch`'s distribution of `amount` (and freezes every
    /// balance: no transfer, mint or burn until it closes), each pays the next `count`
    /// holders, pro rata to the supply at the opening, and the chunk that pays the last
    /// holder closes it (`Distributed`). Same payouts as one {distributeRevenue}.
    /// @return done whether this chunk closed the distribution.
    function distributeRevenueChunk(uint256 epoch, uint256 amount, uint256 count)
        external
        onlyRole(DISTRIBUTOR_ROLE)
        returns (bool done)
    {
        OpenDistribution storage d = _chunked;
        if (!d.open) {
            if (_distributed[epoch]) revert AlreadyDistributed(epoch);
            uint256 supply = totalSupply();
            if (supply == 0) revert NoShares();
            (d.open, d.epoch, d.amount, d.supply, d.next, d.paid) = (true, epoch, amount, supply, 0, 0);
        } else if (d.epoch != epoch || d.amount != amount) {
            revert NotTheOpenDistribution(epoch, amount);
        }
        uint256 n = _holders.length();
        uint256 end = Math.min(d.next + count, n);
        d.paid += _payHolders(epoch, amount, d.supply, d.next, end);
        d.next = end;
        if (end == n) {
            _distributed[epoch] = true;
            _paid[epoch] = d.paid;
            emit Distributed(epoch, amount, d.paid, n);
            delete _chunked;
            return true;
        }
        return false;
    }

    /// @dev Pay holders [from, to) their pro-rata part of `amount`; what was paid.
    function _payHolders(uint256 epoch, uint256 amount, uint256 supply, uint256 from, uint256 to)
        private
        returns (uint256 paid)
    {
        for (uint256 i = from; i < to; ++i) {
            address holder = _holders.at(i);
            uint256 share = Math.mulDiv(amount, balanceOf(holder), supply);
            if (share != 0) {
                credit.safeTransferFrom(revenueAccount, holder, share);
                emit Payout(epoch, holder, share);
                paid += share;
            }
        }
    }

    /// @notice Whether `epoch` was distributed, and what it paid [micro-euro].
    function distribution(uint256 epoch) external view returns (bool done, uint256 paid) {
        return (_distributed[epoch], _paid[epoch]);
    }

    /// @notice The accounts holding shares now (any order).
    function holders() external view returns (address[] memory) {
        return _holders.values();
    }

    function _issue(address to, uint256 shares) private {
        if (offeringClosed) revert OfferingIsClosed();
        uint256 available = maxShares - totalSupply();
        if (shares > available) revert SharesCapExceeded(shares, available);
        _mint(to, shares);
    }

    /// @dev Keep the holder set equal to the accounts with a non-zero balance.
    function _update(address from, address to, uint256 value) internal override {
        if (_chunked.open) revert DistributionOpen(_chunked.epoch);
        super._update(from, to, value);
        if (from != address(0) && balanceOf(from) == 0) _holders.remove(from);
        if (to != address(0) && value != 0) _holders.add(to);
    }
}
