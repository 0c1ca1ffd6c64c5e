"""Build the running objects of each role from its settings."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge.agent import Agent
from edge.clock import SystemClock
from edge.drivers import DriverStartError, build_drivers
from edge.layout import DataDir
from edge.link_profiles import LinkProfile, for_settings
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from edge.update_files import read_update_state, write_release_allowed
from hallsense import __version__
from hallsense.settings import SettingsError, load_settings
from hallsense.wiring_enrol import EnrollingUplink, credential_keeper, hub_proxies, hub_proxy
from hub_sync.brokers import parse_brokers
from hub_sync.hub_time import hub_time_source
from hub_sync.metering import LinkMeter, MeteringSettings, parse_window
from hub_sync.mqtt import BrokerSettings
from hub_sync.node_config import NodeConfig
from hub_sync.rotation import CredentialKeeper
from hub_sync.topics import check_device_id
from hub_sync.transports import Route
from hub_sync.uplink import Uplink, UplinkSettings, client_factory
from hub_sync.wire_errors import ProtocolError
from web_local.site import PageConfigError, validate_page_config

log = logging.getLogger(__name__)


def load_edge_settings(env_file: Path | None) -> EdgeSettings:
    """The node's settings from ``env_file`` and the environment (raises SettingsError)."""
    return load_settings(EdgeSettings, env_file)


def open_edge_store(settings: EdgeSettings, *, readonly: bool = False) -> EdgeStore:
    """The node's store, made (and migrated) if this is the first start."""
    return EdgeStore(
        settings.db_path,
        timezone=settings.timezone,
        synchronous=settings.sqlite_synchronous,
        readonly=readonly,
    )


_HUB_CLOCKS: dict[tuple[object, ...], SystemClock] = {}
_HUB_CLOCKS_LOCK = threading.Lock()


def edge_clock(settings: EdgeSettings) -> SystemClock:
    """The node's view of the system clock, checked the way the settings say.

    With the hub's address (``clock_hub_address``) and the council CA, the clock takes
    the hub's time where NTP has not set the system clock (hub_sync.hub_time, over TLS
    pinned to that CA, through the hall's proxy if it has one). There is then one clock
    per process and hub, so the agent and the heartbeat share one hub sample and fetch.
    """
    address, ca_file = settings.clock_hub_address, settings.broker_ca_file
    if not address or ca_file is None:
        return SystemClock(settings.clock_check)
    key = (
        settings.clock_check,
        address,
        ca_file,
        settings.clock_hub_max_error_s,
        settings.clock_hub_every_s,
        settings.layout.hub_time,
    )
    with _HUB_CLOCKS_LOCK:
        clock = _HUB_CLOCKS.get(key)
        if clock is None:
            clock = _HUB_CLOCKS[key] = SystemClock(
                settings.clock_check,
                reference=hub_time_source(
                    address,
                    ca_file=ca_file,
                    max_error_s=settings.clock_hub_max_error_s,
                    proxies=hub_proxies(settings, address),
                ),
                reference_every_s=settings.clock_hub_every_s,
                reference_name=f"the hub at {urlsplit(address).netloc}",
                kept_path=settings.layout.hub_time,
            )
    return clock


def node_link(settings: EdgeSettings) -> LinkProfile:
    """The node's link profile, with its explicit settings in the profile's place."""
    try:
        return for_settings(settings)
    except ValueError as error:
        raise SettingsError("the node's settings", [f"HALLSENSE_LINK_PROFILE: {error}"]) from error


def build_uplink(
    settings: EdgeSettings,
    store: EdgeStore,
    apply_config: Callable[[NodeConfig], str] | None = None,
    *,
    keeper: CredentialKeeper | None = None,
    hold: bool = True,
) -> Uplink:
    """The node's uplink to the hub's broker, sending from ``store``.

    ``keeper`` holds the password enrolment gave the node (instead of the settings'), and
    replaces it when the hub asks. ``hold`` False sends without the link profile's batch
    window (`edge drain`: everything now).
    """
    try:
        check_device_id(settings.device_id)
    except ProtocolError as error:
        raise SettingsError("the node's settings", [f"HALLSENSE_DEVICE_ID: {error}"]) from error
    link = node_link(settings)
    try:
        others = parse_brokers(settings.other_brokers, settings.broker_port)
    except ValueError as error:
        raise SettingsError("the node's settings", [f"HALLSENSE_OTHER_BROKERS: {error}"]) from error
    broker = BrokerSettings(
        settings.broker_host,
        settings.broker_port,
        settings.broker_username or settings.device_id,
        keeper.password if keeper is not None else settings.broker_password,
        settings.broker_ca_file,
        route=Route(
            settings.broker_transport,
            settings.broker_ws_port,
            settings.broker_ws_path,
            hub_proxy(settings, settings.broker_host),
        ),
        keepalive_s=link.keepalive_s,
        others=others,
    )
    clock = edge_clock(settings)

    def status() -> dict[str, Any]:
        stats = store.stats()
        # Only a part that is failing is an error: the uplink's "sending" or "waiting" is a
        # backlog, which the hub judges from the backlog's own figures.
        failing = [h for h in store.health() if h.state in ("failing", "hung")]
        oldest = stats.oldest_unacknowledged
        return {
            "version": __version__,
            "store_epoch": str(stats.store_epoch),
            "backlog": stats.backlog,
            "held_back": stats.held_back,
            "oldest_unacknowledged": oldest.isoformat() if oldest else None,
            "store_bytes": stats.db_bytes,
            "clock_synchronised": clock.sample().synchronised,
            "rejected": stats.rejected,
            "dropped": [[d.first, d.last, d.count] for d in store.dropped_ranges()],
            "last_error": f"{failing[0].driver}: {failing[0].last_error}" if failing else "",
            **read_update_state(settings.layout.update_state).status_fields(),
            "link_profile": link.name,
            "batch_window_s": round(link.batch_window_s),
        }

    try:
        window = parse_window(settings.uplink_drain_window)
    except ValueError as error:
        raise SettingsError(
            "the node's settings", [f"HALLSENSE_UPLINK_DRAIN_WINDOW: {error}"]
        ) from error

    seen: dict[str, Any] = {"stamp": None, "state": None}

    def updates_took(day: str) -> int:
        """What the updater's downloads took of the link on ``day`` (the same budget).

        Asked before every batch on a node with a budget: the file is read again only
        when the updater (another process) has written it since. It writes a new file
        and renames it into place, so each version has an inode of its own.
        """
        path = settings.layout.update_state
        try:
            info = path.stat()
            stamp: tuple[int, int, int] | None = (info.st_ino, info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        if stamp is None or stamp != seen["stamp"]:
            seen["stamp"], seen["state"] = stamp, read_update_state(path)
        kept = seen["state"]
        return kept.downloaded_today if kept.download_day == day else 0

    meter = LinkMeter(
        MeteringSettings(
            max_bytes_per_s=settings.uplink_max_bytes_per_s,
            daily_budget_bytes=int(settings.uplink_daily_budget_mb * 1_000_000),
            drain_window=window,
            timezone=settings.timezone,
        ),
        shared=updates_took,
    )

    def report(state: str, words: str) -> None:
        store.record_health("uplink", state, words, 0, datetime.now(UTC))

    return Uplink(
        store,
        client_factory(broker),
        UplinkSettings(
            device_id=settings.device_id,
            batch_readings=settings.uplink_batch_readings,
            window=settings.uplink_window,
            resend_after_s=settings.uplink_resend_s,
            heartbeat_s=link.heartbeat_s,
            start_jitter_s=settings.uplink_start_jitter_s,
            batch_window_s=link.batch_window_s if hold else 0.0,
        ),
        status=status,
        meter=meter,
        report=report,
        apply_config=apply_config,
        keeper=keeper,
    )


def node_uplink(
    settings: EdgeSettings,
    store: EdgeStore,
    apply_config: Callable[[NodeConfig], str] | None = None,
) -> Uplink | EnrollingUplink:
    """The uplink: at once with a password, or after enrolling with the hub first.

    The password comes from the settings, else from an earlier enrolment; a node with
    neither and an enrolment address enrols in the background.
    """
    if settings.broker_password:
        return build_uplink(settings, store, apply_config)
    try:
        keeper = credential_keeper(settings, store)
    except ValueError as error:
        raise SettingsError("the node's credentials", [str(error)]) from error
    if keeper is not None or not settings.enrol_url:
        return build_uplink(settings, store, apply_config, keeper=keeper)
    return EnrollingUplink(
        settings,
        store,
        lambda _enrolled: build_uplink(
            settings, store, apply_config, keeper=credential_keeper(settings, store)
        ),
    )


class NoWorkingDriver(Exception):
    """Not one of the configured drivers could start."""


def apply_node_config(agent: Agent, config: NodeConfig, layout: DataDir) -> str:
    """Apply a config from the hub, all or nothing; "" when applied, else why not.

    The page settings are checked against the vocabulary and written beside the store
    (atomically, so the page never reads half a file); the intervals are applied only
    if they are, and the new page settings take effect only if the intervals did.
    """
    page = {key: dict(value) if key == "sensor_labels" else value for key, value in config.page}
    try:
        checked = validate_page_config(page)
    except PageConfigError as error:
        return f"page settings: {error}"
    page_file, pending = layout.page_settings, layout.page_settings_pending
    if checked:
        try:
            write_page_settings(pending, checked)
        except OSError as error:
            return f"could not keep the page settings: {error.strerror or error}"
    reason = agent.apply_intervals(dict(config.intervals))
    if reason:
        pending.unlink(missing_ok=True)
        return reason
    try:
        if checked:
            pending.replace(page_file)
        else:
            page_file.unlink(missing_ok=True)  # the hub no longer overrides the file
    except OSError as error:
        return f"could not keep the page settings: {error.strerror or error}"
    try:
        write_release_allowed(layout.release_allowed, config.release)
    except OSError as error:
        return f"could not keep the release the hub allows: {error.strerror or error}"
    return ""


def write_page_settings(path: Path, values: dict[str, object]) -> None:
    """Write page settings as JSON, flushed to the card before anyone may read them."""
    data = {k: dict(v) if isinstance(v, Mapping) else v for k, v in values.items()}
    with path.open("w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, indent=1, default=list)
        out.flush()
        os.fsync(out.fileno())


def build_edge_agent(settings: EdgeSettings) -> tuple[Agent, list[DriverStartError]]:
    """The node's agent with its store, drivers and clock, ready to ``run()``.

    Drivers that cannot start are reported and left out; if none can, the node has
    nothing to do and NoWorkingDriver says why.
    """
    drivers, failures = build_drivers(settings)
    if not drivers:
        reasons = "; ".join(str(failure) for failure in failures)
        raise NoWorkingDriver(f"no driver could start: {reasons}")
    store: EdgeStore | None = None
    try:
        store = open_edge_store(settings)
        store.record_start(__version__, datetime.now(UTC))  # the updater's health check
    except BaseException:
        if store is not None:
            store.close()
        for driver in drivers:
            driver.close()
        raise
    clock = edge_clock(settings)
    agents: list[Agent] = []

    def apply_config(config: NodeConfig) -> str:
        # The agent exists by the time the hub's config arrives (uplink.start runs in it).
        if not agents:
            return "starting"
        return apply_node_config(agents[0], config, settings.layout)

    companions = [node_uplink(settings, store, apply_config)] if settings.broker_host else []
    agent = Agent(settings, store, drivers, clock.sample, companions=companions)
    agents.append(agent)
    for failure in failures:
        agent.report_unavailable(failure.driver, str(failure))
    return agent, failures


def drain_to_hub(settings: EdgeSettings, *, timeout_s: float, poll_s: float = 0.05) -> int:
    """Send everything the node's store still holds for the hub, then return.

    Returns how many readings are still waiting when it gives up (0 when drained).
    """
    if not settings.broker_host:
        raise SettingsError("the node's settings", ["HALLSENSE_BROKER_HOST: not set: no hub"])
    store = open_edge_store(settings)
    try:
        clock = edge_clock(settings)
        store.correct_clock(clock.sample(), hold_max_s=settings.clock_hold_max_s)
        try:
            keeper = None if settings.broker_password else credential_keeper(settings, store)
        except ValueError as error:
            raise SettingsError("the node's credentials", [str(error)]) from error
        uplink = build_uplink(settings, store, keeper=keeper, hold=False)
        uplink.start()
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                uplink.sync_once()
                stats = store.stats()
                if stats.backlog - stats.held_back == 0 and uplink.in_flight == 0:
                    break
                time.sleep(poll_s)
        finally:
            uplink.close()
        stats = store.stats()
        return stats.backlog - stats.held_back
    finally:
        store.close()
