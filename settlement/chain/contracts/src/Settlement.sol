// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Settlement: one record per batch of market trades, net payments in EnergyCredit.
/// @notice Per batch, only the Merkle root of its trades and two counts are stored; the trades
/// stay off-chain (gridtwin's journal and results store) and any one of them can be proven
/// against the root with {verifyTrade}. Leaves follow OpenZeppelin's StandardMerkleTree:
/// keccak256(bytes.concat(keccak256(abi.encode(batchId, tradeId, seller, buyer, energyWh,
/// paymentMicroEur)))), internal nodes hash the sorted pair (MerkleProof's commutative hash).
///
/// Consent. A member's credits move only within the allowance the member gave this contract
/// (ERC-20 `approve`, or an ERC-2612 permit the member signed with its own key, relayed by
/// anyone through {acceptPermits}). A batch pulls each payer's debit with `transferFrom` into
/// this contract (the clearing account) and pays the receivers from it, so the allowance is
/// consumed by exactly what the member paid, and the operator (SETTLER_ROLE) can never move
/// more of a member's credits than the member allowed, nor anything once the member revokes
/// (approve 0). We chose an allowance over an escrow: the credits stay in the member's own
/// account until a batch settles (no deposit to lock and withdraw, one signature at the start
/// of a run), ERC-2612 lets members consent without holding ether, and the allowance is the
/// ERC-20 standard's own consent that every wallet shows and revokes.
///
/// Shortfalls. A payer whose balance or remaining allowance is short of its debit does not
/// make the batch revert: it pays what it can (min(debit, balance, allowance)), the rest is
/// recorded as its debt ({debtOf}, event {Shortfall}), and the batch's receivers are paid
/// that much less, pro rata to what they were due, in micro-euro by cumulative rounding
/// (receiver i, in the order given, is cut floor(S*C_i/R) - floor(S*C_(i-1)/R), where S is
/// the batch's total shortfall, R its total due to receivers and C_i the dues of receivers
/// 1..i): the cuts sum to S exactly and none exceeds what its receiver was due. Each cut is
/// recorded as a claim ({claimOf}, event {CreditReduced}). Money is conserved exactly: what
/// the payers paid equals what the receivers got, this contract's balance is unchanged by a
/// batch, and the sum of all debts equals the sum of all claims ({totalDebt}).
///
/// Split batches. A batch with too many accounts for one transaction settles in several:
/// {openBatch} declares its header and what its payers owe in total (= what its receivers are
/// due), then {settleChunk} takes its accounts in chunks, in order (chunk 0, 1, ...), payers
/// first: each payer is pulled as in {commitBatch}; no receiver is paid before every payer is
/// pulled (so the batch's shortfall is known), and each receiver's cut is the same cumulative
/// pro-rata cut as {commitBatch} makes for receivers in the same order. The last chunk records
/// the batch ({batch}, event {BatchCommitted}); until then the batch is not committed, and this
/// contract holds what its payers have paid so far. A chunk out of order, a second time, or
/// after the last is refused; so is a one-transaction commit of an open batch.
contract Settlement is AccessControl, Pausable {
    using SafeERC20 for IERC20;

    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @dev Two storage slots per batch: the root, then the packed counts.
    struct Batch {
        bytes32 tradesRoot;
        uint64 tradeCount;
        uint64 committedBlock; // 0 = not committed
        uint128 energyWh;
    }

    /// @notice One member's ERC-2612 permit for this contract (spender = this contract).
    struct Permit {
        address owner;
        uint256 value;
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @dev A split batch being settled: its header and running totals (deleted when settled).
    struct Open {
        bytes32 tradesRoot;
        uint64 tradeCount;
        uint32 accountCount; // 0 = not open
        uint32 accountsSettled;
        uint32 nextChunk;
        uint128 energyWh;
        uint256 totalDue; // what the payers owe = what the receivers are due [micro-euro]
        uint256 owedSoFar;
        uint256 dueSoFar;
        uint256 shortfall;
        uint256 cutSoFar;
    }

    /// @notice The token the net payments move.
    IERC20 public immutable credit;

    mapping(uint256 batchId => Batch) private _batches;
    mapping(uint256 batchId => Open) private _open;

    /// @notice What `account` owes from the debits it could not pay [micro-euro].
    mapping(address account => uint256) public debtOf;
    /// @notice What `account` was due but not paid because a payer fell short [micro-euro].
    mapping(address account => uint256) public claimOf;
    /// @notice The sum of every {claimOf}, which equals the sum of every {debtOf} whenever no
    /// split batch is open (an open batch's debts are matched by claims at its last chunk).
    uint256 public totalDebt;

    /// @notice A batch was committed and its net payments moved.
    event BatchCommitted(
        uint256 indexed batchId,
        bytes32 tradesRoot,
        uint256 tradeCount,
        uint256 energyWh,
        uint256 accountCount
    );
    /// @notice A split batch was opened; its accounts follow in chunks ({settleChunk}).
    event BatchOpened(
        uint256 indexed batchId,
        bytes32 tradesRoot,
        uint256 tradeCount,
        uint256 energyWh,
        uint256 accountCount,
        uint256 totalDue
    );
    /// @notice Chunk `chunk` of split batch `batchId` settled `accounts` accounts.
    event ChunkSettled(uint256 indexed batchId, uint256 chunk, uint256 accounts);
    /// @notice `account` owed `owed` in batch `batchId` and paid only `paid` (the rest is debt).
    event Shortfall(uint256 indexed batchId, address indexed account, uint256 owed, uint256 paid);
    /// @notice `account` was due `due` in batch `batchId` and received `due - cut`.
    event CreditReduced(uint256 indexed batchId, address indexed account, uint256 due, uint256 cut);
    /// @notice A relayed permit of `owner` failed (already used, expired, bad signature).
    event PermitFailed(address indexed owner);

    /// @dev `batchId` already has a record.
    error BatchAlreadyCommitted(uint256 batchId);
    /// @dev A batch with no trades must have the zero root and one with trades a non-zero root.
    error InconsistentBatch(uint256 batchId, bytes32 tradesRoot, uint256 tradeCount);
    /// @dev `accounts` and `netAmounts` differ in length.
    error LengthMismatch(uint256 accounts, uint256 netAmounts);
    /// @dev The net amounts of a batch do not sum to zero.
    error UnbalancedSettlement(int256 sum);
    /// @dev The zero address or this contract cannot take part in a batch.
    error InvalidAccount(address account);
    /// @dev `batchId` is open for chunks already (or must be, for {settleChunk}).
    error BatchAlreadyOpen(uint256 batchId);
    error BatchNotOpen(uint256 batchId);
    /// @dev The next chunk of `batchId` is `expected`, not `chunk`.
    error ChunkOutOfOrder(uint256 batchId, uint256 expected, uint256 chunk);
    /// @dev A chunk must have accounts, and a batch's chunks no more than it declared.
    error BadChunk(uint256 batchId, uint256 accounts);
    /// @dev A receiver came before every payer of the batch was pulled.
    error PayersNotDone(uint256 batchId, uint256 owedSoFar, uint256 totalDue);

    /// @param credit_ the EnergyCredit token.
    /// @param admin gets DEFAULT_ADMIN_ROLE (a timelock: it alone grants and revokes roles).
    /// @param settler gets SETTLER_ROLE (the operator: commits batches, nothing else).
    /// @param pauser gets PAUSER_ROLE (may stop and resume commits; it moves no money).
    constructor(IERC20 credit_, address admin, address settler, address pauser) {
        credit = credit_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(SETTLER_ROLE, settler);
        _grantRole(PAUSER_ROLE, pauser);
    }

    /// @notice Relay members' ERC-2612 permits that give this contract an allowance (anyone may
    /// call: a permit is valid only with its owner's signature). A failing permit (e.g. one
    /// already used by a front-runner) emits {PermitFailed} instead of reverting the rest.
    function acceptPermits(Permit[] calldata permits) external {
        IERC20Permit token = IERC20Permit(address(credit));
        uint256 n = permits.length;
        for (uint256 i; i < n; ++i) {
            Permit calldata p = permits[i];
            try token.permit(p.owner, address(this), p.value, p.deadline, p.v, p.r, p.s) {}
            catch {
                emit PermitFailed(p.owner);
            }
        }
    }

    /// @notice Record a batch's trades root and move its net payments, exactly once per batchId.
    /// @param batchId the batch's id; a second commit of the same id reverts.
    /// @param tradesRoot Merkle root of the batch's trade leaves (zero for an empty batch).
    /// @param tradeCount number of trades (leaves) in the batch.
    /// @param energyWh energy traded in the batch [Wh].
    /// @param accounts accounts whose net payment is not zero.
    /// @param netAmounts net payment per account [micro-euro]: negative pays, positive
    /// receives; they must sum to zero. A payer short of balance or allowance pays what it can
    /// (see the contract's notice: shortfalls).
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
        if (_open[batchId].accountCount != 0) revert BatchAlreadyOpen(batchId);
        if ((tradeCount == 0) != (tradesRoot == bytes32(0))) {
            revert InconsistentBatch(batchId, tradesRoot, tradeCount);
        }
        record.tradesRoot = tradesRoot;
        record.tradeCount = SafeCast.toUint64(tradeCount);
        record.committedBlock = SafeCast.toUint64(block.number);
        record.energyWh = SafeCast.toUint128(energyWh);
        emit BatchCommitted(batchId, tradesRoot, tradeCount, energyWh, accounts.length);
        _settle(batchId, accounts, netAmounts);
    }

    /// @dev Pull every payer's debit within its allowance (payers first, so the clearing
    /// account never runs short), then pay the receivers, cut pro rata by the shortfall.
    function _settle(uint256 batchId, address[] calldata accounts, int256[] calldata netAmounts) private {
        uint256 n = accounts.length;
        if (n != netAmounts.length) revert LengthMismatch(n, netAmounts.length);
        IERC20 token = credit;
        int256 sum;
        uint256 due; // total due to receivers
        uint256 shortfall; // total the payers could not pay
        for (uint256 i; i < n; ++i) {
            address account = accounts[i];
            if (account == address(0) || account == address(this)) revert InvalidAccount(account);
            int256 amount = netAmounts[i];
            sum += amount; // checked: an overflow reverts, so no wrap-around can fake a zero sum
            if (amount < 0) {
                uint256 owed = uint256(-amount); // checked: int256.min reverts
                uint256 paid = _pull(token, account, owed);
                if (paid != owed) {
                    uint256 missing = owed - paid;
                    debtOf[account] += missing;
                    shortfall += missing;
                    emit Shortfall(batchId, account, owed, paid);
                }
            } else {
                due += uint256(amount);
            }
        }
        if (sum != 0) revert UnbalancedSettlement(sum);
        if (shortfall != 0) totalDebt += shortfall;
        uint256 dueSoFar;
        uint256 cutSoFar;
        for (uint256 i; i < n; ++i) {
            int256 amount = netAmounts[i];
            if (amount <= 0) continue;
            uint256 pay = uint256(amount);
            if (shortfall != 0) {
                dueSoFar += pay;
                uint256 cutTotal = Math.mulDiv(shortfall, dueSoFar, due); // <= shortfall <= due
                uint256 cut = cutTotal - cutSoFar;
                cutSoFar = cutTotal;
                if (cut != 0) {
                    claimOf[accounts[i]] += cut;
                    emit CreditReduced(batchId, accounts[i], pay, cut);
                    pay -= cut;
                }
            }
            if (pay != 0) token.safeTransfer(accounts[i], pay);
        }
    }

    /// @dev Pull `owed` from `account`, or as much as its balance and its allowance to this
    /// contract allow; returns what was paid. A payer that can pay in full costs one call to
    /// the token; only a refused transfer (balance or allowance short) reads both.
    function _pull(IERC20 token, address account, uint256 owed) private returns (uint256 paid) {
        if (token.trySafeTransferFrom(account, address(this), owed)) return owed;
        paid = Math.min(owed, Math.min(token.balanceOf(account), token.allowance(account, address(this))));
        if (paid != 0) token.safeTransferFrom(account, address(this), paid);
    }

    /// @notice Open a batch that settles in chunks ({settleChunk}), exactly once per batchId.
    /// @param batchId the batch's id; one already committed or open reverts.
    /// @param tradesRoot Merkle root of the batch's trade leaves (zero for an empty batch).
    /// @param tradeCount number of trades (leaves) in the batch.
    /// @param energyWh energy traded in the batch [Wh].
    /// @param accountCount accounts the chunks will settle, all chunks together (> 0).
    /// @param totalDue what the payers owe in total, = what the receivers are due [micro-euro].
    function openBatch(
        uint256 batchId,
        bytes32 tradesRoot,
        uint256 tradeCount,
        uint256 energyWh,
        uint256 accountCount,
        uint256 totalDue
    ) external onlyRole(SETTLER_ROLE) whenNotPaused {
        if (_batches[batchId].committedBlock != 0) revert BatchAlreadyCommitted(batchId);
        Open storage o = _open[batchId];
        if (o.accountCount != 0) revert BatchAlreadyOpen(batchId);
        if ((tradeCount == 0) != (tradesRoot == bytes32(0))) {
            revert InconsistentBatch(batchId, tradesRoot, tradeCount);
        }
        if (accountCount == 0) revert BadChunk(batchId, 0);
        o.tradesRoot = tradesRoot;
        o.tradeCount = SafeCast.toUint64(tradeCount);
        o.accountCount = SafeCast.toUint32(accountCount);
        o.energyWh = SafeCast.toUint128(energyWh);
        o.totalDue = totalDue;
        emit BatchOpened(batchId, tradesRoot, tradeCount, energyWh, accountCount, totalDue);
    }

    /// @notice Settle the next chunk of an open batch; the last one commits the batch.
    /// @param batchId the open batch.
    /// @param chunk the chunk's index: 0 first, each exactly once, in order.
    /// @param accounts the chunk's accounts: every payer of the batch comes before its first
    /// receiver (across chunks).
    /// @param netAmounts net payment per account [micro-euro]: negative pays, positive receives.
    function settleChunk(
        uint256 batchId,
        uint256 chunk,
        address[] calldata accounts,
        int256[] calldata netAmounts
    ) external onlyRole(SETTLER_ROLE) whenNotPaused {
        Open storage o = _open[batchId];
        uint256 accountCount = o.accountCount;
        if (accountCount == 0) revert BatchNotOpen(batchId);
        if (chunk != o.nextChunk) revert ChunkOutOfOrder(batchId, o.nextChunk, chunk);
        uint256 n = accounts.length;
        if (n != netAmounts.length) revert LengthMismatch(n, netAmounts.length);
        uint256 settled = o.accountsSettled + n;
        if (n == 0 || settled > accountCount) revert BadChunk(batchId, settled);
        o.nextChunk = SafeCast.toUint32(chunk + 1);
        o.accountsSettled = SafeCast.toUint32(settled);
        emit ChunkSettled(batchId, chunk, n);
        _settleChunk(batchId, o, accounts, netAmounts);
        if (settled == accountCount) _close(batchId, o);
    }

    /// @notice How far split batch `batchId` is: chunks settled, accounts settled, accounts
    /// declared (all zero if it is not open: never opened, or committed).
    function openProgress(uint256 batchId)
        external
        view
        returns (uint256 chunksSettled, uint256 accountsSettled, uint256 accountCount)
    {
        Open storage o = _open[batchId];
        return (o.nextChunk, o.accountsSettled, o.accountCount);
    }

    /// @dev One chunk: payers pulled within allowance (before any receiver), receivers paid
    /// less their cumulative pro-rata cut of the batch's shortfall, as {_settle} does.
    function _settleChunk(
        uint256 batchId,
        Open storage o,
        address[] calldata accounts,
        int256[] calldata netAmounts
    ) private {
        IERC20 token = credit;
        uint256 total = o.totalDue;
        uint256 owedSoFar = o.owedSoFar;
        uint256 dueSoFar = o.dueSoFar;
        uint256 shortfall = o.shortfall;
        uint256 cutSoFar = o.cutSoFar;
        uint256 n = accounts.length;
        for (uint256 i; i < n; ++i) {
            address account = accounts[i];
            if (account == address(0) || account == address(this)) revert InvalidAccount(account);
            int256 amount = netAmounts[i];
            if (amount < 0) {
                uint256 owed = uint256(-amount); // checked: int256.min reverts
                owedSoFar += owed;
                if (owedSoFar > total) revert UnbalancedSettlement(-SafeCast.toInt256(owedSoFar - total));
                uint256 paid = _pull(token, account, owed);
                if (paid != owed) {
                    uint256 missing = owed - paid;
                    debtOf[account] += missing;
                    shortfall += missing;
                    emit Shortfall(batchId, account, owed, paid);
                }
            } else {
                if (owedSoFar != total) revert PayersNotDone(batchId, owedSoFar, total);
                uint256 pay = uint256(amount);
                dueSoFar += pay;
                if (dueSoFar > total) revert UnbalancedSettlement(SafeCast.toInt256(dueSoFar - total));
                if (shortfall != 0) {
                    uint256 cutTotal = Math.mulDiv(shortfall, dueSoFar, total); // <= shortfall
                    uint256 cut = cutTotal - cutSoFar;
                    cutSoFar = cutTotal;
                    if (cut != 0) {
                        claimOf[account] += cut;
                        emit CreditReduced(batchId, account, pay, cut);
                        pay -= cut;
                    }
                }
                if (pay != 0) token.safeTransfer(account, pay);
            }
        }
        o.owedSoFar = owedSoFar;
        o.dueSoFar = dueSoFar;
        o.shortfall = shortfall;
        o.cutSoFar = cutSoFar;
    }

    /// @dev The last chunk: the books balance, the batch is recorded and closed.
    function _close(uint256 batchId, Open storage o) private {
        uint256 total = o.totalDue;
        if (o.owedSoFar != total || o.dueSoFar != total) {
            revert UnbalancedSettlement(SafeCast.toInt256(o.dueSoFar) - SafeCast.toInt256(o.owedSoFar));
        }
        Batch storage record = _batches[batchId];
        record.tradesRoot = o.tradesRoot;
        record.tradeCount = o.tradeCount;
        record.committedBlock = SafeCast.toUint64(block.number);
        record.energyWh = o.energyWh;
        if (o.shortfall != 0) totalDebt += o.shortfall;
        emit BatchCommitted(batchId, o.tradesRoot, o.tradeCount, o.energyWh, o.accountCount);
        delete _open[batchId];
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
