"""Tamper with a finished run folder, one table or file at a time: ``gridtwin verify`` must
fail a check that names the table (or file) and the row, never pass and never raise.

One day of the default community at hourly intervals, with devices (one of them inflating its
readings, so some readings are flagged), stakes, the treasury and 6-hour batches, is run once
for the module; every tampering edits a copy of it.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import DEFAULT
from twin.engine import run_scenario
from twin.scenario import load_scenario
from twin.verify import verify_run

OVERRIDES = [
    "run.days=1",
    "run.interval_s=3600",
    'forecasting.model="perfect"',
    "forecasting.horizon_steps=24",
    "forecasting.replan_intervals=6",
    "forecasting.record_horizons=[1, 4, 24]",
    "chain.batch_hours=6",
    "devices.upload_intervals=24",
    "devices.epoch_days=1",
    "devices.staking.enabled=true",
    'devices.attacks=[{node_id = "pv-0", kind = "inflate"}]',
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tamper") / "day"
    run_scenario(load_scenario(DEFAULT, OVERRIDES), out)
    return out


def _edit(
    table: str, change: Callable[[pd.DataFrame], pd.DataFrame | None]
) -> Callable[[Path], None]:
    def tamper(path: Path) -> None:
        file = path / f"{table}.parquet"
        df = pd.read_parquet(file)
        out = change(df)
        (df if out is None else out).to_parquet(file, index=False)

    return tamper


def _set(table: str, row: int | Callable[[pd.DataFrame], int], column: str, value: object):
    def change(df: pd.DataFrame) -> None:
        i = row(df) if callable(row) else row
        if isinstance(df[column].dtype, pd.CategoricalDtype):
            df[column] = df[column].astype(object)
        df.loc[df.index[i], column] = value if not callable(value) else value(df.iloc[i][column])

    return _edit(table, change)


def _sql(statement: str) -> Callable[[Path], None]:
    def tamper(path: Path) -> None:
        db = sqlite3.connect(path / "ledger.sqlite")
        db.execute(statement)
        db.commit()
        db.close()

    return tamper


def _truncate(path: Path) -> None:
    file = path / "ledger.sqlite"
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 3])


def _garbage(name: str) -> Callable[[Path], None]:
    def tamper(path: Path) -> None:
        (path / name).write_bytes(b"\x00garbage\xff" * 1000)

    return tamper


def _delete(name: str) -> Callable[[Path], None]:
    def tamper(path: Path) -> None:
        (path / name).unlink()

    return tamper


def _flagged(df: pd.DataFrame) -> int:
    return int((df["status"].astype(str) == "flagged_implausible").to_numpy().nonzero()[0][0])


def _accepted_pv(df: pd.DataFrame) -> int:
    rows = (df["status"].astype(str) == "accepted") & (df["node_id"].astype(str) == "pv-1")
    return int(rows.to_numpy().nonzero()[0][12])


def _double(df: pd.DataFrame) -> None:
    df["p_mw"] *= 2


def _swap_addresses(df: pd.DataFrame) -> None:
    a, b = df.loc[1, "address"], df.loc[2, "address"]
    df.loc[1, "address"], df.loc[2, "address"] = b, a


def _drop_trade(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(index=100)


def _first_stake(df: pd.DataFrame) -> int:
    return int((df["kind"].astype(str) == "stake").to_numpy().nonzero()[0][0])


def _rewarded_to_flagged(df: pd.DataFrame) -> pd.DataFrame:
    """An accepted reading of a rewarded device (pv-1) made flagged, with a plausible flag."""
    i = _accepted_pv(df)
    df["status"] = df["status"].astype(object)
    df.loc[df.index[i], ["status", "flags"]] = ["flagged_implausible", 16]
    return df


def _unrewarded_to_accepted(df: pd.DataFrame) -> None:
    """A flagged reading of a device that earns nothing (pv-0, every reading flagged) made
    accepted, its flags zeroed: nothing in rewards points at it."""
    i = _flagged(df)
    df["status"] = df["status"].astype(object)
    df.loc[df.index[i], ["status", "flags"]] = ["accepted", 0]


def _meter_to_flagged(df: pd.DataFrame) -> None:
    """An accepted reading of a household meter (never rewarded) made flagged."""
    i = int((df["node_id"].astype(str) == "load-7").to_numpy().nonzero()[0][5])
    df["status"] = df["status"].astype(object)
    df.loc[df.index[i], ["status", "flags"]] = ["flagged_implausible", 8]


def _role(role: str) -> Callable[[pd.DataFrame], int]:
    return lambda df: int((df["role"].astype(str) == role).to_numpy().nonzero()[0][0])


def _withdraw_added(df: pd.DataFrame) -> pd.DataFrame:
    """A ``withdraw`` row that no transaction made, copied from a stake."""
    extra = df.iloc[[_first_stake(df)]].copy()
    extra["kind"] = "withdraw"
    return pd.concat([df.astype({"kind": object}), extra.astype({"kind": object})])


# (id, tampering, words a failed check must name: the table or file, and the row)
CASES: list[tuple[str, Callable[[Path], None], tuple[str, ...]]] = [
    ("ledger truncated", _truncate, ("ledger.sqlite",)),
    ("ledger deleted", _delete("ledger.sqlite"), ("ledger.sqlite",)),
    ("ledger garbage", _garbage("ledger.sqlite"), ("ledger.sqlite",)),
    (
        "ledger trade energy",
        _sql("UPDATE trades SET energy_wh = energy_wh + 1 WHERE trade_id = 100"),
        ("ledger.sqlite", "trade_id 100"),
    ),
    (
        "ledger trade payment",
        _sql("UPDATE trades SET payment_micro_eur = 1 WHERE trade_id = 300"),
        ("ledger.sqlite", "trade_id 300"),
    ),
    (
        "ledger root",
        _sql("UPDATE batches SET trades_root = zeroblob(32) WHERE batch_id = 1"),
        ("ledger.sqlite", "batch_id 1"),
    ),
    (
        "ledger net amounts",
        _sql("UPDATE batches SET net_amounts = '[1, -1]' WHERE batch_id = 2"),
        ("ledger.sqlite", "batch_id 2"),
    ),
    (
        "ledger state",
        _sql("UPDATE batches SET state = 'planned' WHERE batch_id = 3"),
        ("ledger.sqlite", "batch_id 3"),
    ),
    ("trade price", _set("trades", 100, "price_eur_per_mwh", 999.0), ("trades", "row 100")),
    ("trade energy", _set("trades", 100, "energy_wh", lambda v: v + 5), ("trades", "row 100")),
    ("trade buyer", _set("trades", 100, "buyer", "member-0007"), ("trades", "row 100")),
    ("trade payment", _set("trades", 100, "payment_micro_eur", 1), ("trades", "row 100")),
    ("trade protocol fee", _set("trades", 100, "protocol_fee_micro_eur", 0), ("trades", "row 100")),
    ("trade curtailed_wh", _set("trades", 100, "curtailed_wh", 7), ("trades", "row 100")),
    ("trade deleted", _edit("trades", _drop_trade), ("trades", "trade_id 100")),
    ("trades garbage", _garbage("trades.parquet"), ("trades.parquet",)),
    ("intervals curtailed_wh", _set("intervals", 10, "curtailed_wh", 50), ("intervals", "row 10")),
    (
        "reading signature",
        _set(
            "readings", 30, "signature", lambda s: s[:10] + ("0" if s[10] != "0" else "1") + s[11:]
        ),
        ("readings", "row 30"),
    ),
    ("reading node_id", _set("readings", 30, "node_id", "load-5"), ("readings", "row 30")),
    ("flagged reading energy", _set("readings", _flagged, "energy_wh", 1), ("readings", "row")),
    (
        "accepted reading energy",
        _set("readings", _accepted_pv, "energy_wh", lambda v: v + 100),
        ("readings", "row"),
    ),
    ("reading status", _set("readings", _flagged, "status", "accepted"), ("readings", "row")),
    ("node_power doubled", _edit("node_power", _double), ("node_power", "row")),
    (
        "node_power row",
        _set("node_power", 500, "p_mw", lambda v: v + 0.001),
        ("node_power", "row 500"),
    ),
    (
        "grid_exchange import",
        _set("grid_exchange", 5, "import_mw", lambda v: v + 0.01),
        ("grid_exchange", "row 5"),
    ),
    ("bills cost", _set("bills", 3, "cost_micro_eur", lambda v: v - 1_000_000), ("bills", "row 3")),
    ("bills import", _set("bills", 4, "import_wh", lambda v: v + 1000), ("bills", "row 4")),
    ("batches root", _set("batches", 1, "trades_root", "0x" + "11" * 32), ("batches", "row 1")),
    ("batches gas", _set("batches", 2, "gas_used", 1), ("batches", "row 2")),
    ("participants address", _edit("participants", _swap_addresses), ("participants", "row 1")),
    ("rewards amount", _set("rewards", 3, "amount", lambda v: v + 1), ("rewards", "row 3")),
    (
        "treasury amount",
        _set("treasury", 1, "amount_micro_eur", lambda v: v + 1),
        ("treasury", "row 1"),
    ),
    ("stakes amount", _set("stakes", 5, "amount_units", lambda v: v + 1), ("stakes", "row 5")),
    (
        "stakes stake row",
        _set("stakes", _first_stake, "amount_units", lambda v: v - 1),
        ("stakes", "row"),
    ),
    ("rewards energy", _set("rewards", 2, "energy_wh", lambda v: v + 1), ("rewards", "row 2")),
    (
        "reading accepted to flagged",
        _edit("readings", _rewarded_to_flagged),
        ("rewards", "row"),
    ),
    ("rewards garbage", _garbage("rewards.parquet"), ("rewards.parquet",)),
    (
        "unrewarded reading accepted, flags zeroed",
        _edit("readings", _unrewarded_to_accepted),
        ("readings", "row"),
    ),
    ("meter reading flagged", _edit("readings", _meter_to_flagged), ("readings", "row")),
    (
        "treasury address",
        _set("participants", _role("treasury"), "address", "0x" + "ab" * 20),
        ("participants", "row 43"),
    ),
    (
        "grid operator address",
        _set("participants", _role("grid_operator"), "address", "0x" + "cd" * 20),
        ("participants", "row 42"),
    ),
    ("stake made unbond", _set("stakes", _first_stake, "kind", "unbond"), ("stakes", "row")),
    (
        "token_economy circulating",
        _set("token_economy", 0, "circulating_units", lambda v: v + 1),
        ("token_economy", "row 0"),
    ),
    (
        "token_economy pays_for_itself",
        _set("token_economy", 0, "pays_for_itself", lambda v: not v),
        ("token_economy", "row 0"),
    ),
    ("withdraw row added", _edit("stakes", _withdraw_added), ("stakes", "row")),
    (
        "transactions gas",
        _set("transactions", 7, "gas_used", lambda v: v + 1),
        ("transactions", "row 7"),
    ),
    ("manifest garbage", _garbage("manifest.json"), ("manifest.json",)),
    ("chain deleted", _delete("chain.sqlite"), ("chain.sqlite",)),
]


#: One tampering of each kind runs by default; the rest are marked slow (each verify reads
#: the whole chain, a few seconds; they all run in CI).
QUICK = {
    "ledger garbage",
    "ledger trade payment",
    "trade price",
    "trade deleted",
    "reading signature",
    "reading status",
    "node_power row",
    "bills cost",
    "participants address",
    "rewards amount",
    "stakes amount",
    "manifest garbage",
    "chain deleted",
}
PARAMS = [
    pytest.param(tamper, names, id=name, marks=() if name in QUICK else pytest.mark.slow)
    for name, tamper, names in CASES
]


def test_the_untouched_run_verifies(run_dir: Path) -> None:
    failed = [c for c in verify_run(run_dir) if not c.ok]
    assert not failed, failed


@pytest.mark.parametrize(("tamper", "names"), PARAMS)
def test_verify_names_the_tampered_table_and_row(
    run_dir: Path, tmp_path: Path, tamper: Callable[[Path], None], names: tuple[str, ...]
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    tamper(copy)
    failed = [f"{c.name}: {c.detail}" for c in verify_run(copy) if not c.ok]
    assert failed, "verify passed a tampered run"
    assert any(all(word in text for word in names) for text in failed), failed


#: A day of the ex-ante auction whose gate (300 s before each interval) member-0000's orders
#: miss all day (they arrive 700 s after they are sent, the gate is at 600 s).
GATE_OVERRIDES = [
    "run.days=1",
    "chain.batch_hours=6",
    'market.rule="ex_ante_auction"',
    "market.gate_closure_s=300",
    'market.late_orders=[{participant = "member-0000", start_h = 0.0, duration_h = 24.0, '
    "delay_s = 700}]",
]


@pytest.fixture(scope="module")
def gate_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tamper-gate") / "day"
    run_scenario(load_scenario(DEFAULT, GATE_OVERRIDES), out)
    return out


def _first_late(df: pd.DataFrame) -> int:
    return int((df["status"].astype(str) == "late").to_numpy().nonzero()[0][0])


def _late_made_on_time(df: pd.DataFrame) -> None:
    """A late order claimed on time, its submission time moved before the gate too."""
    i = _first_late(df)
    df["status"] = df["status"].astype(object)
    df.loc[df.index[i], "status"] = "on_time"
    sent = pd.Timestamp(str(df["time"].iat[i])) - pd.Timedelta(seconds=900)
    df["submitted"] = df["submitted"].mask(df.index == df.index[i], sent)


def _first_buy_trade(df: pd.DataFrame) -> int:
    return int((df["buyer"].astype(str) != "member-0000").to_numpy().nonzero()[0][0])


GATE_CASES: list[tuple[str, Callable[[Path], None], tuple[str, ...]]] = [
    (
        "late order flipped on time",
        _set("orders", _first_late, "status", "on_time"),
        ("orders", "row"),
    ),
    ("late order moved before the gate", _edit("orders", _late_made_on_time), ("orders", "row")),
    (
        "trade of a late owner",
        _set("trades", _first_buy_trade, "buyer", "member-0000"),
        ("trades", "row", "refused at the gate"),
    ),
]


def test_the_untouched_gate_run_verifies(gate_run_dir: Path) -> None:
    assert (pd.read_parquet(gate_run_dir / "orders.parquet")["status"] == "late").any()
    failed = [c for c in verify_run(gate_run_dir) if not c.ok]
    assert not failed, failed


@pytest.mark.parametrize(("tamper", "names"), [pytest.param(t, n, id=i) for i, t, n in GATE_CASES])
def test_verify_names_a_tampered_order_or_a_late_owners_trade(
    gate_run_dir: Path, tmp_path: Path, tamper: Callable[[Path], None], names: tuple[str, ...]
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(gate_run_dir, copy)
    tamper(copy)
    failed = [f"{c.name}: {c.detail}" for c in verify_run(copy) if not c.ok]
    assert failed, "verify passed a tampered run"
    assert any(all(word in text for word in names) for text in failed), failed


def test_a_run_without_devices_or_economy_verifies(tmp_path: Path) -> None:
    """No readings, rewards, stakes, treasury, curtailments, bills' protocol fees: the optional
    tables are absent and every check that remains passes."""
    overrides = [o for o in OVERRIDES if not o.startswith("devices.")]
    out = tmp_path / "plain"
    run_scenario(
        load_scenario(DEFAULT, [*overrides, "devices.enabled=false", "economy.enabled=false"]),
        out,
    )
    for table in ("readings", "rewards", "stakes", "treasury", "token_economy"):
        assert not (out / f"{table}.parquet").exists(), table
    checks = verify_run(out)
    assert checks
    assert not [c for c in checks if not c.ok]
    assert any(c.name.startswith("journal:") for c in checks)
