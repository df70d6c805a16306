"""The tests' anvil node: :mod:`settlement.chain.anvil_node` (``gridtwin faults`` uses it too)."""

from settlement.chain.anvil_node import (
    _PLATFORMS,
    MISSING,
    NODE_MODULES,
    AnvilNode,
    anvil_binary,
    free_port,
)

__all__ = ["MISSING", "NODE_MODULES", "_PLATFORMS", "AnvilNode", "anvil_binary", "free_port"]
