"""The BLE driver, fed recorded adverts through the callback bleak calls."""

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from presentation.reading_flags import Quality
from sensors import ble_atc, ble_bthome, ble_ruuvi
from sensors.ble import REBOOT_GRACE_S, parse_bind_keys, parse_sensors
from sensors.ble_frames import (
    ADDRESS_MISMATCH,
    BAD_MIC,
    NOT_ENCRYPTED,
    REPLAYED,
    TRUNCATED,
    UNSUPPORTED,
)
from sensors.driver import DriverConfigError
from sensors.validation import Validator
from tests.sensors.test_ble_formats import (
    ATC1441,
    ATC_MAC,
    PORCH_MAC,
    PORCH_WITH_MAC,
    PVVX,
    RUUVI_MAC,
    RUUVI_VALID,
    SPEC_ENCRYPTED,
    SPEC_ENCRYPTED_WITH_MAC,
    SPEC_KEY,
    SPEC_MAC,
    SPEC_MAC_REVERSED,
    seal,
)
from tests.support.ble import advert, ble_driver

KITCHEN = f"{SPEC_MAC}=kitchen"
KEYS = f"{SPEC_MAC}={SPEC_KEY.hex()}"
ALL_SENSORS = f"{KITCHEN};{RUUVI_MAC}=stage;{ATC_MAC}=main hall"


def bthome(payload, address=SPEC_MAC, **kw):
    return advert(address, service_data={ble_bthome.SERVICE_UUID: payload}, **kw)


def ruuvi(data, address=RUUVI_MAC):
    return advert(address, manufacturer_data={ble_ruuvi.COMPANY_ID: data})


def atc(data, address=ATC_MAC, **kw):
    return advert(address, service_data={ble_atc.SERVICE_UUID: data}, **kw)


def by_series(readings):
    return {(r.sensor_id, r.metric): r.value for r in readings}


def test_encrypted_bthome_through_the_callback_gives_the_examples_values():
    with ble_driver(sensors=KITCHEN, bind_keys=KEYS) as (driver, scanners, _):
        assert scanners.send(*bthome(SPEC_ENCRYPTED))
        readings = driver.read()
    assert by_series(readings) == {
        ("ble-kitchen", "temperature"): 25.06,
        ("ble-kitchen", "relative_humidity"): 50.55,
    }
    assert {(i.sensor_id, i.metric, i.resolution) for i in driver.sensors()} == {
        ("ble-kitchen", "temperature", 0.01),
        ("ble-kitchen", "relative_humidity", 0.01),
    }


def test_a_wrong_bind_key_is_rejected_and_counted_and_nothing_is_read(caplog):
    with ble_driver(sensors=KITCHEN, bind_keys=f"{SPEC_MAC}={'00' * 16}") as (driver, scanners, _):
        scanners.send(*bthome(SPEC_ENCRYPTED))
        scanners.send(*bthome(SPEC_ENCRYPTED))
        with caplog.at_level(logging.WARNING, logger="sensors.ble"):
            assert driver.read() == []
            assert driver.read() == []
    assert driver.rejected == {("ble-kitchen", BAD_MIC): 2}
    [message] = [r.getMessage() for r in caplog.records]  # once, not at every read
    assert "ble-kitchen" in message
    assert "wrong bind key" in message


def test_a_sensor_with_a_bind_key_refuses_plain_frames_in_its_name():
    with ble_driver(sensors=KITCHEN, bind_keys=KEYS) as (driver, scanners, _):
        scanners.send(*bthome(bytes.fromhex("4002CA09")))
        scanners.send(*ruuvi(RUUVI_VALID, address=SPEC_MAC))
        assert driver.read() == []
    assert driver.rejected == {("ble-kitchen", NOT_ENCRYPTED): 1, ("ble-kitchen", UNSUPPORTED): 1}


def test_the_same_encrypted_packet_twice_counts_once_and_an_older_counter_is_a_replay():
    newer = SPEC_ENCRYPTED  # counter 0x33221100
    with ble_driver(sensors=KITCHEN, bind_keys=KEYS) as (driver, scanners, clock):
        scanners.send(*bthome(newer))
        scanners.send(*bthome(newer))
        assert len(driver.read()) == 2
        assert driver.duplicates == 1
        older = _encrypt_example(counter=bytes.fromhex("00112232"))
        scanners.send(*bthome(older))
        assert driver.read() == []
        assert driver.rejected[("ble-kitchen", REPLAYED)] == 1
        # A sensor silent for longer than a reboot takes starts counting again: accepted.
        clock.advance(REBOOT_GRACE_S + 1)
        scanners.send(*bthome(older))
        assert len(driver.read()) == 2


def _encrypt_example(counter):
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM

    nonce = bytes.fromhex("5448E68F80A5") + b"\xd2\xfc" + b"\x41" + counter
    sealed = AESCCM(SPEC_KEY, tag_length=4).encrypt(nonce, bytes.fromhex("02CA0903BF13"), None)
    return b"\x41" + sealed[:-4] + counter + sealed[-4:]


def test_bthome_with_the_mac_included_through_the_callback_plain_and_encrypted():
    with ble_driver(sensors=f"{KITCHEN};{PORCH_MAC}=porch", bind_keys=KEYS) as (d, s, _):
        assert s.send(*bthome(SPEC_ENCRYPTED_WITH_MAC))
        assert s.send(*bthome(PORCH_WITH_MAC, address=PORCH_MAC))
        readings = by_series(d.read())
    assert readings == {
        ("ble-kitchen", "temperature"): 25.06,
        ("ble-kitchen", "relative_humidity"): 50.55,
        ("ble-porch", "pressure"): 1008.83,  # not -294.31 °C made from the MAC
    }
    assert not d.rejected


def test_a_bthome_frame_naming_another_sensors_mac_is_refused_and_counted():
    with ble_driver(sensors=f"{KITCHEN};{PORCH_MAC}=porch", bind_keys=KEYS) as (d, s, _):
        # The kitchen's encrypted frame, repeated by the porch sensor's address.
        s.send(*bthome(SPEC_ENCRYPTED_WITH_MAC, address=PORCH_MAC))
        # A plain frame from the porch that claims to be the kitchen.
        s.send(*bthome(bytes.fromhex("42" + SPEC_MAC_REVERSED + "02CA09"), address=PORCH_MAC))
        # The kitchen's frame naming the porch sensor's MAC.
        s.send(*bthome(PORCH_WITH_MAC))
        assert d.read() == []
    assert d.rejected == {("ble-porch", ADDRESS_MISMATCH): 2, ("ble-kitchen", ADDRESS_MISMATCH): 1}


WRAP = 2**16


def counted(counter):
    """The encryption example's temperature under ``counter``, without the MAC."""
    return bthome(seal("02CA09", counter, mac_included=False))


@pytest.mark.parametrize(
    ("last", "counter", "accepted"),
    [
        (0xFFFFFFFF, 0, True),  # the wrap
        (0xFFFFFFFF, WRAP - 1, True),  # 65,536 steps on through 0: the limit
        (0xFFFFFFFF, WRAP, False),  # one past: a counter far below the last, a replay
        (2**32 - WRAP, 0, True),  # the limit, from further below the wrap
        (2**32 - WRAP - 1, 0, False),  # one past
        (5, 2**32 - WRAP + 5, False),  # 65,536 steps back through 0: from before a wrap
        (5, 2**32 - WRAP + 4, True),  # one past: too far apart, so a higher number is newer
        (0x33221100, 0x332210FF, False),  # a true replay, nowhere near the wrap
        (0x33221100, 0x33221101, True),
    ],
)
def test_a_counter_wrapping_through_zero_is_accepted_and_a_replay_still_refused(
    last, counter, accepted
):
    with ble_driver(sensors=KITCHEN, bind_keys=KEYS) as (driver, scanners, clock):
        scanners.send(*counted(last))
        assert len(driver.read()) == 1
        clock.advance(REBOOT_GRACE_S - 1)  # heard within the grace: the counter must go on
        scanners.send(*counted(counter))
        assert (len(driver.read()) == 1) is accepted
        assert driver.rejected[("ble-kitchen", REPLAYED)] == (0 if accepted else 1)


def test_after_a_wrap_the_frames_from_before_it_are_replays():
    with ble_driver(sensors=KITCHEN, bind_keys=KEYS) as (driver, scanners, _):
        before, after = seal("02CA09", 0xFFFFFFFE), seal("02CA09", 1)
        for frame in (before, after, before, seal("02CA09", 0xFFFFFFFF), after):
            scanners.send(*bthome(frame))
        assert by_series(driver.read()) == {("ble-kitchen", "temperature"): 25.06}
        assert driver.decoded == 2
        assert driver.rejected == {("ble-kitchen", REPLAYED): 2}
        assert driver.duplicates == 1
        scanners.send(*bthome(seal("02CA09", 2)))
        assert len(driver.read()) == 1


def test_ruuvi_and_atc_and_pvvx_through_the_callback():
    with ble_driver(sensors=ALL_SENSORS) as (driver, scanners, _):
        scanners.send(*ruuvi(RUUVI_VALID))
        scanners.send(*atc(ATC1441))
        first = by_series(driver.read())
        scanners.send(*atc(PVVX))
        second = by_series(driver.read())
    assert first == {
        ("ble-stage", "temperature"): 24.3,
        ("ble-stage", "relative_humidity"): 53.49,
        ("ble-stage", "pressure"): 1000.44,
        ("ble-stage", "battery"): 2.977,
        ("ble-main-hall", "temperature"): 24.5,
        ("ble-main-hall", "relative_humidity"): 50.0,
        ("ble-main-hall", "battery_level"): 82.0,
        ("ble-main-hall", "battery"): 2.995,
    }
    assert second[("ble-main-hall", "relative_humidity")] == 50.12


def test_a_measurement_repeated_in_many_adverts_is_read_once_and_only_the_latest_is_kept():
    with ble_driver(sensors=ALL_SENSORS) as (driver, scanners, _):
        for _ in range(5):
            scanners.send(*ruuvi(RUUVI_VALID))
        assert driver.duplicates == 4
        assert driver.decoded == 1
        later = RUUVI_VALID[:16] + (206).to_bytes(2, "big") + RUUVI_VALID[18:]
        warmer = later[:1] + (5000).to_bytes(2, "big", signed=True) + later[3:]
        scanners.send(*ruuvi(warmer))
        readings = driver.read()
        assert driver.read() == []  # nothing new: no reading, not a repeat of the old one
    assert by_series(readings)[("ble-stage", "temperature")] == 25.0
    assert len(readings) == 4


def test_a_sensor_is_matched_by_its_advertised_name():
    with ble_driver(sensors="ATC_123456") as (driver, scanners, _):
        scanners.send(*atc(ATC1441, name="ATC_123456"))
        assert {r.sensor_id for r in driver.read()} == {"ble-atc-123456"}


def test_adverts_from_devices_not_on_the_allow_list_are_ignored():
    with ble_driver(sensors=KITCHEN) as (driver, scanners, _):
        scanners.send(*ruuvi(RUUVI_VALID))
        scanners.send(*atc(ATC1441))
        assert driver.read() == []
    assert not driver.rejected
    assert driver.decoded == 0


def test_readings_pass_validation_and_out_of_range_values_are_flagged_not_dropped():
    validator = Validator()
    with ble_driver(sensors=ALL_SENSORS) as (driver, scanners, _):
        scanners.send(*ruuvi(bytes.fromhex("057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F")))
        readings = validator(driver.read())
    flagged = {r.metric for r in readings if r.quality & Quality.OUT_OF_RANGE}
    assert flagged == {"temperature", "relative_humidity", "pressure"}


# --- malformed frames ---

PLAIN_BTHOME = bytes.fromhex("40" + "0009" + "02CA09" + "03BF13" + "04138A01")
VALID_FRAMES = [
    ("bthome-encrypted", lambda data: bthome(data), SPEC_ENCRYPTED),
    ("bthome-encrypted-with-mac", lambda data: bthome(data), SPEC_ENCRYPTED_WITH_MAC),
    ("ruuvi", lambda data: ruuvi(data), RUUVI_VALID),
    ("atc1441", lambda data: atc(data), ATC1441),
    ("pvvx", lambda data: atc(data), PVVX),
]


@pytest.mark.parametrize(("name", "wrap", "frame"), VALID_FRAMES, ids=[f[0] for f in VALID_FRAMES])
def test_every_truncation_of_a_valid_frame_is_rejected_and_stores_nothing(name, wrap, frame):
    with ble_driver(sensors=ALL_SENSORS, bind_keys=KEYS) as (driver, scanners, _):
        for length in range(len(frame)):
            assert scanners.send(*wrap(frame[:length]))
            assert driver.read() == [], f"{name} cut to {length} bytes was stored"
        assert sum(driver.rejected.values()) == len(frame)
        assert driver.supervisor.running


def test_every_truncation_of_a_plain_bthome_frame_stores_only_whole_objects():
    """A plain BTHome frame has no length or checksum: cut at an object boundary, it is a
    valid shorter frame. What is stored is then exactly the objects before the cut, never
    a value made of part of one; every other cut is rejected as truncated."""
    full = {
        ("ble-open", "temperature"): 25.06,
        ("ble-open", "relative_humidity"): 50.55,
        ("ble-open", "pressure"): 1008.83,
    }
    with ble_driver(sensors=f"{SPEC_MAC}=open") as (driver, scanners, _):
        for length in range(len(PLAIN_BTHOME)):
            # A fresh packet id each time, so that no cut is taken for a repeat.
            frame = bytearray(PLAIN_BTHOME[:length])
            if length >= 3:
                frame[2] = length
            scanners.send(*bthome(bytes(frame)))
            stored = by_series(driver.read())
            assert stored.items() <= full.items(), length
            boundary = length in (6, 9)  # after the temperature, the humidity
            assert bool(stored) == boundary, length
        assert driver.rejected[("ble-open", TRUNCATED)] == 9
        assert sum(driver.rejected.values()) == len(PLAIN_BTHOME) - 2


SLOTS = {
    "bthome": lambda address, data: bthome(data, address=address),
    "atc": lambda address, data: atc(data, address=address),
    "ruuvi": lambda address, data: ruuvi(data, address=address),
}


def test_random_bytes_never_raise_and_store_nothing_from_a_keyed_or_self_checking_sensor():
    with ble_driver(sensors=ALL_SENSORS, bind_keys=KEYS) as (driver, scanners, _):

        @settings(
            max_examples=400,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(
            data=st.binary(max_size=40),
            slot=st.sampled_from(sorted(SLOTS)),
            address=st.sampled_from([SPEC_MAC, RUUVI_MAC, ATC_MAC]),
        )
        def feed(data, slot, address):
            if slot == "bthome" and address != SPEC_MAC:
                return  # a plain BTHome frame from a sensor without a key can be valid
            assert scanners.send(*SLOTS[slot](address, data))
            assert driver.read() == []

        feed()
        assert driver.supervisor.running


def test_random_bytes_as_plain_bthome_never_raise():
    with ble_driver(sensors=f"{SPEC_MAC}=open") as (driver, scanners, _):

        @settings(max_examples=300, deadline=None)
        @given(st.binary(max_size=40))
        def feed(data):
            assert scanners.send(*bthome(data))
            for reading in driver.read():
                assert reading.sensor_id.startswith("ble-open")

        feed()
        assert driver.supervisor.running


# --- settings ---


def test_allow_list_entries_and_their_sensor_ids():
    sensors = parse_sensors(" A4:c1:38:12:34:56 = Kitchen fridge ; ATC_9A1B2C ; CB:B8:33:4C:88:4F ")
    assert [(s.sensor_id, s.address, s.name) for s in sensors] == [
        ("ble-kitchen-fridge", "A4:C1:38:12:34:56", None),
        ("ble-atc-9a1b2c", None, "ATC_9A1B2C"),
        ("ble-cbb8334c884f", "CB:B8:33:4C:88:4F", None),
    ]


@pytest.mark.parametrize(
    ("sensors", "keys", "words"),
    [
        ("A4:C1:38:12:34:56=hall;A4:C1:38:12:34:57=hall", "", "listed twice"),
        ("=hall", "", "names no sensor"),
        ("A4:C1:38:12:34:56=!!!", "", "no usable sensor name"),
        ("A4:C1:38:12:34:56", "A4:C1:38:12:34:56=abcd", "32 hex digits"),
        ("A4:C1:38:12:34:56", f"A4:C1:38:12:34:57={'11' * 16}", "not in HALLSENSE_BLE_SENSORS"),
        ("", "", "nothing to listen for"),
    ],
)
def test_bad_sensor_settings_are_named(sensors, keys, words):
    with pytest.raises(DriverConfigError, match=words), ble_driver(sensors=sensors, bind_keys=keys):
        pass


def test_a_bad_bind_key_is_never_quoted_in_the_error():
    secret = "f" * 31 + "x"
    with pytest.raises(DriverConfigError) as raised:
        parse_bind_keys(f"{SPEC_MAC}={secret}")
    assert secret not in str(raised.value)


def test_footfall_with_passive_scanning_is_a_settings_error():
    with (
        pytest.raises(DriverConfigError, match="active scanning"),
        ble_driver(footfall=True, scan_mode="passive"),
    ):
        pass


def test_a_sensor_first_heard_after_the_start_is_described_in_the_store(tmp_path):
    from edge.agent import Agent
    from edge.clock import SystemClock
    from edge.settings import EdgeSettings
    from edge.store import EdgeStore

    settings = EdgeSettings(data_dir=tmp_path)
    with EdgeStore(settings.db_path) as store, ble_driver(sensors=ALL_SENSORS) as (d, s, _):
        agent = Agent(settings, store, [d], SystemClock("trust").sample)
        s.send(*ruuvi(RUUVI_VALID))
        agent.describe_new_sensors()
        parts = dict(
            store.database.connection.execute(
                "SELECT sensor_id || ' ' || metric, part || ' ' || resolution FROM series"
            )
        )
    assert parts["ble-stage temperature"] == "RuuviTag (data format 5) 0.005"
