"""The scanner watchdog: only the scanner factory is replaced, and the clock is the test's."""

import itertools
import threading
import time

import pytest
from bleak.exc import BleakError

from edge.agent import Agent
from edge.clock import SystemClock
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from sensors.ble import BleDriver
from sensors.driver import DriverError
from sensors.simulated import SimulatedDriver
from tests.sensors.test_ble_formats import RUUVI_MAC, RUUVI_VALID
from tests.support.ble import FakeMonotonic, FakeScanners, advert, ble_driver

STAGE = f"{RUUVI_MAC}=stage"


def ruuvi(sequence):
    data = RUUVI_VALID[:16] + sequence.to_bytes(2, "big") + RUUVI_VALID[18:]
    return advert(RUUVI_MAC, manufacturer_data={0x0499: data})


def test_a_silent_scanner_is_restarted_with_back_off_and_an_advert_resets_it():
    with ble_driver(sensors=STAGE, silence_s=90, max_backoff_s=300) as (driver, scanners, clock):
        watchdog = driver.supervisor
        expected = [(89, 0), (1, 1), (179, 1), (1, 2), (299, 2), (1, 3), (299, 3), (1, 4)]
        for step, restarts in expected:  # restarts at 90, then 180 and 300 (the cap) later
            clock.advance(step)
            watchdog.check_now()
            assert watchdog.restarts == restarts, (step, restarts)
        assert len(scanners.started) == 5
        assert [s.running for s in scanners.started] == [False] * 4 + [True]
        # The new scanner hears again: the limit is back to 90 s.
        assert scanners.send(*ruuvi(1))
        clock.advance(89)
        watchdog.check_now()
        assert watchdog.restarts == 4
        clock.advance(1)
        watchdog.check_now()
        assert watchdog.restarts == 5
        assert len(driver.read()) == 4  # what was heard before the restart is still read


def test_a_scanner_that_cannot_restart_is_retried_with_back_off_and_read_says_why():
    scanners = FakeScanners()
    with ble_driver(sensors=STAGE, scanner_factory=scanners) as (driver, _, clock):
        watchdog = driver.supervisor
        scanners.failures = [BleakError("adapter hci0 not found")] * 3
        clock.advance(90)
        watchdog.check_now()  # the restart fails: retry in 5 s
        assert not watchdog.running
        with pytest.raises(DriverError, match="hci0 not found") as raised:
            driver.read()
        assert raised.value.transient
        for wait in (5, 10):  # then 10 s, then 20 s
            clock.advance(wait - 1)
            watchdog.check_now()
            assert watchdog.start_failures == {5: 1, 10: 2}[wait]
            clock.advance(1)
            watchdog.check_now()
        assert watchdog.start_failures == 3
        assert not watchdog.running
        clock.advance(20)
        watchdog.check_now()
        assert watchdog.running
        assert watchdog.problem == ""
        scanners.send(*ruuvi(7))
        assert len(driver.read()) == 4


def test_auto_mode_scans_passively_and_falls_back_to_active_where_bluez_cannot(caplog):
    scanners = FakeScanners([BleakError("passive scanning on Linux requires BlueZ >= 5.56")])
    with ble_driver(sensors=STAGE, scanner_factory=scanners) as (driver, _, _):
        assert [r.mode for r in scanners.requests] == ["passive", "active"]
        assert driver.supervisor.mode == "active"
    assert "BlueZ 5.56" in caplog.text
    assert scanners.requests[0].or_patterns  # passive mode was told what to pass on


def test_footfall_scans_actively():
    with ble_driver(footfall=True) as (_, scanners, _):
        assert [r.mode for r in scanners.requests] == ["active"]


def test_an_adapter_that_is_missing_at_start_up_is_a_clear_permanent_error():
    scanners = FakeScanners([FileNotFoundError(2, "No such file or directory")] * 2)
    with pytest.raises(DriverError) as raised, ble_driver(sensors=STAGE, scanner_factory=scanners):
        pass
    assert not raised.value.transient
    assert "D-Bus" in str(raised.value)
    assert "bluetooth" in str(raised.value)


def test_on_this_machine_bleak_itself_reports_no_bluez_and_the_driver_says_so():
    """No stand-in at all: the real BleakScanner on a machine without BlueZ."""
    started = time.monotonic()
    with pytest.raises(DriverError, match="ble driver: ") as raised:
        BleDriver(sensors=STAGE, adapter="hci0", start_timeout_s=20)
    assert not raised.value.transient
    assert time.monotonic() - started < 20
    assert threading.active_count() < 50  # the scanner thread did not linger per attempt


def test_simulated_readings_keep_reaching_the_store_while_the_ble_scanner_is_restarted(tmp_path):
    settings = EdgeSettings(data_dir=tmp_path, commit_interval_s=0.05, driver_timeout_s=5)
    store = EdgeStore(settings.db_path)
    clock = FakeMonotonic()
    scanners = FakeScanners()
    ble = BleDriver(
        sensors=STAGE,
        interval_s=0.05,
        scanner_factory=scanners,
        monotonic=clock,
        check_every_s=3600,
    )
    simulated = SimulatedDriver(interval_s=0.05)
    agent = Agent(settings, store, [simulated, ble], SystemClock("trust").sample)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:

        def stored_ids():
            return [row[1] for row in store.outbox_rows(1_000_000, newest_first=False)]

        def simulated_count():
            return sum(1 for sensor_id in stored_ids() if sensor_id.startswith("sim-"))

        deadline = time.monotonic() + 20
        counts = [simulated_count()]
        for restart in range(1, 4):
            before = simulated_count()
            clock.advance(ble.supervisor.silence_limit())
            ble.supervisor.check_now()
            assert ble.supervisor.restarts == restart
            while simulated_count() <= before and time.monotonic() < deadline:
                time.sleep(0.05)
            counts.append(simulated_count())
        # After every restart, more simulated readings than before it.
        assert all(after > before for before, after in itertools.pairwise(counts))
        scanners.send(*ruuvi(42))
        while time.monotonic() < deadline and "ble-stage" not in stored_ids():
            time.sleep(0.05)
        assert "ble-stage" in stored_ids()
    finally:
        agent.stop_event.set()
        thread.join(10)
        ble.close()
        store.close()


def test_bluez_not_running_says_so_and_no_d_bus_is_not_mistaken_for_a_passive_mode_problem(
    caplog,
):
    from bleak.exc import BleakDBusError

    not_running = BleakDBusError(
        "org.freedesktop.DBus.Error.ServiceUnknown",
        ["The name org.bluez was not provided by any .service files"],
    )
    scanners = FakeScanners([not_running, not_running])
    with (
        pytest.raises(DriverError, match="BlueZ is not running") as raised,
        ble_driver(sensors=STAGE, scanner_factory=scanners),
    ):
        pass
    assert "systemctl enable --now bluetooth" in str(raised.value)
    scanners = FakeScanners([FileNotFoundError(2, "No such file or directory")])
    with (
        pytest.raises(DriverError, match="D-Bus"),
        ble_driver(sensors=STAGE, scanner_factory=scanners),
    ):
        pass
    assert [r.mode for r in scanners.requests] == ["passive"]  # no pointless retry
    assert "passive scanning is not available" not in caplog.text
