"""A seeded, deterministic simulation of a village hall's air, noise and footfall."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from presentation.vocabulary import METRICS
from sensors.driver import Clock, Driver, DriverConfigError
from sensors.reading import Reading, SensorInfo, utc_now


@dataclass(frozen=True, slots=True)
class Booking:
    """A regular booking of the hall.

    ``weekday`` is 0 for Monday; ``start_h`` and ``end_h`` are local hours (19.5 is
    19:30); ``people`` is how many are in the hall once everyone has arrived. ``stay_min``
    is set for drop-in sessions (a market) whose visitors come and go all along, staying
    that long on average. ``exertion`` scales the CO2 each person breathes out (sitting
    is 1); ``loudness_db`` is how much louder than that many adults chatting the session
    is. ``first_of_month`` books it only on the month's first such weekday.
    """

    name: str
    weekday: int
    start_h: float
    end_h: float
    people: int
    stay_min: float | None = None
    exertion: float = 1.0
    loudness_db: float = 0.0
    first_of_month: bool = False


TIMETABLE: tuple[Booking, ...] = (
    Booking("coffee morning", 0, 10, 12, 18),
    Booking("badminton club", 1, 19, 21, 12, exertion=3.0, loudness_db=4),
    Booking("toddler group", 2, 14, 16, 24, loudness_db=6),
    Booking("parish council", 3, 19, 21, 10, first_of_month=True),
    Booking("yoga", 4, 18.5, 19.5, 12, exertion=1.3, loudness_db=-12),
    Booking("market", 5, 10, 16, 45, stay_min=40, exertion=1.2, first_of_month=True),
)
"""The simulated hall's week: Monday to Saturday bookings, Sunday closed."""

METRIC_NAMES: tuple[str, ...] = (
    "temperature",
    "relative_humidity",
    "co2",
    "pm2_5",
    "pm10",
    "noise",
    "footfall",
    "occupancy",
)
"""What the simulated hall reports, in the order of each read."""

# The hall: 350 m³ with 1.5 air changes an hour gives a 40-minute CO2 time constant; a
# seated adult breathes out about 18 litres of CO2 an hour.
HALL_VOLUME_M3 = 350.0
AIR_CHANGES_PER_H = 1.5
CO2_L_PER_PERSON_H = 18.0
OUTDOOR_CO2_PPM = 420.0
HEATING_SETPOINT_C = 20.0
ARRIVE_BEFORE = timedelta(minutes=10)
ARRIVE_AFTER = timedelta(minutes=15)
LEAVING = timedelta(minutes=10)
HEATING_LEAD = timedelta(hours=1)

_VENTILATION_M3_H = HALL_VOLUME_M3 * AIR_CHANGES_PER_H
_CO2_PPM_PER_PERSON = CO2_L_PER_PERSON_H / 1000 / _VENTILATION_M3_H * 1e6
_CO2_TAU_S = HALL_VOLUME_M3 / _VENTILATION_M3_H * 3600
_HEAT_TAU_S = 40 * 60.0
_COOL_TAU_S = 2 * 3600.0
_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Session:
    """One booking on one day, with its start and end as UTC times."""

    booking: Booking
    start: datetime
    end: datetime


def bookings_on(day: date) -> list[Booking]:
    """The bookings of the local calendar day ``day``."""
    return [
        booking
        for booking in TIMETABLE
        if booking.weekday == day.weekday() and not (booking.first_of_month and day.day > 7)
    ]


def sessions_around(moment: datetime, zone: ZoneInfo) -> list[Session]:
    """The sessions of the local day before, of and after ``moment``, as UTC times.

    Times are local wall-clock times converted to UTC, so a 10:00 booking is at 10:00
    in the hall in summer and winter alike.
    """
    today = moment.astimezone(zone).date()
    sessions = []
    for offset in (-1, 0, 1):
        day = today + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for booking in bookings_on(day):
            start = (midnight + timedelta(hours=booking.start_h)).astimezone(UTC)
            end = (midnight + timedelta(hours=booking.end_h)).astimezone(UTC)
            sessions.append(Session(booking, start, end))
    return sessions


def _ramp(moment: datetime, begin: datetime, end: datetime) -> float:
    """0 before ``begin``, 1 after ``end``, linear in between."""
    if moment <= begin:
        return 0.0
    if moment >= end:
        return 1.0
    return (moment - begin) / (end - begin)


def people_present(moment: datetime, sessions: Sequence[Session]) -> float:
    """Expected people in the hall at ``moment``.

    People arrive from 10 minutes before a session to 15 minutes after its start, and
    leave over the 10 minutes after its end.
    """
    total = 0.0
    for session in sessions:
        arrived = _ramp(moment, session.start - ARRIVE_BEFORE, session.start + ARRIVE_AFTER)
        gone = _ramp(moment, session.end, session.end + LEAVING)
        total += session.booking.people * arrived * (1 - gone)
    return total


def _share(
    count: float, begin: datetime, end: datetime, window_begin: datetime, window_end: datetime
) -> float:
    """How many of ``count`` events, spread evenly from ``begin`` to ``end``, fall in the window."""
    overlap = (min(end, window_end) - max(begin, window_begin)).total_seconds()
    return count * max(0.0, overlap) / (end - begin).total_seconds()


def expected_footfall(begin: datetime, end: datetime, sessions: Sequence[Session]) -> float:
    """Expected passages through the door, in or out, between ``begin`` and ``end``.

    Everyone passes once arriving and once leaving; visitors of a drop-in session also
    come and go all along, each staying ``stay_min`` on average.
    """
    total = 0.0
    for session in sessions:
        people, stay_min = session.booking.people, session.booking.stay_min
        arriving = (session.start - ARRIVE_BEFORE, session.start + ARRIVE_AFTER)
        total += _share(people, *arriving, begin, end)
        total += _share(people, session.end, session.end + LEAVING, begin, end)
        if stay_min is not None:
            open_min = (session.end - session.start).total_seconds() / 60
            total += _share(
                2 * people * open_min / stay_min, session.start, session.end, begin, end
            )
    return total


def co2_excess_ppm(moment: datetime, sessions: Sequence[Session]) -> float:
    """CO2 above outdoor air: it builds up while people breathe and decays once they go."""
    excess = 0.0
    for session in sessions:
        if moment <= session.start:
            continue
        steady = session.booking.people * session.booking.exertion * _CO2_PPM_PER_PERSON
        occupied_s = (min(moment, session.end) - session.start).total_seconds()
        level = steady * (1 - math.exp(-occupied_s / _CO2_TAU_S))
        if moment > session.end:
            level *= math.exp(-(moment - session.end).total_seconds() / _CO2_TAU_S)
        excess += level
    return excess


def heating_fraction(moment: datetime, sessions: Sequence[Session]) -> float:
    """How far the heating has brought the hall from unheated to its set point (0 to 1).

    The heating comes on an hour before each session and goes off when it ends; the
    hall then cools back over a couple of hours.
    """
    fraction = 0.0
    for session in sessions:
        on = session.start - HEATING_LEAD
        if moment <= on:
            continue
        heated_s = (min(moment, session.end) - on).total_seconds()
        warmth = 1 - math.exp(-heated_s / _HEAT_TAU_S)
        if moment > session.end:
            warmth *= math.exp(-(moment - session.end).total_seconds() / _COOL_TAU_S)
        fraction = max(fraction, warmth)
    return fraction


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method; a normal approximation above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def simulate(moment: datetime, *, seed: int, zone: ZoneInfo, window_s: float) -> dict[str, float]:
    """Every simulated metric's value at ``moment``: a pure function of its arguments.

    Args:
        moment: an aware time.
        seed: picks one of many equally plausible halls.
        zone: the hall's time zone (bookings are in local time).
        window_s: the seconds before ``moment`` whose door passages ``footfall`` counts.
    """
    micros = (moment - _EPOCH) // _MICROSECOND
    # A simulation, not cryptography; seeded from the seed and the time alone, so the
    # same read times give the same values in any process (str seeds hash with SHA-512).
    rng = random.Random(f"{seed}:{micros}")  # noqa: S311
    sessions = sessions_around(moment, zone)
    local = moment.astimezone(zone)
    hour = local.hour + local.minute / 60 + local.second / 3600
    winter = math.cos(2 * math.pi * (local.timetuple().tm_yday - 20) / 365.25)  # 1 in January
    people = people_present(moment, sessions)
    running = [s.booking for s in sessions if s.start <= moment <= s.end]
    exertion = max((b.exertion for b in running), default=1.0)
    loudness = max((b.loudness_db for b in running), default=0.0)

    unheated = 14 - 5 * winter + 1.5 * math.sin(2 * math.pi * (hour - 10) / 24)
    heated = unheated + max(0.0, HEATING_SETPOINT_C - unheated) * heating_fraction(moment, sessions)
    temperature = heated + 0.04 * people + rng.gauss(0, 0.05)
    # Warming air holds more water, so relative humidity falls as the heating works.
    humidity = (65 + 7 * winter) * math.exp(-0.065 * (temperature - unheated))
    humidity += min(0.3 * people, 12) + rng.gauss(0, 0.4)
    co2 = OUTDOOR_CO2_PPM + co2_excess_ppm(moment, sessions) + rng.gauss(0, 6)
    # Village air: wood smoke on winter evenings, dust stirred up by people moving about.
    smoke = 6 * max(0.0, winter) * math.exp(-(((hour - 20.5) / 2.5) ** 2))
    pm2_5 = (5 + smoke + 0.04 * people * exertion) * math.exp(rng.gauss(0, 0.08))
    pm10 = (1.4 * pm2_5 + 0.25 * people * exertion) * math.exp(rng.gauss(0, 0.05))
    background_db = 32.0 if 6 <= hour < 22 else 27.0
    level = 10 ** (background_db / 10)
    if people >= 1:
        level += 10 ** ((44 + 10 * math.log10(people) + loudness) / 10)
    noise = 10 * math.log10(level) + rng.gauss(0, 1.5)
    footfall = _poisson(
        rng, expected_footfall(moment - timedelta(seconds=window_s), moment, sessions)
    )
    return {
        "temperature": round(temperature, 2),
        "relative_humidity": round(min(95.0, max(20.0, humidity)), 1),
        "co2": float(round(max(380.0, co2))),
        "pm2_5": round(pm2_5, 1),
        "pm10": round(pm10, 1),
        "noise": round(noise, 1),
        "footfall": float(footfall),
        "occupancy": 1.0 if people >= 0.5 else 0.0,
    }


class SimulatedDriver(Driver):
    """A village hall that never was: its air, its noise and the people coming and going.

    Nothing is wired: the demo, the benchmarks and a node without sensors use it. The
    week follows :data:`TIMETABLE` (Monday coffee morning, Tuesday badminton, Wednesday
    toddler group, a parish council on the first Thursday, Friday yoga, a market on the
    first Saturday; Sunday closed) in the hall's time zone, summer time included. The
    heating comes on an hour before a booking; CO2 builds up while people are in and
    decays after; humidity falls as the heating works; PM2.5 and PM10 follow wood smoke
    on winter evenings and people moving about; noise follows the crowd; ``footfall``
    counts door passages since the previous read, in bursts as people arrive and leave;
    ``occupancy`` is 1 while anyone is in. Values depend only on the seed and the read
    times: the same seed read at the same times gives the same readings. Settings:
    ``HALLSENSE_SIMULATED_INTERVAL_S``, ``HALLSENSE_SIMULATED_SEED``,
    ``HALLSENSE_TIMEZONE``.
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
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise DriverConfigError(f"simulated driver: seed must be a whole number, got {seed!r}")
        if not sensor_prefix:
            raise DriverConfigError(
                f"simulated driver: sensor_prefix must not be empty, got {sensor_prefix!r}"
            )
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DriverConfigError(
                f"simulated driver: timezone {timezone!r} is not an IANA time zone name "
                "such as 'Europe/London'"
            ) from None
        self.seed = seed
        self.sensor_prefix = sensor_prefix
        self._previous: datetime | None = None

    def _window_s(self, moment: datetime) -> float:
        """Seconds since the previous read (the interval for the first, or after a jump)."""
        if self._previous is not None:
            elapsed = (moment - self._previous).total_seconds()
            if 0 < elapsed <= 86400:
                return elapsed
        return self.interval_s

    def read(self) -> list[Reading]:
        """One reading of every simulated metric, now."""
        moment = self.clock()
        values = simulate(moment, seed=self.seed, zone=self.zone, window_s=self._window_s(moment))
        self._previous = moment
        return [
            Reading(
                f"{self.sensor_prefix}-{name.replace('_', '-')}",
                name,
                values[name],
                METRICS[name].unit,
                moment,
            )
            for name in METRIC_NAMES
        ]

    def sensors(self) -> list[SensorInfo]:
        """One simulated sensor per metric."""
        return [
            SensorInfo(
                f"{self.sensor_prefix}-{name.replace('_', '-')}",
                name,
                METRICS[name].unit,
                part="simulation",
                description=METRICS[name].description,
            )
            for name in METRIC_NAMES
        ]
