"""Each ``participants`` row against the chain, traded or not.

The journal ties an owner's address to its trades (:func:`twin.verify_journal.
participants_check`); an owner without trades has none to tie it to. The chain has: at set-up
every member and the grid operator were minted the scenario's ``chain.credits_eur`` by
``EnergyCredit.mintBatch`` (a ``Transfer`` from the zero address), and the treasury's account is
the Treasury contract. So each row's address is checked against those, whatever it traded.
"""

from __future__ import annotations

import pandas as pd

from settlement.chain.connection import Chain
from settlement.units import eur_to_micro_eur
from twin.checks import Check, row_check
from twin.results import RunFolder

_ZERO = "0x" + "00" * 20


def minted_to(chain: Chain, first_block: int) -> dict[str, set[int]]:
    """The EnergyCredit amounts [micro-euro] minted to each address (lower case), from
    ``first_block`` on."""
    credit = chain.contract("EnergyCredit")
    logs = credit.events.Transfer().get_logs(
        from_block=first_block, argument_filters={"from": _ZERO}
    )
    out: dict[str, set[int]] = {}
    for log in logs:
        out.setdefault(str(log.args.to).lower(), set()).add(int(log.args.value))
    return out


def verify_participants(run: RunFolder, chain: Chain, participants: pd.DataFrame) -> Check:
    """Each member's and the grid operator's address was minted the set-up credits; the
    treasury's is the Treasury contract."""
    config = run.manifest["config"]
    credits = eur_to_micro_eur(float(config["chain"]["credits_eur"]))
    first = int(run.manifest["chain"].get("first_block", 0) or 0)
    minted = minted_to(chain, first) if credits > 0 else {}
    treasury = str(run.manifest["chain"]["addresses"].get("Treasury", "")).lower()
    owners = participants["owner"].astype(str).tolist()
    addresses = participants["address"].astype(str).str.lower().tolist()
    roles = (
        participants["role"].astype(str).tolist()
        if "role" in participants
        else ["member"] * (len(participants) - 1) + ["grid_operator"]
    )

    def wrong(i: int) -> bool:
        if roles[i] == "treasury":
            return addresses[i] != treasury
        return credits > 0 and credits not in minted.get(addresses[i], set())

    def why(i: int) -> str:
        if roles[i] == "treasury":
            return f"treasury address {addresses[i]} is not the Treasury contract {treasury}"
        return (
            f"{roles[i]} {owners[i]}: address {addresses[i]} was never minted the set-up "
            f"credits ({credits:,} micro-euro) on chain"
        )

    return row_check(
        "participants: each address = the one the chain minted credits to (treasury: contract)",
        "participants",
        [wrong(i) for i in range(len(owners))],
        why,
    )
