"""The .env loader: every bad or missing key reported by name in one error."""

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge.settings import EdgeSettings
from hallsense.settings import SettingsError, describe_fields, load_settings
from hub.settings import HubSettings


def load(tmp_path, text, environ=None):
    env = tmp_path / "edge.env"
    env.write_text(text, encoding="utf-8")
    return load_settings(EdgeSettings, env, environ=environ or {})


def test_a_good_file_gives_typed_settings(tmp_path):
    settings = load(
        tmp_path,
        "HALLSENSE_DATA_DIR=/var/lib/hallsense\n"
        "HALLSENSE_DRIVERS=gpio, system\n"
        "HALLSENSE_GPIO_PIR_PIN=17\n"
        "HALLSENSE_GPIO_BEAM_PAIR_PINS=5,6\n"
        "HALLSENSE_COMMIT_INTERVAL_S=1.5\n"
        "# a comment\n"
        'export HALLSENSE_HALL_NAME="Askrigg Village Hall"\n',
    )
    assert settings.data_dir == Path("/var/lib/hallsense")
    assert settings.drivers == ("gpio", "system")
    assert settings.driver_settings["gpio"].pir_pin == 17
    assert settings.driver_settings["gpio"].beam_pin is None
    assert settings.driver_settings["gpio"].beam_pair_pins == (5, 6)
    assert settings.commit_interval_s == 1.5
    assert settings.hall_name == "Askrigg Village Hall"
    assert settings.db_path == Path("/var/lib/hallsense/hallsense.db")


def test_every_problem_is_reported_at_once_by_key(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load(
            tmp_path,
            "HALLSENSE_COMMIT_INTERVAL_S=often\n"
            "HALLSENSE_GPIO_PIR_PIN=forty\n"
            "HALLSENSE_CLOCK_CHECK=sundial\n"
            "HALLSENSE_COMMIT_MAX_READINGS=0\n"
            "HALLSENSE_FLUSH_EVERY=3\n",
        )
    assert caught.value.problems == [
        "HALLSENSE_FLUSH_EVERY: not a known setting (see docs/configuration.md)",
        "HALLSENSE_DATA_DIR: required, but not set",
        "HALLSENSE_COMMIT_INTERVAL_S: expected a number of seconds, got 'often'",
        "HALLSENSE_COMMIT_MAX_READINGS: must be at least 1 readings, got 0",
        "HALLSENSE_CLOCK_CHECK: expected one of auto, adjtimex, timesyncd, trust, hub, got "
        "'sundial'",
        "HALLSENSE_GPIO_PIR_PIN: expected a whole number, got 'forty'",
    ]


def test_an_unparseable_line_is_an_error_naming_the_line(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, "HALLSENSE_DATA_DIR=/tmp/n\nHALLSENSE_HALL_NAME='unclosed\n")
    assert caught.value.problems == [
        'line 2: cannot be read as KEY=value: "HALLSENSE_HALL_NAME=\'unclosed"'
    ]


def test_cross_field_problems_are_named(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load(
            tmp_path,
            "HALLSENSE_DATA_DIR=/tmp/n\nHALLSENSE_DRIVERS=gpio,bogus\n"
            "HALLSENSE_TIMEZONE=Europe/Askrigg\n",
        )
    assert caught.value.problems == [
        "HALLSENSE_TIMEZONE: unknown time zone 'Europe/Askrigg' (e.g. Europe/London)",
        "HALLSENSE_DRIVERS: unknown driver 'bogus'; known drivers: ble, bme280, bme680, counter, "
        "faulty, gpio, noise, pms5003, scd4x, sds011, simulated, system",
        "HALLSENSE_DRIVERS: the gpio driver needs at least one of HALLSENSE_GPIO_PIR_PIN, "
        "HALLSENSE_GPIO_BEAM_PIN, HALLSENSE_GPIO_BEAM_PAIR_PINS",
    ]


def test_the_environment_overrides_the_file_for_its_own_keys_only(tmp_path):
    settings = load(
        tmp_path,
        "HALLSENSE_DATA_DIR=/from/file\nHALLSENSE_SIMULATED_SEED=3\n",
        environ={"HALLSENSE_DATA_DIR": "/from/env", "HALLSENSE_TEST_PG_DSN": "x"},
    )
    assert settings.data_dir == Path("/from/env")
    assert settings.driver_settings["simulated"].seed == 3


def test_the_example_simulated_file_runs_with_only_the_data_dir_set(tmp_path):
    example = Path(__file__).parents[2] / "examples" / "edge-simulated.env"
    settings = load_settings(EdgeSettings, example, environ={"HALLSENSE_DATA_DIR": str(tmp_path)})
    assert settings.drivers == ("simulated", "system")
    with pytest.raises(SettingsError, match="HALLSENSE_DATA_DIR: required, but not set"):
        load_settings(EdgeSettings, example, environ={})


def test_the_example_pi_file_is_valid():
    example = Path(__file__).parents[2] / "examples" / "edge-pi-gpio.env"
    settings = load_settings(EdgeSettings, example, environ={})
    assert settings.driver_settings["gpio"].pir_pin == 17


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(EdgeSettings, tmp_path / "nope.env", environ={})
    assert caught.value.problems == [f"{tmp_path / 'nope.env'}: no such settings file"]


def test_every_field_is_described():
    for key, _default, _unit, help_text in describe_fields(EdgeSettings):
        assert key.startswith("HALLSENSE_")
        assert help_text, key


def test_loader_never_touches_the_process_environment(tmp_path):
    before = dict(os.environ)
    load(tmp_path, "HALLSENSE_DATA_DIR=/tmp/n\n")
    assert dict(os.environ) == before


@dataclass(frozen=True)
class WithSecret:
    token: str = field(metadata={"help": "a secret", "secret": True})


def test_a_secret_can_come_from_a_file_readable_by_its_owner_only(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    got = load_settings(WithSecret, None, environ={"HALLSENSE_TOKEN_FILE": str(secret)})
    assert got.token == "s3cret"  # noqa: S105 - a test value
    secret.chmod(0o644)
    with pytest.raises(SettingsError) as caught:
        load_settings(WithSecret, None, environ={"HALLSENSE_TOKEN_FILE": str(secret)})
    assert caught.value.problems == [
        f"HALLSENSE_TOKEN: the secret file {secret} must be readable by its owner only "
        "(chmod 600), it has mode 0644"
    ]
    assert "s3cret" not in str(caught.value)


def test_a_broken_line_is_reported_once_and_not_by_dotenv_too(tmp_path, capfd):
    with pytest.raises(SettingsError):
        load(tmp_path, "HALLSENSE_DATA_DIR=/tmp/n\nnot a setting\n")
    assert "python-dotenv could not parse" not in capfd.readouterr().err


def test_ble_bind_keys_come_from_a_private_file_and_never_show_in_the_settings_repr(tmp_path):
    keys = tmp_path / "ble.keys"
    secret = "231d39c1d7cc1ab1aee224cd096db932"  # noqa: S105 - BTHome's published example key
    keys.write_text(f"54:48:E6:8F:80:A5={secret}\n")
    keys.chmod(0o600)
    got = load_settings(
        EdgeSettings,
        None,
        environ={
            "HALLSENSE_DATA_DIR": str(tmp_path),
            "HALLSENSE_DRIVERS": "ble",
            "HALLSENSE_BLE_SENSORS": "54:48:E6:8F:80:A5=kitchen",
            "HALLSENSE_BLE_BIND_KEYS_FILE": str(keys),
        },
    )
    assert got.driver_settings["ble"].bind_keys == f"54:48:E6:8F:80:A5={secret}"
    assert secret not in repr(got)


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({"HALLSENSE_DRIVERS": "ble"}, "needs HALLSENSE_BLE_SENSORS or HALLSENSE_BLE_FOOTFALL"),
        (
            {
                "HALLSENSE_DRIVERS": "ble",
                "HALLSENSE_BLE_FOOTFALL": "yes",
                "HALLSENSE_BLE_SCAN_MODE": "passive",
            },
            "footfall needs active scanning",
        ),
        ({"HALLSENSE_BLE_FOOTFALL_KEY_ROTATION_S": "172800"}, "at most 86400 seconds"),
        ({"HALLSENSE_BLE_FOOTFALL_RSSI_DBM": "loud"}, "HALLSENSE_BLE_FOOTFALL_RSSI_DBM"),
    ],
)
def test_bad_ble_settings_are_named(tmp_path, environ, words):
    with pytest.raises(SettingsError) as caught:
        load_settings(EdgeSettings, None, environ={"HALLSENSE_DATA_DIR": str(tmp_path), **environ})
    assert words in str(caught.value)


def test_the_example_ble_file_is_valid_and_its_sensors_parse():
    from sensors.ble import parse_sensors

    example = Path(__file__).parents[2] / "examples" / "edge-pi-ble.env"
    settings = load_settings(EdgeSettings, example, environ={})
    assert settings.drivers == ("ble", "system")
    assert not settings.driver_settings["ble"].footfall
    ids = [s.sensor_id for s in parse_sensors(settings.driver_settings["ble"].sensors)]
    assert ids == ["ble-kitchen", "ble-stage", "ble-main-hall"]


def test_the_example_wired_file_is_valid_and_reads_its_address_in_hex():
    example = Path(__file__).parents[2] / "examples" / "edge-pi-wired.env"
    settings = load_settings(EdgeSettings, example, environ={})
    assert settings.drivers == ("bme280", "scd4x", "sds011", "noise", "system")
    assert settings.driver_settings["bme280"].address == 0x76
    assert settings.driver_settings["scd4x"].altitude_m == 200


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("HALLSENSE_QUOTA_SERIES=1", None),
        ("HALLSENSE_QUOTA_SERIES=0", "HALLSENSE_QUOTA_SERIES: must be at least 1 series, got 0"),
        ("HALLSENSE_QUOTA_SERIES=100000", None),
        (
            "HALLSENSE_QUOTA_SERIES=100001",
            "HALLSENSE_QUOTA_SERIES: must be at most 100000 series, got 100001",
        ),
        ("HALLSENSE_QUOTA_MESSAGES_PER_MINUTE=0", None),
        (
            "HALLSENSE_QUOTA_MESSAGES_PER_MINUTE=-1",
            "HALLSENSE_QUOTA_MESSAGES_PER_MINUTE: must be at least 0 messages, got -1",
        ),
        ("HALLSENSE_QUOTA_BYTES_PER_MINUTE=0", None),
        (
            "HALLSENSE_QUOTA_BYTES_PER_MINUTE=-1",
            "HALLSENSE_QUOTA_BYTES_PER_MINUTE: must be at least 0 bytes, got -1",
        ),
        ("HALLSENSE_QUOTA_READINGS_PER_MINUTE=0", None),
        (
            "HALLSENSE_QUOTA_READINGS_PER_MINUTE=-1",
            "HALLSENSE_QUOTA_READINGS_PER_MINUTE: must be at least 0 readings, got -1",
        ),
    ],
)
def test_hub_quotas_at_their_limits_and_one_past(tmp_path, line, problem):
    env = tmp_path / "hub.env"
    env.write_text(f"HALLSENSE_HUB_STORE={tmp_path / 'hub.db'}\n{line}\n", encoding="utf-8")
    if problem is None:
        load_settings(HubSettings, env, environ={})
        return
    with pytest.raises(SettingsError) as caught:
        load_settings(HubSettings, env, environ={})
    assert caught.value.problems == [problem]


HUB = "HALLSENSE_BROKER_CA_FILE=/etc/hallsense/ca.crt\nHALLSENSE_CLOCK_HUB_URL=https://hub.example"


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (f"{HUB}\nHALLSENSE_CLOCK_HUB_MAX_ERROR_S=60", None),
        (
            f"{HUB}\nHALLSENSE_CLOCK_HUB_MAX_ERROR_S=60.001",
            "HALLSENSE_CLOCK_HUB_MAX_ERROR_S: must be at most 60 seconds, got 60.001",
        ),
        (f"{HUB}\nHALLSENSE_CLOCK_HUB_MAX_ERROR_S=0.001", None),
        (
            f"{HUB}\nHALLSENSE_CLOCK_HUB_MAX_ERROR_S=0",
            "HALLSENSE_CLOCK_HUB_MAX_ERROR_S: must be more than 0 seconds, got 0",
        ),
        (f"{HUB}\nHALLSENSE_CLOCK_HUB_EVERY_S=60", None),
        (
            f"{HUB}\nHALLSENSE_CLOCK_HUB_EVERY_S=59",
            "HALLSENSE_CLOCK_HUB_EVERY_S: must be at least 60 seconds, got 59",
        ),
        (f"{HUB}\nHALLSENSE_CLOCK_HUB_EVERY_S=86400", None),
        (
            f"{HUB}\nHALLSENSE_CLOCK_HUB_EVERY_S=86401",
            "HALLSENSE_CLOCK_HUB_EVERY_S: must be at most 86400 seconds, got 86401",
        ),
        (f"{HUB}\nHALLSENSE_CLOCK_CHECK=hub", None),
        ("HALLSENSE_CLOCK_HUB_URL=off\nHALLSENSE_CLOCK_CHECK=adjtimex", None),
        (
            "HALLSENSE_CLOCK_HUB_URL=off\nHALLSENSE_CLOCK_CHECK=hub",
            "HALLSENSE_CLOCK_CHECK: hub needs the hub's address: HALLSENSE_CLOCK_HUB_URL or "
            "HALLSENSE_ENROL_URL",
        ),
        (
            "HALLSENSE_CLOCK_CHECK=sundial",
            "HALLSENSE_CLOCK_CHECK: expected one of auto, adjtimex, timesyncd, trust, hub, "
            "got 'sundial'",
        ),
        (
            "HALLSENSE_BROKER_CA_FILE=/etc/hallsense/ca.crt\nHALLSENSE_CLOCK_HUB_URL=http://hub",
            "HALLSENSE_CLOCK_HUB_URL: must be an https:// address (or off): the time is over TLS",
        ),
        (
            "HALLSENSE_CLOCK_HUB_URL=https://hub.example",
            "HALLSENSE_BROKER_CA_FILE: required with HALLSENSE_CLOCK_HUB_URL: it pins the hub",
        ),
    ],
)
def test_clock_hub_settings_at_their_limits_and_one_past(tmp_path, lines, problem):
    if problem is None:
        load(tmp_path, f"HALLSENSE_DATA_DIR={tmp_path}\n{lines}\n")
        return
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, f"HALLSENSE_DATA_DIR={tmp_path}\n{lines}\n")
    assert caught.value.problems == [problem]


def test_the_hubs_time_comes_from_the_enrolment_address_unless_set_or_off(tmp_path):
    enrol = "HALLSENSE_BROKER_CA_FILE=/ca.crt\nHALLSENSE_ENROL_URL=https://hub.example:8443"
    base = f"HALLSENSE_DATA_DIR={tmp_path}\n{enrol}\n"
    assert load(tmp_path, base).clock_hub_address == "https://hub.example:8443"
    own = load(tmp_path, base + "HALLSENSE_CLOCK_HUB_URL=https://time.example\n")
    assert own.clock_hub_address == "https://time.example"
    assert load(tmp_path, base + "HALLSENSE_CLOCK_HUB_URL=off\n").clock_hub_address == ""
    assert load(tmp_path, f"HALLSENSE_DATA_DIR={tmp_path}\n").clock_hub_address == ""


def test_a_key_several_drivers_share_is_reported_once(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(
            EdgeSettings,
            None,
            environ={"HALLSENSE_DATA_DIR": str(tmp_path), "HALLSENSE_I2C_BUS": "-1"},
        )
    assert caught.value.problems == ["HALLSENSE_I2C_BUS: must be at least 0 bus, got -1"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("HALLSENSE_BROKER_TRANSPORT=websockets", None),
        (
            "HALLSENSE_BROKER_TRANSPORT=wss",
            "HALLSENSE_BROKER_TRANSPORT: expected one of auto, tls, websockets, got 'wss'",
        ),
        ("HALLSENSE_BROKER_WS_PORT=1", None),
        ("HALLSENSE_BROKER_WS_PORT=0", "HALLSENSE_BROKER_WS_PORT: must be at least 1 port, got 0"),
        ("HALLSENSE_BROKER_WS_PORT=65535", None),
        (
            "HALLSENSE_BROKER_WS_PORT=65536",
            "HALLSENSE_BROKER_WS_PORT: must be at most 65535 port, got 65536",
        ),
        ("HALLSENSE_BROKER_WS_PATH=/", None),
        (
            "HALLSENSE_BROKER_WS_PATH=mqtt",
            "HALLSENSE_BROKER_WS_PATH: must start with / (e.g. /mqtt)",
        ),
        ("HALLSENSE_PROXY_URL=http://hall:s3cret@proxy.council.example:65535", None),
        (
            "HALLSENSE_PROXY_URL=http://hall:s3cret@proxy.council.example:65536",
            "HALLSENSE_PROXY_URL: its port is not a number from 1 to 65535",
        ),
        (
            "HALLSENSE_PROXY_URL=http://hall:s3cret@proxy.council.example:0",
            "HALLSENSE_PROXY_URL: must name the proxy's host and a port from 1 to 65535, "
            "http://host:port",
        ),
        (
            "HALLSENSE_PROXY_URL=socks5://hall:s3cret@proxy:1080",
            "HALLSENSE_PROXY_URL: must be an http://[user:password@]host:port address "
            "(an HTTP proxy)",
        ),
    ],
)
def test_transport_settings_at_their_limits_and_one_past(tmp_path, line, problem):
    if problem is None:
        settings = load(tmp_path, f"HALLSENSE_DATA_DIR={tmp_path}\n{line}\n")
        assert "s3cret" not in repr(settings)
        return
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, f"HALLSENSE_DATA_DIR={tmp_path}\n{line}\n")
    assert caught.value.problems == [problem]
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("HALLSENSE_LINK_PROFILE=satellite", None),
        (
            "HALLSENSE_LINK_PROFILE=dialup",
            "HALLSENSE_LINK_PROFILE: expected one of live, metered, satellite, got 'dialup'",
        ),
        ("HALLSENSE_UPLINK_BATCH_WINDOW_S=0", None),
        ("HALLSENSE_UPLINK_BATCH_WINDOW_S=86400", None),
        (
            "HALLSENSE_UPLINK_BATCH_WINDOW_S=86401",
            "HALLSENSE_UPLINK_BATCH_WINDOW_S: must be at most 86400 seconds, got 86401",
        ),
        (
            "HALLSENSE_UPLINK_BATCH_WINDOW_S=-1",
            "HALLSENSE_UPLINK_BATCH_WINDOW_S: must be at least 0 seconds, got -1",
        ),
        ("HALLSENSE_UPLINK_KEEPALIVE_S=5", None),
        (
            "HALLSENSE_UPLINK_KEEPALIVE_S=4",
            "HALLSENSE_UPLINK_KEEPALIVE_S: must be at least 5 seconds, got 4",
        ),
        ("HALLSENSE_UPLINK_KEEPALIVE_S=65535", None),
        (
            "HALLSENSE_UPLINK_KEEPALIVE_S=65536",
            "HALLSENSE_UPLINK_KEEPALIVE_S: must be at most 65535 seconds, got 65536",
        ),
        ("HALLSENSE_UPLINK_HEARTBEAT_S=0.5", None),
        (
            "HALLSENSE_UPLINK_HEARTBEAT_S=0",
            "HALLSENSE_UPLINK_HEARTBEAT_S: must be more than 0 seconds, got 0",
        ),
    ],
)
def test_link_profile_settings_at_their_limits_and_one_past(tmp_path, line, problem):
    if problem is None:
        load(tmp_path, f"HALLSENSE_DATA_DIR={tmp_path}\n{line}\n")
        return
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, f"HALLSENSE_DATA_DIR={tmp_path}\n{line}\n")
    assert caught.value.problems == [problem]
