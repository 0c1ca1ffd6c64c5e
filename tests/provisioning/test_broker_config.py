from provisioning.broker_config import (
    HUB_ACCOUNT,
    BrokerConfig,
    acl_text,
    mosquitto_conf_text,
    write_broker_files,
)


def test_the_acl_confines_devices_to_their_own_topics():
    acl = acl_text()
    assert "pattern write hallsense/v1/%u/readings" in acl
    assert "pattern read hallsense/v1/%u/ack" in acl
    assert f"user {HUB_ACCOUNT}\ntopic read hallsense/v1/+/readings" in acl
    hub_part = acl.split(f"user {HUB_ACCOUNT}\n")[1].split("\nuser ")[0]
    assert "topic write hallsense/v1/+/status" in hub_part.splitlines()
    # Devices write status by pattern, so only under their own id.
    assert "pattern write hallsense/v1/%u/status" in acl
    assert "topic write hallsense/v1/+/status" not in acl.split(f"user {HUB_ACCOUNT}")[0]
    # Multi-level wildcards only for the service accounts' Home Assistant topics, never
    # in a pattern (which applies to every device).
    wild = [line for line in acl.splitlines() if "#" in line and not line.startswith("#")]
    assert wild == [
        "topic write homeassistant/#",
        "topic write hallsense/ha/v1/#",
        "topic read homeassistant/#",
        "topic read hallsense/ha/v1/#",
    ]


def test_no_anonymous_access_and_files_are_private(tmp_path):
    config = BrokerConfig(directory=tmp_path, port=18830)
    write_broker_files(config, {"askrigg": "$7$101$x$y"})
    conf = mosquitto_conf_text(config)
    assert "allow_anonymous false" in conf
    assert "listener 18830 127.0.0.1" in conf
    assert (config.password_path.stat().st_mode & 0o777) == 0o600
    assert config.password_path.read_text() == "askrigg:$7$101$x$y\n"
