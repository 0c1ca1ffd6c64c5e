"""`hallsense hub rollout start|widen|stop|status` over a real hub store and a real signed
release repository: what the IoT team types, reads, and is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hallsense.cli import cli
from hub.store_sqlite import SqliteHubStore
from hub_sync.node_status import encode_status
from provisioning.release_keys import generate_release_keys
from provisioning.release_repository import ReleaseRepository
from tests.support.edge_process import write_env

HALLS = ("askrigg", "reeth", "hawes")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def env(tmp_path):
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    generate_release_keys(keys, root_keys=1)
    repository = ReleaseRepository(repo)
    repository.create(keys, root_threshold=1)
    (tmp_path / "hallsense-1.5.0-py3-none-any.whl").write_bytes(b"a wheel")
    repository.publish(
        [tmp_path / "hallsense-1.5.0-py3-none-any.whl"],
        version="1.5.0",
        architecture="aarch64",
        schema=1,
        keys_dir=keys,
    )
    store = SqliteHubStore(tmp_path / "hub.db")
    for hall in HALLS:
        store.add_device(hall, hall.title())
    store.record_status(
        "reeth",
        True,
        encode_status(
            "online",
            version="1.4.0",
            update_state="rolled back",
            update_version="1.5.0",
            update_error="the health check failed",
        ).decode(),
        1,
    )
    store.close()
    return write_env(tmp_path / "hub.env", hub_store=tmp_path / "hub.db", releases_dir=repo)


def store_of(env: Path) -> SqliteHubStore:
    return SqliteHubStore(env.parent / "hub.db")


def test_start_widen_status_and_stop(env):
    started = invoke("hub", "rollout", "start", "1.5", "--hall", "askrigg", "--env", env)
    assert started.exit_code == 0, started.output
    assert started.output.startswith(
        "rollout 1 started: release 1.5.0 to askrigg (1 hall now); it stops by itself once "
        "25 % of the halls that finished have failed\n"
    )
    store = store_of(env)
    try:
        assert store.running_rollout().version == "1.5.0"  # as the repository spells it
    finally:
        store.close()

    widened = invoke("hub", "rollout", "widen", "--hall", "reeth", "--env", env)
    assert widened.exit_code == 0, widened.output
    assert widened.output == (
        "rollout 1 of release 1.5.0 now reaches askrigg, reeth: 2 halls, 1 more\n"
    )
    status = invoke("hub", "rollout", "status", "--env", env)
    lines = status.output.splitlines()
    assert lines[0] == "rollout 1 of release 1.5.0: running"
    assert "  2 targeted: 1 pending, 0 updating, 0 updated, 1 failed" in lines
    assert "  failed: reeth: rolled back: the health check failed" in lines

    everyone = invoke("hub", "rollout", "widen", "--percent", "100", "--env", env)
    assert "3 halls, 1 more" in everyone.output
    narrower = invoke("hub", "rollout", "widen", "--percent", "50", "--env", env)
    assert narrower.exit_code == 2
    assert "reaches 100 % of the others already" in narrower.output

    stopped = invoke("hub", "rollout", "stop", "--reason", "Reeth  rolled back", "--env", env)
    assert stopped.exit_code == 0, stopped.output
    assert stopped.output.startswith("stopped rollout 1 of release 1.5.0: Reeth rolled back;")
    data = json.loads(invoke("hub", "rollout", "status", "--json", "--env", env).output)
    assert (data["state"], data["reason"], data["halls"]) == (
        "stopped",
        "Reeth rolled back",
        ["askrigg", "reeth"],
    )
    assert (data["pending"], data["failed"]) == (["askrigg", "hawes"], ["reeth"])
    assert invoke("hub", "rollout", "stop", "--env", env).exit_code == 1


def test_a_new_rollout_replaces_the_running_one(env):
    assert (
        invoke("hub", "rollout", "start", "1.5.0", "--hall", "reeth", "--env", env).exit_code == 0
    )
    again = invoke("hub", "rollout", "start", "1.5.0", "--percent", "100", "--env", env)
    assert "it replaces rollout 1 of 1.5.0, now stopped" in again.output


def test_refusals_name_what_was_wrong(env):
    unpublished = invoke("hub", "rollout", "start", "1.6.0", "--percent", "10", "--env", env)
    assert unpublished.exit_code == 1
    assert "1.6.0 is not published in the release repository" in unpublished.output
    assert "(it has aarch64 1.5.0)" in unpublished.output
    unknown = invoke("hub", "rollout", "start", "1.5.0", "--hall", "bainbridge", "--env", env)
    assert unknown.exit_code == 2
    assert "bainbridge is not a registered device" in unknown.output
    assert invoke("hub", "rollout", "status", "--env", env).output == "no rollout yet\n"
    nothing = invoke("hub", "rollout", "widen", "--percent", "10", "--env", env)
    assert (nothing.exit_code, "no rollout is running" in nothing.output) == (1, True)
