"""Writing readings into the edge store: series ids, sequence numbers, rollups, held-back."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from itertools import repeat
from operator import attrgetter, mul
from typing import Any

from edge import rollups
from edge.clock import ClockSample
from edge.ranges import SeqRange
from edge.rollups import LocalDays
from edge.store_db import StoreDatabase
from edge.store_records import to_us
from presentation.reading_flags import Censor, Quality
from sensors.reading import Reading, SensorInfo

_SERIES_KEY = attrgetter("sensor_id", "metric", "unit")
_TIMESTAMP = attrgetter("timestamp")
_VALUE = attrgetter("value")
_QUALITY = attrgetter("quality")
_CENSOR = attrgetter("censor")
_MICRO = repeat(1_000_000)

INSERT_PLAIN = "INSERT INTO readings (series_id, ts_us, value, quality) VALUES (?, ?, ?, ?)"
INSERT_CENSORED = (
    "INSERT INTO readings (series_id, ts_us, value, quality, censor) VALUES (?, ?, ?, ?, ?)"
)


class ReadingAppender:
    """Appends readings and registers sensors, keeping each series' id at hand."""

    def __init__(self, database: StoreDatabase, days: LocalDays) -> None:
        self.database = database
        self.days = days
        self._series: dict[tuple[str, str, str], int] = {}

    def _series_id(self, sensor_id: str, metric: str, unit: str) -> int:
        key = (sensor_id, metric, unit)
        found = self._series.get(key)
        if found is not None:
            return found
        conn = self.database.connection
        row = conn.execute(
            "SELECT id FROM series WHERE sensor_id = ? AND metric = ? AND unit = ?", key
        ).fetchone()
        if row is None:
            cursor = conn.execute(
                "INSERT INTO series (sensor_id, metric, unit) VALUES (?, ?, ?)", key
            )
            series_id = int(cursor.lastrowid or 0)
        else:
            series_id = int(row[0])
        self._series[key] = series_id
        return series_id

    def register_sensors(self, infos: Sequence[SensorInfo]) -> None:
        """Record what each sensor is (part, accuracy, resolution)."""
        if not infos:
            return
        with self.database.write("registering sensors"):
            for info in infos:
                series_id = self._series_id(info.sensor_id, info.metric, info.unit)
                self.database.connection.execute(
                    "UPDATE series SET part = ?, accuracy = ?, resolution = ?, description = ? "
                    "WHERE id = ?",
                    (info.part, info.accuracy, info.resolution, info.description, series_id),
                )

    def _rows(self, readings: Sequence[Reading], unsynced: int) -> list[tuple[Any, ...]]:
        """The readings as rows (series_id, ts_us, value, quality[, censor if any]).

        This is the hot path of every commit, so the columns are built with ``map`` over
        attribute getters (loops that run in C) rather than a Python loop per reading.
        """
        keys = list(map(_SERIES_KEY, readings))
        series: list[int | None] = list(map(self._series.get, keys))
        if None in series:
            series = [self._series_id(*key) for key in keys]
        stamps = map(round, map(mul, map(datetime.timestamp, map(_TIMESTAMP, readings)), _MICRO))
        values: list[float | None] = list(map(_VALUE, readings))
        qualities = list(map(int, map(_QUALITY, readings)))
        if unsynced:
            qualities = [quality | unsynced for quality in qualities]
        if any(map(math.isnan, values)):  # type: ignore[arg-type]
            nan_flag = int(Quality.NOT_A_NUMBER)
            for i, value in enumerate(values):
                if value != value:  # SQLite would store NULL for NaN anyway
                    values[i] = None
                    qualities[i] |= nan_flag
        censors: list[str | None] = list(map(_CENSOR, readings))
        if any(censors):
            censors = [None if c is None else str(Censor(c).value) for c in censors]
            return list(zip(series, stamps, values, qualities, censors, strict=True))
        # Binding a NULL costs as much as a third of an insert: leave the column out.
        return list(zip(series, stamps, values, qualities, strict=True))

    def append(self, readings: Sequence[Reading], clock: ClockSample) -> SeqRange | None:
        """Store ``readings`` in one transaction; returns the sequence numbers they got.

        ``clock`` is the clock as read when the readings were taken: when it was not
        synchronised, each reading is flagged ``CLOCK_UNSYNCED`` and held back (with its
        boot id and monotonic time) until the clock is corrected
        (:func:`edge.held_back.correct_clock`) to settle its time. When it was
        synchronised by a reference time (``clock.correction_us``), each reading's time,
        stamped with the system clock, is moved by the correction.

        Raises:
            StoreFull: the disk is full; nothing was written.
        """
        if not readings:
            return None
        unsynced = 0 if clock.synchronised else int(Quality.CLOCK_UNSYNCED)
        try:
            with self.database.write("appending readings"):
                rows = self._rows(readings, unsynced)
                if clock.correction_us and not unsynced:  # the hub's time stands in for NTP
                    rows = [(row[0], row[1] + clock.correction_us, *row[2:]) for row in rows]
                conn = self.database.connection
                conn.executemany(INSERT_CENSORED if len(rows[0]) == 5 else INSERT_PLAIN, rows)
                last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
                first = last - len(rows) + 1
                if unsynced:
                    wall_ns = to_us(clock.wall) * 1000
                    conn.executemany(
                        "INSERT INTO held (seq, boot_id, mono_ns) VALUES (?, ?, ?)",
                        [
                            (
                                first + i,
                                clock.boot_id,
                                clock.monotonic_ns - (wall_ns - row[1] * 1000),
                            )
                            for i, row in enumerate(rows)
                        ],
                    )
                else:
                    rollups.save(conn, rollups.aggregate_stored(conn, first, last, self.days))
                latest = {row[0]: first + i for i, row in enumerate(rows)}
                conn.executemany(
                    "INSERT INTO latest (series_id, seq) VALUES (?, ?) "
                    "ON CONFLICT (series_id) DO UPDATE SET seq = excluded.seq",
                    latest.items(),
                )
                conn.execute(
                    "UPDATE counters SET value = value + ? WHERE name = 'appended'", (len(rows),)
                )
        except BaseException:
            self._series.clear()  # ids made in a rolled-back transaction are gone
            raise
        return SeqRange(first, last)
