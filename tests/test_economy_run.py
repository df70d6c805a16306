"""The community economy in a run: proposals voted on by the members' own what-ifs, a passed
one funding a shared battery that joins the grid, its shares and payouts, against the chain.

Known truths (issue 15's bars, on ``scenarios/economy.toml`` shortened to 10 days with the
proposals on days 3 and 6): the funded battery's node is in ``node_power`` from its executing
interval on and not before; self-sufficiency after execution beats the same run with the vote
defeated (``economy.quorum_percent=100``), in which nothing changes; holders are paid pro rata
within one base unit; the treasury's balance on chain is its table's sum, and money is
conserved across members, treasury, vendor and holders (``gridtwin verify``), which names a
tampered treasury row.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from settlement.economy.dao import CommunityDao
from tests.anvil import MISSING, AnvilNode, anvil_binary
from tests.conftest import economy_scenario
from twin.engine import run_scenario
from twin.results import RunFolder, open_run
from twin.verify import open_chain, verify_run

pytestmark = pytest.mark.slow

ASSET = "asset-battery-substation"
needs_anvil = pytest.mark.skipif(
    anvil_binary() is None and not os.environ.get("CI"), reason=MISSING
)


@pytest.fixture(scope="module")
def passed(economy_run: RunFolder) -> RunFolder:
    return economy_run


@pytest.fixture(scope="module")
def defeated(tmp_path_factory: pytest.TempPathFactory) -> RunFolder:
    out = tmp_path_factory.mktemp("economy") / "defeated"
    run_scenario(economy_scenario("economy.quorum_percent=100"), out)
    return open_run(out)


def _self_sufficiency(run: RunFolder, since: pd.Timestamp) -> float:
    power = run.table("node_power")
    nodes = run.table("nodes").set_index("node_id")["kind"]
    power = power[power["time"] >= since]
    kind = power["node_id"].astype(str).map(nodes)
    consumption = power.loc[kind == "consumer", "p_mw"].sum()
    exchange = run.table("grid_exchange")
    imported = exchange.loc[exchange["time"] >= since, "import_mw"].clip(lower=0).sum()
    return float(1 - imported / consumption)


def test_members_vote_by_their_what_if_and_the_good_offer_passes(passed: RunFolder) -> None:
    proposals = passed.table("proposals").set_index("proposal")
    ballots = passed.table("ballots")
    assert proposals.loc["battery-substation", "state"] == "executed"
    assert proposals.loc["battery-feeder-end", "state"] == "defeated"
    for name, rows in ballots.groupby("proposal"):
        # each member votes for exactly when its projected benefit is positive
        for_ = rows["projected_benefit_micro_eur"] > 0
        assert ((rows["support"] == "for") == for_).all()
        assert proposals.loc[name, "votes_for"] == int(rows.loc[for_, "weight"].sum())
        assert proposals.loc[name, "votes_against"] == int(rows.loc[~for_, "weight"].sum())
        assert proposals.loc[name, "whatif_s"] > 0
    assert len(ballots) == 2 * 41  # every home votes, on both


def test_the_funded_battery_joins_the_grid_at_execution_and_not_before(
    passed: RunFolder, defeated: RunFolder
) -> None:
    joined = passed.table("proposals").set_index("proposal").loc["battery-substation"]
    start = pd.Timestamp(joined["in_service_from"])
    assert pd.Timestamp(joined["executed"]) < start
    power = passed.table("node_power")
    asset = power[power["node_id"].astype(str) == ASSET]
    times = passed.table("grid_exchange")["time"]
    assert asset["time"].min() == start
    assert len(asset) == int((times >= start).sum())  # every interval from then on
    assert (asset["p_mw"].abs() > 0).any()  # and it works
    assert "asset-battery-feeder-end" not in set(power["node_id"].astype(str))
    # energy balance still holds each interval with the new node
    by_t = power.groupby("time")["p_mw"].sum()
    ex = passed.table("grid_exchange").set_index("time")
    assert np.allclose(by_t + ex["losses_mw"], ex["import_mw"], atol=1e-6)
    # the same run with both votes defeated: no battery, nothing paid
    assert (defeated.table("proposals")["state"] == "defeated").all()
    assert ASSET not in set(defeated.table("node_power")["node_id"].astype(str))
    assert "asset_purchase" not in set(defeated.table("treasury")["kind"])
    assert _self_sufficiency(passed, start) > _self_sufficiency(defeated, start)


def test_holders_are_paid_pro_rata_within_one_base_unit(passed: RunFolder) -> None:
    shares = passed.table("asset_shares")
    payouts = passed.table("asset_payouts")
    assert len(shares) == 41
    assert (shares["shares"] == 2000).all()
    assert len(payouts)
    for _batch, rows in payouts.groupby("batch_id"):
        total = int(rows["amount_micro_eur"].sum())
        exact = total * rows["shares"] / rows["shares"].sum()
        assert (abs(rows["amount_micro_eur"] - exact) <= 1).all()


def test_money_is_conserved_and_verify_names_a_tampered_row(
    passed: RunFolder, tmp_path: Path
) -> None:
    treasury = passed.table("treasury")
    chain = open_chain(passed)
    dao = CommunityDao(chain, passed.manifest["chain"]["addresses"])
    assert dao.treasury_balance() == int(treasury["amount_micro_eur"].sum())
    assert int(treasury.loc[treasury["kind"] == "contribution", "amount_micro_eur"].sum()) == (
        41 * 2_000 * 10**6
    )
    assert int(treasury.loc[treasury["kind"] == "asset_purchase", "amount_micro_eur"].sum()) == (
        -60_000 * 10**6
    )
    vendor = treasury.loc[treasury["kind"] == "asset_purchase", "account"].iloc[0]
    assert chain.balance_of(vendor) == 60_000 * 10**6
    checks = verify_run(passed.path)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    copy = tmp_path / "tampered"
    shutil.copytree(passed.path, copy)
    table = pd.read_parquet(copy / "treasury.parquet")
    row = int(np.flatnonzero(table["kind"] == "asset_purchase")[0])
    table.loc[row, "amount_micro_eur"] += 1
    schema = pq.read_schema(copy / "treasury.parquet")
    pq.write_table(
        pa.Table.from_pandas(table, schema=schema, preserve_index=False),
        copy / "treasury.parquet",
    )
    tampered = {c.name: c for c in verify_run(copy)}
    bad = tampered["treasury inflow of each batch = its trades' protocol fees"]
    assert not bad.ok
    assert f"treasury row {row} (asset_purchase)" in bad.detail
    assert not tampered["treasury balance (chain) = treasury table"].ok


@pytest.mark.anvil
@needs_anvil
def test_a_proposal_executes_on_anvil_and_verify_passes(tmp_path: Path) -> None:
    binary = anvil_binary()
    assert binary is not None, MISSING
    with AnvilNode(binary) as node:
        sc = economy_scenario(f'chain.rpc_url="{node.url}"', "chain.batch_hours=24")
        proposals = [
            p.model_copy(update={"day": day, "whatif_days": 2})
            for p, day in zip(sc.economy.proposals, (2.0, 3.0), strict=True)
        ]
        sc = sc.model_copy(
            update={
                "run": sc.run.model_copy(update={"days": 5}),
                "economy": sc.economy.model_copy(update={"proposals": proposals}),
            }
        )
        run_scenario(sc, tmp_path / "run")
        run = open_run(tmp_path / "run")
        assert run.manifest["chain"]["kind"] == "rpc"
        states = run.table("proposals").set_index("proposal")["state"]
        assert states["battery-substation"] == "executed"
        assert ASSET in set(run.table("node_power")["node_id"].astype(str))
        checks = verify_run(run.path)
        assert all(c.ok for c in checks), [c for c in checks if not c.ok]
        assert "asset payouts = Payout events, pro rata to shares" in {c.name for c in checks}


def test_verify_reads_every_payout_from_the_chain_not_from_the_rows(
    passed: RunFolder, tmp_path: Path
) -> None:
    # a payout the table lacks, or a row on another transaction, is named: verify reads the
    # asset contract's Payout and Distributed logs (a chunked distribution's last chunk may pay
    # nobody, so the rows' own transactions cannot be where its Distributed event is found)
    name = "asset payouts = Payout events, pro rata to shares"
    payouts = passed.table("asset_payouts")
    assert payouts["batch_id"].nunique() > 1
    schema = pq.read_schema(passed.path / "asset_payouts.parquet")
    for tamper, detail in (
        (lambda t: t.drop(index=3), "has no row"),
        (lambda t: t.assign(tx_hash=np.roll(t["tx_hash"].to_numpy(), 1)), "not the Payout event"),
    ):
        copy = tmp_path / detail.replace(" ", "-")
        shutil.copytree(passed.path, copy)
        pq.write_table(
            pa.Table.from_pandas(tamper(payouts), schema=schema, preserve_index=False),
            copy / "asset_payouts.parquet",
        )
        check = {c.name: c for c in verify_run(copy)}[name]
        assert not check.ok
        assert detail in check.detail
