"""What every scenario section shares: strict validation, and the error that names file and key."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Efficiency = Annotated[float, Field(gt=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]


class ScenarioError(ValueError):
    """A scenario file or override that cannot be used; the message names file, key, reason."""


class Section(BaseModel):
    """A section of a scenario: unknown keys rejected, finite numbers only, frozen."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, strict=True)
