"""Fault injection for the crash tests: ``GRIDTWIN_FAULT=<point>:<where>`` ends the process.

Points: ``after_plan:<batch_id>``, ``after_send:<batch_id>``,
``after_chunk:<batch_id>:<chunk>``; a data sale made in chunks
(:mod:`settlement.economy.data_market`): ``after_sale_open:<sale>``,
``after_sale_chunk:<sale>:<chunk>``. The process exits with :data:`FAULT_EXIT` there, as a kill
would, with nothing flushed.
"""

from __future__ import annotations

import os

#: The exit code of a process ended at a fault point.
FAULT_EXIT = 86


def fault_point(point: str, where: object) -> None:
    """End the process with :data:`FAULT_EXIT` if ``GRIDTWIN_FAULT`` names this point."""
    if os.environ.get("GRIDTWIN_FAULT") == f"{point}:{where}":
        os._exit(FAULT_EXIT)
