"""Numbers as people read them, with their units: "21.5 °C", "612 ppm", "fewer than 3"."""

from __future__ import annotations

import math

from presentation.words import on_off_words

# Decimal places by unit when the caller does not say; others get one.
_DECIMALS = {
    "°C": 1,
    "%": 0,
    "ppm": 0,
    "µg/m³": 1,
    "hPa": 0,
    "dBA": 0,
    "V": 2,
    "MB": 0,
    "count": 1,
    "people": 1,
    "bool": 2,
    "1": 2,
}
# Units that read better without a suffix ("12", not "12 count").
_BARE_UNITS = frozenset({"", "1", "count", "bool"})
_COUNT_UNITS = frozenset({"count", "people"})


def decimals_for(unit: str, decimals: int | None) -> int:
    """The decimal places asked for (0 to 10), or what suits the unit."""
    if decimals is not None:
        return max(0, min(decimals, 10))
    return _DECIMALS.get(unit, 1)


def format_number(value: float, decimals: int) -> str:
    """A number with thousands separators; very large ones in words or exponent form."""
    if not math.isfinite(value):
        return "no data"
    size = abs(value)
    if size >= 1e6:
        for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
            if size >= scale and size < scale * 1000:
                return f"{value / scale:.3g} {word}"
        return f"{value:.3g}"
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]  # no "-0.0"
    return text


def unit_suffix(unit: str) -> str:
    """What follows a number of this unit: " °C", "%" or nothing."""
    if unit in _BARE_UNITS:
        return ""
    if unit == "%":
        return "%"
    return f" {unit}"


def format_value(value: float, unit: str, decimals: int | None = None) -> str:
    """``value`` as people read it, with its unit: "21.5 °C", "612 ppm", "45%", "1,204".

    An average of on/off readings (unit ``bool``) reads as a share: "33% of the time".

    Args:
        value: the number; NaN or infinity reads "no data".
        unit: the metric's unit as the vocabulary names it (or "people").
        decimals: decimal places; by default what suits the unit (one for °C, none for ppm).
    """
    if not math.isfinite(value):
        return "no data"
    if unit == "bool":  # an average of on/off readings: the share of the time it was on
        return f"{max(0.0, min(1.0, value)) * 100:.0f}% of the time"
    return format_number(value, decimals_for(unit, decimals)) + unit_suffix(unit)


def format_reading(value: float, unit: str, censor: str | None, metric: str | None = None) -> str:
    """A stored value as people read it, bounds included: "fewer than 3", "more than 1,000".

    An on/off value (unit ``bool``) reads in words, never as a decimal: "In use" or
    "Not in use" for occupancy, "Yes" or "No" for the rest. A whole count reads with no
    decimals ("12", not "12.0").

    Args:
        value: the number.
        unit: its unit, as for :func:`format_value`.
        censor: "<" or ">" when the value is a bound rather than a measurement, else None.
        metric: the metric's name, for the words of an on/off value.
    """
    if unit == "bool":
        return on_off_words(value, metric)
    whole = unit in _COUNT_UNITS and math.isfinite(value) and value.is_integer()
    text = format_value(value, unit, 0 if whole else None)
    if censor == "<":
        return f"fewer than {text}"
    if censor == ">":
        return f"more than {text}"
    return text


def column_header(name: str, unit: str) -> str:
    """A column heading with its unit: "Average (°C)"."""
    suffix = unit_suffix(unit).strip()
    return f"{name} ({suffix})" if suffix else name
