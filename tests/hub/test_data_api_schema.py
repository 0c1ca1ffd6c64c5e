"""schemathesis against the hub's data API with every check on (``--checks all``).

The app is the real hub web app over a real SQLite hub store filled at import: the
schemathesis test is parametrized at import, so the app must exist by then.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import settings

from hub.store_sqlite import SqliteHubStore
from tests.hub.test_data_api import NOW_US, minute_batch
from tests.hub.web_support import account, make_app, token_for
from tests.support.api_cases import all_checks_config, to_just_after_from

_DIR = Path(tempfile.mkdtemp(prefix="hallsense-hub-api-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
_STORE = SqliteHubStore(_DIR / "hub.db")
atexit.register(_STORE.close)
_STORE.add_device("askrigg", "Askrigg Village Hall")
_STORE.store_batch(
    minute_batch("askrigg", "t1", "temperature", "°C", [18.0 + i / 100 for i in range(300)]),
    NOW_US,
)
APP = make_app(_DIR, _STORE)
HEADERS = token_for(_STORE, account(_STORE, "data-team"))


SCHEMA = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", APP, config=all_checks_config(), headers=HEADERS
)


@SCHEMA.hook
def map_case(context, case):
    """Positive cases with ``to`` just after ``from`` (see ``to_just_after_from``)."""
    return to_just_after_from(case)


@pytest.mark.slow
@SCHEMA.parametrize()
@settings(max_examples=60, deadline=None)
def test_the_data_api_conforms_to_its_openapi_document(case):
    case.call_and_validate(headers=HEADERS)
