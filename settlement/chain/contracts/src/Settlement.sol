// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EnergyCredit} from "./EnergyCredit.sol";

/// @title Settlement: one record per batch of market trades, net payments in EnergyCredit.
/// @notice Per batch, only the Merkle root of its trades and two counts are stored; the trades
/// stay off-chain (gridtwin's journal and results store) and any one of them can be proven
/// against the root with {verifyTrade}. Leaves follow OpenZeppelin's StandardMerkleTree:
/// keccak256(bytes.concat(keccak256(abi.encode(batchId, tradeId, seller, buyer, energyWh,
/// paymentMicroEur)))), internal nodes hash the sorted pair (MerkleProof's commutative hash).
contract Settlement is AccessControl, Pausable {
    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @dev Two storage slots per batch: the root, then the packed counts.
    struct Batch {
        bytes32 tradesRoot;
        uint64 tradeCount;
        uint64 committedBlock; // 0 = not committed
        uint128 energyWh;
    }

    /// @notice The token the net payments move.
    EnergyCredit public immutable credit;

    mapping(uint256 batchId => Batch) private _batches;

    /// @notice A batch was committed and its net payments moved.
    event BatchCommitted(
        uint256 indexed batchId,
        bytes32 tradesRoot,
        uint256 tradeCount,
        uint256 energyWh,
        uint256 accountCount
    );

    /// @dev `batchId` already has a record.
    error BatchAlreadyCommitted(uint256 batchId);
    /// @dev A batch with no trades must have the zero root and one with trades a non-zero root.
    error InconsistentBatch(uint256 batchId, bytes32 tradesRoot, uint256 tradeCount);

    /// @param credit_ the EnergyCredit token; this contract needs its SETTLEMENT_ROLE.
    /// @param admin gets DEFAULT_ADMIN_ROLE, SETTLER_ROLE and PAUSER_ROLE.
    constructor(EnergyCredit credit_, address admin) {
        credit = credit_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(SETTLER_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /// @notice Record a batch's trades root and move its net payments, exactly once per batchId.
    /// @param batchId the batch's id; a second commit of the same id reverts.
    /// @param tradesRoot Merkle root of the batch's trade leaves (zero for an empty batch).
    /// @param tradeCount number of trades (leaves) in the batch.
    /// @param energyWh energy traded in the batch [Wh].
    /// @param accounts accounts whose net payment is not zero.
    /// @param netAmounts net payment per account [micro-euro]: negative pays, positive
    /// receives; they must sum to zero (EnergyCredit.settle enforces it).
    function commitBatch(
        uint256 batchId,
        bytes32 tradesRoot,
        uint256 tradeCount,
        uint256 energyWh,
        address[] calldata accounts,
        int256[] calldata netAmounts
    ) external onlyRole(SETTLER_ROLE) whenNotPaused {
        Batch storage record = _batches[batchId];
        if (record.committedBlock != 0) revert BatchAlreadyCommitted(batchId);
        if ((tradeCount == 0) != (tradesRoot == bytes32(0))) {
            revert InconsistentBatch(batchId, tradesRoot, tradeCount);
        }
        record.tradesRoot = tradesRoot;
        record.tradeCount = SafeCast.toUint64(tradeCount);
        record.committedBlock = SafeCast.toUint64(block.number);
        record.energyWh = SafeCast.toUint128(energyWh);
        if (accounts.length != 0 || netAmounts.length != 0) {
            credit.settle(accounts, netAmounts);
        }
        emit BatchCommitted(batchId, tradesRoot, tradeCount, energyWh, accounts.length);
    }

    /// @notice The trades root of `batchId` (zero if not committed or empty).
    function batchRoot(uint256 batchId) external view returns (bytes32) {
        return _batches[batchId].tradesRoot;
    }

    /// @notice The whole record of `batchId`; committedBlock is 0 if not committed.
    function batch(uint256 batchId)
        external
        view
        returns (bytes32 tradesRoot, uint256 tradeCount, uint256 energyWh, uint256 committedBlock)
    {
        Batch storage b = _batches[batchId];
        return (b.tradesRoot, b.tradeCount, b.energyWh, b.committedBlock);
    }

    /// @notice Whether `leaf` is a trade of committed batch `batchId`, by its Merkle `proof`.
    function verifyTrade(uint256 batchId, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _batches[batchId].tradesRoot;
        return root != bytes32(0) && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @notice The leaf of one trade, as gridtwin's settlement/merkle.py computes it.
    /// @param energyWh energy of the trade [Wh].
    /// @param paymentMicroEur what the buyer pays the seller [micro-euro].
    function tradeLeaf(
        uint256 batchId,
        uint256 tradeId,
        address seller,
        address buyer,
        uint256 energyWh,
        uint256 paymentMicroEur
    ) external pure returns (bytes32) {
        return keccak256(
            bytes.concat(keccak256(abi.encode(batchId, tradeId, seller, buyer, energyWh, paymentMicroEur)))
        );
    }

    /// @notice Stop commits (PAUSER_ROLE).
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume commits (PAUSER_ROLE).
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }
}
