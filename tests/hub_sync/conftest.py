import pytest

from provisioning.broker_config import HUB_ACCOUNT
from tests.support.broker import Broker

PASSWORDS = {HUB_ACCOUNT: "hub-secret-for-tests", "askrigg": "askrigg-pw", "bainbridge": "b-pw"}


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path / "broker", PASSWORDS).start()
    yield broker
    broker.stop()
