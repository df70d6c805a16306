"""Who a market account is: a home (a member), the community's own generators, or a shared asset.

The market settles every owner of a node alike, but not every owner is a member. A home's
owner is a member: the community's people. The community's own generators (its wind turbine,
owner ``community``) and each shared asset (a community battery, owner ``asset-<name>``) have
market accounts of their own, whose receipts are the community's, not a household's. A
headline that counts members counts homes only; the other accounts are shown apart, labelled
as what they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np

AccountKind = Literal["home", "community", "asset"]

#: The kinds of market account, in the order summaries show them.
ACCOUNT_KINDS: tuple[AccountKind, ...] = ("home", "community", "asset")

#: The owner of the community's own generators (its wind turbines).
COMMUNITY_OWNER = "community"
#: The prefix of a shared asset's owner and account (``asset-<name>``).
ASSET_PREFIX = "asset-"


def account_kind(owner: str) -> AccountKind:
    """The kind of ``owner``'s market account: ``community`` (the community's generators),
    ``asset`` (a shared asset, ``asset-<name>``) or ``home`` (a member)."""
    if owner == COMMUNITY_OWNER:
        return "community"
    if owner.startswith(ASSET_PREFIX):
        return "asset"
    return "home"


def account_kinds(owners: Iterable[object]) -> np.ndarray:
    """:func:`account_kind` of each owner, as an array of str (one an owner)."""
    return np.array([account_kind(str(o)) for o in owners], dtype=object)
