"""Provisioning as the system tests do it: the CLI, and a node set up from its bundle."""

from click.testing import CliRunner

from hallsense.cli import cli


def provision(*args):
    result = CliRunner().invoke(cli, ["provision", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def node_env(bundle, tmp_path, device):
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
