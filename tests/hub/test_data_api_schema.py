"""schemathesis against the hub's data API with every check on (``--checks all``).

The app is the real hub web app over a real SQLite hub store filled at import: the
schemathesis test is parametrized at import, so the app must exist by then.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import schemathesis
from hypothesis import settings
from schemathesis.config import SchemathesisConfig

from hub.store_sqlite import SqliteHubStore
from tests.hub.test_data_api import NOW_US, minute_batch
from tests.hub.web_support import account, make_app, token_for

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


def all_checks_config() -> SchemathesisConfig:
    """What `schemathesis run --checks all` sets: every check on, every generation mode."""
    config = SchemathesisConfig()
    config.projects.override.checks.update(included_check_names=["all"])
    return config


SCHEMA = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", APP, config=all_checks_config(), headers=HEADERS
)


@SCHEMA.hook
def map_case(context, case):
    """In positive cases put ``to`` just after ``from``: the schema cannot say it must be."""
    meta, query = case.meta, case.query
    if meta is None or not meta.generation.mode.is_positive or not query or "from" not in query:
        return case
    query = dict(query)
    start = query["from"]
    if len(start) == len("2026-11-03"):
        query["to"] = start
    else:
        moment = datetime.fromisoformat(start.upper())
        try:
            query["to"] = (moment + timedelta(minutes=5)).isoformat()
        except OverflowError:
            query["from"] = (moment - timedelta(minutes=5)).isoformat()
            query["to"] = start
    case.query = query
    return case


@SCHEMA.parametrize()
@settings(max_examples=60, deadline=None)
def test_the_data_api_conforms_to_its_openapi_document(case):
    case.call_and_validate(headers=HEADERS)
