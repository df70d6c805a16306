"""One fact ``gridtwin verify`` checks: what, whether it holds, and the detail."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One verified fact: what, whether it holds, and the detail."""

    name: str
    ok: bool
    detail: str
