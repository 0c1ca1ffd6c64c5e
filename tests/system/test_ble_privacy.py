"""Footfall from phones leaves no trace of a phone: not in the store, its WAL, the logs, the
broker, the wire or the hub; and the hashing key never touches the disk.

A node's agent, store and uplink run for real against a real Mosquitto and a real
ingestion worker; the BLE scanner is the one stand-in, replaying a synthetic crowd
through the callback bleak calls.
"""

import base64
import hashlib
import logging
import threading
import time
from pathlib import Path

from edge.agent import Agent
from edge.clock import SystemClock
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from hub_sync.batch_codec import decode_batch
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.uplink import Uplink, UplinkSettings, client_factory
from provisioning.broker_config import HUB_ACCOUNT
from sensors.ble import BleDriver
from tests.hub_sync.conftest import PASSWORDS
from tests.support.ble import FakeMonotonic, FakeScanners, advert
from tests.support.crowd import Crowd

SIMULATED_S = 900
INTERVAL_S = 60
ROTATION_S = 300


def address_forms(address: str) -> list[bytes]:
    """Every way an address could be written down: text in any case and separator, hex,
    raw bytes, and the byte-reversed order BlueZ and some formats use."""
    raw = bytes.fromhex(address.replace(":", ""))
    forms = [raw, raw[::-1]]
    for ordered in (raw, raw[::-1]):
        for case in (str.upper, str.lower):
            hex_text = case(ordered.hex())
            pairs = [hex_text[i : i + 2] for i in range(0, 12, 2)]
            forms += [
                s.encode() for s in (hex_text, ":".join(pairs), "-".join(pairs), "_".join(pairs))
            ]
    return forms


def token_forms(address: str, key: bytes) -> list[bytes]:
    """The keyed hash the footfall counter makes of ``address`` under ``key``, as bytes,
    hex and base64, and its first 8 bytes (a truncated hash is an identifier too)."""
    digest = hashlib.blake2s(address.upper().encode(), key=key, digest_size=16).digest()
    forms = []
    for value in (digest, digest[:8]):
        forms += [value, value.hex().encode(), value.hex().upper().encode()]
        forms += [base64.b64encode(value), base64.urlsafe_b64encode(value)]
    return forms


def secret_forms(key: bytes) -> list[bytes]:
    return [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key)]


def files_under(*roots: Path) -> dict[str, bytes]:
    return {
        str(path): path.read_bytes()
        for root in roots
        for path in ([root] if root.is_file() else root.rglob("*"))
        if path.is_file()
    }


def find(needles: list[bytes], haystacks: dict[str, bytes]) -> list[str]:
    return [name for name, data in haystacks.items() for needle in needles if needle in data]


def test_no_address_or_hash_of_one_is_stored_logged_or_sent_and_the_key_never_touches_disk(
    tmp_path, broker, hub, caplog
):
    caplog.set_level(logging.DEBUG)  # a node logging everything must still leak nothing
    node_dir = tmp_path / "node"
    settings = EdgeSettings(data_dir=node_dir, commit_interval_s=0.05, device_id="askrigg")
    store = EdgeStore(settings.db_path)
    wire: list[tuple[str, bytes]] = []
    spy = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, HUB_ACCOUNT, PASSWORDS[HUB_ACCOUNT]),
        client_id="privacy-spy",
        on_message=lambda message: wire.append((message.topic, message.payload)),
    )
    spy.connect()
    spy.subscribe("hallsense/v1/#")
    uplink = Uplink(
        store,
        client_factory(BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"])),
        UplinkSettings(device_id="askrigg"),
    )
    clock = FakeMonotonic()
    scanners = FakeScanners()
    ble = BleDriver(
        interval_s=0.05,
        footfall=True,
        footfall_interval_s=INTERVAL_S,
        footfall_key_rotation_s=ROTATION_S,
        footfall_devices_per_person=2,
        scanner_factory=scanners,
        monotonic=clock,
        check_every_s=3600,
    )
    agent = Agent(settings, store, [ble], SystemClock("trust").sample, companions=[uplink])
    thread = threading.Thread(target=agent.run, daemon=True)
    crowd = Crowd(people=6, devices=2, outside=4, rotate_s=120, advert_every_s=2.0, seed=11)
    keys = []
    thread.start()
    try:
        start = clock.now
        for second in range(1, SIMULATED_S + 1):
            clock.now = start + second
            for _, address, rssi in crowd.adverts_until(second):
                assert scanners.send(*advert(address, rssi=rssi))
            if second % 10 == 0:
                ble.supervisor.check_now()
            if not keys or keys[-1] != ble.footfall.key:
                keys.append(ble.footfall.key)
            if second % INTERVAL_S == 0:
                # Let the agent's frequent reads close the interval before time moves on.
                deadline = time.monotonic() + 10
                while ble._next_close <= clock.now and time.monotonic() < deadline:
                    time.sleep(0.01)
        expected = SIMULATED_S // INTERVAL_S
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stored = [r for _, r in hub.store.readings("askrigg") if r.metric == "people_estimate"]
            if len(stored) >= expected:
                break
            time.sleep(0.1)
        # While the node still runs, with its WAL in place.
        running_files = files_under(node_dir, tmp_path / "broker", *tmp_path.glob("hub.db*"))
    finally:
        agent.stop_event.set()
        thread.join(15)
        ble.close()
        uplink.close()
        spy.close()
        store.close()
    # The pipeline carried the counts: the scan below looks at real data, not nothing.
    values = sorted(r.value for r in stored)
    assert len(stored) == expected, values
    assert 5 <= values[len(values) // 2] <= 9, values
    assert len(crowd.addresses) > 50
    assert len(keys) >= SIMULATED_S // ROTATION_S  # a new key at every rotation
    assert len(set(keys)) == len(keys)

    stopped_files = files_under(node_dir, tmp_path / "broker", *tmp_path.glob("hub.db*"))
    haystacks = {f"running {k}": v for k, v in running_files.items()}
    haystacks |= {f"stopped {k}": v for k, v in stopped_files.items()}
    assert any(name.endswith("-wal") for name in haystacks), sorted(haystacks)
    haystacks["log"] = caplog.text.encode()
    for index, (topic, payload) in enumerate(wire):
        haystacks[f"mqtt {index} {topic}"] = payload
        if topic.endswith("/readings"):
            haystacks[f"mqtt {index} decoded"] = repr(decode_batch(payload)).encode()
    assert any(topic.endswith("/readings") for topic, _ in wire)

    addresses = sorted(crowd.addresses)
    assert find([f for a in addresses for f in address_forms(a)], haystacks) == []
    assert find([f for k in keys for a in addresses for f in token_forms(a, k)], haystacks) == []
    assert find([f for k in keys for f in secret_forms(k)], haystacks) == []


def test_a_restart_makes_a_new_key():
    keys = []
    for _ in range(2):
        driver = BleDriver(footfall=True, scanner_factory=FakeScanners(), check_every_s=3600)
        keys.append(driver.footfall.key)
        driver.close()
    assert keys[0] != keys[1]
