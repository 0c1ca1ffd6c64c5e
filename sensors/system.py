"""The Pi's own health: CPU temperature, free disk, load, under-voltage and throttling."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from sensors.driver import Clock, Driver, DriverError
from sensors.reading import Reading, SensorInfo, utc_now
from sensors.vocabulary import METRICS

UNDERVOLTAGE_NOW = 0x1
THROTTLED_NOW = 0x4


def parse_thermal(text: str) -> float:
    """Degrees Celsius from a thermal zone's ``temp`` file (millidegrees)."""
    return int(text.strip()) / 1000


def parse_loadavg(text: str) -> float:
    """The one-minute load average from ``/proc/loadavg``."""
    return float(text.split()[0])


def parse_throttled(text: str) -> tuple[bool, bool]:
    """(under-voltage now, throttled now) from the firmware's ``get_throttled`` value.

    The value is a hexadecimal bit field (as ``vcgencmd get_throttled`` prints it, with
    or without ``throttled=``): bit 0 under-voltage now, bit 2 throttled now.
    """
    value = int(text.strip().removeprefix("throttled=").strip(), 16)
    return bool(value & UNDERVOLTAGE_NOW), bool(value & THROTTLED_NOW)


class SystemDriver(Driver):
    """The Raspberry Pi itself, so the IoT team sees a cooking or starving Pi early.

    Reads the CPU temperature (``/sys/class/thermal``), free space on the data disk, the
    load average and, on a Pi, under-voltage and throttling from the firmware's
    ``get_throttled`` file. A source this machine lacks is skipped; one failing source
    never stops the others. Setting: ``HALLSENSE_SYSTEM_INTERVAL_S``. The paths are
    parameters (advanced: tests point them at files of their own).
    """

    name = "system"

    def __init__(
        self,
        *,
        interval_s: float = 60.0,
        sensor_prefix: str = "pi",
        thermal_path: Path = Path("/sys/class/thermal/thermal_zone0/temp"),
        throttled_path: Path = Path("/sys/devices/platform/soc/soc:firmware/get_throttled"),
        disk_path: Path = Path("/"),
        loadavg_path: Path = Path("/proc/loadavg"),
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        self.prefix = sensor_prefix
        self.thermal_path = thermal_path
        self.throttled_path = throttled_path
        self.disk_path = disk_path
        self.loadavg_path = loadavg_path

    def _reading(self, metric: str, value: float, moment: datetime) -> Reading:
        return Reading(
            f"{self.prefix}-{metric.replace('_', '-')}",
            metric,
            value,
            METRICS[metric].unit,
            moment,
        )

    def read(self) -> list[Reading]:
        """Whatever of the Pi's health this machine exposes."""
        moment = self.clock()
        readings: list[Reading] = []
        errors: list[str] = []
        if self.thermal_path.exists():
            try:
                temp = parse_thermal(self.thermal_path.read_text())
                readings.append(self._reading("cpu_temperature", temp, moment))
            except (OSError, ValueError) as error:
                errors.append(f"{self.thermal_path}: {error}")
        try:
            free = shutil.disk_usage(self.disk_path).free / 1_000_000
            readings.append(self._reading("disk_free", round(free, 1), moment))
        except OSError as error:
            errors.append(f"{self.disk_path}: {error}")
        try:
            load = parse_loadavg(self.loadavg_path.read_text())
            readings.append(self._reading("load_1m", load, moment))
        except (OSError, ValueError, IndexError) as error:
            errors.append(f"{self.loadavg_path}: {error}")
        if self.throttled_path.exists():
            try:
                under, throttled = parse_throttled(self.throttled_path.read_text())
                readings.append(self._reading("undervoltage", float(under), moment))
                readings.append(self._reading("throttled", float(throttled), moment))
            except (OSError, ValueError) as error:
                errors.append(f"{self.throttled_path}: {error}")
        if not readings:
            raise DriverError("system driver: nothing could be read: " + "; ".join(errors))
        return readings

    def sensors(self) -> list[SensorInfo]:
        """The Pi's own sensors."""
        return [
            SensorInfo(f"{self.prefix}-{m.replace('_', '-')}", m, METRICS[m].unit, part="Pi")
            for m in ("cpu_temperature", "disk_free", "load_1m", "undervoltage", "throttled")
        ]
