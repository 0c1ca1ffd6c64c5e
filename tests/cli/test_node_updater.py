"""The node's updater, one pass at a time, against a real signed repository on loopback,
real environments made by pip from wheels, and a real store. Only what the services do
after a restart is played by the test (``restart``): an agent of the new version records
its start and stores readings, or, for a bad release, never comes up. The whole node,
with real agents and a real hub, is tests/system/test_updates.py."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cheroot import wsgi
from flask import Flask

from edge.clock import ClockSample
from edge.layout import DataDir
from edge.release_slots import COMPLETE, ReleaseSlots
from edge.store import EdgeStore
from edge.update_files import read_update_state, write_release_allowed, write_update_state
from hallsense.node_updater import NodeUpdater, UpdaterParts
from hub.releases_web import releases_blueprint
from hub_sync.metering import LinkMeter, MeteringSettings
from hub_sync.release_allowance import UpdateAllowance
from hub_sync.release_client import ReleaseClient
from hub_sync.release_contract import node_architecture
from provisioning.release_keys import generate_release_keys
from provisioning.release_repository import ReleaseRepository
from sensors.reading import Reading
from tests.edge.test_release_slots import build_wheel, runs

pytestmark = pytest.mark.slow  # each installs a version with pip: seconds

ARCH = "aarch64"


@pytest.fixture
def hub(tmp_path):
    """The council's repository, served on loopback by the hub's own /releases/ (ranges)."""
    repo_dir = tmp_path / "releases"
    app = Flask(__name__)
    app.register_blueprint(releases_blueprint(repo_dir))
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=2)
    server.prepare()
    serving = threading.Thread(target=server.serve, daemon=True)
    serving.start()
    keys = tmp_path / "keys"
    generate_release_keys(keys, root_keys=1)
    repo = ReleaseRepository(repo_dir)
    repo.create(keys, root_threshold=1)
    yield repo, keys, f"http://127.0.0.1:{server.bind_addr[1]}/releases/"
    server.stop()
    serving.join(10)


def publish(repo, keys, tmp_path: Path, version: str, *, schema: int = 1, arch: str = ARCH):
    wheelhouse = tmp_path / f"wheels-{version}"
    build_wheel(wheelhouse, version)
    return repo.publish(
        sorted(wheelhouse.glob("*.whl")), version=version, architecture=arch, schema=schema,
        keys_dir=keys,
    )  # fmt: skip


class SimulatedAgent(threading.Thread):
    """What an agent of ``version`` does once started: records its start, then stores a
    reading every 0.2 s, on its own connection, until stopped."""

    def __init__(self, db: Path, version: str) -> None:
        super().__init__(daemon=True)
        self.db, self.version = db, version
        self.stopping = threading.Event()
        self.started_up = threading.Event()
        self.start()
        self.started_up.wait(10)

    def run(self) -> None:
        with EdgeStore(self.db) as store:
            store.record_start(self.version, datetime.now(UTC))
            self.started_up.set()
            n = 0
            while not self.stopping.wait(0.2 if n else 0):
                now = datetime.now(UTC)
                store.append(
                    [Reading("t1", "temperature", 20.0 + n, "°C", now)],
                    ClockSample(now, 10**12, True, "boot"),
                )
                n += 1

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


class Node:
    """A node's directories, at version 1.0.0, and the services a restart starts."""

    def __init__(self, tmp_path: Path, hub, *, health_s: float = 2.5, real: bool = True) -> None:
        self.repo, self.keys, self.url = hub
        self.layout = DataDir(tmp_path / "data")
        self.layout.root.mkdir()
        self.slots = ReleaseSlots(tmp_path / "opt")
        if real:
            wheelhouse = tmp_path / "wheels-1.0.0"
            build_wheel(wheelhouse, "1.0.0")
            self.slots.install("1.0.0", wheelhouse, "hallsense==1.0.0")
        else:
            # The updater reads only which version runs, never its environment: where a
            # test never goes back to 1.0.0, its slot is the marker a whole install leaves.
            self.slots.path("1.0.0").mkdir(parents=True)
            (self.slots.path("1.0.0") / COMPLETE).write_text("1.0.0\n")
        self.slots.switch("1.0.0")
        self.running: SimulatedAgent | None = None
        self.good = True
        """Whether a restarted agent comes up (a good release) or not."""
        self.restarts: list[str] = []
        self.health_s = health_s
        self.allow = None
        self.start_agent()

    def start_agent(self) -> None:
        """What the services do when (re)started: run the version ``current`` names."""
        self.stop_agent()
        version = self.slots.current()
        if self.good or version == "1.0.0":
            self.running = SimulatedAgent(self.layout.db, version)

    def stop_agent(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None

    def set_schema(self, version: int) -> None:
        conn = sqlite3.connect(self.layout.db)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.close()

    def restart(self) -> str:
        self.restarts.append(self.slots.current())
        self.start_agent()
        return ""

    def updater(self) -> NodeUpdater:
        client = ReleaseClient(
            self.slots.metadata,
            self.url,
            trusted_root=self.repo.trusted_root(),
            download_dir=self.slots.downloads,
            allow=self.allow,
        )
        return NodeUpdater(
            UpdaterParts(
                layout=self.layout, slots=self.slots, client=client, architecture=ARCH,
                restart=self.restart, health_s=self.health_s, stable_s=1.0, poll_s=0.1,
            )
        )  # fmt: skip

    def allowed(self, version: str) -> None:
        write_release_allowed(self.layout.release_allowed, version)


@pytest.fixture
def node(tmp_path, hub):
    made = Node(tmp_path, hub)
    yield made
    made.stop_agent()


@pytest.fixture
def held_node(tmp_path, hub):
    """A node whose running 1.0.0 is never run again by the test (no pip install of it)."""
    made = Node(tmp_path, hub, real=False)
    yield made
    made.stop_agent()


def test_the_node_takes_the_release_the_hub_allows_and_reports_it(tmp_path, hub, node):
    repo, keys, _ = hub
    publish(repo, keys, tmp_path, "1.1.0")
    assert node.updater().run_once().state == "idle"  # published, but not yet allowed
    assert node.restarts == []
    node.allowed("1.1.0")
    state = node.updater().run_once()
    assert (state.state, state.version, state.error) == ("updated", "1.1.0", "")
    assert runs(node.slots.root) == "hallsense 1.1.0"
    assert (node.slots.current(), node.slots.previous()) == ("1.1.0", "1.0.0")
    assert node.restarts == ["1.1.0"]
    # The heartbeat carries it; the next pass leaves it so and restarts nothing.
    kept = read_update_state(node.layout.update_state)
    assert kept.status_fields() == {
        "update_state": "updated",
        "update_version": "1.1.0",
        "update_error": "",
    }
    assert node.updater().run_once().state == "updated"
    assert node.restarts == ["1.1.0"]
    # What it holds for the next update: this release's files, under their own names.
    assert [p.name for p in node.slots.downloads.glob("*.whl")] == [
        "hallsense-1.1.0-py3-none-any.whl"
    ]


def test_wheels_the_node_holds_are_not_sent_again_and_a_bad_one_is_replaced(tmp_path, hub, node):
    repo, keys, _ = hub
    wheels = tmp_path / "wheels-1.1.0"
    build_wheel(wheels, "1.1.0")
    kept = wheels / "paho_mqtt-2.2.0-py3-none-any.whl"
    kept.write_bytes(b"paho" * 1000)
    repo.publish(sorted(wheels.glob("*.whl")), version="1.1.0", architecture=ARCH, schema=1,
                 keys_dir=keys)  # fmt: skip
    # As the installer leaves the bundle's wheels: one as published, one not.
    spoiled = tmp_path / "spoiled" / "hallsense-1.1.0-py3-none-any.whl"
    spoiled.parent.mkdir()
    spoiled.write_bytes(b"not the signed wheel")
    assert node.slots.keep_downloads([kept, spoiled]) == 2
    updater = node.updater()
    asked: list[str] = []
    fetch = updater.parts.client.fetcher._fetch
    updater.parts.client.fetcher._fetch = lambda url: asked.append(url) or fetch(url)
    node.allowed("1.1.0")
    assert updater.run_once().state == "updated"
    fetched = [url.rsplit("/", 1)[1] for url in asked if "/wheels/" in url]
    assert len(fetched) == 1  # only the one that did not match its signed hash
    assert fetched[0].endswith("hallsense-1.1.0-py3-none-any.whl")
    assert runs(node.slots.root) == "hallsense 1.1.0"


def test_a_release_that_does_not_come_up_is_rolled_back_and_not_tried_again(tmp_path, hub, node):
    repo, keys, _ = hub
    publish(repo, keys, tmp_path, "1.1.0")
    node.allowed("1.1.0")
    node.good = False
    state = node.updater().run_once()
    assert state.state == "rolled back"
    assert "1.1.0 failed its health check within 2.5 s" in state.error
    assert "the agent of 1.1.0 has not started" in state.error
    assert state.error.endswith("back on 1.0.0")
    assert runs(node.slots.root) == "hallsense 1.0.0"
    assert node.restarts == ["1.1.0", "1.0.0"]
    # Still allowed by the hub: the node does not try it again, and keeps saying why.
    node.good = True
    assert node.updater().run_once().state == "rolled back"
    assert node.restarts == ["1.1.0", "1.0.0"]
    # A newer release, once allowed, is taken.
    publish(repo, keys, tmp_path, "1.1.1")
    node.allowed("1.1.1")
    assert node.updater().run_once().state == "updated"
    assert runs(node.slots.root) == "hallsense 1.1.1"


def test_a_check_cut_short_by_a_power_cut_is_finished_by_the_next_pass(tmp_path, hub, held_node):
    node = held_node
    repo, keys, _ = hub
    publish(repo, keys, tmp_path, "1.1.0")
    node.allowed("1.1.0")
    node.good = False
    updater = node.updater()
    updater.parts.health_s = 0.0  # the pass ends at once: as if the power went
    updater.parts.restart = lambda: ""
    updater._go_back = lambda reason: updater.state
    assert updater.run_once().state == "checking"
    assert node.slots.current() == "1.1.0"
    # Power back: the services start the new version; the next pass checks it.
    node.good = True
    node.start_agent()
    assert node.updater().run_once().state == "updated"


def test_a_release_older_than_the_store_s_schema_is_refused_before_download(
    tmp_path, hub, held_node
):
    node = held_node
    repo, keys, _ = hub
    node.set_schema(7)
    publish(repo, keys, tmp_path, "1.1.0", schema=1)
    node.allowed("1.1.0")
    state = node.updater().run_once()
    assert state.state == "refused"
    assert state.error == (
        "1.1.0 runs store schema 1 but this node's store is at 7: store migrations go forward only"
    )
    assert not (node.slots.root / "update" / "downloads").exists() or not any(
        (node.slots.root / "update" / "downloads").glob("*.whl")
    )
    assert node.restarts == []


def test_a_failed_release_that_migrated_the_store_is_not_rolled_back_across_it(
    tmp_path, hub, held_node
):
    node = held_node
    repo, keys, _ = hub
    publish(repo, keys, tmp_path, "1.1.0", schema=2)
    node.allowed("1.1.0")
    node.good = False

    def migrating_restart() -> str:
        node.stop_agent()
        node.set_schema(2)  # the new version migrated the store, then crashed
        return ""

    updater = node.updater()
    updater.parts.restart = migrating_restart
    state = updater.run_once()
    assert state.state == "failed"
    assert "migrated the store to schema 2, which 1.0.0 cannot run on" in state.error
    assert node.slots.current() == "1.1.0"


def test_a_release_the_hub_does_not_allow_or_not_for_this_machine_is_not_taken(
    tmp_path, hub, held_node
):
    node = held_node
    repo, keys, _ = hub
    publish(repo, keys, tmp_path, "1.2.0", arch="armv7l")
    node.allowed("1.2.0")
    state = node.updater().run_once()
    assert state.state == "waiting"
    assert state.error == "the hub allows 1.2.0 but its repository offers nothing newer for aarch64"
    publish(repo, keys, tmp_path, "1.3.0")
    state = node.updater().run_once()
    assert state.state == "waiting"
    assert "offers 1.3.0 for aarch64" in state.error
    node.allowed("")  # the rollout stopped: hold
    assert node.updater().run_once().state == "idle"
    assert node.restarts == []


def test_expired_metadata_is_refused_with_its_reason(tmp_path, hub, held_node):
    node = held_node
    repo, keys, _ = hub
    publish(repo, keys, tmp_path, "1.1.0")
    node.allowed("1.1.0")
    timestamp = repo.metadata_dir / "timestamp.json"
    body = json.loads(timestamp.read_text())
    body["signed"]["expires"] = "2020-01-01T00:00:00Z"  # no longer signed: refused either way
    timestamp.write_text(json.dumps(body))
    state = node.updater().run_once()
    assert state.state == "refused"
    assert "not signed by the council's keys" in state.error or "expired" in state.error
    assert node.slots.current() == "1.0.0"


def test_a_download_under_a_daily_budget_goes_on_over_several_days(tmp_path, hub, held_node):
    node = held_node
    """A 5 MB update under a 4 MB daily budget: it takes at most half of each day's
    budget, the uplink counts what it took, and the download resumes each day where it
    stopped until it is whole."""
    repo, keys, _ = hub
    big = tmp_path / "wheels-1.1.0"
    build_wheel(big, "1.1.0")
    extra = big / "bulk-1.0-py3-none-any.whl"
    extra.write_bytes(os.urandom(5_000_000))  # a dependency that changed: 5 MB to send
    repo.publish(
        sorted(big.glob("*.whl")), version="1.1.0", architecture=ARCH, schema=1, keys_dir=keys
    )
    node.allowed("1.1.0")
    day = [datetime(2026, 12, 1, 12, tzinfo=UTC)]
    settings = MeteringSettings(daily_budget_bytes=4_000_000, timezone="Europe/London")
    state = read_update_state(node.layout.update_state)
    holder: list[NodeUpdater] = []
    allowance = UpdateAllowance(
        settings,
        day=state.download_day,
        used=state.downloaded_today,
        keep=lambda d, used: holder[0].keep_download_count(d, used),
        wall=lambda: day[0],
    )
    node.allow = allowance.allow
    uplink_meter = LinkMeter(
        settings,
        wall=lambda: day[0],
        shared=lambda d: (
            read_update_state(node.layout.update_state).downloaded_today
            if read_update_state(node.layout.update_state).download_day == d
            else 0
        ),
    )
    days = 0
    while True:
        updater = node.updater()
        holder[:] = [updater]
        state = updater.run_once()
        days += 1
        kept = read_update_state(node.layout.update_state)
        assert kept.downloaded_today <= 2_000_000  # never more than half the day's budget
        # The readings still have the other half of the day, with the update counted.
        assert uplink_meter.budget_left() >= 2_000_000
        assert uplink_meter.may_send(1_000_000, live=True)
        if state.state != "waiting":
            break
        assert "data budget" in state.error
        day[0] += timedelta(days=1)
        assert days < 10
    assert state.state == "updated"
    # 5 MB at 2 MB a day, less each day's fresh metadata (counted in whole chunks).
    assert days == 3
    assert node_architecture("aarch64", 8) == ARCH


def test_this_machine_s_architecture_is_named_as_releases_name_it():
    assert node_architecture("x86_64", 8) == "x86_64"
    assert node_architecture("aarch64", 8) == "aarch64"
    # Raspberry Pi OS 32-bit on a 64-bit kernel: the machine says aarch64, Python is 32-bit.
    assert node_architecture("aarch64", 4) == "armv7l"
    assert node_architecture("armv7l", 4) == "armv7l"
    assert node_architecture("armv6l", 4) == "armv7l"


def test_an_unreadable_state_file_reads_as_idle(tmp_path):
    path = tmp_path / "update-state.json"
    path.write_text("{not json")
    assert read_update_state(path).state == "idle"
    path.write_text('{"state": 5, "version": "1.1.0", "seq_at_switch": "x"}')
    assert read_update_state(path) == read_update_state(tmp_path / "none").with_changes(
        version="1.1.0"
    )
    write_update_state(path, read_update_state(path).with_changes(state="checking"))
    assert read_update_state(path).state == "checking"
    assert oct(path.stat().st_mode & 0o777) == "0o644"
