// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title CommunityVotes: the energy community's voting token (OpenZeppelin ERC20Votes).
/// @notice The whole supply is minted to the members the scenario names, then sealed: nobody can
/// mint or burn afterwards (there is no owner and no role). A small community is minted in the
/// constructor (setup = the zero address: sealed at once). A community too large for one
/// transaction names a setup address that mints it in chunks ({mintChunk}) and then calls
/// {seal}; the DAO's governor is deployed only after the seal. A balance counts
/// as votes only once delegated (to oneself or another member); members delegate with an
/// EIP-712 signature ({delegateBySig}) that anyone may submit, so a member needs no ether.
/// @dev Clock: block numbers (ERC-6372 `clock()` = `block.number`, `CLOCK_MODE()` =
/// "mode=blocknumber&from=default"), OpenZeppelin's default; the governor's voting delay and
/// period are counted in blocks. One vote is one base unit (decimals = 0).
contract CommunityVotes is ERC20, ERC20Permit, ERC20Votes {
    /// @dev `members` and `amounts` differ in length.
    error LengthMismatch(uint256 members, uint256 amounts);

    /// @dev Minting after {seal}, or by anyone but the setup address.
    error MintingClosed();

    /// @notice The supply is final: `supply` votes, no more minting ever.
    event Sealed(uint256 supply);

    /// @notice Who may still mint ({mintChunk}) until {seal}; the zero address once sealed.
    address public setup;

    /// @param members who receives votes, once (the first chunk, or all of them).
    /// @param amounts votes of each member [base units].
    /// @param setup_ who mints the rest and seals; the zero address: sealed at deploy.
    constructor(address[] memory members, uint256[] memory amounts, address setup_)
        ERC20("gridtwin CommunityVotes", "GCV")
        ERC20Permit("gridtwin CommunityVotes")
    {
        _mintAll(members, amounts);
        setup = setup_;
        if (setup_ == address(0)) emit Sealed(totalSupply());
    }

    /// @notice Mint `amounts[i]` votes to `members[i]`: the setup address only, before {seal}.
    function mintChunk(address[] calldata members, uint256[] calldata amounts) external {
        if (msg.sender != setup || setup == address(0)) revert MintingClosed();
        _mintAll(members, amounts);
    }

    /// @notice End minting forever (the setup address only): the supply is final.
    function seal() external {
        if (msg.sender != setup || setup == address(0)) revert MintingClosed();
        setup = address(0);
        emit Sealed(totalSupply());
    }

    /// @notice Whether minting has ended (the supply is final).
    function isSealed() external view returns (bool) {
        return setup == address(0);
    }

    function _mintAll(address[] memory members, uint256[] memory amounts) private {
        uint256 n = members.length;
        if (n != amounts.length) revert LengthMismatch(n, amounts.length);
        for (uint256 i; i < n; ++i) {
            _mint(members[i], amounts[i]);
        }
    }

    /// @notice One vote is one base unit.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
