"""A node's first start: it keeps its readings, enrols over HTTPS, then starts its uplink."""

import time

import pytest

from edge.settings import EdgeSettings
from edge.store import EdgeStore
from hallsense.wiring_enrol import EnrollingUplink, credentials_path, enrolled_password
from tests.provisioning.test_enrolment import make_ca, make_hub


@pytest.fixture
def council_ca(tmp_path):
    return make_ca(tmp_path / "ca", "council-ca")


@pytest.fixture
def enrolment_hub(tmp_path, council_ca):
    yield from make_hub(tmp_path, council_ca)


class RecordingUplink:
    """Stands for the uplink built after enrolment (this test is about getting there)."""

    def __init__(self, password):
        self.password = password
        self.started = False
        self.steps = 0
        self.wake = None

    def attach_wake(self, wake):
        self.wake = wake

    def start(self):
        self.started = True

    def sync_once(self):
        self.steps += 1
        return 1

    def close(self):
        pass


def node_settings(tmp_path, url, ca):
    token_file = tmp_path / "boot" / "hallsense-enrol.token"
    token_file.parent.mkdir(exist_ok=True)
    return EdgeSettings(
        data_dir=tmp_path / "node",
        device_id="askrigg",
        broker_host="hub.example.org",
        broker_ca_file=ca.pem_path,
        enrol_url=url,
        enrol_token_file=token_file,
    )


def wait_until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_a_node_enrols_once_then_runs_its_uplink_with_the_password(
    tmp_path, enrolment_hub, council_ca
):
    settings = node_settings(tmp_path, enrolment_hub.url, council_ca)
    settings.data_dir.mkdir()
    issued = enrolment_hub.store.issue("askrigg")
    settings.enrol_token_file.write_text(issued.token + "\n")
    store = EdgeStore(settings.db_path)
    built = []
    companion = EnrollingUplink(
        settings, store, lambda password: built.append(RecordingUplink(password)) or built[-1]
    )
    woken = []
    companion.attach_wake(lambda: woken.append(True))  # as the agent does at its start
    try:
        assert companion.sync_once() == 0  # nothing to send with until enrolled
        companion.start()
        assert wait_until(lambda: companion.sync_once() > 0)
        assert built[0].started
        built[0].wake()  # an ack wakes the agent's loop, enrolled mid-run or not
        assert woken == [True]
        assert built[0].password == enrolment_hub.issued["askrigg"]
        assert not settings.enrol_token_file.exists()
        assert credentials_path(settings).stat().st_mode & 0o777 == 0o600
        assert enrolled_password(settings) == enrolment_hub.issued["askrigg"]
        assert {h.driver: h.state for h in store.health()}["enrolment"] == "ok"
    finally:
        companion.close()
        store.close()


def test_a_hub_out_of_reach_is_tried_again_and_shows_in_the_nodes_health(tmp_path, council_ca):
    settings = node_settings(tmp_path, "https://127.0.0.1:9", council_ca)  # nothing listens
    settings.enrol_token_file.write_text("x" * 43 + "\n")
    store = EdgeStore(settings.db_path)
    companion = EnrollingUplink(settings, store, lambda password: None, first_retry_s=0.05)
    try:
        companion.start()
        assert wait_until(lambda: any(h.driver == "enrolment" for h in store.health()))
        (health,) = [h for h in store.health() if h.driver == "enrolment"]
        assert health.state == "failing"
        assert "127.0.0.1:9" in health.last_error
        assert companion.sync_once() == 0
        assert settings.enrol_token_file.exists()  # kept for the next try
    finally:
        companion.close()
        store.close()


def test_another_devices_credentials_are_refused(tmp_path, council_ca):
    import json

    settings = node_settings(tmp_path, "https://hub.example.org", council_ca)
    settings.data_dir.mkdir()
    credentials_path(settings).write_text(
        json.dumps(
            {
                "device_id": "reeth", "broker_host": "h", "broker_port": 8883,
                "username": "reeth", "password": "p", "ca_pem": "x",
            }
        )
    )  # fmt: skip
    with pytest.raises(ValueError, match="credentials of 'reeth'"):
        enrolled_password(settings)
