"""Device NFT sales in a run (``[[devices.transfers]]``): royalty, money, rewards, verify.

Two hourly days of the default community with daily reward epochs; on day 1 the owner of
``pv-3`` sells its device to ``member-0000`` with a 7.5 % royalty to the treasury. Truths, on
chain: the buyer's payment equals the seller's receipt plus the royalty, to the micro-euro;
the royalty is ``price x bps // 10000`` and the treasury's table holds it; epoch 0's reward of
``pv-3`` went to the seller, epoch 1's to the buyer, and every reward mint lands with the owner
the ``rewards`` table names; ``gridtwin verify`` passes, and names a tampered row. A bad
scenario is refused with file, key and reason.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from web3.logs import DISCARD

from settlement.depin.client import DepinContracts
from tests.conftest import ROOT
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.scenario import ScenarioError, load_scenario
from twin.verify import open_chain, verify_run

DEFAULT = ROOT / "scenarios" / "default.toml"
FAST = [
    "run.days=2",
    "run.interval_s=3600",
    "devices.epoch_days=1",
    "devices.upload_intervals=24",
    "chain.batch_hours=24",
    'forecasting.model="seasonal_naive"',
    "forecasting.warmup_days=8",
    'nodes.pv_homes=["load-3"]',
]
SALE = [
    'devices.royalty.receiver="treasury"',
    "devices.royalty.bps=750",
    'devices.transfers=[{node_id="pv-3", day=1, price_eur=1234.567891, buyer="member-0000"}]',
]


@pytest.fixture(scope="module")
def sold_run(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("royalties") / "sale"
    run_scenario(load_scenario(DEFAULT, FAST + SALE), out)
    return open_run(out)


def test_the_buyer_pays_exactly_the_sellers_receipt_plus_the_royalty(sold_run: RunFolder) -> None:
    sale = sold_run.table("device_transfers").iloc[0]
    assert (sale["node_id"], sale["seller"], sale["buyer"]) == (
        "pv-3",
        "member-0003",
        "member-0000",
    )
    price, royalty = int(sale["price_micro_eur"]), int(sale["royalty_micro_eur"])
    assert price == 1_234_567_891
    assert royalty == price * 750 // 10_000 == 92_592_591
    treasury = sold_run.manifest["chain"]["addresses"]["Treasury"]
    assert sale["receiver"] == "treasury"
    assert sale["receiver_address"] == treasury
    chain = open_chain(sold_run)
    credit = chain.contract("EnergyCredit")
    receipt = chain.get_receipt(str(sale["tx_hash"]))
    assert receipt is not None
    moved = [
        (e["args"]["from"], e["args"]["to"], int(e["args"]["value"]))
        for e in credit.events.Transfer().process_receipt(receipt, errors=DISCARD)
    ]
    buyer, seller = sale["buyer_address"], sale["seller_address"]
    paid = sum(v for f, _, v in moved if f == buyer)
    to_seller = sum(v for _, t, v in moved if t == seller)
    to_treasury = sum(v for _, t, v in moved if t == treasury)
    assert paid == price == to_seller + to_treasury
    assert to_treasury == royalty
    assert {f for f, _, _ in moved} == {buyer}  # nobody else's credits moved
    rows = sold_run.table("treasury")
    royalty_rows = rows[rows["kind"] == "device_royalty"]
    assert royalty_rows["amount_micro_eur"].tolist() == [royalty]
    assert royalty_rows["account"].tolist() == [buyer]
    kpis = sold_run.table("kpis").set_index("name")["value"]
    assert kpis["device_sales"] == 1
    assert kpis["device_royalties_eur"] == royalty / 1e6


def test_rewards_follow_the_new_owner(sold_run: RunFolder) -> None:
    rewards = sold_run.table("rewards")
    pv3 = rewards[rewards["node_id"] == "pv-3"].set_index("epoch")["owner"]
    assert pv3.to_dict() == {0: "member-0003", 1: "member-0000"}
    # on chain: every epoch's mints land with the owners the table names, no one else
    chain = open_chain(sold_run)
    depin = DepinContracts(chain, addresses=sold_run.manifest["chain"]["addresses"])
    token = depin.contract("RewardToken")
    people = sold_run.table("participants")
    address = dict(zip(people["owner"], people["address"], strict=True))
    txs = sold_run.table("transactions")
    distributes = txs[txs["function"] == "distribute"]["tx_hash"].tolist()
    assert len(distributes) == 2
    for epoch, tx in enumerate(distributes):
        receipt = chain.get_receipt(str(tx))
        minted: dict[str, int] = {}
        for e in token.events.Transfer().process_receipt(receipt, errors=DISCARD):
            minted[e["args"]["to"]] = minted.get(e["args"]["to"], 0) + int(e["args"]["value"])
        rows = rewards[rewards["epoch"] == epoch]
        expected = {address[o]: int(a) for o, a in rows.groupby("owner")["amount"].sum().items()}
        assert minted == {a: v for a, v in expected.items() if v}
    seller, buyer = address["member-0003"], address["member-0000"]
    one = rewards[rewards["epoch"] == 1]
    assert minted.get(seller, 0) == int(one.loc[one["owner"] == "member-0003", "amount"].sum())
    assert minted[buyer] >= int(one.loc[one["node_id"] == "pv-3", "amount"].iloc[0]) > 0
    assert depin.owner_of(int(rewards.loc[rewards["node_id"] == "pv-3", "device_id"].iloc[0])) == (
        buyer
    )


@pytest.mark.slow
def test_verify_passes_and_names_a_tampered_sale(sold_run: RunFolder, tmp_path: Path) -> None:
    checks = verify_run(sold_run.path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert any(c.name.startswith("device_transfers row 0") for c in checks)
    tampered = tmp_path / "tampered"
    shutil.copytree(sold_run.path, tampered)
    path = tampered / "device_transfers.parquet"
    table = pq.read_table(path)
    column = table.column("royalty_micro_eur").to_pylist()
    column[0] -= 1  # one micro-euro less royalty: the seller's share would be one more
    index = table.schema.get_field_index("royalty_micro_eur")
    pq.write_table(table.set_column(index, "royalty_micro_eur", pa.array(column, pa.int64())), path)
    failed = [c.name for c in verify_run(tampered) if not c.ok]
    assert any(name.startswith("device_transfers row 0: pv-3") for name in failed), failed


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("devices.royalty.bps=10001", "devices.royalty.bps: Input should be less than or equal"),
        (
            "devices.transfers=[{node_id='pv-3', day=2, price_eur=1.0, buyer='member-0000'}]",
            r"devices.transfers\[0\].day: day 2 is not within the run's 2 days",
        ),
    ],
)
def test_a_bad_royalty_or_transfer_is_refused_with_file_and_key(
    override: str, message: str
) -> None:
    with pytest.raises(ScenarioError, match=rf"scenarios/default.toml .*{message}"):
        load_scenario(DEFAULT, [*FAST, override])


@pytest.mark.parametrize(
    ("transfer", "message"),
    [
        (
            "{node_id='pv-99', day=1, price_eur=1.0, buyer='member-0000'}",
            r"devices.transfers\[0\].node_id: no node 'pv-99'",
        ),
        (
            "{node_id='pv-3', day=1, price_eur=1.0, buyer='nobody'}",
            r"devices.transfers\[0\].buyer: no owner 'nobody'",
        ),
    ],
)
def test_an_unknown_node_or_buyer_is_refused_before_the_run(
    transfer: str, message: str, tmp_path: Path
) -> None:
    scenario = load_scenario(DEFAULT, [*FAST, f"devices.transfers=[{transfer}]"])
    with pytest.raises(ScenarioError, match=rf"default.toml: {message}"):
        run_scenario(scenario, tmp_path / "run", scenario_file="scenarios/default.toml")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_resale_pays_the_installer_twice_and_verifies(tmp_path: Path) -> None:
    """Sold on day 0 and resold on day 1: the installer (no participant) is paid both
    royalties, the second sale names the device's sale counter 1, rewards follow each buyer."""
    resale = [
        "devices.royalty.bps=1000",
        "devices.transfers=["
        '{node_id="pv-3", day=0, price_eur=500.0, buyer="member-0000"}, '
        '{node_id="pv-3", day=1, price_eur=800.0, buyer="member-0005"}]',
    ]
    out = tmp_path / "resale"
    run_scenario(load_scenario(DEFAULT, FAST + resale), out)
    run = open_run(out)
    sales = run.table("device_transfers")
    assert sales["seller"].tolist() == ["member-0003", "member-0000"]
    assert sales["nonce"].tolist() == [0, 1]
    assert sales["royalty_micro_eur"].tolist() == [50_000_000, 80_000_000]
    installer = str(sales["receiver_address"].iloc[0])
    assert open_chain(run).balance_of(installer) == 130_000_000  # both royalties, nothing else
    rewards = run.table("rewards")
    pv3 = rewards[rewards["node_id"] == "pv-3"].set_index("epoch")["owner"]
    assert pv3.to_dict() == {0: "member-0000", 1: "member-0005"}
    failed = [c for c in verify_run(out) if not c.ok]
    assert not failed, failed
