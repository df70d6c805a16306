// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {DeviceRegistry} from "./DeviceRegistry.sol";
import {RewardToken} from "./RewardToken.sol";

/// @title Rewards: DePIN rewards per epoch, minted in RewardToken to each device's NFT owner.
/// @notice Two ways to pay an epoch, each at most once per epoch:
/// (a) {distribute}: the DISTRIBUTOR_ROLE holder mints every device's reward in one call
///     (the cheapest per device, bounded by the block gas limit);
/// (b) {commitEpoch}: the DISTRIBUTOR_ROLE holder commits a Merkle root of the rewards, then
///     anyone pays one device with {claim} or many with {claimMany} (a multiproof), each
///     device once (a claimed bitmap). Leaves follow OpenZeppelin's StandardMerkleTree:
///     keccak256(bytes.concat(keccak256(abi.encode(epoch, deviceId, amount)))).
/// Either way a device is paid to the current owner of its NFT (DeviceRegistry.payeeOf), and
/// a revoked or unregistered device cannot be paid (the call reverts). The token's supply is
/// the sum of what every epoch paid, and no epoch pays more than {epochCap}: the token's only
/// minter is this contract (it deploys the token), and both ways check the cap before minting.
/// Besides rewards the token mints one genesis allocation (the tokens owners first stake):
/// {openGenesis}, once, on DEFAULT_ADMIN_ROLE's word, names its minter and its cap.
/// Roles: DEFAULT_ADMIN_ROLE (the operator while the community is set up, then a timelock)
/// grants and revokes, and opens the genesis once; DISTRIBUTOR_ROLE (the operator) pays epochs
/// within the cap, nothing else.
contract Rewards is AccessControl {
    bytes32 public constant DISTRIBUTOR_ROLE = keccak256("DISTRIBUTOR_ROLE");

    /// @dev Three slots per epoch; (a) leaves rewardsRoot zero.
    struct Epoch {
        bytes32 readingsRoot;
        bytes32 rewardsRoot;
        uint96 total; // committed total [base units]
        uint96 paid; // minted so far [base units]
        uint64 committedBlock; // 0 = not committed
    }

    /// @notice The token rewards are minted in; deployed by this contract, its only minter.
    RewardToken public immutable token;
    /// @notice The most one epoch may pay [base units].
    uint256 public immutable epochCap;
    /// @notice The registry of devices and their owners.
    DeviceRegistry public immutable registry;

    mapping(uint256 epoch => Epoch) private _epochs;
    mapping(uint256 epoch => mapping(uint256 word => uint256 bits)) private _claimed;

    /// @notice Epoch `epoch` was paid in one batch ((a)).
    event EpochDistributed(uint256 indexed epoch, bytes32 readingsRoot, uint256 deviceCount, uint256 total);
    /// @notice Epoch `epoch`'s rewards root was committed ((b)).
    event EpochCommitted(uint256 indexed epoch, bytes32 readingsRoot, bytes32 rewardsRoot, uint256 total);
    /// @notice One device's reward of a committed epoch was paid to `owner` ((b), {claim}).
    event Claimed(uint256 indexed epoch, uint256 indexed deviceId, address indexed owner, uint256 amount);
    /// @notice Many devices' rewards of a committed epoch were paid ((b), {claimMany}).
    event ClaimedMany(uint256 indexed epoch, uint256 deviceCount, uint256 amount);

    /// @dev `epoch` was already distributed or committed.
    error EpochAlreadyCommitted(uint256 epoch);
    /// @dev `epoch` has no committed rewards root.
    error EpochNotCommitted(uint256 epoch);
    /// @dev A rewards root must not be zero.
    error EmptyRewardsRoot(uint256 epoch);
    /// @dev The arrays differ in length, or are empty where they must not be.
    error LengthMismatch(uint256 deviceIds, uint256 amounts);
    /// @dev {distribute} takes device ids in strictly ascending order (so each one once);
    /// `index` is the first out of order.
    error DeviceIdsNotAscending(uint256 index);
    /// @dev The reward of `deviceId` in `epoch` was already paid.
    error AlreadyClaimed(uint256 epoch, uint256 deviceId);
    /// @dev The proof does not prove the leaf (or leaves) under the epoch's rewards root.
    error InvalidProof(uint256 epoch);
    /// @dev The epoch's total would exceed {epochCap}.
    error ExceedsEpochCap(uint256 epoch, uint256 total, uint256 cap);
    /// @dev Paying this would exceed the epoch's committed total.
    error ExceedsEpochTotal(uint256 epoch, uint256 paid, uint256 total);

    /// @param registry_ the device registry.
    /// @param admin gets DEFAULT_ADMIN_ROLE.
    /// @param distributor gets DISTRIBUTOR_ROLE.
    /// @param epochCap_ the most one epoch may pay [base units].
    constructor(DeviceRegistry registry_, address admin, address distributor, uint256 epochCap_) {
        token = new RewardToken();
        registry = registry_;
        epochCap = epochCap_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DISTRIBUTOR_ROLE, distributor);
    }

    /// @notice Let `genesisMinter` (DeviceStaking) mint the token's genesis allocation, once, at
    /// most `cap` base units (RewardToken.setGenesisMinter: this can happen once, ever).
    function openGenesis(address genesisMinter, uint256 cap) external onlyRole(DEFAULT_ADMIN_ROLE) {
        token.setGenesisMinter(genesisMinter, cap);
    }

    /// @notice (a) Pay epoch `epoch`: mint `amounts[i]` to the owner of device `deviceIds[i]`.
    /// An epoch with no device to pay (empty arrays) still records its readings root.
    /// @param readingsRoot Merkle root of the epoch's verified readings (recorded, not checked).
    /// @param deviceIds the rewarded devices, in strictly ascending order.
    /// @param amounts reward per device [base units].
    function distribute(
        uint256 epoch,
        bytes32 readingsRoot,
        uint256[] calldata deviceIds,
        uint256[] calldata amounts
    ) external onlyRole(DISTRIBUTOR_ROLE) {
        Epoch storage record = _epochs[epoch];
        if (record.committedBlock != 0) revert EpochAlreadyCommitted(epoch);
        uint256 n = deviceIds.length;
        if (n != amounts.length) revert LengthMismatch(n, amounts.length);
        uint256 total;
        uint256 previous;
        for (uint256 i; i < n; ++i) {
            uint256 deviceId = deviceIds[i];
            if (i != 0 && deviceId <= previous) revert DeviceIdsNotAscending(i);
            previous = deviceId;
            total += amounts[i];
        }
        _checkCap(epoch, total);
        uint96 total96 = SafeCast.toUint96(total);
        record.readingsRoot = readingsRoot;
        record.total = total96;
        record.paid = total96;
        record.committedBlock = SafeCast.toUint64(block.number);
        emit EpochDistributed(epoch, readingsRoot, n, total);
        token.mintBatch(registry.payeesOf(deviceIds), amounts);
    }

    /// @notice (b) Commit epoch `epoch`'s rewards root; devices are then paid by {claim}.
    /// @param readingsRoot Merkle root of the epoch's verified readings (recorded, not checked).
    /// @param rewardsRoot Merkle root of the (epoch, deviceId, amount) leaves.
    /// @param total sum of the leaves' amounts [base units]: claims never pay more.
    function commitEpoch(uint256 epoch, bytes32 readingsRoot, bytes32 rewardsRoot, uint256 total)
        external
        onlyRole(DISTRIBUTOR_ROLE)
    {
        Epoch storage record = _epochs[epoch];
        if (record.committedBlock != 0) revert EpochAlreadyCommitted(epoch);
        if (rewardsRoot == bytes32(0)) revert EmptyRewardsRoot(epoch);
        _checkCap(epoch, total);
        record.readingsRoot = readingsRoot;
        record.rewardsRoot = rewardsRoot;
        record.total = SafeCast.toUint96(total);
        record.committedBlock = SafeCast.toUint64(block.number);
        emit EpochCommitted(epoch, readingsRoot, rewardsRoot, total);
    }

    /// @notice (b) Pay device `deviceId`'s reward of committed epoch `epoch` to its NFT's owner.
    /// Anyone may call; each device is paid once per epoch.
    /// @param amount the device's reward [base units], as in its leaf.
    /// @param proof the leaf's Merkle proof (sibling hashes, leaf to root).
    function claim(uint256 epoch, uint256 deviceId, uint256 amount, bytes32[] calldata proof) external {
        Epoch storage record = _epochs[epoch];
        bytes32 root = record.rewardsRoot;
        if (root == bytes32(0)) revert EpochNotCommitted(epoch);
        mapping(uint256 => uint256) storage claimed = _claimed[epoch];
        uint256 bit = 1 << (deviceId & 255);
        uint256 word = claimed[deviceId >> 8];
        if (word & bit != 0) revert AlreadyClaimed(epoch, deviceId);
        if (!MerkleProof.verifyCalldata(proof, root, rewardLeaf(epoch, deviceId, amount))) {
            revert InvalidProof(epoch);
        }
        claimed[deviceId >> 8] = word | bit;
        _addPaid(record, epoch, amount);
        address owner = registry.payeeOf(deviceId);
        emit Claimed(epoch, deviceId, owner, amount);
        token.mint(owner, amount);
    }

    /// @notice (b) {claim} many devices of committed epoch `epoch` at once, with one multiproof
    /// (OpenZeppelin's MerkleProof.multiProofVerify; leaves in the order of `deviceIds`).
    /// Device ids in ascending order share bitmap words, which makes this nearly as cheap per
    /// device as {distribute}, in as many calls as the block gas limit needs.
    function claimMany(
        uint256 epoch,
        uint256[] calldata deviceIds,
        uint256[] calldata amounts,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external {
        Epoch storage record = _epochs[epoch];
        bytes32 root = record.rewardsRoot;
        if (root == bytes32(0)) revert EpochNotCommitted(epoch);
        uint256 n = deviceIds.length;
        if (n == 0 || n != amounts.length) revert LengthMismatch(n, amounts.length);
        mapping(uint256 => uint256) storage claimed = _claimed[epoch];
        bytes32[] memory leaves = new bytes32[](n);
        uint256 total;
        uint256 wordIndex = deviceIds[0] >> 8;
        uint256 word = claimed[wordIndex];
        for (uint256 i; i < n; ++i) {
            uint256 deviceId = deviceIds[i];
            if (deviceId >> 8 != wordIndex) {
                claimed[wordIndex] = word;
                wordIndex = deviceId >> 8;
                word = claimed[wordIndex];
            }
            uint256 bit = 1 << (deviceId & 255);
            if (word & bit != 0) revert AlreadyClaimed(epoch, deviceId);
            word |= bit;
            uint256 amount = amounts[i];
            total += amount;
            leaves[i] = rewardLeaf(epoch, deviceId, amount);
        }
        claimed[wordIndex] = word;
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, leaves)) revert InvalidProof(epoch);
        _addPaid(record, epoch, total);
        emit ClaimedMany(epoch, n, total);
        token.mintBatch(registry.payeesOf(deviceIds), amounts);
    }

    /// @notice The leaf of one device's reward, as gridtwin's settlement/depin_chain.py computes it.
    function rewardLeaf(uint256 epoch, uint256 deviceId, uint256 amount) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(epoch, deviceId, amount))));
    }

    /// @notice The readings root and the rewards root of `epoch` (zero if none).
    function epochRoot(uint256 epoch) external view returns (bytes32 readingsRoot, bytes32 rewardsRoot) {
        Epoch storage record = _epochs[epoch];
        return (record.readingsRoot, record.rewardsRoot);
    }

    /// @notice The whole record of `epoch`; committedBlock is 0 if not committed.
    function epochRecord(uint256 epoch)
        external
        view
        returns (bytes32 readingsRoot, bytes32 rewardsRoot, uint256 total, uint256 paid, uint256 committedBlock)
    {
        Epoch storage r = _epochs[epoch];
        return (r.readingsRoot, r.rewardsRoot, r.total, r.paid, r.committedBlock);
    }

    /// @notice What `epoch` has paid so far [base units] (its total once every claim is in).
    function distributed(uint256 epoch) external view returns (uint256) {
        return _epochs[epoch].paid;
    }

    /// @notice What `epoch` was committed to pay [base units].
    function epochTotal(uint256 epoch) external view returns (uint256) {
        return _epochs[epoch].total;
    }

    /// @notice Whether the reward of `deviceId` in `epoch` was claimed ((b)).
    function isClaimed(uint256 epoch, uint256 deviceId) external view returns (bool) {
        return _claimed[epoch][deviceId >> 8] & (1 << (deviceId & 255)) != 0;
    }

    function _checkCap(uint256 epoch, uint256 total) private view {
        if (total > epochCap) revert ExceedsEpochCap(epoch, total, epochCap);
    }

    function _addPaid(Epoch storage record, uint256 epoch, uint256 amount) private {
        uint256 paid = record.paid + amount;
        uint256 total = record.total;
        if (paid > total) revert ExceedsEpochTotal(epoch, paid, total);
        record.paid = uint96(paid); // <= total < 2**96
    }
}
