"""The Pi's own health: CPU temperature, free disk, load, under-voltage and throttling."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from presentation.vocabulary import METRICS
from sensors.driver import Clock, Driver, DriverError
from sensors.reading import Reading, SensorInfo, utc_now

log = logging.getLogger(__name__)

THERMAL_PATH = Path("/sys/class/thermal/thermal_zone0/temp")
THROTTLED_PATH = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
DISK_PATH = Path("/")
LOADAVG_PATH = Path("/proc/loadavg")

UNDERVOLTAGE_NOW = 0x1
"""Bit 0 of get_throttled: the supply voltage is too low now."""
THROTTLED_NOW = 0x4
"""Bit 2 of get_throttled: the firmware is throttling the CPU now."""

BYTES_PER_MB = 1_000_000


def parse_thermal(text: str) -> float:
    """Degrees Celsius from a thermal zone's ``temp`` file, which holds millidegrees.

    Args:
        text: the file's contents, e.g. ``"48312\\n"``.

    Raises:
        ValueError: the text is not a whole number.
    """
    try:
        return int(text.strip()) / 1000
    except ValueError:
        raise ValueError(f"expected a whole number of millidegrees Celsius, got {text!r}") from None


def parse_loadavg(text: str) -> float:
    """The one-minute load average from ``/proc/loadavg``.

    Args:
        text: the file's contents, e.g. ``"0.42 0.30 0.20 1/99 7"``.

    Raises:
        ValueError: the first field is missing or not a number.
    """
    fields = text.split()
    try:
        return float(fields[0])
    except (IndexError, ValueError):
        raise ValueError(
            f"expected 'load1 load5 load15 running/total last_pid', got {text!r}"
        ) from None


def parse_throttled(text: str) -> tuple[bool, bool]:
    """``(under-voltage now, throttled now)`` from the firmware's get_throttled bit field.

    The sysfs file holds the value in hexadecimal without a prefix (``"50005"``);
    ``vcgencmd get_throttled`` prints ``"throttled=0x50005"``; both are accepted. Bit 0
    (0x1) is under-voltage now and bit 2 (0x4) throttled now; the bits from 16 up say
    what has happened since boot and are not reported.

    Args:
        text: the value as either tool gives it.

    Raises:
        ValueError: the text is not a hexadecimal number.
    """
    try:
        value = int(text.strip().removeprefix("throttled=").strip(), 16)
    except ValueError:
        raise ValueError(
            f"expected a hexadecimal bit field such as 50005 or 0x50005, got {text!r}"
        ) from None
    return bool(value & UNDERVOLTAGE_NOW), bool(value & THROTTLED_NOW)


def disk_free_mb(path: Path) -> float:
    """Megabytes (10⁶ bytes) free for unprivileged users on the filesystem holding ``path``.

    Raises:
        OSError: e.g. FileNotFoundError when ``path`` does not exist.
    """
    return shutil.disk_usage(path).free / BYTES_PER_MB


@dataclass(frozen=True, slots=True)
class _Source:
    """One file or call the driver reads, and the metrics it yields."""

    path: Path
    metrics: tuple[str, ...]
    part: str
    read: Callable[[], Mapping[str, float]]


class SystemDriver(Driver):
    """The Raspberry Pi itself, so the IoT team sees a Pi that is cooking or starving.

    Nothing to wire. It reads the CPU temperature (``cpu_temperature`` from
    ``thermal_path``), the space left on the disk that holds the store (``disk_free``,
    in MB, for the filesystem holding ``disk_path``), the one-minute load average
    (``load_1m`` from ``loadavg_path``) and, on a Raspberry Pi, the firmware's
    ``undervoltage`` and ``throttled`` flags (bits 0 and 2 of ``throttled_path``). A
    source this machine does not have is skipped; one source failing never stops the
    others; only when nothing at all can be read does :meth:`read` raise. Setting:
    ``HALLSENSE_SYSTEM_INTERVAL_S`` (the edge points ``disk_path`` at its data
    directory). The paths are an advanced injection point: tests point them at files of
    their own.
    """

    name = "system"

    def __init__(
        self,
        *,
        interval_s: float = 60.0,
        sensor_prefix: str = "pi",
        thermal_path: Path = THERMAL_PATH,
        throttled_path: Path = THROTTLED_PATH,
        disk_path: Path = DISK_PATH,
        loadavg_path: Path = LOADAVG_PATH,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        self.sensor_prefix = sensor_prefix
        self.thermal_path = Path(thermal_path)
        self.throttled_path = Path(throttled_path)
        self.disk_path = Path(disk_path)
        self.loadavg_path = Path(loadavg_path)
        self._sources = (
            _Source(self.thermal_path, ("cpu_temperature",), "SoC thermal sensor", self._thermal),
            _Source(self.disk_path, ("disk_free",), "filesystem", self._disk),
            _Source(self.loadavg_path, ("load_1m",), "Linux kernel", self._load),
            _Source(
                self.throttled_path, ("undervoltage", "throttled"), "Pi firmware", self._throttled
            ),
        )
        # Logged on change only: a missing or failing source is news once, not every read.
        self._missing: set[Path] = set()
        self._failing: dict[Path, str] = {}

    def _thermal(self) -> Mapping[str, float]:
        return {"cpu_temperature": parse_thermal(self.thermal_path.read_text(encoding="ascii"))}

    def _disk(self) -> Mapping[str, float]:
        return {"disk_free": disk_free_mb(self.disk_path)}

    def _load(self) -> Mapping[str, float]:
        return {"load_1m": parse_loadavg(self.loadavg_path.read_text(encoding="ascii"))}

    def _throttled(self) -> Mapping[str, float]:
        under, throttled = parse_throttled(self.throttled_path.read_text(encoding="ascii"))
        return {"undervoltage": float(under), "throttled": float(throttled)}

    def _sensor_id(self, metric: str) -> str:
        return f"{self.sensor_prefix}-{metric.replace('_', '-')}"

    def _reading(self, metric: str, value: float, moment: datetime) -> Reading:
        return Reading(self._sensor_id(metric), metric, value, METRICS[metric].unit, moment)

    def read(self) -> list[Reading]:
        """Whatever of the Pi's health this machine exposes, now.

        Raises:
            DriverError: not one source could be read, listing why for each.
        """
        moment = self.clock()
        readings: list[Reading] = []
        problems: list[str] = []
        for source in self._sources:
            try:
                values = source.read()
            except FileNotFoundError:
                problems.append(f"{source.path} does not exist")
                if source.path not in self._missing:
                    self._missing.add(source.path)
                    log.info(
                        "system driver: no %s on this machine; skipping %s",
                        source.path,
                        ", ".join(source.metrics),
                    )
                continue
            except (OSError, ValueError) as error:
                problem = f"{source.path}: {_describe(error)}"
                problems.append(problem)
                if source.path not in self._failing:
                    log.warning("system driver: cannot read %s", problem)
                self._failing[source.path] = problem
                continue
            if self._failing.pop(source.path, None) is not None:
                log.warning("system driver: %s can be read again", source.path)
            self._missing.discard(source.path)
            readings.extend(self._reading(m, v, moment) for m, v in values.items())
        if not readings:
            raise DriverError("system driver: nothing could be read: " + "; ".join(problems))
        return readings

    def sensors(self) -> list[SensorInfo]:
        """The sources this machine has now, one entry per metric."""
        return [
            SensorInfo(
                self._sensor_id(metric),
                metric,
                METRICS[metric].unit,
                part=source.part,
                description=METRICS[metric].description,
            )
            for source in self._sources
            if source.path.exists()
            for metric in source.metrics
        ]


def _describe(error: OSError | ValueError) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)
