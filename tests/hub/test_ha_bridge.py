"""The Home Assistant bridge against a real Mosquitto with the configuration `provision init`
writes: what a Home Assistant logged in as `_reader` sees, and what devices may not do."""

from __future__ import annotations

import json
import queue
import threading
import time

import jinja2
import pytest

from hub.ha_bridge import HomeAssistantBridge, discovery, run_bridge, state_topic
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.mqtt import MqttClient, PublishRefused
from hub_sync.node_status import encode_status
from hub_sync.topics import topic
from presentation.reading_flags import Quality
from provisioning.broker_config import HUB_ACCOUNT, READER_ACCOUNT
from tests.provisioning.test_state import ProvisionedBroker

NOW_US = time.time_ns() // 1000
TEMPLATES = jinja2.Environment(autoescape=False)  # noqa: S701 (JSON and plain text, no HTML)


def home_assistant_sees(config: dict, payload: bytes):
    """(state, attributes) as Home Assistant's MQTT sensor makes them of a state message.

    Its value and attribute templates get the payload as ``value`` and, parsed, as
    ``value_json``; a template rendering "None" makes the state unknown (None here), and
    a binary sensor's state is on or off when it renders ``payload_on`` or ``payload_off``.
    """
    variables = {"value": payload.decode(), "value_json": json.loads(payload)}
    state = TEMPLATES.from_string(config["value_template"]).render(variables)
    attributes = json.loads(
        TEMPLATES.from_string(config["json_attributes_template"]).render(variables)
    )
    assert config["json_attributes_topic"] == config["state_topic"]
    if state == "None":
        return None, attributes
    if "payload_on" in config:
        assert state in (config["payload_on"], config["payload_off"])
        return state == config["payload_on"], attributes
    return state, attributes


def configs(device_id, site, sensor_id, metric, unit, label=None):
    return dict(discovery(device_id, site, sensor_id, metric, unit, label))


def test_discovery_says_what_home_assistant_needs():
    found = configs("askrigg", "Askrigg Village Hall", "scd-1", "co2", "ppm")
    config = json.loads(found["homeassistant/sensor/hallsense_askrigg/scd-1_co2/config"])
    assert len(found) == 1
    assert config["device_class"] == "carbon_dioxide"
    assert config["state_class"] == "measurement"
    assert config["unit_of_measurement"] == "ppm"
    assert config["unique_id"] == "hallsense_askrigg_scd-1_co2"
    assert config["name"] == "scd-1: Carbon dioxide concentration"
    assert config["device"]["name"] == "Askrigg Village Hall"
    assert config["state_topic"] == "hallsense/ha/v1/askrigg/scd-1/co2"
    assert config["availability_topic"] == "hallsense/ha/v1/askrigg/availability"
    (noise,) = configs("a", "A", "mic", "noise", "dB(A)").values()
    noise = json.loads(noise)
    assert (noise["device_class"], noise["unit_of_measurement"]) == ("sound_pressure", "dBA")
    (people,) = configs("a", "A", "door", "footfall", "count").values()
    people = json.loads(people)
    assert "device_class" not in people
    assert "unit_of_measurement" not in people
    (cpu,) = configs("a", "A", "pi", "cpu_temperature", "°C").values()
    assert json.loads(cpu)["entity_category"] == "diagnostic"


def test_humidity_is_a_humidity_sensor_named_from_the_vocabulary_and_the_label():
    found = configs("askrigg", "Askrigg Village Hall", "bme", "relative_humidity", "%")
    config = json.loads(
        found["homeassistant/sensor/hallsense_askrigg/bme_relative_humidity/config"]
    )
    assert (config["device_class"], config["unit_of_measurement"]) == ("humidity", "%")
    assert config["state_class"] == "measurement"
    assert config["name"] == "bme: Relative humidity"
    labelled = configs("askrigg", "A", "bme", "relative_humidity", "%", "Main hall")
    assert json.loads(next(iter(labelled.values())))["name"] == "Main hall: Relative humidity"


def test_occupancy_is_a_binary_sensor_that_is_on_or_off():
    found = configs("askrigg", "Askrigg Village Hall", "pir", "occupancy", "bool")
    config = json.loads(found["homeassistant/binary_sensor/hallsense_askrigg/pir_occupancy/config"])
    assert config["device_class"] == "occupancy"
    assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
    assert "unit_of_measurement" not in config
    assert "state_class" not in config
    assert config["name"] == "pir: Occupancy"
    # What an earlier version announced as a numeric sensor is removed (an empty config).
    assert found["homeassistant/sensor/hallsense_askrigg/pir_occupancy/config"] == b""
    (throttled,) = (
        json.loads(p) for p in configs("a", "A", "pi", "throttled", "bool").values() if p
    )
    assert (throttled["device_class"], throttled["entity_category"]) == ("problem", "diagnostic")


def test_a_people_estimate_has_a_number_and_a_text_sensor_that_can_say_fewer_than_3():
    found = configs("askrigg", "A", "ble-footfall", "people_estimate", "count")
    number = json.loads(
        found["homeassistant/sensor/hallsense_askrigg/ble-footfall_people_estimate/config"]
    )
    words = json.loads(
        found["homeassistant/sensor/hallsense_askrigg/ble-footfall_people_estimate_words/config"]
    )
    assert number["state_class"] == "measurement"
    assert number["name"] == "ble-footfall: Estimated people present"
    assert words["name"] == "ble-footfall: Estimated people present (in words)"
    assert words["state_topic"] == number["state_topic"]
    for key in ("unit_of_measurement", "state_class", "device_class"):
        assert key not in words  # a text sensor: Home Assistant accepts any text
    assert words["unique_id"] != number["unique_id"]


def test_a_backlog_never_moves_a_state_back_and_bad_values_are_unknown_not_dropped():
    sent = []
    bridge = HomeAssistantBridge(lambda where, payload: sent.append((where, payload)))
    live = Batch(
        "askrigg",
        1,
        (
            WireReading(10, "bme", "temperature", "°C", NOW_US, 21.5),
            WireReading(11, "bme", "temperature", "°C", NOW_US + 1, 185.0, Quality.OUT_OF_RANGE),
        ),
    )
    old = Batch("askrigg", 1, (WireReading(1, "bme", "temperature", "°C", NOW_US - 10**9, 5.0),))
    assert bridge.handle(topic("askrigg", "readings"), encode_batch(live)) == 1
    assert bridge.handle(topic("askrigg", "readings"), encode_batch(old)) == 0
    states = [json.loads(p) for w, p in sent if w == state_topic("askrigg", "bme", "temperature")]
    assert len(states) == 1
    assert states[0]["state"] is None  # unknown in Home Assistant, never 185 °C
    assert states[0]["attributes"]["quality"] == ["out_of_range"]
    assert states[0]["attributes"]["reported"] == 185.0
    good = Batch("askrigg", 1, (WireReading(12, "bme", "temperature", "°C", NOW_US + 2, 21.5),))
    assert bridge.handle(topic("askrigg", "readings"), encode_batch(good)) == 1
    assert json.loads(sent[-1][1])["state"] == 21.5
    assert bridge.handle("hallsense/v1/askrigg/readings", b"not a batch") == 0  # never raises


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    running = ProvisionedBroker(tmp_path_factory.mktemp("ha") / "state")
    yield running
    running.stop()


def test_home_assistant_sees_each_hall_and_its_states_through_the_reader_account(broker):
    stop = threading.Event()

    def client(**kwargs):
        return MqttClient(broker.settings(HUB_ACCOUNT), client_id="_hub-ha-test", **kwargs)

    def label_of(device_id, sensor_id):
        return {("askrigg", "scd-1"): "Main hall CO2"}.get((device_id, sensor_id))

    bridge = threading.Thread(
        target=run_bridge,
        args=(client, lambda d: "Askrigg Village Hall", stop, label_of),
        daemon=True,
    )
    bridge.start()
    inbox: queue.Queue = queue.Queue()
    home_assistant = broker.connected(READER_ACCOUNT, inbox=inbox)
    home_assistant.subscribe("homeassistant/#")
    home_assistant.subscribe("hallsense/ha/v1/#")
    device = broker.connected("askrigg")
    try:
        time.sleep(0.5)  # the bridge's subscription is in place
        unsynced = Quality.CLOCK_UNSYNCED
        readings = (
            WireReading(1, "scd-1", "co2", "ppm", NOW_US, 612.0),
            WireReading(2, "bme", "relative_humidity", "%", NOW_US, 48.0, unsynced),
            WireReading(3, "pir", "occupancy", "bool", NOW_US, 1.0),
            WireReading(4, "ble", "people_estimate", "count", NOW_US, 3.0, Quality.CENSORED, "<"),
        )
        batch = encode_batch(Batch("askrigg", 1, readings))
        device.publish(topic("askrigg", "readings"), batch).wait(5)
        device.publish(topic("askrigg", "status"), encode_status("online")).wait(5)
        prefix, node = "homeassistant/sensor/hallsense_askrigg", "hallsense/ha/v1/askrigg"
        expected = {
            f"{prefix}/scd-1_co2/config",
            f"{prefix}/bme_relative_humidity/config",
            "homeassistant/binary_sensor/hallsense_askrigg/pir_occupancy/config",
            f"{prefix}/ble_people_estimate/config",
            f"{prefix}/ble_people_estimate_words/config",
            f"{node}/scd-1/co2",
            f"{node}/bme/relative_humidity",
            f"{node}/pir/occupancy",
            f"{node}/ble/people_estimate",
            f"{node}/availability",
        }
        got = {}
        deadline = time.monotonic() + 10
        while not expected <= set(got) and time.monotonic() < deadline:
            try:
                message = inbox.get(timeout=1)
            except queue.Empty:
                continue
            got[message.topic] = bytes(message.payload)
        assert expected <= set(got), expected - set(got)

        def entity(config_topic):
            config = json.loads(got[config_topic])
            return config, home_assistant_sees(config, got[config["state_topic"]])

        config, (state, attributes) = entity(f"{prefix}/scd-1_co2/config")
        assert config["device"]["name"] == "Askrigg Village Hall"
        assert config["name"] == "Main hall CO2: Carbon dioxide concentration"
        assert (state, attributes["quality"]) == ("612.0", [])
        assert got["hallsense/ha/v1/askrigg/availability"] == b"online"
        # A node whose clock is not yet synchronised shows its values, and says so.
        config, (state, attributes) = entity(f"{prefix}/bme_relative_humidity/config")
        assert (config["device_class"], state) == ("humidity", "48.0")
        assert attributes["quality"] == ["clock_unsynced"]
        config, (state, _) = entity(
            "homeassistant/binary_sensor/hallsense_askrigg/pir_occupancy/config"
        )
        assert state is True
        # A censored count: the number is unknown, the text sensor reads "fewer than 3".
        _, (state, attributes) = entity(f"{prefix}/ble_people_estimate/config")
        assert state is None
        assert (attributes["censor"], attributes["bound"]) == ("<", 3.0)
        _, (state, _) = entity(f"{prefix}/ble_people_estimate_words/config")
        assert state == "fewer than 3"
        # A device may not pose as the bridge, nor may Home Assistant's read-only account.
        for client_ in (device, home_assistant):
            with pytest.raises(PublishRefused):
                client_.publish("homeassistant/sensor/x/y/config", b"{}").wait(5)
            with pytest.raises(PublishRefused):
                client_.publish("hallsense/ha/v1/askrigg/scd-1/co2", b"0").wait(5)
    finally:
        stop.set()
        bridge.join(10)
        broker.close_clients()
