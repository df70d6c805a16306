"""DePIN contracts on a chain: device NFTs, EIP-712 uploads, rewards by batch mint and by proof.

Known truths: the reward token's supply equals the rewards paid; a reward goes to the device
NFT's owner at payout time; a revert (double payout, double claim, bad proof, wrong role)
leaves every balance as it was; an upload verifies only with the device's key, on this chain,
for this registry, while the device is active. Gas per rewarded device is measured and printed.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_account.signers.local import LocalAccount
from web3.types import Wei

from settlement.chain import merkle
from settlement.chain.artifacts import ARTIFACTS_DIR
from settlement.chain.connection import Chain
from settlement.chain.errors import TransactionRevertedError
from settlement.depin.client import REWARD_DECIMALS, DepinContracts
from settlement.depin.rewards import reward_leaves
from settlement.depin.uploads import upload_typed_data
from tests.anvil import MISSING, AnvilNode, anvil_binary

ROOT_A = bytes.fromhex("11" * 32)
ROOT_B = bytes.fromhex("22" * 32)
SOLAR, WIND = 1, 2
epochs = itertools.count(1)


def device_key(device_id: int) -> LocalAccount:
    """The signing key inside device ``device_id`` (deterministic, for tests)."""
    return Account.from_key(merkle.keccak256(b"test-device" + device_id.to_bytes(32, "big")))


def sign_upload(
    key: LocalAccount,
    chain_id: int,
    registry: str,
    device_id: int,
    period: int,
    root: bytes,
    nonce: int,
) -> bytes:
    """Sign an upload with eth_account's typed-data API, the domain and struct spelled out."""
    domain = {
        "name": "gridtwin DeviceRegistry",
        "version": "1",
        "chainId": chain_id,
        "verifyingContract": registry,
    }
    types = {
        "Upload": [
            {"name": "deviceId", "type": "uint256"},
            {"name": "period", "type": "uint64"},
            {"name": "readingsRoot", "type": "bytes32"},
            {"name": "nonce", "type": "uint64"},
        ]
    }
    message = {"deviceId": device_id, "period": period, "readingsRoot": root, "nonce": nonce}
    return bytes(Account.sign_typed_data(key.key, domain, types, message).signature)


def accounts(chain: Chain) -> list[str]:
    """The node's unlocked accounts (the first is the operator)."""
    return [str(a) for a in chain.w3.eth.accounts]


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.embedded()


@pytest.fixture
def depin(chain: Chain) -> DepinContracts:
    """Fresh contracts for each test (same chain), so supplies and balances start at zero."""
    contracts = DepinContracts(chain)
    contracts.deploy()
    return contracts


def register(depin: DepinContracts, device_ids: Sequence[int], owners: Sequence[str]) -> None:
    signers = [device_key(d).address for d in device_ids]
    kinds = [SOLAR if d % 2 else WIND for d in device_ids]
    depin.register_devices(device_ids, owners, signers, kinds, [1000 * d for d in device_ids])


def test_deploys_once_with_roles(chain: Chain, depin: DepinContracts) -> None:
    addresses = depin.addresses
    assert set(addresses) == {"DeviceRegistry", "Rewards", "RewardToken"}
    assert depin.deploy() == addresses == depin.manifest()
    token, registry = depin.contract("RewardToken"), depin.contract("DeviceRegistry")
    rewards = depin.contract("Rewards")
    assert token.functions.decimals().call() == REWARD_DECIMALS == 6
    assert rewards.functions.token().call() == addresses["RewardToken"]
    assert rewards.functions.registry().call() == addresses["DeviceRegistry"]
    # Rewards deployed the token and is its only minter, fixed: supply == rewards
    assert token.functions.minter().call() == addresses["Rewards"]
    assert "grantRole" not in {f["name"] for f in token.abi if f["type"] == "function"}
    registrar = registry.functions.REGISTRAR_ROLE().call()
    assert registry.functions.hasRole(registrar, chain.operator).call()
    distributor = rewards.functions.DISTRIBUTOR_ROLE().call()
    assert rewards.functions.hasRole(distributor, chain.operator).call()
    _, name, version, chain_id, verifying, *_ = registry.functions.eip712Domain().call()
    assert (name, version, chain_id) == ("gridtwin DeviceRegistry", "1", chain.chain_id)
    assert verifying == addresses["DeviceRegistry"]
    attached = DepinContracts(chain, addresses=addresses)
    assert attached.addresses == addresses
    assert ARTIFACTS_DIR.joinpath("DeviceRegistry.json").is_file()


def test_register_views_and_revoke(chain: Chain, depin: DepinContracts) -> None:
    owners = chain.participant_addresses([f"owner-{i}" for i in range(7)], seed=5)
    receipts = depin.register_devices(
        list(range(7)),
        owners,
        [device_key(d).address for d in range(7)],
        [SOLAR] * 7,
        [5_000 + d for d in range(7)],
        chunk=3,
    )
    assert len(receipts) == 3
    for d in range(7):
        assert depin.owner_of(d) == owners[d]
        assert depin.signer_of(d) == device_key(d).address
        assert depin.is_active(d)
        assert depin.device_info(d) == (owners[d], device_key(d).address, SOLAR, 5_000 + d, True)
    zero = "0x" + "00" * 20
    assert depin.signer_of(99) == depin.owner_of(99) == zero
    assert not depin.is_active(99)
    assert depin.device_info(99) == (zero, zero, 0, 0, False)

    depin.revoke(3)
    assert not depin.is_active(3)
    assert depin.owner_of(3) == owners[3]  # still an NFT
    assert depin.device_info(3)[4] is False
    with pytest.raises(TransactionRevertedError, match=r"DeviceNotActive\(3\)"):
        depin.revoke(3)
    with pytest.raises(TransactionRevertedError, match="ERC721InvalidSender"):
        register(depin, [2], [owners[0]])  # a device exists once
    with pytest.raises(TransactionRevertedError, match=r"InvalidSigner\(50\)"):
        depin.register_devices([50], [owners[0]], ["0x" + "00" * 20], [SOLAR], [1])
    with pytest.raises(ValueError, match="differ in length"):
        depin.register_devices([51, 52], owners[:1], owners[:1], [SOLAR], [1])
    stranger = accounts(chain)[3]
    with pytest.raises(TransactionRevertedError, match="AccessControlUnauthorizedAccount"):
        depin.revoke(4, sender=stranger)
    registry = depin.contract("DeviceRegistry")
    args = [60, owners[0], owners[1], 1, 1]
    tx_hash = chain.send(registry, "register", args, gas=200_000, sender=stranger)
    with pytest.raises(TransactionRevertedError, match="AccessControlUnauthorizedAccount"):
        chain.wait_receipt(tx_hash)
    assert depin.is_active(4)
    assert not depin.is_active(60)


def test_upload_signature_verifies_only_for_its_device_chain_registry_and_key(
    chain: Chain, depin: DepinContracts
) -> None:
    register(depin, [7, 8], [accounts(chain)[1]] * 2)
    registry = depin.addresses["DeviceRegistry"]
    key = device_key(7)
    period, nonce = 96, 4
    signature = sign_upload(key, chain.chain_id, registry, 7, period, ROOT_A, nonce)
    assert len(signature) == 65
    assert depin.verify_upload(7, period, ROOT_A, nonce, signature)
    # The contract's digest is eth_account's EIP-712 hash; the module's helper agrees.
    typed = upload_typed_data(chain.chain_id, registry, 7, period, ROOT_A, nonce)
    assert depin.upload_digest(7, period, ROOT_A, nonce) == _hash_eip191_message(
        encode_typed_data(full_message=typed)
    )
    assert bytes(Account.sign_typed_data(key.key, full_message=typed).signature) == signature

    wrong_chain = sign_upload(key, chain.chain_id + 1, registry, 7, period, ROOT_A, nonce)
    other_registry = sign_upload(key, chain.chain_id, chain.operator, 7, period, ROOT_A, nonce)
    wrong_signer = sign_upload(device_key(8), chain.chain_id, registry, 7, period, ROOT_A, nonce)
    rejected = {
        "wrong chain id": (7, period, ROOT_A, nonce, wrong_chain),
        "other registry": (7, period, ROOT_A, nonce, other_registry),
        "wrong signer": (7, period, ROOT_A, nonce, wrong_signer),
        "tampered root": (7, period, ROOT_B, nonce, signature),
        "other period": (7, period + 1, ROOT_A, nonce, signature),
        "other nonce": (7, period, ROOT_A, nonce + 1, signature),
        "other device": (8, period, ROOT_A, nonce, signature),
        "unregistered": (
            9,
            period,
            ROOT_A,
            nonce,
            sign_upload(device_key(9), chain.chain_id, registry, 9, period, ROOT_A, nonce),
        ),
        "short signature": (7, period, ROOT_A, nonce, signature[:64]),
        "garbage": (7, period, ROOT_A, nonce, b"\x01" * 65),
    }
    for case, args in rejected.items():
        assert not depin.verify_upload(*args), case
    depin.revoke(7)
    assert not depin.verify_upload(7, period, ROOT_A, nonce, signature), "revoked"


def test_distribute_pays_current_owners_and_a_transfer_moves_future_rewards(
    chain: Chain, depin: DepinContracts
) -> None:
    alice, bob, carol = accounts(chain)[1:4]
    register(depin, [1, 2, 3], [alice, alice, bob])
    first = next(epochs)
    receipt = depin.distribute(first, ROOT_A, [3, 1, 2], [40, 100, 250])  # any order
    assert receipt["status"] == 1
    assert (depin.reward_balance(alice), depin.reward_balance(bob)) == (350, 40)
    assert depin.epoch_root(first) == (ROOT_A, bytes(32))
    record = depin.epoch_record(first)
    assert (record.total, record.paid, record.committed_block) == (390, 390, receipt["blockNumber"])
    assert depin.distributed(first) == 390

    depin.transfer_device(2, carol, sender=alice)
    assert depin.owner_of(2) == carol
    # An owner that signs with its own key (a participant, not a node account).
    dave_key = merkle.keccak256(b"dave")
    dave = Account.from_key(dave_key).address
    chain.w3.eth.send_transaction({"from": chain.operator, "to": dave, "value": Wei(10**18)})
    depin.transfer_device(3, dave, sender=bob)
    depin.transfer_device(3, carol, owner_key=dave_key)
    assert depin.owner_of(3) == carol
    registry = depin.contract("DeviceRegistry")
    for device_id in (1, 2, 3):  # the registry's mirror of the owner follows ERC-721's
        assert depin.owner_of(device_id) == registry.functions.ownerOf(device_id).call()

    second = next(epochs)
    depin.distribute(second, ROOT_B, [1, 2, 3], [10, 20, 30])
    assert depin.reward_balance(alice) == 350 + 10  # device 1 only
    assert depin.reward_balance(bob) == 40  # nothing after the transfer
    assert depin.reward_balance(carol) == 20 + 30
    assert depin.reward_balance(dave) == 0
    assert depin.reward_supply() == 390 + 60 == depin.distributed(first) + depin.distributed(second)


def test_second_distribute_of_an_epoch_reverts_and_changes_nothing(
    chain: Chain, depin: DepinContracts
) -> None:
    owners = accounts(chain)[1:5]
    register(depin, [1, 2, 3, 4], owners)
    epoch = next(epochs)
    depin.distribute(epoch, ROOT_A, [1, 2, 3, 4], [5, 6, 7, 8])
    before = [depin.reward_balance(a) for a in owners]
    record = depin.epoch_record(epoch)
    with pytest.raises(TransactionRevertedError, match=rf"EpochAlreadyCommitted\({epoch}\)"):
        depin.distribute(epoch, ROOT_B, [1, 2, 3, 4], [5, 6, 7, 8])
    with pytest.raises(TransactionRevertedError, match="EpochAlreadyCommitted"):
        depin.commit_epoch(epoch, ROOT_B, ROOT_B, 26)
    other = next(epochs)
    with pytest.raises(TransactionRevertedError, match=r"DeviceIdsNotAscending\(2\)"):
        depin.distribute(other, ROOT_B, [1, 2, 2], [5, 6, 6])  # a device twice in one epoch
    assert depin.epoch_record(other).committed_block == 0
    assert [depin.reward_balance(a) for a in owners] == before == [5, 6, 7, 8]
    assert depin.epoch_record(epoch) == record
    assert depin.reward_supply() == 26


def test_claims_by_proof_once_each(chain: Chain, depin: DepinContracts) -> None:
    owners = accounts(chain)[1:6]
    device_ids = [10, 11, 12, 13, 14]
    register(depin, device_ids, owners)
    amounts = [1_000, 2_000, 0, 4_000, 5_000]
    epoch = next(epochs)
    leaves = reward_leaves(epoch, device_ids, amounts)
    rewards = depin.contract("Rewards")
    assert [
        rewards.functions.rewardLeaf(epoch, d, a).call()
        for d, a in zip(device_ids, amounts, strict=True)
    ] == (leaves)
    tree = merkle.merkle_tree(leaves)
    with pytest.raises(TransactionRevertedError, match=rf"EpochNotCommitted\({epoch}\)"):
        depin.claim(epoch, 10, 1_000, merkle.tree_proof(tree, 0))
    depin.commit_epoch(epoch, ROOT_A, tree[0], sum(amounts))
    assert depin.epoch_root(epoch) == (ROOT_A, tree[0])
    anyone = accounts(chain)[7]
    depin.claim(epoch, 11, 2_000, merkle.tree_proof(tree, 1), sender=anyone)
    assert depin.reward_balance(owners[1]) == 2_000
    assert depin.reward_balance(anyone) == 0
    assert depin.is_claimed(epoch, 11)
    assert not depin.is_claimed(epoch, 10)

    before = [depin.reward_balance(a) for a in owners]
    bad = [
        ("AlreadyClaimed", 11, 2_000, merkle.tree_proof(tree, 1)),  # double claim
        ("InvalidProof", 13, 4_000, merkle.tree_proof(tree, 1)),  # another leaf's proof
        ("InvalidProof", 14, 50_000, merkle.tree_proof(tree, 4)),  # inflated amount
        ("InvalidProof", 14, 5_000, []),  # no proof
    ]
    for error, device_id, amount, proof in bad:
        with pytest.raises(TransactionRevertedError, match=rf"{error}\({epoch}"):
            depin.claim(epoch, device_id, amount, proof)
    assert [depin.reward_balance(a) for a in owners] == before
    assert depin.distributed(epoch) == 2_000

    for i in (0, 2, 3, 4):
        depin.claim(epoch, device_ids[i], amounts[i], merkle.tree_proof(tree, i))
    assert [depin.reward_balance(a) for a in owners] == amounts
    assert depin.distributed(epoch) == depin.epoch_record(epoch).total == sum(amounts)
    assert depin.reward_supply() == sum(amounts)
    with pytest.raises(TransactionRevertedError, match="EpochAlreadyCommitted"):
        depin.commit_epoch(epoch, ROOT_A, tree[0], sum(amounts))
    with pytest.raises(TransactionRevertedError, match="EmptyRewardsRoot"):
        depin.commit_epoch(next(epochs), ROOT_A, bytes(32), 0)


def test_claim_many_in_chunks_pays_everyone_once(chain: Chain, depin: DepinContracts) -> None:
    n = 300  # ids across two bitmap words
    owners = chain.participant_addresses([f"p{i}" for i in range(n)], seed=9)
    device_ids = list(range(n))[::-1]  # commit_and_claim sorts them
    register(depin, device_ids, owners[::-1])
    amounts = [7 + d for d in device_ids]
    epoch = next(epochs)
    receipts = depin.commit_and_claim(epoch, ROOT_A, device_ids, amounts, chunk=128)
    assert len(receipts) == 1 + 3
    assert [depin.reward_balance(owners[d]) for d in range(n)] == [7 + d for d in range(n)]
    assert depin.reward_supply() == sum(amounts) == depin.distributed(epoch)
    assert all(depin.is_claimed(epoch, d) for d in (0, 255, 256, n - 1))
    tree = merkle.merkle_tree(reward_leaves(epoch, list(range(n)), [7 + d for d in range(n)]))
    with pytest.raises(TransactionRevertedError, match=rf"AlreadyClaimed\({epoch}, 5\)"):
        depin.claim(epoch, 5, 12, merkle.tree_proof(tree, 5))
    proof, flags = merkle.multiproof(tree, [3, 4])
    with pytest.raises(TransactionRevertedError, match="AlreadyClaimed"):
        depin.claim_many(epoch, [3, 4], [10, 11], proof, flags)
    assert depin.reward_supply() == sum(amounts)


def test_claim_many_rejects_a_bad_multiproof_and_duplicates(
    chain: Chain, depin: DepinContracts
) -> None:
    owners = accounts(chain)[1:9]
    register(depin, list(range(8)), owners)
    amounts = [100 * (d + 1) for d in range(8)]
    epoch = next(epochs)
    tree = merkle.merkle_tree(reward_leaves(epoch, list(range(8)), amounts))
    depin.commit_epoch(epoch, ROOT_A, tree[0], sum(amounts))
    proof, flags = merkle.multiproof(tree, [1, 2, 6])
    with pytest.raises(TransactionRevertedError, match="InvalidProof"):
        depin.claim_many(epoch, [1, 2, 6], [200, 300, 999], proof, flags)
    with pytest.raises(TransactionRevertedError, match=rf"AlreadyClaimed\({epoch}, 2\)"):
        depin.claim_many(epoch, [1, 2, 2], [200, 300, 300], proof, flags)
    assert depin.reward_supply() == 0
    depin.claim_many(epoch, [1, 2, 6], [200, 300, 700], proof, flags)  # any subset, any order
    assert [depin.reward_balance(a) for a in owners] == [0, 200, 300, 0, 0, 0, 700, 0]


def test_revoked_device_earns_nothing(chain: Chain, depin: DepinContracts) -> None:
    owners = accounts(chain)[1:4]
    register(depin, [1, 2, 3], owners)
    depin.revoke(2)
    epoch = next(epochs)
    with pytest.raises(TransactionRevertedError, match=r"DeviceNotActive\(2\)"):
        depin.distribute(epoch, ROOT_A, [1, 2, 3], [1, 2, 3])
    with pytest.raises(TransactionRevertedError, match=r"DeviceNotActive\(99\)"):
        depin.distribute(epoch, ROOT_A, [1, 99], [1, 2])  # never registered
    tree = merkle.merkle_tree(reward_leaves(epoch, [1, 2, 3], [1, 2, 3]))
    depin.commit_epoch(epoch, ROOT_A, tree[0], 6)
    with pytest.raises(TransactionRevertedError, match=r"DeviceNotActive\(2\)"):
        depin.claim(epoch, 2, 2, merkle.tree_proof(tree, 1))
    assert not depin.is_claimed(epoch, 2)
    assert depin.reward_supply() == 0


def test_only_distributors_distribute_and_only_rewards_mints(
    chain: Chain, depin: DepinContracts
) -> None:
    owner, stranger = accounts(chain)[1], accounts(chain)[4]
    register(depin, [1], [owner])
    epoch = next(epochs)
    unauthorized = "AccessControlUnauthorizedAccount"
    with pytest.raises(TransactionRevertedError, match=unauthorized):
        depin.distribute(epoch, ROOT_A, [1], [10], sender=stranger)
    with pytest.raises(TransactionRevertedError, match=unauthorized):
        depin.commit_epoch(epoch, ROOT_A, ROOT_B, 10, sender=stranger)
    token = depin.contract("RewardToken")
    for sender in (chain.operator, stranger):
        with pytest.raises(TransactionRevertedError, match="NotMinter"):
            chain.transact(token, "mint", [sender, 10**9], gas=100_000, sender=sender)
    assert depin.epoch_record(epoch).committed_block == 0
    assert depin.reward_supply() == 0


def _pay(depin: DepinContracts, method: str, device_ids: list[int], amounts: list[int]) -> int:
    """Pay one epoch to ``device_ids`` by ``method``; returns the gas of every transaction."""
    epoch = next(epochs)
    if method == "distribute":
        return int(depin.distribute(epoch, ROOT_A, device_ids, amounts)["gasUsed"])
    if method == "claim":
        tree = merkle.merkle_tree(reward_leaves(epoch, device_ids, amounts))
        gas = depin.commit_epoch(epoch, ROOT_A, tree[0], sum(amounts))["gasUsed"]
        for i, (device_id, amount) in enumerate(zip(device_ids, amounts, strict=True)):
            gas += depin.claim(epoch, device_id, amount, merkle.tree_proof(tree, i))["gasUsed"]
        return int(gas)
    receipts = depin.commit_and_claim(epoch, ROOT_A, device_ids, amounts)
    return sum(int(r["gasUsed"]) for r in receipts)


def test_gas_per_rewarded_device(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    """Batch mint (a) against commit + one claim per device (b) and commit + claimMany.

    Per fleet size, one deployment and one set of devices (distinct owners, ids from a fresh
    bitmap word) per method: paid first to owners without tokens, then once more. One device
    outside the sets is paid first, so no measurement pays for the supply's first write.
    """
    methods = ("distribute", "claim", "claim_many")
    rows = [
        f"{'devices':>8} {'owners':>13} {'register':>9} {'(a) distribute':>15} "
        f"{'(b) commit+claim':>17} {'commit+claimMany':>17}"
    ]
    gas: dict[tuple[int, bool, str], float] = {}
    for n in (8, 25, 100):
        depin = DepinContracts(chain)
        owners = chain.participant_addresses([f"gas-{n}-{i}" for i in range(3 * n)], seed=n)
        fleets = {m: [256 * k + i for i in range(n)] for k, m in enumerate(methods)}
        register_gas = 0
        for k, ids in enumerate(fleets.values()):
            signers = [device_key(d).address for d in ids]
            fleet_owners = owners[k * n : (k + 1) * n]
            receipts = depin.register_devices(ids, fleet_owners, signers, [SOLAR] * n, [5_000] * n)
            register_gas += sum(r["gasUsed"] for r in receipts)
        amounts = [1_000_000 + 7 * i for i in range(n)]
        register(depin, [10_000], [accounts(chain)[9]])  # a supply > 0 before measuring
        depin.distribute(next(epochs), ROOT_B, [10_000], [1])
        for holding in (False, True):
            for method in methods:
                supply = depin.reward_supply()
                gas[(n, holding, method)] = _pay(depin, method, fleets[method], amounts) / n
                assert depin.reward_supply() == supply + sum(amounts)  # supply == rewards
            cells = " ".join(
                f"{gas[(n, holding, m)]:>{w},.0f}"
                for m, w in zip(methods, (15, 17, 17), strict=True)
            )
            label = "holding" if holding else "first time"
            rows.append(f"{n:>8} {label:>13} {register_gas / (3 * n):>9,.0f} {cells}")
    with capsys.disabled():
        print("\nDePIN gas per rewarded device and epoch (eth-tester, one owner a device):")
        print("\n".join(rows))
    for n, holding, _ in gas:
        distribute, claim, many = (gas[(n, holding, m)] for m in methods)
        assert distribute < many < claim, (n, holding)
    assert gas[(100, True, "distribute")] < 13_000


@pytest.mark.anvil
def test_on_anvil(capsys: pytest.CaptureFixture[str]) -> None:
    """Smoke test on a real node: register, verify an upload, distribute, claim."""
    binary = anvil_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    with AnvilNode(binary) as node:
        chain = Chain.connect(node.url)
        depin = DepinContracts(chain)
        owners = accounts(chain)[1:4]
        register(depin, [1, 2, 3], owners)
        registry = depin.addresses["DeviceRegistry"]
        assert chain.chain_id == 31337
        signature = sign_upload(device_key(2), 31337, registry, 2, 5, ROOT_A, 1)
        assert depin.verify_upload(2, 5, ROOT_A, 1, signature)
        assert not depin.verify_upload(
            2, 5, ROOT_A, 1, sign_upload(device_key(2), 1, registry, 2, 5, ROOT_A, 1)
        )
        receipt = depin.distribute(1, ROOT_A, [1, 2, 3], [10, 20, 30])
        depin.transfer_device(1, owners[2], sender=owners[0])
        with pytest.raises(TransactionRevertedError, match=r"EpochAlreadyCommitted\(1\)"):
            depin.distribute(1, ROOT_A, [1, 2, 3], [10, 20, 30])
        tree = merkle.merkle_tree(reward_leaves(2, [1, 2, 3], [1, 2, 3]))
        depin.commit_epoch(2, ROOT_B, tree[0], 6)
        depin.claim(2, 1, 1, merkle.tree_proof(tree, 0), sender=owners[1])
        with pytest.raises(TransactionRevertedError, match=r"AlreadyClaimed\(2, 1\)"):
            depin.claim(2, 1, 1, merkle.tree_proof(tree, 0))
        balances = [depin.reward_balance(a) for a in owners]
        assert balances == [10, 20, 30 + 1]
        assert depin.reward_supply() == 61
        with capsys.disabled():
            print(f"\nanvil: distribute of 3 devices {receipt['gasUsed']:,} gas")


def test_pay_epoch_distributes_when_it_fits_and_claims_in_chunks_when_not(
    chain: Chain, depin: DepinContracts
) -> None:
    n = 40
    owners = chain.participant_addresses([f"q{i}" for i in range(n)], seed=11)
    device_ids = list(range(1_000, 1_000 + n))
    register(depin, device_ids, owners)
    amounts = [5 + i for i in range(n)]
    one = depin.pay_epoch(next(epochs), ROOT_A, device_ids[:20], amounts[:20])
    assert len(one) == 1  # one distribute
    epoch = next(epochs)
    small = depin.pay_epoch(epoch, ROOT_A, device_ids, amounts, max_tx_gas=1_000_000)
    assert len(small) > 2  # commitEpoch, then claimMany chunks
    assert all(int(r["gasUsed"]) <= 1_000_000 for r in small)
    assert depin.distributed(epoch) == sum(amounts)
