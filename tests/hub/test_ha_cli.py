"""`hallsense hub home-assistant` as systemd starts it: the unit's command is the CLI's, and
it runs against a real Mosquitto, names halls and sensors from the hub store, and stops on
SIGTERM within the unit's stop timeout."""

from __future__ import annotations

import configparser
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import click
from click.testing import CliRunner

from hallsense import cli_hub_ha
from hallsense.cli import cli
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.topics import topic
from provisioning.broker_config import HUB_ACCOUNT, READER_ACCOUNT
from tests.provisioning.test_state import ProvisionedBroker
from tests.support.edge_process import write_env

ROOT = Path(__file__).parents[2]
UNIT = ROOT / "deploy" / "hallsense-hub-ha.service"


def unit(section: str = "Service") -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    return parser[section]


def exec_start() -> list[str]:
    return shlex.split(unit()["ExecStart"])


def resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    """The command ``hallsense ARGS`` runs, and the arguments left for it."""
    command: click.Command = cli
    while isinstance(command, click.Group) and args and args[0] in command.commands:
        command, args = command.commands[args[0]], args[1:]
    return command, args


def test_the_unit_starts_the_cli_command_with_options_it_has():
    program, *args = exec_start()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert Path(program).name in scripts, f"{program} is not the project's console script"
    command, rest = resolve(args)
    assert command is cli_hub_ha.home_assistant, f"ExecStart runs {args}, not the bridge"
    command.make_context(command.name or "", list(rest))  # every option is the command's
    assert rest[:1] == ["--env"]
    # SQLite opens the hub store (for hall names and labels) only where it may write.
    assert "-/var/lib/hallsense-hub" in unit()["ReadWritePaths"].split()
    documentation = unit("Unit")["Documentation"]
    assert (ROOT / "docs" / Path(documentation).name).exists()


def wait_for(check, timeout: float, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(message())


def test_the_unit_command_bridges_names_halls_and_sensors_and_stops_on_sigterm(tmp_path):
    broker = ProvisionedBroker(tmp_path / "state")
    env = write_env(
        tmp_path / "hub.env",
        hub_store=tmp_path / "hub.db",
        broker_host="127.0.0.1",
        broker_port=broker.state.settings.service_port,
        broker_password=broker.passwords[HUB_ACCOUNT],
        broker_ca_file=broker.state.layout.ca_cert,
    )
    runner = CliRunner()
    for args in (
        ["hub", "add-device", "--env", env, "askrigg", "--name", "Askrigg Village Hall"],
        ["hub", "set-config", "askrigg", "--sensor-label", "scd-1=Main hall CO2", "--env", env],
    ):
        result = runner.invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    _, *args = exec_start()
    args[args.index("--env") + 1] = str(env)  # the unit's command, with this test's settings
    log_path = tmp_path / "bridge.log"
    inbox: queue.Queue = queue.Queue()
    home_assistant = broker.connected(READER_ACCOUNT, inbox=inbox)
    home_assistant.subscribe("homeassistant/#")
    device = broker.connected("askrigg")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
    with log_path.open("wb") as log:
        bridge = subprocess.Popen(
            [sys.executable, "-m", "hallsense", *args], stdout=log, stderr=log, env=clean
        )
    try:
        configs: dict[str, bytes] = {}
        where = "homeassistant/sensor/hallsense_askrigg/scd-1_co2/config"
        deadline = time.monotonic() + 20
        seq = 0
        while where not in configs:
            assert bridge.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            seq += 1  # readings are not retained: send until the bridge has subscribed
            now_us = time.time_ns() // 1000
            reading = WireReading(seq, "scd-1", "co2", "ppm", now_us, 612.0)
            device.publish(
                topic("askrigg", "readings"), encode_batch(Batch("askrigg", 1, (reading,)))
            ).wait(5)
            try:
                while True:
                    message = inbox.get(timeout=0.5)
                    configs[message.topic] = bytes(message.payload)
            except queue.Empty:
                pass
        config = json.loads(configs[where])
        assert config["device"]["name"] == "Askrigg Village Hall"
        assert config["name"] == "Main hall CO2: Carbon dioxide concentration"
        bridge.send_signal(signal.SIGTERM)
        stop_timeout = float(unit()["TimeoutStopSec"])
        assert bridge.wait(stop_timeout) == 0, log_path.read_text(errors="replace")
    finally:
        if bridge.poll() is None:
            bridge.kill()
            bridge.wait(5)
        broker.stop()
    assert "bridging to Home Assistant" in log_path.read_text(errors="replace")
