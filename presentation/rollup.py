"""The summary of one sensor's metric over a minute, an hour or a local day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Resolution = Literal["minute", "hour", "day"]


@dataclass(frozen=True, slots=True)
class Rollup:
    """The summary of one sensor's metric over one minute, hour or local day."""

    sensor_id: str
    metric: str
    unit: str
    start: datetime
    count: int
    min: float
    max: float
    mean: float
