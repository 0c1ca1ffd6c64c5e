import pytest

from sensors.driver import DriverError
from sensors.system import SystemDriver, parse_throttled


def make(tmp_path, **files):
    paths = {}
    for name in ("thermal", "throttled", "loadavg"):
        path = tmp_path / name
        if name in files:
            path.write_text(files[name])
        paths[f"{name}_path"] = path
    return SystemDriver(disk_path=tmp_path, **paths)


def test_reads_every_source_the_pi_has(tmp_path):
    driver = make(tmp_path, thermal="48312\n", throttled="0x50005\n", loadavg="0.42 0.3 0.2 1/99 7")
    got = {r.metric: r.value for r in driver.read()}
    assert got["cpu_temperature"] == pytest.approx(48.312)
    assert got["load_1m"] == 0.42
    assert got["undervoltage"] == 1.0
    assert got["throttled"] == 1.0
    assert got["disk_free"] > 0


def test_missing_sources_are_skipped(tmp_path):
    driver = make(tmp_path, loadavg="1.5 1 1 1/2 3")
    assert {r.metric for r in driver.read()} == {"disk_free", "load_1m"}


def test_one_broken_source_does_not_stop_the_others(tmp_path):
    driver = make(tmp_path, thermal="garbage", loadavg="0.1 0 0 1/1 1")
    assert {r.metric for r in driver.read()} == {"disk_free", "load_1m"}


def test_nothing_readable_is_a_driver_error(tmp_path):
    driver = SystemDriver(
        disk_path=tmp_path / "gone",
        loadavg_path=tmp_path / "gone",
        thermal_path=tmp_path / "gone",
        throttled_path=tmp_path / "gone",
    )
    with pytest.raises(DriverError, match="system driver: nothing could be read"):
        driver.read()


def test_throttled_bits():
    assert parse_throttled("throttled=0x0") == (False, False)
    assert parse_throttled("0x4") == (False, True)
    assert parse_throttled("throttled=0x1") == (True, False)


def test_the_real_machine_gives_something():
    assert SystemDriver().read()
