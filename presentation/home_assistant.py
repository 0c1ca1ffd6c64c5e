"""Home Assistant's device and state classes and unit spellings for the hub's metrics."""

from __future__ import annotations

HA_CLASSES: dict[str, tuple[str | None, str]] = {
    "temperature": ("temperature", "measurement"),
    "humidity": ("humidity", "measurement"),
    "pressure": ("atmospheric_pressure", "measurement"),
    "co2": ("carbon_dioxide", "measurement"),
    "pm2_5": ("pm25", "measurement"),
    "pm10": ("pm10", "measurement"),
    "pm1": ("pm1", "measurement"),
    "noise": ("sound_pressure", "measurement"),
    "voc_index": (None, "measurement"),
    "footfall": (None, "measurement"),
    "entries": (None, "measurement"),
    "occupancy": (None, "measurement"),
}
"""Home Assistant's device and state classes for the metrics that have them; a people
count per interval is a measurement (it does not only grow), not ``total_increasing``."""
HA_UNITS = {"dB(A)": "dBA", "people": None}
"""Units spelled as Home Assistant expects, and units it has none for."""
