"""The settlement journal: SQLite in WAL mode, written before anything is sent.

Every batch of trades is journaled with its trades, Merkle root and net payments *before* its
transaction exists, and each step of the transaction is journaled as it happens:

``planned`` (journaled, nothing sent) → ``sent`` (hash and nonce known) → ``mined`` (block and
gas used) → ``final`` (``confirmations`` blocks deep).

After a crash, :class:`~settlement.chain.settler.Settler` reconciles every batch that is not
final with the chain by its stored hash and by the contract's own record of the batch id, so
a batch is never lost and never recorded twice (the contract also refuses a second commit
of one id). Each state change is its own transaction, committed (and synced by SQLite)
before the next step, so the journal is never behind what was sent.

A batch too big for one transaction is split (:func:`settlement.chain.batches.split_batch`):
its chunks are journaled (table ``chunks``: chunk 0 the header, ``Settlement.openBatch``, then
one row per ``settleChunk``) before the first is sent, and each chunk goes ``planned`` →
``sent`` → ``mined`` by itself, as a batch does. The batch stays ``planned`` until its last
chunk is mined; it is then ``mined`` with the last chunk's hash, nonce and block, the gas of all
its chunks and the sends of all of them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

STATES = ("planned", "sent", "mined", "final")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id INTEGER PRIMARY KEY,
    first_time TEXT NOT NULL,
    last_time TEXT NOT NULL,
    trades_root BLOB NOT NULL,
    trade_count INTEGER NOT NULL,
    energy_wh INTEGER NOT NULL,
    accounts TEXT NOT NULL,
    net_amounts TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('planned', 'sent', 'mined', 'final')),
    tx_hash TEXT,
    nonce INTEGER,
    block INTEGER,
    gas_used INTEGER,
    sends INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS trades (
    batch_id INTEGER NOT NULL REFERENCES batches (batch_id),
    trade_id INTEGER NOT NULL PRIMARY KEY,
    seller TEXT NOT NULL,
    buyer TEXT NOT NULL,
    energy_wh INTEGER NOT NULL,
    payment_micro_eur INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    batch_id INTEGER NOT NULL REFERENCES batches (batch_id),
    chunk INTEGER NOT NULL,
    accounts TEXT NOT NULL,
    net_amounts TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('planned', 'sent', 'mined')),
    tx_hash TEXT,
    nonce INTEGER,
    block INTEGER,
    gas_used INTEGER,
    sends INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, chunk)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Chunk:
    """One journaled transaction of a split batch (chunk 0: the header, no accounts)."""

    batch_id: int
    chunk: int
    accounts: list[str]
    net_amounts: list[int]
    state: str
    tx_hash: str | None
    nonce: int | None
    block: int | None
    gas_used: int | None
    sends: int


@dataclass(frozen=True)
class Batch:
    """One journaled batch."""

    batch_id: int
    first_time: str
    last_time: str
    trades_root: bytes
    trade_count: int
    energy_wh: int
    accounts: list[str]
    net_amounts: list[int]
    state: str
    tx_hash: str | None
    nonce: int | None
    block: int | None
    gas_used: int | None
    sends: int


def _column(values: Any, kind: type[int] | type[str]) -> list[Any]:
    """A column of trades as Python ints or strs, for SQLite (an integer array at once)."""
    if kind is int and isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.tolist()
    return list(map(kind, values))


class Ledger:
    """The journal of one run's settlement.

    Parameters
    ----------
    path : Path
        The SQLite file (created if missing).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value under ``key`` (chain id, addresses, ...)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def meta(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def plan(
        self,
        batch_id: int,
        first_time: str,
        last_time: str,
        trades_root: bytes,
        energy_wh: int,
        accounts: Sequence[str],
        net_amounts: Sequence[int],
        trades: Mapping[str, Any],
    ) -> None:
        """Journal a batch and its trades (state ``planned``), atomically.

        ``trades`` has the columns trade_id, seller, buyer, energy_wh, payment_micro_eur.
        A batch id journaled before is an error (``sqlite3.IntegrityError``).
        """
        if sum(int(x) for x in net_amounts) != 0:
            raise ValueError(f"batch {batch_id}: net amounts sum to {sum(net_amounts)}, not 0")
        rows = list(
            zip(
                [batch_id] * len(trades["trade_id"]),
                _column(trades["trade_id"], int),
                _column(trades["seller"], str),
                _column(trades["buyer"], str),
                _column(trades["energy_wh"], int),
                _column(trades["payment_micro_eur"], int),
                strict=True,
            )
        )
        with self._tx() as db:
            db.execute(
                "INSERT INTO batches (batch_id, first_time, last_time, trades_root, "
                "trade_count, energy_wh, accounts, net_amounts, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned')",
                (
                    batch_id,
                    first_time,
                    last_time,
                    bytes(trades_root),
                    len(rows),
                    int(energy_wh),
                    json.dumps(list(accounts)),
                    json.dumps([int(x) for x in net_amounts]),
                ),
            )
            db.executemany("INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?)", rows)

    def _set(self, batch_id: int, state: str, **values: Any) -> None:
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        columns = ", ".join(f"{k} = ?" for k in values)
        sets = f"state = ?{', ' + columns if columns else ''}"
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE batches SET {sets} WHERE batch_id = ?",
                (state, *values.values(), batch_id),
            )
            if cur.rowcount != 1:
                raise KeyError(f"no batch {batch_id} in {self.path}")

    def mark_sent(self, batch_id: int, tx_hash: str, nonce: int) -> None:
        """The batch's transaction is signed and handed to the node."""
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET state = 'sent', tx_hash = ?, nonce = ?, sends = sends + 1 "
                "WHERE batch_id = ?",
                (tx_hash, nonce, batch_id),
            )

    def mark_mined(self, batch_id: int, tx_hash: str, block: int, gas_used: int) -> None:
        """The batch's transaction is in a block."""
        self._set(batch_id, "mined", tx_hash=tx_hash, block=block, gas_used=gas_used)

    def mark_final(self, batch_id: int) -> None:
        """The batch's block is deep enough."""
        self._set(batch_id, "final")

    def replan(self, batch_id: int) -> None:
        """Back to ``planned``: its transaction is gone (e.g. dropped by a restarted node).

        A split batch's chunks go back to ``planned`` too: the settler asks the contract which
        of them it holds before sending any again."""
        self._set(batch_id, "planned", tx_hash=None, nonce=None, block=None, gas_used=None)
        with self._tx() as db:
            db.execute(
                "UPDATE chunks SET state = 'planned', tx_hash = NULL, nonce = NULL, "
                "block = NULL, gas_used = NULL WHERE batch_id = ?",
                (batch_id,),
            )

    def plan_chunks(self, batch_id: int, parts: Sequence[tuple[list[str], list[int]]]) -> None:
        """Journal a split batch's chunks (``planned``), atomically: chunk 0 the header, then
        ``parts`` (accounts, net amounts) in order. They must hold the batch's accounts."""
        batch = self.batch(batch_id)
        flat = sorted((a, int(x)) for acc, amt in parts for a, x in zip(acc, amt, strict=True))
        if flat != sorted(zip(batch.accounts, batch.net_amounts, strict=True)):
            raise ValueError(f"batch {batch_id}: the chunks are not the batch's net payments")
        rows = [(batch_id, 0, "[]", "[]")] + [
            (batch_id, i + 1, json.dumps(list(a)), json.dumps([int(x) for x in n]))
            for i, (a, n) in enumerate(parts)
        ]
        with self._tx() as db:
            db.executemany(
                "INSERT INTO chunks (batch_id, chunk, accounts, net_amounts, state) "
                "VALUES (?, ?, ?, ?, 'planned')",
                rows,
            )

    def chunks(self, batch_id: int) -> list[Chunk]:
        """A split batch's chunks, in order (empty: the batch is sent in one transaction)."""
        cur = self.db.execute(
            "SELECT batch_id, chunk, accounts, net_amounts, state, tx_hash, nonce, block, "
            "gas_used, sends FROM chunks WHERE batch_id = ? ORDER BY chunk",
            (batch_id,),
        )
        return [
            Chunk(r[0], r[1], json.loads(r[2]), json.loads(r[3]), *r[4:]) for r in cur.fetchall()
        ]

    def mark_chunk_sent(self, batch_id: int, chunk: int, tx_hash: str, nonce: int) -> None:
        """A chunk's transaction is signed; journaled before it is handed to the node."""
        self._chunk(
            batch_id,
            chunk,
            "state = 'sent', tx_hash = ?, nonce = ?, sends = sends + 1",
            (tx_hash, nonce),
        )

    def mark_chunk_mined(
        self, batch_id: int, chunk: int, tx_hash: str, block: int, gas_used: int
    ) -> None:
        """A chunk's transaction is in a block."""
        self._chunk(
            batch_id,
            chunk,
            "state = 'mined', tx_hash = ?, block = ?, gas_used = ?",
            (tx_hash, block, gas_used),
        )

    def replan_chunk(self, batch_id: int, chunk: int) -> None:
        """A chunk back to ``planned``: the node lost its transaction."""
        self._chunk(batch_id, chunk, "state = 'planned', tx_hash = NULL, nonce = NULL", ())

    def _chunk(self, batch_id: int, chunk: int, sets: str, args: tuple[Any, ...]) -> None:
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE chunks SET {sets} WHERE batch_id = ? AND chunk = ?",
                (*args, batch_id, chunk),
            )
            if cur.rowcount != 1:
                raise KeyError(f"no chunk {chunk} of batch {batch_id} in {self.path}")

    def mark_chunks_mined(self, batch_id: int) -> None:
        """Every chunk of a split batch is mined: the batch is ``mined`` (the last chunk's hash,
        nonce and block; all chunks' gas and sends)."""
        chunks = self.chunks(batch_id)
        if not chunks or any(c.state != "mined" for c in chunks):
            raise ValueError(f"batch {batch_id}: not every chunk is mined")
        last = chunks[-1]
        with self._tx() as db:
            db.execute(
                "UPDATE batches SET state = 'mined', tx_hash = ?, nonce = ?, block = ?, "
                "gas_used = ?, sends = ? WHERE batch_id = ?",
                (
                    last.tx_hash,
                    last.nonce,
                    last.block,
                    sum(c.gas_used or 0 for c in chunks),
                    sum(c.sends for c in chunks),
                    batch_id,
                ),
            )

    def batch(self, batch_id: int) -> Batch:
        """One batch."""
        rows = self._select("WHERE batch_id = ?", (batch_id,))
        if not rows:
            raise KeyError(f"no batch {batch_id} in {self.path}")
        return rows[0]

    def batches(self, states: Sequence[str] = STATES) -> list[Batch]:
        """Batches in ``states``, by id."""
        marks = ", ".join("?" for _ in states)
        return self._select(f"WHERE state IN ({marks}) ORDER BY batch_id", tuple(states))

    def trades(self, batch_id: int) -> list[tuple[int, str, str, int, int]]:
        """A batch's trades: (trade_id, seller, buyer, energy_wh, payment_micro_eur)."""
        return self.db.execute(
            "SELECT trade_id, seller, buyer, energy_wh, payment_micro_eur FROM trades "
            "WHERE batch_id = ? ORDER BY trade_id",
            (batch_id,),
        ).fetchall()

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Batch]:
        cur = self.db.execute(
            "SELECT batch_id, first_time, last_time, trades_root, trade_count, energy_wh, "
            "accounts, net_amounts, state, tx_hash, nonce, block, gas_used, sends "
            f"FROM batches {where}",
            args,
        )
        return [
            Batch(
                batch_id=r[0],
                first_time=r[1],
                last_time=r[2],
                trades_root=bytes(r[3]),
                trade_count=r[4],
                energy_wh=r[5],
                accounts=json.loads(r[6]),
                net_amounts=json.loads(r[7]),
                state=r[8],
                tx_hash=r[9],
                nonce=r[10],
                block=r[11],
                gas_used=r[12],
                sends=r[13],
            )
            for r in cur.fetchall()
        ]
