"""`hallsense edge run` as a real process: clean stops, bad settings, failing drivers, bad disks."""

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest
import requests

from sensors.counter import read_tally
from tests.support.edge_process import (
    EdgeProcess,
    integrity,
    stored_counter_values,
    wait_for,
    write_env,
)
from tests.support.mounts import read_only_mount, tmpfs_mount


def run_cli(*args, env=None, timeout=30):
    return subprocess.run(
        [sys.executable, "-m", "hallsense", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_sigterm_commits_every_reading_before_exit(tmp_path):
    tally = tmp_path / "tally.txt"
    env = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="counter",
        counter_interval_s=0.01,
        counter_tally_path=tally,
        commit_interval_s=5,
        commit_max_readings=100000,
    )
    edge = EdgeProcess(env, tmp_path / "edge.log").start()
    try:
        wait_for(
            lambda: tally.exists() and len(read_tally(tally)) >= 50,
            timeout=20,
            message="no readings",
        )
        assert edge.terminate() == 0, edge.log()
    finally:
        edge.stop()
    produced = [value for value, _ in read_tally(tally)]
    stored = [int(value) for _, value in stored_counter_values(tmp_path / "node" / "hallsense.db")]
    assert stored == produced


def test_broken_settings_file_names_every_bad_key_and_line(tmp_path):
    env = tmp_path / "edge.env"
    env.write_text(
        "HALLSENSE_DATA_DIR=/tmp/x\n"
        "HALLSENSE_COMMIT_INTERVAL_S=often\n"
        "HALLSENSE_DRIVERS=simulated,teleporter\n"
        "this line is not a setting\n"
        "HALLSENSE_TIMEZONE=Europe/Askrigg\n"
        "HALSENSE_LOG_LEVEL=INFO\n",
        encoding="utf-8",
    )
    result = run_cli("edge", "run", "--env", str(env))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"Settings from {env} are not valid:" in result.stderr
    assert "line 4: cannot be read as KEY=value: 'this line is not a setting'" in result.stderr
    assert "HALLSENSE_COMMIT_INTERVAL_S: expected a number of seconds, got 'often'" in result.stderr
    assert "HALSENSE_LOG_LEVEL: not a known setting" in result.stderr


def test_unknown_driver_is_refused_with_the_known_ones(tmp_path):
    env = write_env(tmp_path / "edge.env", data_dir=tmp_path / "n", drivers="simulated,teleporter")
    result = run_cli("edge", "run", "--env", str(env))
    assert result.returncode == 1
    assert (
        "HALLSENSE_DRIVERS: unknown driver 'teleporter'; known drivers: ble, bme280, bme680, "
        "counter, faulty, gpio, noise, pms5003, scd4x, sds011, simulated, system" in result.stderr
    )


def test_a_driver_that_raises_every_time_never_stops_the_others(tmp_path):
    tally = tmp_path / "tally.txt"
    env = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="counter,faulty",
        counter_interval_s=0.02,
        counter_tally_path=tally,
        faulty_interval_s=0.05,
        faulty_mode="raise",
        driver_max_backoff_s=0.2,
        commit_interval_s=0.2,
    )
    edge = EdgeProcess(env, tmp_path / "edge.log").start()
    try:
        wait_for(lambda: tally.exists() and len(read_tally(tally)) >= 60, 20, "no readings")
        time.sleep(0.5)
        assert edge.terminate() == 0
    finally:
        edge.stop()
    log = edge.log()
    # Logged on the change of state, not on every one of the many failed attempts.
    assert log.count("driver faulty failing") == 1, log
    db = tmp_path / "node" / "hallsense.db"
    assert len(stored_counter_values(db)) == len(read_tally(tally))


def test_a_driver_that_hangs_is_reported_and_the_others_carry_on(tmp_path):
    tally = tmp_path / "tally.txt"
    env = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="faulty,counter",
        faulty_mode="hang",
        counter_interval_s=0.02,
        counter_tally_path=tally,
        driver_timeout_s=0.3,
        commit_interval_s=0.2,
    )
    edge = EdgeProcess(env, tmp_path / "edge.log").start()
    try:
        wait_for(lambda: "driver faulty hung" in edge.log(), 20, "hang not reported")
        count_at_hang = len(read_tally(tally))
        wait_for(lambda: len(read_tally(tally)) > count_at_hang + 20, 10, "counter stopped")
        started = time.monotonic()
        assert edge.terminate() == 0, edge.log()
        assert time.monotonic() - started < 10
    finally:
        edge.stop()
    db = tmp_path / "node" / "hallsense.db"
    assert len(stored_counter_values(db)) == len(read_tally(tally))


def test_a_read_only_disk_is_a_clear_error(tmp_path):
    data_dir = tmp_path / "ro"
    data_dir.mkdir()
    env = write_env(tmp_path / "edge.env", data_dir=data_dir, drivers="counter")
    with read_only_mount(data_dir):
        result = run_cli("edge", "run", "--env", str(env))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(data_dir / "hallsense.db") in result.stderr
    assert "read-only" in result.stderr.lower()


def test_a_full_disk_keeps_the_node_running_and_the_database_intact(tmp_path):
    data_dir = tmp_path / "small"
    data_dir.mkdir()
    tally = tmp_path / "tally.txt"
    env = write_env(
        tmp_path / "edge.env",
        data_dir=data_dir,
        drivers="counter",
        counter_interval_s=0.002,
        counter_tally_path=tally,
        commit_interval_s=0.1,
    )
    with tmpfs_mount(data_dir, size="400k"):
        edge = EdgeProcess(env, tmp_path / "edge.log").start()
        try:
            wait_for(lambda: "disk is full" in edge.log(), 60, "disk never filled")
            time.sleep(0.5)
            assert edge.alive(), edge.log()
            assert edge.terminate() == 0, edge.log()
        finally:
            edge.stop()
        db = data_dir / "hallsense.db"
        assert integrity(db) == "ok"
        stored = [int(v) for _, v in stored_counter_values(db)]
        assert stored == list(range(1, len(stored) + 1))
        assert stored, "nothing was stored before the disk filled"


@pytest.mark.parametrize("command", ["status", "export"])
def test_reading_commands_before_first_start_say_what_to_do(tmp_path, command):
    env = write_env(tmp_path / "edge.env", data_dir=tmp_path / "none", drivers="counter")
    extra = ["--from", "2026-01-01", "--to", "2026-01-02"] if command == "export" else []
    result = run_cli("edge", command, "--env", str(env), *extra)
    assert result.returncode == 1
    assert f"no database at {tmp_path / 'none' / 'hallsense.db'} yet" in result.stderr


def test_a_corrupt_database_is_a_clear_error_and_is_left_untouched(tmp_path):
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    db = data_dir / "hallsense.db"
    garbage = b"SQLite format 3\x00" + bytes(range(256)) * 64
    db.write_bytes(garbage)
    env = write_env(tmp_path / "edge.env", data_dir=data_dir, drivers="counter")
    result = run_cli("edge", "run", "--env", str(env))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(db) in result.stderr
    assert db.read_bytes() == garbage


def test_demo_runs_the_whole_stack_serves_each_page_and_shows_nothing_lost(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
    demo = subprocess.Popen(
        [sys.executable, "-m", "hallsense", "demo", "--duration", "6", "--every", "2",
         "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    seen = []
    try:
        # Each hall's page, as a visitor opens it while the demo runs.
        pages = {}
        hub = None
        for line in demo.stdout:
            seen.append(line)
            if line.startswith("The hub: "):
                hub = re.search(
                    r"The hub: (\S+) \(TLS with the demo's own CA, (\S+):.* code (\S+);", line
                )
            if ": http://127.0.0.1:" in line:
                name, url = line.strip().rsplit(": ", 1)
                pages[name] = url
            if len(pages) == 3:
                break
        assert set(pages) == {
            "Askrigg Village Hall",
            "Bainbridge Village Hall",
            "Reeth Memorial Hall",
        }, seen
        for name, url in pages.items():
            html = ""
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and f"<h1>{name}</h1>" not in html:
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                        html = response.read().decode()
                        server = response.headers.get("Server")
                except OSError:
                    time.sleep(0.3)
            assert f"<h1>{name}</h1>" in html
            assert server == "hallsense"  # waitress's name and version stay hidden
        # The hub: the first account from the printed set-up code; the fleet shows the halls.
        assert hub is not None, seen
        hub_url, ca, code = hub.groups()
        with requests.Session() as session:
            session.verify = ca
            session.trust_env = False
            form = session.get(hub_url + "setup", timeout=10).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            made = session.post(
                hub_url + "setup",
                data={"csrf_token": token, "code": code, "username": "demo-team",
                      "password": "a long demo passphrase"},
                timeout=10,
            )  # fmt: skip
            assert made.url.endswith("/fleet"), made.text
            for name in pages:
                assert name in made.text
        out, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    stdout = "".join(seen) + out
    result = subprocess.CompletedProcess(demo.args, demo.returncode, stdout, err)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if " produced, " in line]
    assert len(lines) == 4, result.stdout
    produced_by_hall = {}
    for line in lines:
        produced = int(line.split(": ")[1].split(" produced")[0].replace(",", ""))
        assert produced > 0, line
        assert line.endswith(
            f"{produced:,} produced, {produced:,} stored at the hub, 0 missing, 0 duplicated"
        ), line
        produced_by_hall[line.split(": ")[0]] = produced
    # Each hall enrolled once with its token and got its own password, over TLS only.
    for device in ("askrigg", "bainbridge", "reeth"):
        assert (tmp_path / device / "credentials.json").stat().st_mode & 0o777 == 0o600
        assert not (tmp_path / device / "hallsense-enrol.token").exists()
    conf = (tmp_path / "provision" / "mosquitto" / "mosquitto.conf").read_text()
    assert conf.count("listener ") == conf.count("certfile ") == 2
    # The hub's own view afterwards, from the settings file the demo leaves behind.
    status = run_cli("hub", "status", "--env", str(tmp_path / "hub.env"))
    assert status.returncode == 0, status.stderr
    table = status.stdout.splitlines()
    assert table[0].split()[:3] == ["device", "hall", "state"], status.stdout
    assert len(table) == 4, status.stdout
    assert all(" offline " in row for row in table[1:]), status.stdout
    as_json = run_cli("hub", "status", "--env", str(tmp_path / "hub.env"), "--json")
    assert as_json.returncode == 0, as_json.stderr
    fleet = json.loads(as_json.stdout)
    # Every reading each hall produced (the summary's "produced"), each stored once.
    assert {d["name"] for d in fleet} == set(produced_by_hall) - {"all halls"}
    assert all(d["readings"] == produced_by_hall[d["name"]] for d in fleet), fleet
    assert all(d["missing"] == [] and d["rejected_batches"] == 0 for d in fleet), fleet
    assert not any(d["online"] for d in fleet), fleet


def test_a_gpio_driver_on_a_machine_without_gpio_is_reported_once_and_the_rest_run(tmp_path):
    tally = tmp_path / "tally.txt"
    env_file = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="gpio,counter",
        gpio_pir_pin=17,
        counter_interval_s=0.02,
        counter_tally_path=tally,
        commit_interval_s=0.2,
    )
    edge = EdgeProcess(env_file, tmp_path / "edge.log")
    edge.start(real_gpio=True)
    try:
        wait_for(lambda: tally.exists() and len(read_tally(tally)) >= 20, 20, edge.log())
        time.sleep(0.5)
        assert edge.terminate() == 0
    finally:
        edge.stop()
    log = edge.log()
    assert log.count("driver gpio could not start") == 1, log
    result = run_cli("edge", "status", "--env", str(env_file))
    assert "gpio         unavailable" in result.stdout
    assert "driver gpio could not start" in result.stdout


def test_a_ble_driver_with_no_bluetooth_here_is_reported_once_and_the_rest_run(tmp_path):
    """The real bleak against this machine, which has no BlueZ: no stand-in at all."""
    tally = tmp_path / "tally.txt"
    env_file = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="ble,counter,simulated",
        ble_sensors="A4:C1:38:12:34:56=kitchen",
        ble_footfall="true",
        simulated_interval_s=0.1,
        counter_interval_s=0.02,
        counter_tally_path=tally,
        commit_interval_s=0.2,
    )
    edge = EdgeProcess(env_file, tmp_path / "edge.log").start()
    try:
        wait_for(lambda: tally.exists() and len(read_tally(tally)) >= 20, 30, edge.log())
        time.sleep(0.5)
        assert edge.terminate() == 0
    finally:
        edge.stop()
    log = edge.log()
    assert log.count("driver ble could not start") == 1, log
    assert "cannot reach BlueZ over the system D-Bus" in log
    assert "apt-get install -y bluez" in log
    result = run_cli("edge", "status", "--env", str(env_file))
    assert "ble          unavailable" in result.stdout
    assert "sim-temperature" in result.stdout


WIRED = ("bme280", "bme680", "scd4x", "sds011", "pms5003", "noise")


def test_every_wired_driver_without_its_part_is_named_once_and_the_rest_run(tmp_path):
    """No I2C bus, serial port or microphone on this machine: every wired driver must say
    which part it looked for and where, once, while the simulated and system drivers run."""
    env_file = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers=",".join((*WIRED, "simulated", "system")),
        i2c_bus=7,
        sds011_port=tmp_path / "ttyUSB9",
        pms5003_port=tmp_path / "serial9",
        noise_device="plughw:9",
        simulated_interval_s=0.1,
        system_interval_s=0.2,
        commit_interval_s=0.2,
    )
    edge = EdgeProcess(env_file, tmp_path / "edge.log").start()
    try:
        db = tmp_path / "node" / "hallsense.db"

        def simulated_and_system_stored():
            if not db.exists():
                return False
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                if not conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'readings'"
                ).fetchone():
                    return False  # the store is still being made
                ids = {
                    row[0]
                    for row in conn.execute(
                        "SELECT DISTINCT s.sensor_id FROM readings r "
                        "JOIN series s ON s.id = r.series_id"
                    )
                }
            return any(i.startswith("sim-") for i in ids) and any(i.startswith("pi-") for i in ids)

        wait_for(simulated_and_system_stored, 30, edge.log())
        time.sleep(1.0)
        assert edge.terminate() == 0
    finally:
        edge.stop()
    log = edge.log()
    for name in WIRED:
        assert log.count(f"driver {name} could not start") == 1, (name, log)
    assert "/dev/i2c-7" in log
    assert str(tmp_path / "ttyUSB9") in log
    assert str(tmp_path / "serial9") in log
    assert "plughw:9" in log or "alsa-utils" in log
    result = run_cli("edge", "status", "--env", str(env_file))
    for name in WIRED:
        assert re.search(rf"^\s*{name}\s+unavailable", result.stdout, re.MULTILINE), result.stdout
