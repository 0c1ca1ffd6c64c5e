import logging
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sensors.driver import DriverError
from sensors.system import (
    SystemDriver,
    disk_free_mb,
    parse_loadavg,
    parse_thermal,
    parse_throttled,
)

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def exactly(message):
    return f"^{re.escape(message)}\\Z"


def pi(tmp_path, **files):
    """A SystemDriver reading fake sysfs/procfs files in tmp_path; missing ones are absent."""
    paths = {}
    for name in ("thermal", "throttled", "loadavg"):
        path = tmp_path / name
        if name in files:
            path.write_text(files[name])
        paths[f"{name}_path"] = path
    return SystemDriver(disk_path=tmp_path, clock=lambda: NOW, **paths)


def by_metric(readings):
    return {r.metric: r.value for r in readings}


def test_a_pi_reports_all_five_metrics_with_their_units(tmp_path):
    driver = pi(tmp_path, thermal="48312\n", throttled="50005\n", loadavg="0.42 0.30 0.20 1/99 7\n")
    readings = driver.read()
    assert [(r.sensor_id, r.metric, r.unit) for r in readings] == [
        ("pi-cpu-temperature", "cpu_temperature", "°C"),
        ("pi-disk-free", "disk_free", "MB"),
        ("pi-load-1m", "load_1m", "1"),
        ("pi-undervoltage", "undervoltage", "bool"),
        ("pi-throttled", "throttled", "bool"),
    ]
    assert all(r.timestamp == NOW for r in readings)
    got = by_metric(readings)
    assert got["cpu_temperature"] == pytest.approx(48.312)
    assert got["load_1m"] == 0.42
    assert got["undervoltage"] == 1.0
    assert got["throttled"] == 1.0
    assert got["disk_free"] == pytest.approx(shutil.disk_usage(tmp_path).free / 1e6, rel=0.01)


def test_missing_sources_are_skipped(tmp_path):
    driver = pi(tmp_path, loadavg="1.5 1 1 1/2 3")
    assert set(by_metric(driver.read())) == {"disk_free", "load_1m"}


def test_one_broken_source_does_not_stop_the_others(tmp_path, caplog):
    driver = pi(tmp_path, thermal="garbage", throttled="0", loadavg="0.1 0 0 1/1 1")
    with caplog.at_level(logging.INFO, logger="sensors.system"):
        assert set(by_metric(driver.read())) == {
            "disk_free",
            "load_1m",
            "undervoltage",
            "throttled",
        }
        driver.read()  # still broken: not logged again
        (tmp_path / "thermal").write_text("51000\n")
        assert by_metric(driver.read())["cpu_temperature"] == 51.0
    assert [r.getMessage() for r in caplog.records] == [
        f"system driver: cannot read {tmp_path / 'thermal'}: "
        "expected a whole number of millidegrees Celsius, got 'garbage'",
        f"system driver: {tmp_path / 'thermal'} can be read again",
    ]


def test_nothing_readable_is_a_driver_error_saying_why(tmp_path):
    gone = tmp_path / "gone"
    driver = SystemDriver(disk_path=gone, loadavg_path=gone, thermal_path=gone, throttled_path=gone)
    with pytest.raises(DriverError) as caught:
        driver.read()
    assert str(caught.value) == "system driver: nothing could be read: " + "; ".join(
        [f"{gone} does not exist"] * 4
    )
    assert caught.value.transient is True


def test_each_source_that_cannot_be_read_says_why(tmp_path):
    (tmp_path / "thermal").mkdir()  # reading a directory is an OSError
    (tmp_path / "loadavg").write_text("")
    (tmp_path / "throttled").write_text("zz")
    driver = SystemDriver(
        thermal_path=tmp_path / "thermal",
        throttled_path=tmp_path / "throttled",
        disk_path=tmp_path / "gone",
        loadavg_path=tmp_path / "loadavg",
    )
    with pytest.raises(DriverError) as caught:
        driver.read()
    assert str(caught.value) == (
        f"system driver: nothing could be read: {tmp_path / 'thermal'}: Is a directory; "
        f"{tmp_path / 'gone'} does not exist; "
        f"{tmp_path / 'loadavg'}: expected 'load1 load5 load15 running/total last_pid', "
        "got ''; "
        f"{tmp_path / 'throttled'}: expected a hexadecimal bit field such as 50005 or "
        "0x50005, got 'zz'"
    )


def test_it_describes_only_the_sources_this_machine_has(tmp_path):
    driver = pi(tmp_path, thermal="40000", loadavg="0 0 0 1/1 1")
    assert [(i.sensor_id, i.metric, i.unit, i.part) for i in driver.sensors()] == [
        ("pi-cpu-temperature", "cpu_temperature", "°C", "SoC thermal sensor"),
        ("pi-disk-free", "disk_free", "MB", "filesystem"),
        ("pi-load-1m", "load_1m", "1", "Linux kernel"),
    ]


def test_this_machine_gives_at_least_disk_and_load():
    got = by_metric(SystemDriver(disk_path=Path("/")).read())
    assert {"disk_free", "load_1m"} <= set(got)


@pytest.mark.parametrize(
    ("text", "celsius"),
    [("48312\n", 48.312), ("0", 0.0), ("-5250\n", -5.25), ("85000", 85.0)],
)
def test_thermal_zones_hold_millidegrees(text, celsius):
    assert parse_thermal(text) == celsius


@pytest.mark.parametrize("text", ["", "48.3", "hot"])
def test_a_thermal_zone_that_is_not_millidegrees_is_refused(text):
    message = f"expected a whole number of millidegrees Celsius, got {text!r}"
    with pytest.raises(ValueError, match=exactly(message)):
        parse_thermal(text)


def test_the_load_is_the_first_field_of_loadavg():
    assert parse_loadavg("0.42 0.30 0.20 1/99 7\n") == 0.42
    message = "expected 'load1 load5 load15 running/total last_pid', got ''"
    with pytest.raises(ValueError, match=exactly(message)):
        parse_loadavg("")


@pytest.mark.parametrize(
    ("text", "flags"),
    [
        ("0\n", (False, False)),  # the sysfs file: hexadecimal, no prefix
        ("50005\n", (True, True)),
        ("50000\n", (False, False)),  # only "since boot" bits: not now
        ("1", (True, False)),
        ("4", (False, True)),
        ("throttled=0x0", (False, False)),  # as vcgencmd get_throttled prints it
        ("throttled=0x50005", (True, True)),
        ("0x4", (False, True)),
    ],
)
def test_undervoltage_is_bit_0_and_throttled_bit_2(text, flags):
    assert parse_throttled(text) == flags


def test_a_throttled_value_that_is_not_hexadecimal_is_refused():
    message = "expected a hexadecimal bit field such as 50005 or 0x50005, got 'throttled=lots'"
    with pytest.raises(ValueError, match=exactly(message)):
        parse_throttled("throttled=lots")


def test_disk_free_is_in_megabytes_of_a_million_bytes(tmp_path):
    assert disk_free_mb(tmp_path) == shutil.disk_usage(tmp_path).free / 1_000_000
    with pytest.raises(FileNotFoundError):
        disk_free_mb(tmp_path / "gone")
