"""A seeded, deterministic simulation of a village hall's environment and footfall."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sensors.driver import Clock, Driver, DriverConfigError
from sensors.reading import Reading, SensorInfo, utc_now
from sensors.vocabulary import METRICS


@dataclass(frozen=True, slots=True)
class Event:
    """A regular booking: weekday (0 = Monday), local start and end hour, expected people."""

    weekday: int
    start_h: float
    end_h: float
    name: str
    people: int
    first_week_only: bool = False


TIMETABLE: tuple[Event, ...] = (
    Event(0, 10, 12, "coffee morning", 16),
    Event(1, 19, 21, "badminton", 12),
    Event(2, 14, 16, "toddler group", 22),
    Event(3, 19, 21.5, "parish council", 9),
    Event(4, 19, 22.5, "bingo", 28),
    Event(5, 10, 16, "monthly market", 60, first_week_only=True),
)
"""The simulated hall's week (Sunday closed)."""

ARRIVAL_MIN = 25.0
LEAVING_MIN = 10.0
METRIC_NAMES = (
    "temperature",
    "relative_humidity",
    "co2",
    "pm2_5",
    "pm10",
    "noise",
    "footfall",
    "occupancy",
)


def events_around(local: datetime) -> list[tuple[Event, datetime, datetime]]:
    """Bookings of the day before, the day of and the day after ``local``, as local times."""
    found = []
    for offset in (-1, 0, 1):
        day = (local + timedelta(days=offset)).date()
        for event in TIMETABLE:
            if event.weekday != day.weekday():
                continue
            if event.first_week_only and day.day > 7:
                continue
            midnight = datetime(day.year, day.month, day.day, tzinfo=local.tzinfo)
            found.append(
                (
                    event,
                    midnight + timedelta(hours=event.start_h),
                    midnight + timedelta(hours=event.end_h),
                )
            )
    return found


def people_present(local: datetime) -> float:
    """Expected people in the hall at ``local``: arriving over 25 min, leaving over 10."""
    total = 0.0
    for event, start, end in events_around(local):
        if local < start or local >= end + timedelta(minutes=LEAVING_MIN):
            continue
        arrived = min(1.0, (local - start).total_seconds() / (ARRIVAL_MIN * 60))
        if local >= end:
            arrived *= 1 - (local - end).total_seconds() / (LEAVING_MIN * 60)
        total += event.people * arrived
    return total


def expected_footfall(local: datetime, interval_s: float) -> float:
    """Expected door passages (in and out) in the ``interval_s`` before ``local``."""
    begin = local - timedelta(seconds=interval_s)
    total = 0.0
    for event, start, end in events_around(local):
        for window_start, minutes in ((start, ARRIVAL_MIN), (end, LEAVING_MIN)):
            window_end = window_start + timedelta(minutes=minutes)
            overlap = (min(local, window_end) - max(begin, window_start)).total_seconds()
            if overlap > 0:
                total += event.people * overlap / (minutes * 60)
    return total


def _co2_excess(local: datetime) -> float:
    """CO2 above outdoor air: builds up while people breathe, decays after they leave."""
    excess = 0.0
    for event, start, end in events_around(local):
        if local < start:
            continue
        elapsed_min = (min(local, end) - start).total_seconds() / 60
        build = event.people * 38 * (1 - math.exp(-elapsed_min / 35))
        if local > end:
            build *= math.exp(-(local - end).total_seconds() / 60 / 50)
        excess += build
    return excess


def _heating(local: datetime) -> float:
    """Degrees the heating adds: on an hour before a booking, cooling for two hours after."""
    boost = 0.0
    for _event, start, end in events_around(local):
        on = start - timedelta(hours=1)
        if local < on:
            continue
        warmed = 9.0 * (1 - math.exp(-(min(local, end) - on).total_seconds() / 1800))
        if local > end:
            warmed *= math.exp(-(local - end).total_seconds() / 3600)
        boost = max(boost, warmed)
    return boost


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def simulate(moment: datetime, seed: int, zone: ZoneInfo, interval_s: float) -> dict[str, float]:
    """Every simulated metric's value at ``moment``: a pure function of its arguments."""
    local = moment.astimezone(zone)
    # A simulation, not cryptography: seeded so the same seed and time give the same values.
    rng = random.Random(f"{seed}:{round(moment.timestamp() * 1e6)}")  # noqa: S311
    hour = local.hour + local.minute / 60 + local.second / 3600
    day_of_year = local.timetuple().tm_yday
    season = -math.cos(2 * math.pi * (day_of_year - 15) / 365.25)  # -1 mid-January
    people = people_present(local)
    unheated = 10.0 + 4.0 * season + 2.5 * math.sin(2 * math.pi * (hour - 9) / 24)
    temperature = unheated + _heating(local) + 0.05 * people + rng.gauss(0, 0.05)
    humidity = 62 - 1.4 * (temperature - 12) + 0.25 * people + rng.gauss(0, 0.4)
    co2 = 420 + _co2_excess(local) + rng.gauss(0, 8)
    pm2_5 = max(0.5, 5 + 2 * math.sin(2 * math.pi * (hour - 18) / 24) + 0.15 * people)
    pm2_5 *= math.exp(rng.gauss(0, 0.1))
    pm10 = pm2_5 * 1.6 * math.exp(rng.gauss(0, 0.05))
    quiet = 28 + (4 if 7 <= hour < 22 else 0)
    noise = quiet + (18 + 10 * math.log10(people + 1) if people >= 1 else 0) + rng.gauss(0, 1.5)
    footfall = _poisson(rng, expected_footfall(local, interval_s))
    return {
        "temperature": round(temperature, 2),
        "relative_humidity": round(min(98.0, max(15.0, humidity)), 1),
        "co2": round(max(400.0, co2)),
        "pm2_5": round(pm2_5, 1),
        "pm10": round(pm10, 1),
        "noise": round(max(20.0, noise), 1),
        "footfall": float(footfall),
        "occupancy": 1.0 if people >= 0.5 else 0.0,
    }


class SimulatedDriver(Driver):
    """A village hall that never was: temperature, humidity, CO2, PM2.5/PM10, noise, footfall.

    The week follows :data:`TIMETABLE` (coffee morning, badminton, toddlers, council,
    bingo, a market on the first Saturday): the heating comes on before bookings, CO2
    rises while people are in and decays after, footfall comes in bursts as they arrive
    and leave, and nights are quiet. Values are a pure function of the seed and the
    reading's time, so the same seed read at the same times gives the same readings.
    Settings: ``HALLSENSE_SIMULATED_INTERVAL_S``, ``HALLSENSE_SIMULATED_SEED``,
    ``HALLSENSE_TIMEZONE``. The demo and the benchmarks use it.
    """

    name = "simulated"

    def __init__(
        self,
        *,
        interval_s: float = 10.0,
        seed: int = 1,
        sensor_prefix: str = "sim",
        timezone: str = "Europe/London",
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DriverConfigError(f"simulated driver: unknown time zone {timezone!r}") from None
        self.seed = seed
        self.sensor_prefix = sensor_prefix

    def _sensor_id(self, metric: str) -> str:
        return f"{self.sensor_prefix}-{metric.replace('_', '-')}"

    def read(self) -> list[Reading]:
        """One reading of every simulated metric, now."""
        moment = self.clock()
        values = simulate(moment, self.seed, self.zone, self.interval_s)
        return [
            Reading(self._sensor_id(name), name, values[name], METRICS[name].unit, moment)
            for name in METRIC_NAMES
        ]

    def sensors(self) -> list[SensorInfo]:
        """One simulated sensor per metric."""
        return [
            SensorInfo(
                self._sensor_id(name),
                name,
                METRICS[name].unit,
                part="simulation",
                description=METRICS[name].description,
            )
            for name in METRIC_NAMES
        ]
