"""The metric vocabulary as Home Assistant sees it: platform, device class, unit, state.

:data:`HA_ENTITIES` gives every metric of :data:`presentation.vocabulary.METRICS`, by its
own name, the Home Assistant entity it becomes: a ``sensor`` (a number) or, for the on/off
metrics, a ``binary_sensor``; the device class and unit Home Assistant accepts together
(its ``DEVICE_CLASS_UNITS``: ``humidity`` only with ``%``, ``sound_pressure`` with
``dBA``, ``voltage`` with ``V``, ``battery`` only for a charge in ``%``, none for a
resistance or a people count); the state class; and whether the entity is a diagnostic
one (the Pi's own health). Names, descriptions and units come from the vocabulary itself,
so a metric added there without an entry here fails a test.

:func:`ha_state` turns one reading into the state message the bridge publishes: the
state (a number, ``ON``/``OFF``, or None for Home Assistant's "unknown"), the value as
people read it (``shown``: "fewer than 3") and the attributes that say how far to trust
it (its quality flags by name, when it was measured, the bound of a censored value, the
reported value of one unfit to show). docs/home-assistant.md describes the result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

from presentation.numbers import format_value
from presentation.reading_flags import Censor, Quality, flag_summary
from presentation.vocabulary import METRICS
from presentation.words import on_off_words

Platform = Literal["sensor", "binary_sensor"]
"""The Home Assistant entity platforms the bridge announces."""

PAYLOAD_ON = "ON"
PAYLOAD_OFF = "OFF"
"""A binary sensor's states as the bridge publishes them (``payload_on``/``payload_off``)."""


@dataclass(frozen=True, slots=True)
class HaEntity:
    """How one metric appears in Home Assistant.

    ``unit`` is the unit as Home Assistant spells it (None: a bare number), always the
    metric's vocabulary unit in that spelling. ``state_class`` is None for a binary
    sensor. ``name`` replaces the vocabulary's description as the entity's name where
    that is a sentence rather than a name. ``in_words`` adds a second, text-valued sensor
    with the value as people read it, for a metric whose readings may be censored ("fewer
    than 3"), which a numeric sensor cannot show.
    """

    platform: Platform
    device_class: str | None = None
    state_class: str | None = "measurement"
    unit: str | None = None
    name: str | None = None
    diagnostic: bool = False
    in_words: bool = False


HA_UNITS: Mapping[str, str | None] = MappingProxyType(
    {"dB(A)": "dBA", "count": None, "people": None, "bool": None, "1": None, "": None}
)
"""Units spelled as Home Assistant expects, and units it shows as a bare number."""


def ha_unit(unit: str) -> str | None:
    """``unit`` as Home Assistant spells it, or None for a bare number."""
    return HA_UNITS.get(unit, unit)


def _sensor(metric: str, device_class: str | None, **more: Any) -> tuple[str, HaEntity]:
    # The unit is the vocabulary's (a KeyError at import for a name that is no metric).
    return metric, HaEntity("sensor", device_class, unit=ha_unit(METRICS[metric].unit), **more)


def _binary(
    metric: str, device_class: str, name: str, *, diagnostic: bool = False
) -> tuple[str, HaEntity]:
    return metric, HaEntity("binary_sensor", device_class, None, None, name, diagnostic)


HA_ENTITIES: Mapping[str, HaEntity] = MappingProxyType(
    dict(
        (
            _sensor("temperature", "temperature"),
            _sensor("relative_humidity", "humidity"),
            _sensor("co2", "carbon_dioxide"),
            _sensor("pm2_5", "pm25"),
            _sensor("pm10", "pm10"),
            _sensor("pressure", "atmospheric_pressure"),
            _sensor("noise", "sound_pressure"),
            # A resistance is no concentration: no VOC device class takes ohms.
            _sensor("gas_resistance", None),
            # Counts per interval (or of people present) go up and down: measurements.
            _sensor("footfall", None),
            _sensor("entries", None),
            _sensor("exits", None),
            _binary("occupancy", "occupancy", "Occupancy"),
            _sensor("motion_events", None),
            _sensor("battery", "voltage"),
            _sensor("battery_level", "battery"),
            _sensor("cpu_temperature", "temperature", diagnostic=True),
            _sensor("disk_free", "data_size", diagnostic=True),
            _sensor("load_1m", None, diagnostic=True),
            _binary("undervoltage", "problem", "Supply voltage too low", diagnostic=True),
            _binary("throttled", "problem", "CPU throttled", diagnostic=True),
            _sensor("people_estimate", None, in_words=True),
            _sensor("test_counter", None, state_class="total_increasing"),
        )
    )
)
"""Every metric of the vocabulary, by its name, as a Home Assistant entity; units are the
vocabulary's, in Home Assistant's spelling."""


def ha_entity(metric: str, unit: str) -> HaEntity:
    """The entity for a series: the vocabulary's, if it is a known metric in its own unit.

    A metric the vocabulary does not know, or one in another unit than the vocabulary's,
    is a plain numeric sensor with its unit and no device class, which Home Assistant
    always accepts.
    """
    entity = HA_ENTITIES.get(metric)
    known = METRICS.get(metric)
    if entity is not None and known is not None and ha_unit(unit) == ha_unit(known.unit):
        return entity
    return HaEntity("sensor", unit=ha_unit(unit))


def entity_name(metric: str, sensor_label: str) -> str:
    """The entity's name: the sensor's label (or id), then what it measures.

    "Main hall CO2: Carbon dioxide concentration", "scd-1: Relative humidity"; Home
    Assistant puts the hall's name in front.
    """
    entity = HA_ENTITIES.get(metric)
    known = METRICS.get(metric)
    if entity is not None and entity.name is not None:
        what = entity.name
    elif known is not None:
        what = known.description
    else:
        what = metric.replace("_", " ").capitalize()
    return f"{sensor_label}: {what}"


_KNOWN_FLAGS = sum(Quality)


def quality_names(quality: int) -> list[str]:
    """A reading's quality flags by name ("clock_unsynced"); empty for a good reading."""
    names = [str(flag.name).lower() for flag in Quality if flag and quality & flag == flag]
    if quality & ~_KNOWN_FLAGS:
        names.append(f"unknown_{quality & ~_KNOWN_FLAGS:#x}")
    return names


def _shown(metric: str, unit: str, value: float, censor: str | None) -> str:
    known = METRICS.get(metric)
    if (known.unit if known is not None else unit) == "bool":
        return on_off_words(value, metric)
    whole = known is not None and known.kind == "count" and float(value).is_integer()
    text = format_value(value, known.unit if known is not None else unit, 0 if whole else None)
    if censor == Censor.LESS_THAN:
        return f"fewer than {text}"
    if censor == Censor.MORE_THAN:
        return f"more than {text}"
    return text


def _iso(ts_us: int) -> str | None:
    try:
        return datetime.fromtimestamp(ts_us / 1e6, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return None  # a time no calendar holds: the quality flags say why


def ha_state(
    metric: str, unit: str, value: float, quality: int, censor: str | None, ts_us: int
) -> dict[str, Any]:
    """The state message of one reading, as JSON-ready data (no NaN in it).

    ``state`` is what Home Assistant shows: the number (or ``ON``/``OFF`` for a binary
    sensor), or None ("unknown") when the value is a bound rather than a measurement
    (censored) or unfit to show (NaN, infinite, out of range, stuck). ``shown`` is the
    value as people read it ("21.5 °C", "fewer than 3"), None when unfit. The
    attributes always hold ``quality`` (the flags by name, empty when good),
    ``quality_words`` (the same in plain English: "no problems" when good) and
    ``measured_at`` (ISO 8601, UTC, as the node stamped it); a censored reading adds
    ``censor`` and ``bound``, an unfit one ``reported`` (the value, None if not finite).
    """
    entity = ha_entity(metric, unit)
    finite = math.isfinite(value)
    unfit = not finite or bool(Quality(quality) & Quality.bad_value())
    attributes: dict[str, Any] = {
        "quality": quality_names(quality),
        "quality_words": flag_summary(quality),
        "measured_at": _iso(ts_us),
    }
    state: float | str | None
    shown: str | None
    if unfit:
        state, shown = None, None
        attributes["reported"] = value if finite else None
    elif censor is not None:
        state, shown = None, _shown(metric, unit, value, censor)
        attributes["censor"] = censor
        attributes["bound"] = value
    elif entity.platform == "binary_sensor":
        state = PAYLOAD_ON if value else PAYLOAD_OFF
        shown = "yes" if value else "no"
    else:
        state, shown = value, _shown(metric, unit, value, None)
    return {"state": state, "shown": shown, "attributes": attributes}
