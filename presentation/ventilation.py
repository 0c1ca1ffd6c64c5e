"""Ventilation advice from CO2, in words a parish clerk can act on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from presentation.insight_basics import round_half_up
from presentation.vocabulary import METRICS

# Bands from UK guidance on CO2 as a sign of ventilation:
# - HSE, "Ventilation in the workplace: using CO2 monitors"
#   (https://www.hse.gov.uk/ventilation/using-co2-monitors.htm) and CIBSE's COVID-19
#   ventilation guidance it relies on: consistently below 800 ppm indicates a well
#   ventilated space; above 1500 ppm indicates poor ventilation that needs action.
# - DfE Building Bulletin 101 (2018), "Guidelines on ventilation, thermal comfort and
#   indoor air quality in schools": a daily average below 1000 ppm in occupied teaching
#   spaces, and no more than 1500 ppm for more than 20 consecutive minutes.
# - SAMHE (Schools' Air quality Monitoring for Health and Education) shows the same
#   800 / 1500 ppm thresholds on its monitors' traffic lights.
# So: below 800 fresh; 800 up to 1000 fine; 1000 up to and including 1500 getting stuffy;
# above 1500 stuffy. The value is rounded to whole ppm (halves up) before comparing.
CO2_FINE_FROM = 800
CO2_STUFFY_FROM = 1000
CO2_POOR_ABOVE = 1500

VentilationLevel = Literal["fresh", "fine", "stuffy", "very_stuffy", "unknown"]


@dataclass(frozen=True, slots=True)
class Ventilation:
    """Ventilation advice for one CO2 reading.

    ``level`` is a stable key for styling (``fresh``, ``fine``, ``stuffy``,
    ``very_stuffy``, or ``unknown`` with no usable reading); ``words`` the advice in a few
    words; ``explanation`` one sentence saying why; ``ppm`` the rounded reading or None.
    """

    level: VentilationLevel
    words: str
    explanation: str
    ppm: int | None


def ventilation_advice(co2_ppm: float | None) -> Ventilation:
    """Advice from a CO2 concentration in ppm (see the bands above).

    None, NaN, an infinity or a value outside the sensor's physical range (the ``co2``
    metric's range in ``presentation.vocabulary``) gives level ``unknown``.
    """
    co2 = METRICS["co2"]
    if co2_ppm is None:
        return Ventilation(
            "unknown", "No reading", "There is no carbon dioxide reading to go by.", None
        )
    if not math.isfinite(co2_ppm) or not co2.low <= co2_ppm <= co2.high:
        return Ventilation(
            "unknown",
            "No reliable reading",
            "The carbon dioxide sensor's reading is missing or outside what it can measure.",
            None,
        )
    ppm = round_half_up(co2_ppm)
    if ppm < CO2_FINE_FROM:
        return Ventilation(
            "fresh",
            "Fresh",
            "Carbon dioxide is below 800 parts per million (ppm): the room is well ventilated.",
            ppm,
        )
    if ppm < CO2_STUFFY_FROM:
        return Ventilation(
            "fine",
            "Fine",
            "Carbon dioxide is between 800 and 1,000 ppm: ventilation is keeping up, "
            "but keep an eye on it if more people arrive.",
            ppm,
        )
    if ppm <= CO2_POOR_ABOVE:
        return Ventilation(
            "stuffy",
            "Getting stuffy: open a window",
            "Carbon dioxide is between 1,000 and 1,500 ppm: the air is getting stale, "
            "and opening a window will freshen it.",
            ppm,
        )
    return Ventilation(
        "very_stuffy",
        "Stuffy: open windows and doors",
        "Carbon dioxide is above 1,500 ppm: the room is poorly ventilated; "
        "open windows and doors, or take a break outside.",
        ppm,
    )
