"""Provisioning as the system tests do it: the CLI, and a node set up from its bundle."""

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hallsense.cli import cli
from provisioning.state import ProvisioningState, load_state


def provision(*args: object) -> str:
    result = CliRunner().invoke(cli, ["provision", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def node_env(bundle: Path, tmp_path: Path, device: str) -> Path:
    """The installer's steps: the bundle's settings with this machine's paths."""
    lines = (bundle / "edge.env").read_text().splitlines()
    moved = {
        "HALLSENSE_DATA_DIR": tmp_path / device,
        "HALLSENSE_BROKER_CA_FILE": bundle / "ca.crt",
    }
    kept = [line for line in lines if line.split("=", 1)[0] not in moved]
    env = tmp_path / f"{device}.env"
    env.write_text(
        "\n".join(
            [
                *kept,
                *(f"{k}={v}" for k, v in moved.items()),
                f"HALLSENSE_ENROL_TOKEN_FILE={bundle / 'hallsense-enrol.token'}",
                "HALLSENSE_DRIVERS=counter",
                "HALLSENSE_COUNTER_INTERVAL_S=0.02",
                f"HALLSENSE_COUNTER_TALLY_PATH={tmp_path / device / 'tally.txt'}",
                "HALLSENSE_COMMIT_INTERVAL_S=0.2",
                "HALLSENSE_CLOCK_CHECK=trust",
                "HALLSENSE_UPLINK_START_JITTER_S=0",
                "HALLSENSE_UPLINK_RESEND_S=3",
                "",
            ]
        )
    )
    return env


def start_provisioned_broker(
    tmp_path: Path, state_dir: Path, device_port: int, service_port: int, ws_port: int = 0
) -> tuple[ProvisioningState, Path, subprocess.Popen[bytes]]:
    """``provision init`` then Mosquitto on its configuration: (state, pid file, process).

    ``ws_port`` 0 makes no WebSockets listener (init's default of 443 would collide
    between tests running side by side).

    The caller waits for it to listen, and stops it, in its own ``try``/``finally``.
    """
    provision(
        "init", "--state-dir", state_dir, "--hostname", "localhost", "--ip", "127.0.0.1",
        "--port", device_port, "--service-port", service_port, "--broker-user", "root",
        "--ws-port", ws_port,
    )  # fmt: skip
    state = load_state(state_dir)
    conf = tmp_path / "mosquitto.conf"
    pid_file = tmp_path / "mosquitto.pid"
    conf.write_text(state.layout.conf_path.read_text() + f"pid_file {pid_file}\n")
    with (tmp_path / "mosquitto.log").open("wb") as log:  # the broker keeps its own copy
        broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
    return state, pid_file, broker


def provisioned_hub_env(
    tmp_path: Path,
    state: ProvisioningState,
    service_port: int,
    hub_store: object,
    **settings: object,
) -> Path:
    """The hub's settings file for a broker ``provision init`` configured: the hub's own
    account over TLS on the service port, and ``settings`` besides."""
    from provisioning.broker_config import HUB_ACCOUNT
    from tests.support.edge_process import write_env

    return write_env(
        tmp_path / "hub.env",
        hub_store=hub_store,
        broker_host="localhost",
        broker_port=service_port,
        broker_password_file=state.layout.account_password_path(HUB_ACCOUNT),
        broker_ca_file=state.layout.ca_cert,
        **settings,
    )


def start_hub_web(
    hub_env: Path, state_dir: Path, port: int, pid_file: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    """`hallsense hub web` over TLS on ``port``, logging to ``log_path``; listening on return.

    The caller terminates it in its own ``try``/``finally``.
    """
    from tests.support.ports import wait_listening

    with log_path.open("wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "hallsense", "hub", "web", "--env", str(hub_env),
             "--state-dir", str(state_dir), "--host", "127.0.0.1", "--port", str(port),
             "--broker-pid-file", str(pid_file)],
            stdout=log, stderr=log,
        )  # fmt: skip
    wait_listening(port, web, log_path)
    return web
