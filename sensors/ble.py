"""Battery BLE sensors (BTHome v2, RuuviTag, ATC/pvvx thermometers) and phone footfall, via bleak.

The driver listens; it never connects to anything. Adverts from the sensors on the
allow-list (``sensors``: addresses or advertised names) are decoded; the latest value
of each of their metrics is handed to the agent at every read. With ``footfall`` on,
every other sender is counted, never kept (``sensors.ble_footfall``), and a
``people_estimate`` is given per ``footfall_interval_s``. Rejected frames are counted
by sensor and reason and logged once per read; nothing an advert holds can raise into
the scanner.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from presentation.reading_flags import Censor
from sensors import ble_atc, ble_bthome, ble_ruuvi
from sensors.ble_footfall import MAX_KEY_AGE_S, FootfallCounter
from sensors.ble_frames import REPLAYED, UNSUPPORTED, DecodedFrame, FrameError, address_bytes
from sensors.ble_scanner import OrPattern, ScannerFactory, ScannerSupervisor, bleak_scanner
from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.reading import Reading, SensorInfo, utc_now

log = logging.getLogger(__name__)

FOOTFALL_SENSOR_ID = "ble-people"
SAMPLE_S = 10.0
"""Footfall snapshots are taken this often."""
REBOOT_GRACE_S = 600.0
"""A BTHome counter that goes back (``ble_bthome.counter_went_back``: a wrap from
0xFFFFFFFF to 0 goes forward) is a replay, unless the sensor has been silent this long
(it was re-powered and counts from the start again)."""

PATTERNS: tuple[OrPattern, ...] = (
    (0, AdvertisementDataType.SERVICE_DATA_UUID16, ble_bthome.SERVICE_UUID.to_bytes(2, "little")),
    (0, AdvertisementDataType.SERVICE_DATA_UUID16, ble_atc.SERVICE_UUID.to_bytes(2, "little")),
    (
        0,
        AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA,
        ble_ruuvi.COMPANY_ID.to_bytes(2, "little"),
    ),
)
"""What BlueZ's passive scanning is told to pass on: the three formats' markers."""

PARTS = {
    "bthome": "BTHome v2 sensor",
    "ruuvi": "RuuviTag (data format 5)",
    "atc1441": "Xiaomi LYWSD03MMC, ATC firmware",
    "pvvx": "Xiaomi LYWSD03MMC, pvvx firmware",
}

_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class AllowedSensor:
    """One sensor the driver decodes: matched by ``address`` or by advertised ``name``."""

    sensor_id: str
    address: str | None = None
    name: str | None = None


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")


def parse_sensors(text: str) -> list[AllowedSensor]:
    """The allow-list: ``match[=label]`` entries separated by semicolons.

    ``match`` is an address (``A4:C1:38:12:34:56``) or the name the sensor advertises
    (``ATC_123456``); ``label`` names its sensor id (``ble-<label>``), which otherwise
    comes from the address or name.

    Raises:
        DriverConfigError: an empty entry, an id given twice, or a label of no letters.
    """
    sensors: list[AllowedSensor] = []
    ids: set[str] = set()
    matches: set[str] = set()
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        match, _, label = (part.strip() for part in entry.partition("="))
        if not match:
            raise DriverConfigError(f"ble driver: sensor entry {entry!r} names no sensor")
        is_address = bool(_ADDRESS.match(match))
        base = _slug(label) if label else _slug(match.replace(":", "") if is_address else match)
        if not base:
            raise DriverConfigError(f"ble driver: {entry!r} gives no usable sensor name")
        sensor_id = f"ble-{base}"
        key = match.upper() if is_address else match
        if sensor_id in ids or key in matches:
            raise DriverConfigError(f"ble driver: sensor {sensor_id} is listed twice")
        ids.add(sensor_id)
        matches.add(key)
        sensors.append(
            AllowedSensor(sensor_id, key, None)
            if is_address
            else AllowedSensor(sensor_id, None, key)
        )
    return sensors


def parse_bind_keys(text: str) -> dict[str, bytes]:
    """BTHome bind keys: ``match=32 hex digits`` entries separated by semicolons.

    ``match`` is the address or name the sensor has on the allow-list.

    Raises:
        DriverConfigError: an entry without a 16-byte hex key (the key is never quoted).
    """
    keys: dict[str, bytes] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        match, _, hex_key = (part.strip() for part in entry.partition("="))
        try:
            key = bytes.fromhex(hex_key)
        except ValueError:
            key = b""
        if not match or len(key) != 16:
            raise DriverConfigError(
                f"ble driver: the bind key for {match or '?'} must be 32 hex digits "
                "(16 bytes), as the sensor's configuration page shows it"
            )
        keys[match.upper() if _ADDRESS.match(match) else match] = key
    return keys


class BleDriver(Driver):
    """Readings from BLE adverts: allow-listed sensors' values and, optionally, footfall.

    ``scanner_factory`` and ``monotonic`` are injection points for tests (recorded
    adverts and a clock they move); ``check_every_s`` is how often the watchdog looks.
    """

    name = "ble"

    def __init__(
        self,
        *,
        interval_s: float = 60.0,
        clock: Clock = utc_now,
        sensors: str = "",
        bind_keys: str = "",
        adapter: str = "hci0",
        scan_mode: Literal["auto", "active", "passive"] = "auto",
        silence_s: float = 90.0,
        max_backoff_s: float = 300.0,
        footfall: bool = False,
        footfall_interval_s: float = 300.0,
        footfall_rssi_dbm: float = -75.0,
        footfall_min_count: int = 3,
        footfall_devices_per_person: float = 1.0,
        footfall_presence_s: float = 30.0,
        footfall_key_rotation_s: float = MAX_KEY_AGE_S,
        scanner_factory: ScannerFactory = bleak_scanner,
        monotonic: Callable[[], float] = time.monotonic,
        check_every_s: float = 1.0,
        start_timeout_s: float = 15.0,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        allowed = parse_sensors(sensors)
        self._keys = parse_bind_keys(bind_keys)
        known = {s.address or s.name for s in allowed}
        for match in self._keys:
            if match not in known:
                raise DriverConfigError(
                    f"ble driver: a bind key is set for {match}, which is not in "
                    "HALLSENSE_BLE_SENSORS"
                )
        if not allowed and not footfall:
            raise DriverConfigError(
                "ble driver: nothing to listen for; list sensors in HALLSENSE_BLE_SENSORS "
                "or set HALLSENSE_BLE_FOOTFALL=true"
            )
        if footfall and scan_mode == "passive":
            raise DriverConfigError(
                "ble driver: footfall needs active scanning (passive scanning hears only the "
                "sensor formats); set HALLSENSE_BLE_SCAN_MODE to auto or active"
            )
        if footfall_interval_s < 2 * SAMPLE_S:
            raise DriverConfigError(
                f"ble driver: footfall_interval_s must be at least {2 * SAMPLE_S:g} s"
            )
        self._by_address = {s.address: s for s in allowed if s.address}
        self._by_name = {s.name: s for s in allowed if s.name}
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str], Reading] = {}
        self._infos: dict[tuple[str, str], SensorInfo] = {}
        self._last_sequence: dict[str, tuple[str, int]] = {}
        self._last_counter: dict[str, tuple[int, float]] = {}
        self.rejected: Counter[tuple[str, str]] = Counter()
        """Rejected frames by (sensor id, reason) since the start."""
        self._rejected_reported: Counter[tuple[str, str]] = Counter()
        self.decoded = 0
        self.duplicates = 0
        now = self.monotonic()
        self.footfall: FootfallCounter | None = None
        self.footfall_interval_s = footfall_interval_s
        if footfall:
            try:
                self.footfall = FootfallCounter(
                    rssi_threshold_dbm=footfall_rssi_dbm,
                    min_count=footfall_min_count,
                    devices_per_person=footfall_devices_per_person,
                    presence_s=footfall_presence_s,
                    sample_s=SAMPLE_S,
                    key_rotation_s=footfall_key_rotation_s,
                    now=now,
                )
            except ValueError as error:
                raise DriverConfigError(f"ble driver: {error}") from None
        self._next_close = now + footfall_interval_s
        self.supervisor = ScannerSupervisor(
            scanner_factory,
            adapter=adapter,
            mode="active" if footfall and scan_mode == "auto" else scan_mode,
            or_patterns=PATTERNS,
            on_advert=self._on_advert,
            on_tick=self._on_tick,
            silence_s=silence_s,
            max_backoff_s=max_backoff_s,
            check_every_s=check_every_s,
            monotonic=self.monotonic,
        )
        # bleak logs every device it sees at DEBUG; a node at DEBUG must still not log
        # the addresses of the phones it counts.
        logging.getLogger("bleak").setLevel(max(logging.INFO, logging.getLogger("bleak").level))
        self.supervisor.start(timeout_s=start_timeout_s)

    # --- on the scanner's thread ---

    def _on_advert(self, device: BLEDevice, advert: AdvertisementData) -> None:
        sensor = self._by_address.get(device.address.upper())
        if sensor is None and advert.local_name:
            sensor = self._by_name.get(advert.local_name)
        with self._lock:
            if sensor is not None:
                self._decode(sensor, device.address, advert)
            elif self.footfall is not None:
                self.footfall.heard(device.address, advert.rssi, self.monotonic())

    def _on_tick(self, now: float) -> None:
        if self.footfall is not None:
            with self._lock:
                self.footfall.tick(now)

    def _decode(self, sensor: AllowedSensor, address: str, advert: AdvertisementData) -> None:
        try:
            frame = self._frame(sensor, address, advert)
        except FrameError as error:
            self.rejected[(sensor.sensor_id, error.reason)] += 1
            return
        except Exception:  # a parser bug must cost one advert, not the scanner
            log.exception("ble driver: an advert from %s could not be decoded", sensor.sensor_id)
            self.rejected[(sensor.sensor_id, "parser error")] += 1
            return
        now = self.monotonic()
        if frame.counter is not None:
            last = self._last_counter.get(sensor.sensor_id)
            if (
                last is not None
                and now - last[1] < REBOOT_GRACE_S
                and ble_bthome.counter_went_back(frame.counter, last[0])
            ):
                self.rejected[(sensor.sensor_id, REPLAYED)] += 1
                return
            self._last_counter[sensor.sensor_id] = (frame.counter, now)
        sequence = frame.counter if frame.counter is not None else frame.sequence
        if sequence is not None:
            if self._last_sequence.get(sensor.sensor_id) == (frame.format, sequence):
                self.duplicates += 1
                return
            self._last_sequence[sensor.sensor_id] = (frame.format, sequence)
        self.decoded += 1
        at = self.clock()
        for m in frame.measurements:
            sensor_id = sensor.sensor_id if m.index == 0 else f"{sensor.sensor_id}-{m.index + 1}"
            key = (sensor_id, m.metric)
            self._latest[key] = Reading(sensor_id, m.metric, m.value, m.unit, at)
            if key not in self._infos:
                self._infos[key] = SensorInfo(
                    sensor_id, m.metric, m.unit, part=PARTS[frame.format], resolution=m.resolution
                )

    def _frame(
        self, sensor: AllowedSensor, address: str, advert: AdvertisementData
    ) -> DecodedFrame:
        key = self._keys.get(sensor.address or sensor.name or "")
        address_bytes(address)  # refuses an address that is not six bytes before any parser
        bthome = advert.service_data.get(ble_bthome.SERVICE_KEY)
        if bthome is not None:
            return ble_bthome.decode(bthome, address, key)
        if key is not None:
            # A sensor with a bind key speaks only encrypted BTHome: anything else in its
            # name could have been sent by anyone.
            raise FrameError(UNSUPPORTED, "only encrypted BTHome is accepted from it")
        atc = advert.service_data.get(ble_atc.SERVICE_KEY)
        if atc is not None:
            return ble_atc.decode(atc, address)
        ruuvi = advert.manufacturer_data.get(ble_ruuvi.COMPANY_ID)
        if ruuvi is not None:
            return ble_ruuvi.decode(ruuvi, address)
        raise FrameError(UNSUPPORTED, "no BTHome, Ruuvi or ATC data in the advert")

    # --- on the agent's thread ---

    def read(self) -> list[Reading]:
        """The latest value of each sensor's metrics since the last read, and footfall."""
        now = self.monotonic()
        with self._lock:
            readings = sorted(self._latest.values(), key=lambda r: (r.sensor_id, r.metric))
            self._latest.clear()
            fresh = self.rejected - self._rejected_reported
            self._rejected_reported = self.rejected.copy()
            if self.footfall is not None and now >= self._next_close:
                expected = int(self.footfall_interval_s // SAMPLE_S)
                estimate = self.footfall.close_interval(now, expected)
                while self._next_close <= now:
                    self._next_close += self.footfall_interval_s
                if estimate is not None:
                    readings.append(
                        Reading(
                            FOOTFALL_SENSOR_ID,
                            "people_estimate",
                            float(estimate.people),
                            "count",
                            self.clock(),
                            censor=Censor.LESS_THAN if estimate.censored else None,
                        )
                    )
        if fresh:
            log.warning(
                "ble driver: %d adverts rejected since the last read: %s",
                sum(fresh.values()),
                "; ".join(f"{sid}: {reason} ({n})" for (sid, reason), n in sorted(fresh.items())),
            )
        if not readings and not self.supervisor.running:
            raise DriverError(f"ble driver: {self.supervisor.problem or 'the scanner is down'}")
        return readings

    def sensors(self) -> Sequence[SensorInfo]:
        """The sensors heard so far, and the footfall estimate if it is on."""
        with self._lock:
            infos = list(self._infos.values())
        if self.footfall is not None:
            infos.append(
                SensorInfo(
                    FOOTFALL_SENSOR_ID,
                    "people_estimate",
                    "count",
                    part="Bluetooth devices nearby",
                    resolution=1,
                    description="Estimated from phones' Bluetooth adverts; see docs/ble.md",
                )
            )
        return infos

    def close(self) -> None:
        """Stop scanning; safe to call more than once."""
        if not self.closed:
            self.supervisor.close()
        super().close()
