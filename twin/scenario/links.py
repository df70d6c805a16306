"""``[[devices.dropouts]]`` and ``[devices.upload_delay_periods]``: devices' meter links that
are down, or slow, so that their signed uploads reach the journal late."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from twin.scenario.base import NonNegativeFloat, PositiveFloat, Section

#: A device's upload delay [upload periods]: at most a day of the shortest (15-min) periods.
DelayPeriods = Annotated[int, Field(ge=1, le=96)]


class DropoutConfig(Section):
    """A device's meter link (its gateway) down from ``start_h`` for ``duration_h`` [h, from the
    run's start].

    The device keeps measuring and signs each upload period's readings when the period ends,
    as always; it cannot send while its link is down. An upload is due at its period's end: an
    upload due in ``[start_h, start_h + duration_h)`` is held on the device, and every held
    upload is sent, oldest first (nonce order), with the first upload due once the link is up
    again. The dropout is snapped to upload periods that way: a dropout that covers no period's
    end delays nothing. Uploads still held at the run's end are sent with its last upload.
    """

    node_id: str
    start_h: NonNegativeFloat
    duration_h: PositiveFloat
