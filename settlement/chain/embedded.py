"""Saving and reopening the embedded chain, so a finished run's chain can be audited.

The embedded chain (eth-tester + py-evm) lives in the run's process. At the end of a run its
whole database (py-evm's key-value store: blocks, receipts, state) is written to a SQLite
file in the run folder; :func:`open_embedded` loads it into a fresh eth-tester backend, so
``gridtwin verify`` and ``gridtwin prove`` check a run against the very chain it settled on.
SQLite, not pickle: reopening a run folder never executes code from it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from settlement.chain.connection import Chain, ChainError


def _backend(chain: Chain) -> Any:
    provider = chain.w3.provider
    if not isinstance(provider, EthereumTesterProvider):
        raise ChainError("only the embedded chain can be saved to a file")
    tester = provider.ethereum_tester
    if tester is None:
        raise ChainError("the embedded chain has no eth-tester backend")
    return tester.backend


def save_embedded(chain: Chain, path: Path) -> int:
    """Write the embedded chain's database to ``path`` (SQLite); returns the number of keys."""
    store = _backend(chain).chain.chaindb.db.wrapped_db.kv_store
    path = Path(path)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL)")
        db.executemany("INSERT INTO kv VALUES (?, ?)", store.items())
    db.close()
    return len(store)


def open_embedded(path: Path, addresses: Mapping[str, str]) -> Chain:
    """Reopen a saved embedded chain with its contracts at ``addresses``."""
    from eth.db.atomic import AtomicDB
    from eth.db.backends.memory import MemoryDB
    from eth_tester import EthereumTester, PyEVMBackend

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no saved embedded chain")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    store = dict(db.execute("SELECT key, value FROM kv"))
    db.close()
    backend = PyEVMBackend()
    backend.chain = type(backend.chain)(AtomicDB(MemoryDB(store)))
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    account = Account.from_key(backend.account_keys[0].to_bytes())
    return Chain(
        w3, kind="embedded", operator=account.address, account=account, addresses=addresses
    )
