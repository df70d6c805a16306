// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title DeviceRegistry: one ERC-721 token per DePIN device of the grid.
/// @notice A device (PV inverter, turbine, battery, meter) is the NFT `deviceId`. Its owner
/// earns the device's rewards (Rewards pays `ownerOf` at payout time, so a transfer moves
/// every future reward); its signer is the key inside the device that signs its readings.
/// A REGISTRAR_ROLE holder registers devices and revokes them; a revoked device stays an NFT
/// (it can still be transferred) but is no longer active: its uploads no longer verify and
/// Rewards refuses to pay it.
///
/// A device uploads its readings in batches, one EIP-712 signature per upload period over
/// `Upload(uint256 deviceId,uint64 period,bytes32 readingsRoot,uint64 nonce)` in the domain
/// {name: "gridtwin DeviceRegistry", version: "1", chainId, verifyingContract: this}, so a
/// signature is bound to this chain and this registry. {verifyUpload} checks one.
///
/// Royalties: OpenZeppelin's ERC-2981 with one default royalty for every device, set at
/// deployment (the installer or the community treasury, a share in basis points). ERC-2981
/// only reports it ({royaltyInfo}); DeviceMarket pays it on every sale it settles.
contract DeviceRegistry is ERC721, ERC2981, AccessControl, EIP712 {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice EIP-712 type hash of an upload.
    bytes32 public constant UPLOAD_TYPEHASH =
        keccak256("Upload(uint256 deviceId,uint64 period,bytes32 readingsRoot,uint64 nonce)");

    /// @dev One storage slot per device (20 + 4 + 1 + 1 bytes): what paying a reward reads.
    /// `owner` mirrors ERC721's owner (kept in step by {_update}), so that {payeesOf} reads one
    /// cold slot a device instead of two: about 2,100 gas less per device and epoch, against
    /// one more slot written at registration and a few thousand gas more per transfer.
    struct Device {
        address owner;
        uint32 capacityW;
        uint8 kind;
        bool active;
    }

    mapping(uint256 deviceId => Device) private _devices;
    mapping(uint256 deviceId => address) private _signers;

    /// @notice Device `deviceId` was registered (its NFT minted: see also Transfer).
    event DeviceRegistered(uint256 indexed deviceId, address indexed signer, uint8 kind, uint32 capacityW);
    /// @notice Device `deviceId` was revoked.
    event DeviceRevoked(uint256 indexed deviceId);

    /// @dev The batch's arrays differ in length.
    error LengthMismatch(uint256 deviceIds, uint256 other);
    /// @dev A device needs a signer.
    error InvalidSigner(uint256 deviceId);
    /// @dev `deviceId` is not registered, or revoked.
    error DeviceNotActive(uint256 deviceId);

    /// @param admin gets DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE.
    /// @param royaltyReceiver who is paid every device's royalty (never the zero address).
    /// @param royaltyBps the royalty [basis points of the sale price], 0..10000 (ERC2981
    /// reverts with ERC2981InvalidDefaultRoyalty above 10000).
    constructor(address admin, address royaltyReceiver, uint96 royaltyBps)
        ERC721("gridtwin Device", "GDEV")
        EIP712("gridtwin DeviceRegistry", "1")
    {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
        _setDefaultRoyalty(royaltyReceiver, royaltyBps);
    }

    /// @notice Register device `deviceId`: mint its NFT to `owner` and record its signer.
    /// @param kind the device's kind (gridtwin's code, e.g. 0 consumer, 1 solar, 2 wind, 3 battery).
    /// @param capacityW the device's nameplate power [W].
    function register(uint256 deviceId, address owner, address signer, uint8 kind, uint32 capacityW)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        _register(deviceId, owner, signer, kind, capacityW);
    }

    /// @notice Register many devices in one call; element i of each array is device i's.
    function registerBatch(
        uint256[] calldata deviceIds,
        address[] calldata owners,
        address[] calldata signers,
        uint8[] calldata kinds,
        uint32[] calldata capacitiesW
    ) external onlyRole(REGISTRAR_ROLE) {
        uint256 n = deviceIds.length;
        if (owners.length != n) revert LengthMismatch(n, owners.length);
        if (signers.length != n) revert LengthMismatch(n, signers.length);
        if (kinds.length != n) revert LengthMismatch(n, kinds.length);
        if (capacitiesW.length != n) revert LengthMismatch(n, capacitiesW.length);
        for (uint256 i; i < n; ++i) {
            _register(deviceIds[i], owners[i], signers[i], kinds[i], capacitiesW[i]);
        }
    }

    /// @notice Revoke device `deviceId`: it stays an NFT, but is no longer active.
    function revoke(uint256 deviceId) external onlyRole(REGISTRAR_ROLE) {
        Device storage device = _devices[deviceId];
        if (!device.active) revert DeviceNotActive(deviceId);
        device.active = false;
        emit DeviceRevoked(deviceId);
    }

    /// @notice The signer of `deviceId` (the zero address if it is not registered).
    function signerOf(uint256 deviceId) external view returns (address) {
        return _signers[deviceId];
    }

    /// @notice Whether `deviceId` is registered and not revoked.
    function isActive(uint256 deviceId) external view returns (bool) {
        return _devices[deviceId].active;
    }

    /// @notice Everything about `deviceId`; all zero (owner and signer the zero address,
    /// inactive) if it is not registered.
    /// @return owner the NFT's current owner (as ownerOf), who earns the device's rewards.
    /// @return signer the device's signing key's address.
    /// @return kind the device's kind.
    /// @return capacityW the device's nameplate power [W].
    /// @return active whether the device is not revoked.
    function deviceInfo(uint256 deviceId)
        external
        view
        returns (address owner, address signer, uint8 kind, uint32 capacityW, bool active)
    {
        Device storage device = _devices[deviceId];
        return (device.owner, _signers[deviceId], device.kind, device.capacityW, device.active);
    }

    /// @notice Who is paid the rewards of `deviceId`: its NFT's owner; reverts if not active.
    function payeeOf(uint256 deviceId) external view returns (address) {
        return _payee(deviceId);
    }

    /// @notice {payeeOf} of each device, in one call (Rewards pays a whole epoch with it).
    function payeesOf(uint256[] calldata deviceIds) external view returns (address[] memory payees) {
        uint256 n = deviceIds.length;
        payees = new address[](n);
        for (uint256 i; i < n; ++i) {
            payees[i] = _payee(deviceIds[i]);
        }
    }

    /// @notice The EIP-712 digest a device signs for one upload.
    function uploadDigest(uint256 deviceId, uint64 period, bytes32 readingsRoot, uint64 nonce)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(UPLOAD_TYPEHASH, deviceId, period, readingsRoot, nonce)));
    }

    /// @notice Whether `signature` is the EIP-712 signature of this upload by the registered
    /// signer of `deviceId`, and the device is active. Replays (a nonce seen before) are for
    /// the caller to reject: this view holds no state about uploads.
    /// @param period the upload period's index.
    /// @param readingsRoot Merkle root of the period's readings.
    /// @param nonce the device's upload counter.
    /// @param signature 65 bytes r, s, v.
    function verifyUpload(
        uint256 deviceId,
        uint64 period,
        bytes32 readingsRoot,
        uint64 nonce,
        bytes calldata signature
    ) external view returns (bool) {
        if (!_devices[deviceId].active) return false;
        bytes32 digest = uploadDigest(deviceId, period, readingsRoot, nonce);
        (address recovered, ECDSA.RecoverError status,) = ECDSA.tryRecoverCalldata(digest, signature);
        return status == ECDSA.RecoverError.NoError && recovered == _signers[deviceId];
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, ERC2981, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    /// @dev `_mint`, not `_safeMint`: no callback into an owner contract, and cheaper.
    function _register(uint256 deviceId, address owner, address signer, uint8 kind, uint32 capacityW) private {
        if (signer == address(0)) revert InvalidSigner(deviceId);
        _mint(owner, deviceId); // reverts if the device exists or owner is the zero address
        _devices[deviceId] = Device({owner: owner, capacityW: capacityW, kind: kind, active: true});
        _signers[deviceId] = signer;
        emit DeviceRegistered(deviceId, signer, kind, capacityW);
    }

    /// @dev Every change of ownership (mint, transfer) passes here: mirror the new owner.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        _devices[tokenId].owner = to;
    }

    function _payee(uint256 deviceId) private view returns (address) {
        Device storage device = _devices[deviceId];
        if (!device.active) revert DeviceNotActive(deviceId);
        return device.owner; // an active device exists: never the zero address
    }
}
