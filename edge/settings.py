"""EdgeSettings: every setting of a node, its default, unit and help text, as one dataclass.

Each driver's own settings are declared beside the driver (``sensors/<driver>_settings.py``);
the node holds them by driver name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.layout import DataDir
from presentation.vocabulary import DEFAULT_PUBLIC_METRICS, METRICS
from sensors.registry import DRIVER_NAMES, driver_settings
from sensors.settings import DriverSettings, DriverValues, NodeFacts

DRIVER_SETTINGS = driver_settings()
"""Every driver's settings declaration, in the docs' order."""

S = TypeVar("S", bound=DriverValues)


def proxy_url_problem(url: str) -> str:
    """What is wrong with a proxy address (never quoting it: it may hold a password)."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return "must be an http://[user:password@]host:port address (an HTTP proxy)"
    try:
        port = parts.port
    except ValueError:
        return "its port is not a number from 1 to 65535"
    if not parts.hostname or not port:
        return "must name the proxy's host and a port from 1 to 65535, http://host:port"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "must be only http://[user:password@]host:port, with no path"
    return ""


def _setting(default: Any, help: str, unit: str = "", **bounds: float) -> Any:
    return field(default=default, metadata={"help": help, "unit": unit, **bounds})


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
    clock_check: Literal["auto", "adjtimex", "timesyncd", "trust", "hub"] = _setting(
        "auto",
        "How to tell whether the system clock is synchronised (trust: it always is; hub: "
        "only the hub's time counts, never the system clock by itself).",
    )
    clock_hold_max_s: float = _setting(
        86400.0,
        "Readings taken on an unsynchronised clock are held back this long at most, then "
        "sent flagged as uncorrectable.",
        "s",
        min=0,
    )
    clock_hub_url: str = _setting(
        "",
        "The hub's web (https://host:port) whose time, over TLS pinned to the council CA, "
        "stands in for NTP when NTP has not set the clock; empty: HALLSENSE_ENROL_URL's; "
        "off: never.",
    )
    clock_hub_max_error_s: float = _setting(
        2.0,
        "The largest error bound of a hub time sample the node accepts (half the round "
        "trip plus the hub's resolution).",
        "s",
        above=0,
        max=60,
    )
    clock_hub_every_s: float = _setting(
        10800.0,
        "How often the node asks the hub's time while NTP has not set the clock (and at each "
        "start; sooner after a failure). With NTP, once per start, to compare.",
        "s",
        min=60,
        max=86400,
    )

    # --- the uplink to the hub ---
    device_id: str = _setting("", "This node's device id at the hub (from provisioning).")
    broker_host: str = _setting(
        "", "The hub's MQTT broker; empty keeps every reading on the node only."
    )
    broker_port: int = _setting(8883, "The broker's port.", "port", min=1, max=65535)
    other_brokers: str = _setting(
        "",
        "Further brokers of the hub, host[:port] comma-separated (the port defaults to "
        "HALLSENSE_BROKER_PORT): the node moves to the next after six failed attempts.",
    )
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

    # --- how the node reaches the hub (transports, proxies) ---
    broker_transport: Literal["auto", "tls", "websockets"] = _setting(
        "auto",
        "How MQTT reaches the broker: tls (the broker port), websockets (TLS on the "
        "WebSockets port, for halls where only web traffic gets out), or auto (tls, "
        "falling back to websockets after 3 failed connections in a row).",
    )
    broker_ws_port: int = _setting(
        443, "The broker's MQTT-over-WebSockets (TLS) port.", "port", min=1, max=65535
    )
    broker_ws_path: str = _setting("/mqtt", "The broker's WebSockets path.")
    proxy_url: str = field(
        default="",
        repr=False,
        metadata={
            "help": "The hall's HTTP proxy, http://[user:password@]host:port, for MQTT, "
            "enrolment and updates (empty: HTTPS_PROXY / ALL_PROXY from the environment, "
            "minding NO_PROXY).",
            "unit": "",
            "secret": True,
        },
    )

    # --- updates from the hub (hallsense edge update; docs/operations.md) ---
    release_url: str = _setting(
        "",
        "The hub's release repository (https://host/releases/); empty: the node never "
        "updates itself.",
    )
    release_root_file: Path = _setting(
        Path("/etc/hallsense/release-root.json"),
        "The council's first signed root of the release repository, from the node's bundle.",
        "path",
    )
    release_dir: Path = _setting(
        Path("/opt/hallsense"),
        "Where the node's versions are installed side by side (releases/, current, previous).",
        "path",
    )
    update_health_s: float = _setting(
        300.0,
        "A new version must show itself healthy within this long, or the node goes back.",
        "s",
        min=10,
        max=86400,
    )
    update_restart: str = _setting(
        "systemctl restart hallsense-edge hallsense-web",
        "The command that restarts the node's services on the version just switched to.",
    )

    # --- the link profile (edge/link_profiles.py; docs/operations.md) ---
    link_profile: Literal["live", "metered", "satellite"] = _setting(
        "live",
        "How the node uses its link (docs/operations.md): live (readings at the hub within "
        "2 minutes), metered (within 30 minutes, a few bytes a reading) or satellite "
        "(within an hour). The three settings below override it one by one.",
    )
    uplink_batch_window_s: float | None = _setting(
        None,
        "Live readings wait up to this long to go to the hub together (unset: the link profile's).",
        "s",
        min=0,
        max=86400,
    )
    uplink_keepalive_s: int | None = _setting(
        None,
        "MQTT keepalive: how often an idle link is checked (unset: the link profile's).",
        "s",
        min=5,
        max=65535,
    )
    uplink_heartbeat_s: float | None = _setting(
        None,
        "How often the node tells the hub its backlog, clock and health (unset: the link "
        "profile's).",
        "s",
        above=0,
    )

    # --- each driver's own settings, HALLSENSE_<DRIVER>_*, declared beside the driver ---
    driver_settings: Mapping[str, DriverValues] = field(
        default_factory=dict,  # a driver missing here runs with its defaults
        hash=False,
        metadata={
            "sections": {declaration.driver: declaration.fields for declaration in DRIVER_SETTINGS}
        },
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

    def for_driver(self, declaration: DriverSettings[S]) -> S:
        """The settings of the driver ``declaration`` declares: as loaded, or its defaults."""
        # The loader fills each driver's entry with the dataclass its declaration names.
        return cast(S, self.driver_settings.get(declaration.driver) or declaration.fields())

    def node_facts(self) -> NodeFacts:
        """What the drivers are told about this node."""
        return NodeFacts(timezone=self.timezone, data_dir=self.data_dir)

    @property
    def layout(self) -> DataDir:
        """The files of the node's data directory."""
        return DataDir(self.data_dir)

    @property
    def db_path(self) -> Path:
        """The node's SQLite database."""
        return self.layout.db

    @property
    def clock_hub_address(self) -> str:
        """The hub whose time the clock may take ("" for none)."""
        if self.clock_hub_url == "off":
            return ""
        return self.clock_hub_url or self.enrol_url

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
        if self.clock_hub_url not in ("", "off") and not self.clock_hub_url.startswith("https://"):
            problems.append(
                ("clock_hub_url", "must be an https:// address (or off): the time is over TLS")
            )
        if self.clock_hub_url not in ("", "off") and self.broker_ca_file is None:
            problems.append(
                ("broker_ca_file", "required with HALLSENSE_CLOCK_HUB_URL: it pins the hub")
            )
        if self.clock_check == "hub" and not self.clock_hub_address:
            problems.append(
                (
                    "clock_check",
                    "hub needs the hub's address: HALLSENSE_CLOCK_HUB_URL or HALLSENSE_ENROL_URL",
                )
            )
        if self.release_url and not self.release_url.startswith("https://"):
            problems.append(("release_url", "must be an https:// address: releases come over TLS"))
        if self.release_url and self.broker_ca_file is None:
            problems.append(
                ("broker_ca_file", "required with HALLSENSE_RELEASE_URL: it pins the hub")
            )
        if not self.broker_ws_path.startswith("/"):
            problems.append(("broker_ws_path", "must start with / (e.g. /mqtt)"))
        if self.proxy_url:
            problem = proxy_url_problem(self.proxy_url)
            if problem:
                problems.append(("proxy_url", problem))
        if self.broker_host and not self.device_id:
            problems.append(("device_id", "required when HALLSENSE_BROKER_HOST is set"))
        for declaration in DRIVER_SETTINGS:
            values = self.for_driver(declaration)
            unusable = values.unusable() if declaration.driver in self.drivers else None
            if unusable:
                problems.append(("drivers", unusable))
            problems += [
                (f"{declaration.driver}_{name}", message) for name, message in values.check()
            ]
        return problems
