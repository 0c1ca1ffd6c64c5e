"""The BLE driver's settings, declared without importing bleak."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sensors.ble_footfall import MAX_KEY_AGE_S
from sensors.settings import DriverSettings, setting


@dataclass(frozen=True)
class BleSettings:
    """``HALLSENSE_BLE_*``."""

    interval_s: float = setting(
        60.0, "BLE driver: seconds between handing on the sensors' latest values.", "s", above=0
    )
    sensors: str = setting(
        "",
        "BLE driver: the sensors to decode, address-or-name[=label] entries separated by "
        "semicolons, e.g. A4:C1:38:12:34:56=kitchen;ATC_9A1B2C=main-hall.",
    )
    bind_keys: str = setting(
        "",
        "BLE driver: BTHome bind keys, address-or-name=32 hex digits separated by "
        "semicolons (or HALLSENSE_BLE_BIND_KEYS_FILE, mode 0600).",
        secret=True,
    )
    adapter: str = setting("hci0", "BLE driver: the Bluetooth adapter to scan with.")
    scan_mode: Literal["auto", "active", "passive"] = setting(
        "auto",
        "BLE driver: passive scanning (sensors only; BlueZ 5.56+ with --experimental), "
        "active, or auto (passive where BlueZ can, active for footfall).",
    )
    silence_s: float = setting(
        90.0, "BLE driver: restart the scanner after this long without an advert.", "s", min=5
    )
    max_backoff_s: float = setting(
        300.0, "BLE driver: longest wait between scanner restarts.", "s", min=5
    )
    footfall: bool = setting(
        False,
        "BLE driver: estimate people present from the phones nearby (complete "
        "docs/privacy-impact.md first).",
    )
    footfall_interval_s: float = setting(
        300.0, "BLE driver: one people estimate per this many seconds.", "s", min=20
    )
    footfall_rssi_dbm: float = setting(
        -75.0,
        "BLE driver: devices heard weaker than this are not counted (the street outside).",
        "dBm",
        min=-127,
        max=20,
    )
    footfall_min_count: int = setting(
        3, "BLE driver: estimates below this are published as 'fewer than' it.", "people", min=1
    )
    footfall_devices_per_person: float = setting(
        1.0,
        "BLE driver: devices counted per person present, from calibration with a door counter.",
        "devices",
        above=0,
    )
    footfall_presence_s: float = setting(
        30.0, "BLE driver: a device counts as present this long after it was heard.", "s", min=5
    )
    footfall_key_rotation_s: float = setting(
        MAX_KEY_AGE_S,
        "BLE driver: the in-memory hashing key is replaced this often (at most a day).",
        "s",
        min=60,
        max=MAX_KEY_AGE_S,
    )

    def check(self) -> list[tuple[str, str]]:
        """Footfall hears phones only when the scanner asks them to answer."""
        if self.footfall and self.scan_mode == "passive":
            return [("scan_mode", "footfall needs active scanning; use auto or active")]
        return []

    def unusable(self) -> str | None:
        """With no sensors and no footfall there is nothing to listen for."""
        if not (self.sensors.strip() or self.footfall):
            return "the ble driver needs HALLSENSE_BLE_SENSORS or HALLSENSE_BLE_FOOTFALL=true"
        return None


SETTINGS = DriverSettings("ble", BleSettings)
