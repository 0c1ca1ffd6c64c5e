"""Updates from the hub, with every part real: a provisioned broker over TLS, `hub run`,
`hub web` serving the council's signed repository, and a node installed as versions
(real hallsense wheels, built from this checkout at 1.0.0, 1.1.0 and a broken 1.2.0,
installed by pip with no index) whose agent a supervisor restarts as systemd would.

The node updates to what a staged rollout allows, keeps every reading exactly once and
reports its new version; a release whose agent fails on start is rolled back by the
node itself and reported, and the rollout stops after that first failure, holding the
hall that had not started."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edge.release_slots import ReleaseSlots
from edge.update_files import read_release_allowed
from hallsense.cli import cli
from sensors.counter import read_tally
from tests.support.broker import free_port
from tests.support.edge_process import EdgeProcess, wait_for
from tests.support.hub_process import HubProcess
from tests.support.ports import wait_listening
from tests.support.provisioned import (
    node_env,
    provision,
    provisioned_hub_env,
    start_hub_web,
    start_provisioned_broker,
)
from tests.support.wheelhouse import release_wheelhouse

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

BROKEN = {
    "hallsense/cli_edge.py": (
        "    signal.signal(signal.SIGTERM, stop)\n",
        '    raise SystemExit("this release cannot start")\n',
    )
}


def hub_cli(*args: object) -> str:
    result = CliRunner().invoke(cli, ["hub", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def hub_status(hub_db: Path, device: str) -> dict[str, Any]:
    conn = sqlite3.connect(hub_db)
    try:
        row = conn.execute("SELECT status_json FROM devices WHERE device_id = ?", (device,))
        found = row.fetchone()
    finally:
        conn.close()
    return json.loads(found[0]) if found and found[0] else {}


def hub_values(hub_db: Path, device: str) -> list[int]:
    from hub.store_sqlite import SqliteHubStore

    store = SqliteHubStore(hub_db)
    try:
        return [int(r.value) for _, r in store.readings(device) if r.metric == "test_counter"]
    finally:
        store.close()


class Supervised:
    """The node's agent as hallsense-edge.service runs it: `current`'s version, started
    again whenever it stops (Restart=always), until told to stop."""

    def __init__(self, root: Path, env: Path, log: Path) -> None:
        self.stop_file = root / "supervisor.stop"
        script = root / "supervise.sh"
        script.write_text(
            "#!/bin/bash\n"
            f'while [ ! -e "{self.stop_file}" ]; do\n'
            f'    "{root}/current/bin/hallsense" edge run --env "{env}" >>"{log}" 2>&1\n'
            "    sleep 0.5\n"
            "done\n"
        )
        environment = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
        self.proc = subprocess.Popen(["bash", str(script)], env=environment)
        self.root = root
        restart = root / "restart.sh"  # what `systemctl restart hallsense-edge` does here
        restart.write_text(
            f'#!/bin/bash\npkill -TERM -f "{root}/current/bin/hallsense edge run"\nexit 0\n'
        )
        restart.chmod(0o755)
        self.restart_command = str(restart)

    def stop(self) -> None:
        self.stop_file.touch()
        subprocess.run(["pkill", "-TERM", "-f", f"{self.root}/current/bin/hallsense edge run"])
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def install_first_release(root: Path, wheels: Path) -> ReleaseSlots:
    """The node as its installer leaves it: 1.0.0 installed as versions (not switched to)."""
    slots = ReleaseSlots(root)
    slots.install("1.0.0", release_wheelhouse(wheels, "1.0.0"), "hallsense==1.0.0")
    return slots


def run_update(root: Path, env: Path) -> str:
    """One pass of the updater, as hallsense-update.timer starts it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HALLSENSE_", "PIP_"))}
    done = subprocess.run(
        [str(root / "current" / "bin" / "hallsense"), "edge", "update", "--env", str(env)],
        capture_output=True, text=True, env=environment, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_a_node_updates_from_a_staged_rollout_and_a_broken_release_is_rolled_back(
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "state"
    device_port, service_port, web_port = free_port(), free_port(), free_port()
    state, pid_file, broker = start_provisioned_broker(
        tmp_path, state_dir, device_port, service_port
    )
    procs: list[HubProcess | EdgeProcess] = []
    supervised: Supervised | None = None
    web = None
    # Askrigg's 1.0.0 is built and installed (pip: the slowest step of the set-up) in the
    # background, while the broker, the hub and Reeth start.
    root = tmp_path / "opt"
    root.mkdir()
    installer = ThreadPoolExecutor(max_workers=1)
    first_install = installer.submit(install_first_release, root, tmp_path / "wheels-1.0.0")
    try:
        wait_listening(device_port, broker, tmp_path / "mosquitto.log")
        # The council's keys and repository; the hub serves it at /releases/.
        keys, repo = tmp_path / "council-keys", tmp_path / "releases"
        provision("release", "keys", "--keys-dir", keys, "--root-keys", 1)
        provision("release", "init", "--repo", repo, "--keys-dir", keys, "--root-threshold", 1)
        hub_db = tmp_path / "hub.db"
        hub_env = provisioned_hub_env(
            tmp_path,
            state,
            service_port,
            hub_db,
            session_expiry_s=5,
            releases_dir=repo,
            rollout_check_s=1,
        )
        hub_url = f"https://localhost:{web_port}"
        for site in ("Askrigg Village Hall", "Reeth Memorial Hall"):
            provision(
                "add-device", "--state-dir", state_dir, "--env", hub_env, "--site", site,
                "--hub-url", hub_url, "--out", tmp_path / "bundles",
            )  # fmt: skip
        hub = HubProcess(hub_env, tmp_path / "hub.log").start()
        procs.append(hub)
        web = start_hub_web(hub_env, state_dir, web_port, pid_file, tmp_path / "web.log")

        # Askrigg: installed as versions at 1.0.0, its agent supervised.
        askrigg, reeth = "askrigg-village-hall", "reeth-memorial-hall"
        env = node_env(tmp_path / "bundles" / askrigg, tmp_path, askrigg)
        supervised = Supervised(root, env, tmp_path / f"{askrigg}.log")
        with env.open("a") as settings:
            settings.write(
                f"HALLSENSE_RELEASE_URL={hub_url}/releases/\n"
                f"HALLSENSE_RELEASE_ROOT_FILE={repo / 'metadata' / '1.root.json'}\n"
                f"HALLSENSE_RELEASE_DIR={root}\n"
                "HALLSENSE_UPDATE_HEALTH_S=12\n"
                f"HALLSENSE_UPDATE_RESTART={supervised.restart_command}\n"
                "HALLSENSE_UPLINK_HEARTBEAT_S=1\n"
                # As EdgeProcess does for every test node: readings go as they are
                # stored, not held for the live profile's window or a full batch of
                # 1000 (20 s of this counter) before the first reaches the hub.
                "HALLSENSE_UPLINK_BATCH_WINDOW_S=0\n"
            )
        # Reeth runs too (from this checkout); it takes part in the second rollout only.
        reeth_env = node_env(tmp_path / "bundles" / reeth, tmp_path, reeth)
        procs.append(EdgeProcess(reeth_env, tmp_path / f"{reeth}.log").start())
        # The next two releases are built while 1.0.0 installs; then Askrigg runs it.
        next_wheels = release_wheelhouse(tmp_path / "wheels-1.1.0", "1.1.0")
        broken_wheels = release_wheelhouse(tmp_path / "wheels-1.2.0", "1.2.0", changes=BROKEN)
        slots = first_install.result()
        slots.switch("1.0.0")

        data = tmp_path / askrigg
        wait_for(lambda: len(hub_values(hub_db, askrigg)) >= 3, 90, "askrigg never synced")
        wait_for(lambda: hub_status(hub_db, askrigg).get("version") == "1.0.0", 30, "no 1.0.0")

        # N+1 published and rolled out to Askrigg by name: the node takes it.
        provision(
            "release", "publish", "--repo", repo, "--keys-dir", keys, "--version", "1.1.0",
            "--architecture", "x86_64", *sorted(next_wheels.glob("*.whl")),
        )  # fmt: skip
        hub_cli("rollout", "start", "1.1.0", "--hall", askrigg, "--env", hub_env)
        allowed = data / "release-allowed.json"
        wait_for(lambda: read_release_allowed(allowed) == "1.1.0", 60, "1.1.0 never allowed")
        assert run_update(root, env) == "update: updated 1.1.0"
        assert slots.current() == "1.1.0"

        def reports(version: str, update_state: str) -> bool:
            status = hub_status(hub_db, askrigg)
            return (status.get("version"), status.get("update_state")) == (
                version,
                update_state,
            )

        wait_for(lambda: reports("1.1.0", "updated"), 60, "the hub never saw 1.1.0")

        # N+2's agent cannot start: the node goes back by itself and says why; the
        # rollout stops after that first failure and Reeth is held where it is.
        provision(
            "release", "publish", "--repo", repo, "--keys-dir", keys, "--version", "1.2.0",
            "--architecture", "x86_64", *sorted(broken_wheels.glob("*.whl")),
        )  # fmt: skip
        hub_cli(
            "rollout", "start", "1.2.0", "--hall", askrigg, "--hall", reeth,
            "--stop-share", "0.5", "--env", hub_env,
        )  # fmt: skip
        reeth_allowed = tmp_path / reeth / "release-allowed.json"
        wait_for(lambda: read_release_allowed(allowed) == "1.2.0", 60, "1.2.0 never allowed")
        wait_for(lambda: read_release_allowed(reeth_allowed) == "1.2.0", 60, "reeth not in it")
        said = run_update(root, env)
        assert said.startswith("update: rolled back 1.2.0: 1.2.0 failed its health check")
        assert said.endswith("back on 1.1.0")
        assert slots.current() == "1.1.0"
        wait_for(lambda: reports("1.1.0", "rolled back"), 60, "the hub never saw the rollback")
        assert "failed its health check" in hub_status(hub_db, askrigg)["update_error"]
        wait_for(lambda: read_release_allowed(reeth_allowed) == "", 60, "reeth never held")
        assert "stopped" in hub_cli("rollout", "status", "--env", hub_env)
        # Still allowed nowhere now, and the rolled-back release is not tried again.
        assert run_update(root, env).startswith("update: rolled back 1.2.0")

        # Every reading the counter produced through both switches is at the hub, once.
        supervised.stop()
        produced = [value for value, _ in read_tally(data / "tally.txt")]
        drained = subprocess.run(
            [str(root / "current" / "bin" / "hallsense"), "edge", "drain", "--env", str(env),
             "--timeout", "60"],
            capture_output=True, text=True, timeout=90,
            env={k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")},
        )  # fmt: skip
        assert drained.returncode == 0, drained.stdout + drained.stderr
        values = hub_values(hub_db, askrigg)
        assert len(values) == len(set(values)), "a reading stored twice"
        assert set(values) == set(produced)
    finally:
        installer.shutdown(cancel_futures=True)
        if supervised is not None:
            supervised.stop()
        if web is not None and web.poll() is None:
            web.terminate()
            web.wait(10)
        for proc in procs:
            proc.stop()
        broker.terminate()
        broker.wait(5)
