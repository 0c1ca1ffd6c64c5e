"""EdgeSettings: every setting of a node, its default, unit and help text, as one dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.layout import DataDir
from sensors.registry import DRIVER_NAMES
from sensors.vocabulary import METRICS


def _setting(default: Any, help: str, unit: str = "", **bounds: float) -> Any:
    return field(default=default, metadata={"help": help, "unit": unit, **bounds})


DEFAULT_PUBLIC_METRICS = (
    "temperature",
    "relative_humidity",
    "co2",
    "pm2_5",
    "pm10",
    "noise",
    "footfall",
    "entries",
    "exits",
    "occupancy",
)
"""Metrics shown to visitors unless the settings say otherwise; the Pi's own health
(CPU temperature, disk, load) shows on the status page only."""


@dataclass(frozen=True)
class EdgeSettings:
    """The settings of one node (``hallsense edge run``), read from ``HALLSENSE_*`` keys.

    Tests and embedding code build it directly (``EdgeSettings(data_dir=tmp_path)``);
    ``hallsense.settings.load_settings`` builds it from a .env file and the environment.
    """

    data_dir: Path = field(
        metadata={"help": "Where the node keeps its database and state.", "unit": "path"}
    )
    hall_name: str = _setting("Village hall", "The hall's name, as shown on its page.")
    timezone: str = _setting(
        "Europe/London", "The hall's time zone (IANA name) for local days and hours."
    )
    drivers: tuple[str, ...] = _setting(
        ("simulated", "system"),
        "Comma-separated drivers to run: " + ", ".join(DRIVER_NAMES) + ".",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _setting(
        "INFO", "How much the node logs."
    )

    # --- the community page (`hallsense edge web`) ---
    web_host: str = _setting(
        "0.0.0.0",  # noqa: S104 - the page is for everyone on the hall's Wi-Fi
        "Address the community page listens on (0.0.0.0: every network of the Pi).",
    )
    web_port: int = _setting(
        8080,
        "The community page's port (80 needs CAP_NET_BIND_SERVICE, which the unit grants).",
        "port",
        min=1,
        max=65535,
    )
    opening_hours: str = _setting("", "The hall's opening hours, in words, for its page.")
    contact: str = _setting(
        "", "Who visitors ask about the sensors (a name, email or phone), for the page."
    )
    public_metrics: tuple[str, ...] = _setting(
        DEFAULT_PUBLIC_METRICS,
        "Comma-separated metrics shown to visitors on the page and its API.",
    )
    sensor_labels: str = _setting(
        "",
        "Names for sensors on the page: sensor-id=Label pairs separated by semicolons, "
        "e.g. gpio-door=Main door;sim-co2=Main hall CO2.",
    )

    # --- the store ---
    commit_interval_s: float = _setting(
        2.0,
        "Readings are written to the SD card at least this often: the durability window.",
        "s",
        above=0,
        max=5,
    )
    commit_max_readings: int = _setting(
        500, "Write sooner when this many readings are waiting.", "readings", min=1
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = _setting(
        "FULL", "SQLite synchronous mode; FULL survives power loss at every commit."
    )
    raw_retention_days: float = _setting(
        90.0, "Keep raw readings this long after the hub acknowledged them.", "days", min=0
    )
    minute_rollup_days: float = _setting(
        31.0, "Keep per-minute summaries this long.", "days", min=0
    )
    rollup_days: float = _setting(
        3660.0, "Keep hourly and daily summaries this long.", "days", min=0
    )
    max_db_mb: float = _setting(
        1024.0,
        "Size cap of the database; past it, acknowledged data goes first, then the oldest "
        "unacknowledged readings (counted and reported).",
        "MB",
        min=1,
    )
    maintenance_interval_s: float = _setting(
        300.0, "How often retention and the size cap are enforced.", "s", above=0
    )

    # --- drivers, health ---
    driver_timeout_s: float = _setting(
        60.0, "A read taking longer than this marks the driver as hung.", "s", above=0
    )
    driver_max_backoff_s: float = _setting(
        300.0, "Longest wait between retries of a failing driver.", "s", above=0
    )
    stuck_repeats: int = _setting(
        100,
        "A gauge repeating exactly the same value this many times is flagged stuck.",
        "readings",
        min=2,
    )

    # --- the clock ---
    clock_check: Literal["auto", "adjtimex", "timesyncd", "trust"] = _setting(
        "auto",
        "How to tell whether the system clock is synchronised (trust: it always is).",
    )
    clock_hold_max_s: float = _setting(
        86400.0,
        "Readings taken on an unsynchronised clock are held back this long at most, then "
        "sent flagged as uncorrectable.",
        "s",
        min=0,
    )

    # --- the uplink to the hub ---
    device_id: str = _setting("", "This node's device id at the hub (from provisioning).")
    broker_host: str = _setting(
        "", "The hub's MQTT broker; empty keeps every reading on the node only."
    )
    broker_port: int = _setting(8883, "The broker's port.", "port", min=1, max=65535)
    broker_username: str = _setting("", "The broker account (default: the device id).")
    broker_password: str = field(
        default="",
        repr=False,
        metadata={
            "help": "The broker password (or HALLSENSE_BROKER_PASSWORD_FILE, mode 0600).",
            "unit": "",
            "secret": True,
        },
    )
    broker_ca_file: Path | None = _setting(
        None, "CA certificate for TLS to the broker (unset: plain MQTT, for a lab).", "path"
    )
    enrol_url: str = _setting(
        "",
        "The hub's enrolment address (https://host:port): with no broker password, the node "
        "fetches one there once, with the one-time token file.",
    )
    enrol_token_file: Path = _setting(
        Path("/boot/firmware/hallsense-enrol.token"),
        "The one-time enrolment token, put on the SD card's boot partition by the installer.",
        "path",
    )
    uplink_batch_readings: int = _setting(
        1000, "Readings per batch sent to the hub.", "readings", min=1, max=10000
    )
    uplink_window: int = _setting(
        4, "Batches sent and not yet acknowledged at most.", "batches", min=1
    )
    uplink_heartbeat_s: float = _setting(
        60.0, "How often the node tells the hub its backlog, clock and health.", "s", above=0
    )
    uplink_max_bytes_per_s: int = _setting(
        0, "Bandwidth cap for the uplink (0: none).", "bytes/s", min=0
    )
    uplink_daily_budget_mb: float = _setting(
        0.0, "Data the uplink may use per local day (0: no budget).", "MB", min=0
    )
    uplink_drain_window: str = _setting(
        "",
        "Local hours when backlog may drain, e.g. 23:00-06:00 (empty: any time); live "
        "readings go at any hour.",
    )
    uplink_start_jitter_s: float = _setting(
        5.0,
        "The first connection waits a random part of this, so nodes powering up together "
        "after a power cut do not all connect at once.",
        "s",
        min=0,
    )
    uplink_resend_s: float = _setting(
        30.0,
        "A batch the hub has not acknowledged after this long is sent again.",
        "s",
        above=0,
    )

    # --- driver: simulated ---
    simulated_interval_s: float = _setting(
        10.0, "Simulated driver: seconds between readings.", "s", above=0
    )
    simulated_seed: int = _setting(1, "Simulated driver: seed of its deterministic streams.")

    # --- driver: system ---
    system_interval_s: float = _setting(
        60.0, "System driver (the Pi's own health): seconds between readings.", "s", above=0
    )

    # --- driver: gpio ---
    gpio_interval_s: float = _setting(
        60.0, "GPIO driver: seconds between occupancy and count readings.", "s", above=0
    )
    gpio_pir_pin: int | None = _setting(
        None, "GPIO driver: BCM pin of the PIR motion sensor.", "BCM pin", min=0, max=27
    )
    gpio_beam_pin: int | None = _setting(
        None,
        "GPIO driver: BCM pin of a single beam-break door counter.",
        "BCM pin",
        min=0,
        max=27,
    )
    gpio_beam_pair_pins: tuple[int, int] | None = _setting(
        None,
        "GPIO driver: BCM pins of an outer,inner beam pair that tells entries from exits.",
        "BCM pins",
    )
    gpio_debounce_ms: float = _setting(
        50.0, "GPIO driver: edges closer together than this count once.", "ms", min=0
    )
    gpio_pin_factory: Literal["auto", "lgpio", "rpigpio", "native", "mock"] = _setting(
        "auto", "GPIO driver: gpiozero pin factory (auto picks lgpio on a Pi 5)."
    )

    # --- driver: ble ---
    ble_interval_s: float = _setting(
        60.0, "BLE driver: seconds between handing on the sensors' latest values.", "s", above=0
    )
    ble_sensors: str = _setting(
        "",
        "BLE driver: the sensors to decode, address-or-name[=label] entries separated by "
        "semicolons, e.g. A4:C1:38:12:34:56=kitchen;ATC_9A1B2C=main-hall.",
    )
    ble_bind_keys: str = field(
        default="",
        repr=False,
        metadata={
            "help": "BLE driver: BTHome bind keys, address-or-name=32 hex digits separated by "
            "semicolons (or HALLSENSE_BLE_BIND_KEYS_FILE, mode 0600).",
            "unit": "",
            "secret": True,
        },
    )
    ble_adapter: str = _setting("hci0", "BLE driver: the Bluetooth adapter to scan with.")
    ble_scan_mode: Literal["auto", "active", "passive"] = _setting(
        "auto",
        "BLE driver: passive scanning (sensors only; BlueZ 5.56+ with --experimental), "
        "active, or auto (passive where BlueZ can, active for footfall).",
    )
    ble_silence_s: float = _setting(
        90.0, "BLE driver: restart the scanner after this long without an advert.", "s", min=5
    )
    ble_max_backoff_s: float = _setting(
        300.0, "BLE driver: longest wait between scanner restarts.", "s", min=5
    )
    ble_footfall: bool = _setting(
        False,
        "BLE driver: estimate people present from the phones nearby (complete "
        "docs/privacy-impact.md first).",
    )
    ble_footfall_interval_s: float = _setting(
        300.0, "BLE driver: one people estimate per this many seconds.", "s", min=20
    )
    ble_footfall_rssi_dbm: float = _setting(
        -75.0,
        "BLE driver: devices heard weaker than this are not counted (the street outside).",
        "dBm",
        min=-127,
        max=20,
    )
    ble_footfall_min_count: int = _setting(
        3, "BLE driver: estimates below this are published as 'fewer than' it.", "people", min=1
    )
    ble_footfall_devices_per_person: float = _setting(
        1.0,
        "BLE driver: devices counted per person present, from calibration with a door counter.",
        "devices",
        above=0,
    )
    ble_footfall_presence_s: float = _setting(
        30.0, "BLE driver: a device counts as present this long after it was heard.", "s", min=5
    )
    ble_footfall_key_rotation_s: float = _setting(
        86400.0,
        "BLE driver: the in-memory hashing key is replaced this often (at most a day).",
        "s",
        min=60,
        max=86400,
    )

    # --- wired drivers: I2C, serial, USB (docs/sensors.md, "Wiring the I2C and serial parts") ---
    i2c_bus: int = _setting(
        1, "The I2C bus of the wired I2C parts (1 on every Pi with a 40-pin header).", "bus", min=0
    )
    bme280_interval_s: float = _setting(
        60.0, "BME280 driver: seconds between measurements.", "s", above=0
    )
    bme280_address: int = _setting(
        0x76, "BME280 driver: its I2C address (0x76 with SDO to GND, 0x77 to 3.3 V).", "I2C address"
    )
    bme280_temperature_oversampling: int = _setting(
        2, "BME280 driver: temperature oversampling (1, 2, 4, 8 or 16).", "times"
    )
    bme280_pressure_oversampling: int = _setting(
        16, "BME280 driver: pressure oversampling (0 to skip, 1, 2, 4, 8 or 16).", "times"
    )
    bme280_humidity_oversampling: int = _setting(
        1, "BME280 driver: humidity oversampling (0 to skip, 1, 2, 4, 8 or 16).", "times"
    )
    bme280_iir_filter: int = _setting(
        4, "BME280 driver: IIR filter coefficient (0 off, 2, 4, 8 or 16).", ""
    )
    bme680_interval_s: float = _setting(
        60.0, "BME680 driver: seconds between measurements.", "s", above=0
    )
    bme680_address: int = _setting(
        0x77, "BME680 driver: its I2C address (0x76 or 0x77).", "I2C address"
    )
    bme680_iir_filter: int = _setting(
        3, "BME680 driver: IIR filter coefficient (0, 1, 3, 7, 15, 31, 63 or 127).", ""
    )
    bme680_heater_temperature_c: int = _setting(
        320, "BME680 driver: gas heater temperature (200 to 400).", "°C"
    )
    bme680_heater_duration_ms: int = _setting(
        150, "BME680 driver: how long the gas heater heats before the reading.", "ms"
    )
    scd4x_interval_s: float = _setting(
        60.0, "SCD4x driver (CO2): seconds between readings.", "s", above=0
    )
    scd4x_altitude_m: float = _setting(
        0.0, "SCD4x driver: the hall's height above sea level, for pressure compensation.", "m"
    )
    scd4x_pressure_hpa: float | None = _setting(
        None,
        "SCD4x driver: a fixed air pressure to compensate with, instead of the altitude.",
        "hPa",
    )
    scd4x_self_calibration: bool = _setting(
        True,
        "SCD4x driver: automatic self-calibration (needs fresh air, 400 ppm, at least an hour "
        "a week; switch off in a hall that is never aired).",
    )
    sds011_interval_s: float = _setting(
        300.0, "SDS011 driver (particulates): seconds between readings.", "s", above=0
    )
    sds011_port: str = _setting("/dev/ttyUSB0", "SDS011 driver: its serial port.")
    sds011_warmup_s: float = _setting(
        30.0, "SDS011 driver: how long the fan runs before a reading counts.", "s", min=0
    )
    sds011_duty_cycle: bool = _setting(
        True, "SDS011 driver: sleep between readings, to spare the laser (8,000 hours' life)."
    )
    pms5003_interval_s: float = _setting(
        300.0, "PMS5003/PMS7003 driver (particulates): seconds between readings.", "s", above=0
    )
    pms5003_port: str = _setting("/dev/serial0", "PMS5003 driver: its serial port.")
    pms5003_warmup_s: float = _setting(
        30.0, "PMS5003 driver: how long the fan runs before a reading counts.", "s", min=0
    )
    pms5003_duty_cycle: bool = _setting(
        True, "PMS5003 driver: sleep between readings, to spare the laser."
    )
    noise_interval_s: float = _setting(
        60.0, "Noise driver (USB microphone): seconds between levels.", "s", above=0
    )
    noise_device: str = _setting(
        "default", "Noise driver: the ALSA capture device (see `arecord -L`), e.g. plughw:1."
    )
    noise_window_s: float = _setting(
        5.0, "Noise driver: how long it listens in each interval (no audio is kept).", "s"
    )
    noise_sample_rate: int = _setting(48000, "Noise driver: samples per second.", "Hz")
    noise_calibration_db: float = _setting(
        120.0,
        "Noise driver: dB SPL of a full-scale signal for this microphone, set once against a "
        "sound level meter.",
        "dB",
    )

    # --- driver: counter (tests and drills) ---
    counter_interval_s: float = _setting(
        1.0, "Counter driver (emits 1, 2, 3, …): seconds between readings.", "s", above=0
    )
    counter_tally_path: Path | None = _setting(
        None, "Counter driver: file where it records every value it produced.", "path"
    )

    # --- driver: faulty (drills) ---
    faulty_interval_s: float = _setting(
        5.0, "Faulty driver (for drills): seconds between attempts.", "s", above=0
    )
    faulty_mode: Literal["raise", "hang", "flaky"] = _setting(
        "raise", "Faulty driver: fail by raising, by hanging, or every other read."
    )

    def labels(self) -> dict[str, str]:
        """``sensor_labels`` as a mapping of sensor id to label.

        Raises:
            ValueError: a pair without "=", an empty id or label, or an id given twice.
        """
        labels: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in self.sensor_labels.split(";"))):
            sensor, sep, label = (part.strip() for part in pair.partition("="))
            if not sep or not sensor or not label:
                raise ValueError(f"{pair!r} is not sensor-id=Label")
            if sensor in labels:
                raise ValueError(f"sensor {sensor!r} is labelled twice")
            labels[sensor] = label
        return labels

    @property
    def layout(self) -> DataDir:
        """The files of the node's data directory."""
        return DataDir(self.data_dir)

    @property
    def db_path(self) -> Path:
        """The node's SQLite database."""
        return self.layout.db

    @property
    def max_db_bytes(self) -> int:
        """The size cap in bytes."""
        return int(self.max_db_mb * 1024 * 1024)

    def check(self) -> list[tuple[str, str]]:
        """Problems that involve more than one value's type: (field name, message)."""
        problems: list[tuple[str, str]] = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                ("timezone", f"unknown time zone {self.timezone!r} (e.g. Europe/London)")
            )
        if not self.drivers:
            problems.append(("drivers", "no drivers listed; name at least one"))
        known = ", ".join(DRIVER_NAMES)
        for name in self.drivers:
            if name not in DRIVER_NAMES:
                problems.append(("drivers", f"unknown driver {name!r}; known drivers: {known}"))
        if len(set(self.drivers)) != len(self.drivers):
            problems.append(("drivers", "a driver is listed twice"))
        if "gpio" in self.drivers and not (
            self.gpio_pir_pin is not None
            or self.gpio_beam_pin is not None
            or self.gpio_beam_pair_pins is not None
        ):
            problems.append(
                (
                    "drivers",
                    "the gpio driver needs at least one of HALLSENSE_GPIO_PIR_PIN, "
                    "HALLSENSE_GPIO_BEAM_PIN, HALLSENSE_GPIO_BEAM_PAIR_PINS",
                )
            )
        if "ble" in self.drivers and not (self.ble_sensors.strip() or self.ble_footfall):
            problems.append(
                (
                    "drivers",
                    "the ble driver needs HALLSENSE_BLE_SENSORS or HALLSENSE_BLE_FOOTFALL=true",
                )
            )
        if self.ble_footfall and self.ble_scan_mode == "passive":
            problems.append(("ble_scan_mode", "footfall needs active scanning; use auto or active"))
        for name in self.public_metrics:
            if name not in METRICS:
                problems.append(("public_metrics", f"unknown metric {name!r}"))
        try:
            self.labels()
        except ValueError as error:
            problems.append(("sensor_labels", str(error)))
        if self.enrol_url and not self.enrol_url.startswith("https://"):
            problems.append(("enrol_url", "must be an https:// address: enrolment is over TLS"))
        if self.enrol_url and self.broker_ca_file is None:
            problems.append(
                ("broker_ca_file", "required with HALLSENSE_ENROL_URL: it pins the hub")
            )
        if self.broker_host and not self.device_id:
            problems.append(("device_id", "required when HALLSENSE_BROKER_HOST is set"))
        if self.gpio_beam_pair_pins is not None:
            for pin in self.gpio_beam_pair_pins:
                if not 0 <= pin <= 27:
                    problems.append(("gpio_beam_pair_pins", f"BCM pins are 0 to 27, got {pin}"))
        return problems
