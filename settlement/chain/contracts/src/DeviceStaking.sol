// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {DeviceRegistry} from "./DeviceRegistry.sol";
import {RewardToken} from "./RewardToken.sol";

/// @title DeviceStaking: devices stake RewardTokens to earn, and lose part of it on evidence.
/// @notice A device's owner (its DeviceRegistry NFT's owner) stakes RewardTokens on it, with
/// its own consent: an ERC-2612 permit it signed ({stakeWithPermit}, anyone submits) or its own
/// transaction after an approve ({stake}). A device is staked ({isStaked}) while its active
/// stake covers {minStake}: `minStakePerKw` base units per kW of its registered capacity; the
/// Rewards distributor pays staked devices only. Unstaking takes `unbondingDelay` seconds
/// ({requestUnbond}, then {withdraw}), and stake being unbonded can still be slashed.
///
/// Slashing ({slash}, VERIFIER_ROLE only) takes `slashBps` of the device's stake (active first,
/// then unbonding) on evidence: the device's own EIP-712 signed upload (the DeviceRegistry's
/// `Upload` digest, recovered with ECDSA to the device's registered signer), one reading of it
/// with its Merkle proof against the signed readings root, and a reason code. The reason
/// {REASON_NAMEPLATE} (more energy than the registered capacity can deliver in an interval) and
/// {REASON_NEGATIVE} (a generator reporting negative output) are checked here, from the
/// registry; other reasons rest on the verifier's check. One signed upload slashes at most once
/// (the evidence id is its digest). Of the slashed amount `reporterBps` goes to the reporter,
/// the rest to `slashSink`, or is burned if `slashSink` is the zero address.
///
/// Where owners' first tokens come from: {allocateGenesis}, once, mints the token economy's
/// genesis allocation (RewardToken.mintGenesis: Rewards' admin named this contract the token's
/// genesis minter, with a cap, and it mints nothing else), so the token's supply is genesis + rewards - burned, each traced by an event.
/// Invariant: the token balance of this contract equals {totalStaked}.
contract DeviceStaking is AccessControl {
    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");

    /// @notice A reading above the device's nameplate energy per interval (checked here).
    uint8 public constant REASON_NAMEPLATE = 1;
    /// @notice A PV reading above the clear-sky ceiling (the verifier's check).
    uint8 public constant REASON_CLEAR_SKY = 2;
    /// @notice A generator (solar or wind) reporting negative output (checked here).
    uint8 public constant REASON_NEGATIVE = 3;
    /// @notice A reading contradicted by the grid's own measurements (the verifier's check).
    uint8 public constant REASON_STATE_ESTIMATION = 4;

    uint16 private constant _BPS = 10_000;

    /// @dev One slot a device: who staked, the active and the unbonding stake, unbond time.
    struct Stake {
        address staker;
        uint96 active;
        uint96 unbonding;
        uint64 unbondAt;
    }

    /// @notice The staked token.
    RewardToken public immutable token;
    /// @notice The device registry (owners, signers, capacities, upload digests).
    DeviceRegistry public immutable registry;
    /// @notice Minimum active stake per kW of registered capacity [base units / kW].
    uint256 public immutable minStakePerKw;
    /// @notice Delay between {requestUnbond} and {withdraw} [s].
    uint64 public immutable unbondingDelay;
    /// @notice Share of a device's stake one slash takes [basis points].
    uint16 public immutable slashBps;
    /// @notice Share of a slashed amount paid to the reporter [basis points].
    uint16 public immutable reporterBps;
    /// @notice Where the rest of a slash goes (e.g. the treasury); zero address: burned.
    address public immutable slashSink;
    /// @notice The readings' interval [s] (the nameplate bound of one reading).
    uint32 public immutable intervalS;
    /// @notice Tolerance of the nameplate bound [basis points].
    uint16 public immutable nameplateToleranceBps;

    /// @notice Whether the genesis allocation was minted (it can be, once).
    bool public genesisDone;
    /// @notice Tokens minted by the genesis allocation [base units].
    uint256 public genesisTotal;
    /// @notice Tokens burned by slashes [base units].
    uint256 public burned;
    /// @notice Active plus unbonding stake of all devices [base units]: this contract's balance.
    uint256 public totalStaked;

    mapping(uint256 deviceId => Stake) private _stakes;
    /// @notice Evidence ids (upload digests) that have slashed.
    mapping(bytes32 evidenceId => bool) public evidenceUsed;

    /// @notice The genesis allocation: `total` base units minted to `recipients` owners.
    event GenesisAllocated(uint256 recipients, uint256 total);
    /// @notice `staker` added `amount` to device `deviceId`'s active stake.
    event Staked(uint256 indexed deviceId, address indexed staker, uint256 amount, uint256 active);
    /// @notice `amount` of the active stake starts unbonding, withdrawable at `unbondAt`.
    event UnbondRequested(uint256 indexed deviceId, uint256 amount, uint256 unbondAt);
    /// @notice The unbonded `amount` went back to `staker`.
    event Withdrawn(uint256 indexed deviceId, address indexed staker, uint256 amount);
    /// @notice Device `deviceId` was slashed `amount` on evidence `evidenceId`: `burnedAmount`
    /// burned, `toSink` to {slashSink}, `toReporter` to `reporter`.
    event Slashed(
        uint256 indexed deviceId,
        bytes32 indexed evidenceId,
        uint8 reason,
        uint256 amount,
        uint256 burnedAmount,
        uint256 toSink,
        uint256 toReporter,
        address reporter
    );

    error GenesisAlreadyAllocated();
    error LengthMismatch(uint256 recipients, uint256 amounts);
    error NotDeviceOwner(uint256 deviceId, address caller);
    error NotStaker(uint256 deviceId, address caller);
    error ZeroAmount();
    error InsufficientStake(uint256 deviceId, uint256 active, uint256 amount);
    error StillUnbonding(uint256 deviceId, uint256 unbondAt);
    error NothingToSlash(uint256 deviceId);
    error EvidenceAlreadyUsed(bytes32 evidenceId);
    error NotSignedByDevice(uint256 deviceId);
    error InvalidProof(uint256 deviceId);
    error UnknownReason(uint8 reason);
    error ReasonNotShown(uint256 deviceId, uint8 reason);
    error InvalidShare(uint256 bps);

    /// @param token_ the RewardToken (make this contract its genesis minter: Rewards.openGenesis).
    /// @param registry_ the DeviceRegistry.
    /// @param admin gets DEFAULT_ADMIN_ROLE (genesis) and VERIFIER_ROLE.
    /// @param minStakePerKw_ minimum stake [base units per kW of capacity].
    /// @param unbondingDelay_ unbonding delay [s].
    /// @param slashBps_ share of the stake a slash takes [bp].
    /// @param reporterBps_ share of a slash to the reporter [bp].
    /// @param slashSink_ receiver of the rest of a slash; the zero address burns it.
    /// @param intervalS_ reading interval [s].
    /// @param nameplateToleranceBps_ tolerance of the nameplate bound [bp].
    constructor(
        RewardToken token_,
        DeviceRegistry registry_,
        address admin,
        uint256 minStakePerKw_,
        uint64 unbondingDelay_,
        uint16 slashBps_,
        uint16 reporterBps_,
        address slashSink_,
        uint32 intervalS_,
        uint16 nameplateToleranceBps_
    ) {
        if (slashBps_ > _BPS) revert InvalidShare(slashBps_);
        if (reporterBps_ > _BPS) revert InvalidShare(reporterBps_);
        token = token_;
        registry = registry_;
        minStakePerKw = minStakePerKw_;
        unbondingDelay = unbondingDelay_;
        slashBps = slashBps_;
        reporterBps = reporterBps_;
        slashSink = slashSink_;
        intervalS = intervalS_;
        nameplateToleranceBps = nameplateToleranceBps_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(VERIFIER_ROLE, admin);
    }

    /// @notice Mint the genesis allocation, once: `amounts[i]` base units to `recipients[i]`
    /// (within the cap Rewards.openGenesis set).
    function allocateGenesis(address[] calldata recipients, uint256[] calldata amounts)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (genesisDone) revert GenesisAlreadyAllocated();
        uint256 n = recipients.length;
        if (n != amounts.length) revert LengthMismatch(n, amounts.length);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            total += amounts[i];
        }
        genesisDone = true;
        genesisTotal = total;
        emit GenesisAllocated(n, total);
        token.mintGenesis(recipients, amounts);
    }

    /// @notice Stake `amount` on `deviceId` from its owner, who signed an ERC-2612 permit of
    /// `amount` to this contract (its consent); anyone may submit it. An owner whose permit was
    /// already used (front-run) still stakes, from the allowance it created.
    function stakeWithPermit(uint256 deviceId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
    {
        address owner = registry.ownerOf(deviceId);
        try token.permit(owner, address(this), amount, deadline, v, r, s) {} catch {}
        _stake(deviceId, owner, amount);
    }

    /// @notice Stake `amount` on `deviceId`, sent by its owner (after an approve).
    function stake(uint256 deviceId, uint256 amount) external {
        address owner = registry.ownerOf(deviceId);
        if (msg.sender != owner) revert NotDeviceOwner(deviceId, msg.sender);
        _stake(deviceId, owner, amount);
    }

    /// @notice Start unbonding `amount` of `deviceId`'s active stake (its staker only); all of
    /// the device's unbonding stake is withdrawable `unbondingDelay` seconds from now.
    function requestUnbond(uint256 deviceId, uint256 amount) external {
        Stake storage st = _stakes[deviceId];
        if (msg.sender != st.staker) revert NotStaker(deviceId, msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (amount > st.active) revert InsufficientStake(deviceId, st.active, amount);
        st.active -= uint96(amount);
        st.unbonding += uint96(amount);
        uint64 unbondAt = SafeCast.toUint64(block.timestamp + unbondingDelay);
        st.unbondAt = unbondAt;
        emit UnbondRequested(deviceId, amount, unbondAt);
    }

    /// @notice Pay `deviceId`'s unbonded stake back to its staker, once the delay has passed.
    function withdraw(uint256 deviceId) external {
        Stake storage st = _stakes[deviceId];
        uint256 amount = st.unbonding;
        if (amount == 0) revert ZeroAmount();
        if (block.timestamp < st.unbondAt) revert StillUnbonding(deviceId, st.unbondAt);
        st.unbonding = 0;
        totalStaked -= amount;
        address staker = st.staker;
        emit Withdrawn(deviceId, staker, amount);
        token.transfer(staker, amount);
    }

    /// @notice The evidence of one fraudulent reading: the device's signed upload, one of its
    /// readings with the Merkle proof against the signed root, and the reason.
    struct Evidence {
        uint256 deviceId;
        uint64 period;
        uint64 nonce;
        bytes32 readingsRoot;
        bytes signature;
        uint64 interval;
        int64 energyWh;
        bytes32[] proof;
        uint8 reason;
    }

    /// @notice Slash `ev.deviceId` on evidence `ev` (VERIFIER_ROLE); `reporter` gets its share.
    /// @return amount the slashed amount [base units].
    function slash(Evidence calldata ev, address reporter)
        external
        onlyRole(VERIFIER_ROLE)
        returns (uint256 amount)
    {
        uint256 deviceId = ev.deviceId;
        bytes32 evidenceId = registry.uploadDigest(deviceId, ev.period, ev.readingsRoot, ev.nonce);
        if (evidenceUsed[evidenceId]) revert EvidenceAlreadyUsed(evidenceId);
        (address recovered, ECDSA.RecoverError status,) = ECDSA.tryRecoverCalldata(evidenceId, ev.signature);
        if (status != ECDSA.RecoverError.NoError || recovered != registry.signerOf(deviceId)) {
            revert NotSignedByDevice(deviceId);
        }
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(deviceId, ev.interval, ev.energyWh))));
        if (!MerkleProof.verifyCalldata(ev.proof, ev.readingsRoot, leaf)) revert InvalidProof(deviceId);
        _checkReason(deviceId, ev.reason, ev.energyWh);
        evidenceUsed[evidenceId] = true;

        Stake storage st = _stakes[deviceId];
        uint256 held = uint256(st.active) + st.unbonding;
        amount = held * slashBps / _BPS;
        if (amount == 0) revert NothingToSlash(deviceId);
        uint256 fromActive = amount < st.active ? amount : st.active;
        st.active -= uint96(fromActive);
        st.unbonding -= uint96(amount - fromActive);
        totalStaked -= amount;

        uint256 toReporter = reporter == address(0) ? 0 : amount * reporterBps / _BPS;
        uint256 rest = amount - toReporter;
        uint256 toSink = slashSink == address(0) ? 0 : rest;
        uint256 burnedAmount = rest - toSink;
        burned += burnedAmount;
        emit Slashed(deviceId, evidenceId, ev.reason, amount, burnedAmount, toSink, toReporter, reporter);
        if (toReporter != 0) token.transfer(reporter, toReporter);
        if (toSink != 0) token.transfer(slashSink, toSink);
        if (burnedAmount != 0) token.burn(burnedAmount);
    }

    /// @notice The minimum active stake of `deviceId` [base units]: per kW, rounded up.
    function minStake(uint256 deviceId) public view returns (uint256) {
        (,,, uint32 capacityW,) = registry.deviceInfo(deviceId);
        return (minStakePerKw * capacityW + 999) / 1000;
    }

    /// @notice Whether `deviceId` is staked: a staker, and an active stake of at least {minStake}.
    function isStaked(uint256 deviceId) public view returns (bool) {
        Stake storage st = _stakes[deviceId];
        return st.staker != address(0) && st.active >= minStake(deviceId);
    }

    /// @notice {isStaked} of each device, in one call.
    function stakedMask(uint256[] calldata deviceIds) external view returns (bool[] memory staked) {
        uint256 n = deviceIds.length;
        staked = new bool[](n);
        for (uint256 i; i < n; ++i) {
            staked[i] = isStaked(deviceIds[i]);
        }
    }

    /// @notice Device `deviceId`'s stake: staker, active, unbonding [base units], unbond time [s].
    function stakeOf(uint256 deviceId)
        external
        view
        returns (address staker, uint256 active, uint256 unbonding, uint256 unbondAt)
    {
        Stake storage st = _stakes[deviceId];
        return (st.staker, st.active, st.unbonding, st.unbondAt);
    }

    function _stake(uint256 deviceId, address owner, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        Stake storage st = _stakes[deviceId];
        address staker = st.staker;
        if (staker == address(0)) {
            st.staker = owner;
        } else if (staker != owner) {
            revert NotStaker(deviceId, owner); // the NFT changed hands: the old stake unbonds first
        }
        uint96 active = st.active + SafeCast.toUint96(amount);
        st.active = active;
        totalStaked += amount;
        emit Staked(deviceId, owner, amount, active);
        token.transferFrom(owner, address(this), amount);
    }

    function _checkReason(uint256 deviceId, uint8 reason, int64 energyWh) private view {
        if (reason == REASON_NAMEPLATE) {
            (,, , uint32 capacityW,) = registry.deviceInfo(deviceId);
            // |energy| [Wh] * 3600 > capacity [W] * interval [s] * (1 + tolerance)
            uint256 e = energyWh < 0 ? uint256(-int256(energyWh)) : uint256(int256(energyWh));
            uint256 bound = uint256(capacityW) * intervalS * (_BPS + nameplateToleranceBps);
            if (e * 3600 * _BPS <= bound) revert ReasonNotShown(deviceId, reason);
        } else if (reason == REASON_NEGATIVE) {
            (,, uint8 kind,,) = registry.deviceInfo(deviceId);
            if (energyWh >= 0 || (kind != 1 && kind != 2)) revert ReasonNotShown(deviceId, reason);
        } else if (reason != REASON_CLEAR_SKY && reason != REASON_STATE_ESTIMATION) {
            revert UnknownReason(reason);
        }
    }
}
