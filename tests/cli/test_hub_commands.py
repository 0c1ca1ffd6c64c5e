import json

from click.testing import CliRunner

from hallsense.cli import cli
from tests.support.edge_process import write_env


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_add_device_then_status(tmp_path):
    env = write_env(tmp_path / "hub.env", hub_store=tmp_path / "hub.db")
    result = invoke("hub", "add-device", "--env", env, "askrigg", "--name", "Askrigg Village Hall")
    assert result.exit_code == 0, result.output
    assert result.output == "registered askrigg (Askrigg Village Hall)\n"
    table = invoke("hub", "status", "--env", env)
    assert "askrigg" in table.output
    assert "offline" in table.output
    data = json.loads(invoke("hub", "status", "--env", env, "--json").output)
    assert data[0]["device_id"] == "askrigg"
    assert data[0]["readings"] == 0
    assert (data[0]["quarantined"], data[0]["refused"]) == (0, {})


def test_a_bad_device_id_is_refused_by_name(tmp_path):
    env = write_env(tmp_path / "hub.env", hub_store=tmp_path / "hub.db")
    result = invoke("hub", "add-device", "--env", env, "Askrigg/Hall", "--name", "x")
    assert result.exit_code == 2
    assert "device id 'Askrigg/Hall' is not valid" in result.output


def test_a_hall_name_with_a_line_break_is_refused_and_nothing_registered(tmp_path):
    env = write_env(tmp_path / "hub.env", hub_store=tmp_path / "hub.db")
    result = invoke("hub", "add-device", "--env", env, "askrigg", "--name", "Askrigg\nHall")
    assert result.exit_code == 2
    assert "--name holds the character U+000A (line feed) at position 8" in result.output
    data = json.loads(invoke("hub", "status", "--env", env, "--json").output)
    assert data == []
    quoted = 'The "Old School" Hall #2 $HOME'
    assert invoke("hub", "add-device", "--env", env, "askrigg", "--name", quoted).exit_code == 0
    assert json.loads(invoke("hub", "status", "--env", env, "--json").output)[0]["name"] == quoted


def test_hub_settings_errors_are_named(tmp_path):
    env = tmp_path / "hub.env"
    env.write_text("HALLSENSE_BROKER_PORT=eighty\n")
    result = invoke("hub", "status", "--env", env)
    assert result.exit_code == 1
    assert "HALLSENSE_HUB_STORE: required, but not set" in result.output
    assert "HALLSENSE_BROKER_PORT: expected a whole number, got 'eighty'" in result.output
