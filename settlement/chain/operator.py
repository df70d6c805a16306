"""The operator's connection: the embedded chain, or a JSON-RPC node with the operator's key."""

from __future__ import annotations

import os

from settlement.chain.connection import Chain, ChainError

#: anvil's first development account (public, from its default mnemonic); used on chain id
#: 31337 when no key is given.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def connect(rpc_url: str | None, private_key_env: str) -> Chain:
    """The embedded chain (``rpc_url`` None), or the node at ``rpc_url`` with the operator key
    read from the environment variable ``private_key_env`` (anvil's development key on chain
    id 31337 when it is unset)."""
    if rpc_url is None:
        return Chain.embedded()
    key = os.environ.get(private_key_env)
    if key is None:
        probe = Chain.connect(rpc_url)
        if probe.chain_id != 31337:
            raise ChainError(
                f"chain.rpc_url {rpc_url}: set the operator's private key in ${private_key_env}"
            )
        key = ANVIL_DEV_KEY
    return Chain.connect(rpc_url, private_key=key)
