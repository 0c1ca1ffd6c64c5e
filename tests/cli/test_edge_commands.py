"""`hallsense edge status|export|backup` over a store a real agent filled."""

import csv
import io
import json
import sqlite3
import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from edge.agent import Agent
from edge.clock import ClockSample, read_boot_id
from edge.kept_time import KeptTime, write_kept_time
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from hallsense.cli import cli
from sensors.simulated import SimulatedDriver
from tests.support.edge_process import write_env

NOON = datetime(2026, 7, 1, 11, 0, tzinfo=UTC)  # 12:00 in the hall (BST)


@pytest.fixture
def node(tmp_path):
    """A node whose store holds ten simulated reads on 1 July 2026, and its .env file."""
    ticks = iter(range(10))

    def clock() -> datetime:
        return NOON.replace(minute=next(ticks))

    settings = EdgeSettings(data_dir=tmp_path / "node", hall_name="Askrigg Village Hall")
    store = EdgeStore(settings.db_path)
    driver = SimulatedDriver(interval_s=60, clock=clock)
    elapsed = [0.0]
    agent = Agent(
        settings,
        store,
        [driver],
        lambda: ClockSample(datetime.now(UTC), 10**12, True, "boot"),
        monotonic=lambda: elapsed[0],
    )
    for _ in range(10):
        agent.poll_all()
        elapsed[0] += 60
    agent.flush()
    agent.record_health()
    store.close()
    env = write_env(
        tmp_path / "edge.env",
        data_dir=settings.data_dir,
        hall_name="Askrigg Village Hall",
        clock_check="trust",
    )
    return env, settings


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def test_status_says_what_the_node_holds(node):
    env, _ = node
    result = invoke("edge", "status", "--env", env)
    assert result.exit_code == 0, result.output
    assert "Askrigg Village Hall" in result.output
    assert "readings stored:" in result.output
    assert "sim-co2" in result.output
    assert "Clock synchronised" in result.output


def test_status_json_is_for_scripts(node):
    env, _ = node
    result = invoke("edge", "status", "--env", env, "--json")
    data = json.loads(result.output)
    assert data["readings_stored"] == data["backlog"] > 0
    assert data["clock"]["synchronised"] is True
    assert {d["driver"]: d["state"] for d in data["drivers"]} == {"simulated": "ok"}


def test_export_csv_opens_in_a_spreadsheet_with_local_times(node, tmp_path):
    env, _ = node
    out = tmp_path / "july.csv"
    result = invoke(
        "edge", "export", "--env", env, "--from", "2026-07-01", "--to", "2026-07-01", "-o", out
    )
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows
    assert rows[0]["time"] == "2026-07-01T12:00:00+01:00"
    assert {row["metric"] for row in rows} >= {"temperature", "co2", "footfall"}


def test_export_senml_is_json(node):
    env, _ = node
    result = invoke(
        "edge",
        "export",
        "--env",
        env,
        "--from",
        "2026-07-01",
        "--to",
        "2026-07-01",
        "--format",
        "senml",
    )
    records = json.loads(result.output)
    assert records[0]["bn"].startswith("urn:dev:hallsense:")
    assert len(records) >= 10


def test_export_of_an_empty_range_is_just_the_header(node):
    env, _ = node
    result = invoke("edge", "export", "--env", env, "--from", "2025-01-01", "--to", "2025-01-02")
    assert result.output.strip("\ufeff\r\n") == "time,sensor,metric,value,unit,quality,seq"


def test_a_bad_date_is_named(node):
    env, _ = node
    result = CliRunner().invoke(
        cli, ["edge", "export", "--env", str(env), "--from", "last tuesday", "--to", "2026-07-01"]
    )
    assert result.exit_code == 2
    assert (
        "expected a date like 2026-11-24 or a date-time like 2026-11-24T09:30, got "
        "'last tuesday'" in result.output
    )


def test_backup_is_a_complete_consistent_copy(node, tmp_path):
    env, settings = node
    dest = tmp_path / "backup.db"
    result = invoke("edge", "backup", "--env", env, dest)
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(dest)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with EdgeStore(dest, readonly=True) as copy, EdgeStore(settings.db_path, readonly=True) as live:
        assert copy.stats().readings_stored == live.stats().readings_stored
        assert copy.store_epoch == live.store_epoch
    again = CliRunner().invoke(cli, ["edge", "backup", "--env", str(env), str(dest)])
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_poster_writes_an_a4_svg_with_the_address_and_the_halls_name(node, tmp_path):
    import xml.etree.ElementTree as ET

    env_file = node[0]
    out = tmp_path / "poster.svg"
    result = CliRunner().invoke(
        cli,
        ["edge", "poster", "--env", str(env_file), "--format", "svg", "--out", str(out),
         "--url", "http://askrigg-hall.local:8080/"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    root = ET.fromstring(out.read_bytes())  # noqa: S314 - the file this test just made
    text = " ".join(t.strip() for t in root.itertext() if t.strip())
    assert "Askrigg Village Hall" in text
    assert "http://askrigg-hall.local:8080/" in text.replace(" ", "")
    assert root.get("width") == "210mm"


def test_poster_refuses_a_bad_address(node):
    env_file = node[0]
    result = CliRunner().invoke(
        cli, ["edge", "poster", "--env", str(env_file), "--url", "ftp://x", "--out", "-"]
    )
    assert result.exit_code == 1
    assert "ftp://x" in result.output or "http" in result.output


def test_status_shows_the_hubs_time_as_the_agent_last_had_it(node, tmp_path):
    """Without NTP, the agent's clock is the hub's; status says so, without asking the hub."""
    _, settings = node
    ca_file = tmp_path / "council-ca.pem"
    ca_file.write_text("not read: the hub is not asked while the kept time is fresh\n")
    env = write_env(
        tmp_path / "hub-clock.env",
        data_dir=settings.data_dir,
        hall_name="Askrigg Village Hall",
        clock_check="hub",
        clock_hub_url="https://127.0.0.1:9",
        broker_ca_file=ca_file,
    )
    write_kept_time(
        settings.layout.hub_time,
        read_boot_id(),
        KeptTime(time.time_ns(), time.monotonic_ns(), 0.2),
    )
    result = invoke("edge", "status", "--env", env)
    assert result.exit_code == 0, result.output
    assert "Clock set from the hub's time (to within 0.2 s)" in result.output
