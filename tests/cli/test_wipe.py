"""`hallsense edge wipe`: readings, state and credentials go; a running agent is refused."""

import time

import pytest
from click.testing import CliRunner

from edge.layout import DataDir
from edge.store import EdgeStore
from hallsense.cli import cli
from tests.support.edge_process import EdgeProcess, write_env


@pytest.mark.slow
def test_wipe_refuses_a_running_agent_then_deletes_readings_and_credentials(tmp_path):
    secret = tmp_path / "broker.password"
    secret.write_text("s3cret-for-this-test\n")
    secret.chmod(0o600)
    tally = tmp_path / "tally.txt"
    env_file = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="counter",
        counter_interval_s=0.01,
        counter_tally_path=tally,
        commit_interval_s=0.1,
        clock_check="trust",
        broker_password_file=secret,
    )
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "page-settings.json").write_text('{"hall_name": "X"}')
    edge = EdgeProcess(env_file, tmp_path / "edge.log").start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (tmp_path / "node" / "hallsense.db").exists():
            time.sleep(0.05)
        time.sleep(0.5)
        busy = CliRunner().invoke(cli, ["edge", "wipe", "--env", str(env_file), "--yes"])
        assert busy.exit_code == 1
        assert "in use by a running agent" in busy.output
        assert edge.terminate() == 0
    finally:
        edge.stop()
    store = EdgeStore(tmp_path / "node" / "hallsense.db", readonly=True)
    stored = store.stats().readings_stored
    store.close()
    assert stored > 0

    result = CliRunner().invoke(cli, ["edge", "wipe", "--env", str(env_file), "--yes"])
    assert result.exit_code == 0, result.output
    assert f"deleted {stored:,} readings" in result.output
    assert not (tmp_path / "node" / "hallsense.db").exists()
    assert not (tmp_path / "node" / "page-settings.json").exists()
    assert not secret.exists()
    assert not tally.exists()
    assert "s3cret" not in result.output


def test_wipe_removes_an_inline_password_and_keeps_the_rest_of_the_settings(tmp_path):
    env_file = tmp_path / "edge.env"
    env_file.write_text(
        f"HALLSENSE_DATA_DIR={tmp_path / 'node'}\n"
        "HALLSENSE_HALL_NAME=Askrigg\n"
        "HALLSENSE_BROKER_PASSWORD=inline-secret-value\n"
    )
    env_file.chmod(0o640)
    result = CliRunner().invoke(cli, ["edge", "wipe", "--env", str(env_file), "--yes"])
    assert result.exit_code == 0, result.output
    text = env_file.read_text()
    assert "inline-secret-value" not in text
    assert "HALLSENSE_HALL_NAME=Askrigg" in text
    assert env_file.stat().st_mode & 0o777 == 0o640
    assert "removed HALLSENSE_BROKER_PASSWORD from the settings file" in result.output


def test_wipe_deletes_every_file_the_layout_names_but_the_agent_lock(tmp_path):
    layout = DataDir(tmp_path / "node")
    layout.root.mkdir()
    journals = [layout.count_journal("gpio"), layout.count_journal("door")]
    for path in (*layout.files, *journals):
        path.write_bytes(b"left by a node\n")
    env_file = write_env(tmp_path / "edge.env", data_dir=layout.root)
    result = CliRunner().invoke(cli, ["edge", "wipe", "--env", str(env_file), "--yes"])
    assert result.exit_code == 0, result.output
    for path in (*layout.wiped, *journals):  # counts not yet stored are readings too
        assert not path.exists(), path
        assert f"deleted {path}" in result.output
    assert [path for path in layout.files if path.exists()] == [layout.agent_lock]


def test_wipe_deletes_credentials_a_crash_left_half_written(tmp_path):
    layout = DataDir(tmp_path / "node")
    layout.root.mkdir()
    leftover = layout.root / ".credentials.json.4242.tmp"  # as write_credentials names it
    leftover.write_text('{"password": "half-written"}')
    env_file = write_env(tmp_path / "edge.env", data_dir=layout.root)
    result = CliRunner().invoke(cli, ["edge", "wipe", "--env", str(env_file), "--yes"])
    assert result.exit_code == 0, result.output
    assert not leftover.exists()
    assert f"deleted {leftover}" in result.output


def test_wipe_asks_first(tmp_path):
    env_file = write_env(tmp_path / "edge.env", data_dir=tmp_path / "node")
    result = CliRunner().invoke(cli, ["edge", "wipe", "--env", str(env_file)], input="n\n")
    assert result.exit_code == 1
    assert "Aborted" in result.output


@pytest.mark.slow
def test_a_second_agent_on_the_same_store_is_refused(tmp_path):
    env_file = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="counter",
        counter_interval_s=0.05,
        counter_tally_path=tmp_path / "tally.txt",
        clock_check="trust",
    )
    first = EdgeProcess(env_file, tmp_path / "first.log").start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (tmp_path / "node" / "agent.lock").exists():
            time.sleep(0.05)
        time.sleep(0.3)
        second = EdgeProcess(env_file, tmp_path / "second.log").start()
        assert second.proc.wait(20) == 1
        assert "in use by a running agent" in second.log()
        assert first.proc.poll() is None
    finally:
        first.stop()


def test_wipe_on_a_read_only_disk_says_what_it_could_not_delete(tmp_path):
    from tests.support.mounts import read_only_mount

    data_dir = tmp_path / "node"
    data_dir.mkdir()
    EdgeStore(data_dir / "hallsense.db").close()
    env_file = write_env(tmp_path / "edge.env", data_dir=data_dir)
    with read_only_mount(data_dir):
        result = CliRunner().invoke(cli, ["edge", "wipe", "--env", str(env_file), "--yes"])
    assert result.exit_code == 1
    assert "could not delete" in result.output
    assert (data_dir / "hallsense.db").exists()
