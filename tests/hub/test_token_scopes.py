"""API token scopes on the real hub app, over SQLite and PostgreSQL (issue #14).

A read-only token (the default) reads the data API, its exports, ``/metrics`` and the
fleet pages; every state-changing route the app has (found by walking its URL map, so a
route added later is covered without anyone listing it) refuses it with a 403 that says
the token is read-only, and changes nothing. A full token does what its account may. A
version-4 store's tokens, made before scopes existed, keep working as read-only ones.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime

import psycopg
import pytest

from hub.login_web import READ_ONLY_REFUSED, wants_json
from hub.logins import Logins, digest, hash_password
from hub.store import HubStoreError
from hub.store_postgres import SCHEMA as POSTGRES_SCHEMA
from hub.store_postgres import PostgresHubStore
from hub.store_sql import MIGRATIONS
from hub.store_sqlite import SCHEMA as SQLITE_SCHEMA
from hub.store_sqlite import SqliteHubStore
from hub_sync.batch_codec import Batch, WireReading
from hub_sync.node_config import decode_config
from tests.hub.web_support import PASSWORD, account, make_app

HOUR = 3_600_000_000
NOW_US = time.time_ns() // 1000
START = (NOW_US // HOUR - 5) * HOUR
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
SETTINGS_FORM = {
    "hall_name": "Askrigg Village Hall",
    "opening_hours": "Mon to Sat, 9:00 to 22:00",
    "label:door": "Main door",
    "public:footfall": "on",
}


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat()


def fill(store) -> None:
    store.add_device("askrigg", "Askrigg Village Hall")
    readings = tuple(
        WireReading(n + 1, "door", "footfall", "people", START + n * 60_000_000, 2.0)
        for n in range(30)
    )
    store.store_batch(Batch("askrigg", 5, readings), NOW_US)


@pytest.fixture
def store(hub_store):
    fill(hub_store)
    return hub_store


@pytest.fixture
def sent():
    return []


def app_over(tmp_path, store, sent):
    def send(device_id, payload, actor):
        sent.append((device_id, decode_config(payload), actor))
        store.save_config(device_id, json.loads(payload)["revision"], payload.decode(), actor=actor)

    return make_app(tmp_path, store, send=send, secure_cookies=True)


@pytest.fixture
def app(tmp_path, store, sent):
    return app_over(tmp_path, store, sent)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def snapshot(store):
    """What a state-changing request could change, to see that nothing did."""
    return (
        store.audit_log(),
        store.node_config("askrigg"),
        store.accounts(),
        store.tokens(),
        store.registered(),
    )


def reads_everything_a_script_needs(client, headers) -> None:
    window = {"from": iso(START), "to": iso(START + 3 * HOUR)}
    for url, query in [
        ("/api/v1/devices", {}),
        ("/api/v1/sites", {}),
        ("/api/v1/openapi.json", {}),
        ("/api/v1/devices/askrigg/rollups", window),
        ("/api/v1/devices/askrigg/readings", {**window, "format": "csv"}),
        ("/api/v1/devices/askrigg/readings", {**window, "format": "senml"}),
        ("/metrics", {}),
        ("/fleet", {}),
        ("/fleet/askrigg", {}),
        ("/fleet/askrigg/settings", {}),
    ]:
        answer = client.get(url, headers=headers, query_string=query)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:200])
    assert "hallsense_hub_readings_stored_total" in client.get("/metrics", headers=headers).text


def test_a_read_only_token_reads_the_data_exports_metrics_and_pages(app, store):
    team = account(store, "iot-team")
    headers = bearer(Logins(lambda: store).issue_token(team, "prometheus"))  # read by default
    assert store.tokens("iot-team")[0].scope == "read"
    reads_everything_a_script_needs(app.test_client(), headers)
    # A scope narrows an account's rights, never widens them: a clerk's token is a clerk's.
    clerk = account(store, "clerk-askrigg", "clerk", ("askrigg",))
    clerks = bearer(Logins(lambda: store).issue_token(clerk, "spreadsheet", "full"))
    assert app.test_client().get("/metrics", headers=clerks).status_code == 403


def test_a_read_only_token_is_refused_on_every_state_changing_route(app, store, sent):
    team = account(store, "iot-team")
    headers = bearer(Logins(lambda: store).issue_token(team, "prometheus", "read"))
    client = app.test_client()
    before = snapshot(store)
    adapter = app.url_map.bind("hub.example")
    checked = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        methods = set(rule.methods or ()) - READ_METHODS
        if getattr(view, "changes_state", False):
            methods |= {"GET"}
        for method in sorted(methods):
            url = adapter.build(rule.endpoint, dict.fromkeys(rule.arguments, "askrigg"))
            answer = client.open(url, method=method, headers=headers, data=SETTINGS_FORM)
            assert answer.status_code == 403, (method, url, answer.status_code)
            if wants_json_path(app, url):
                assert answer.json == {"error": "Forbidden", "message": READ_ONLY_REFUSED}
            else:
                assert "this API token is read-only" in answer.text, (method, url)
            checked.append(f"{method} {rule.rule}")
    # The walk found the routes that matter (so it is not vacuous).
    assert "POST /fleet/<device_id>/settings" in checked
    assert "POST /logout" in checked
    assert "POST /account/password" in checked
    assert "POST /enroll" in checked
    assert sent == []
    assert snapshot(store) == before


def wants_json_path(app, url: str) -> bool:
    with app.test_request_context(url):
        return wants_json()


def test_a_full_token_changes_a_halls_settings(app, store, sent):
    team = account(store, "iot-team")
    headers = bearer(Logins(lambda: store).issue_token(team, "provisioning-script", "full"))
    client = app.test_client()
    reads_everything_a_script_needs(client, headers)
    answer = client.post("/fleet/askrigg/settings", headers=headers, data=SETTINGS_FORM)
    assert answer.status_code == 303, answer.text[:300]
    ((device, config, actor),) = sent
    assert (device, actor) == ("askrigg", "iot-team")
    assert dict(config.page)["opening_hours"] == "Mon to Sat, 9:00 to 22:00"


# --- a store made before scopes ---

OLD_TOKEN = "a-token-issued-by-hallsense-before-scopes-0123456789"  # noqa: S105 - a test's


def version_4_statements(schema: list[str]) -> list[str]:
    return [*schema, *MIGRATIONS[2], *MIGRATIONS[3], *MIGRATIONS[4]]


def old_rows(password_hash: str) -> list[tuple[str, tuple[object, ...]]]:
    return [
        (
            "INSERT INTO accounts (username, role, password_hash, created_us) VALUES (?, ?, ?, ?)",
            ("iot-team", "team", password_hash, NOW_US),
        ),
        (
            "INSERT INTO api_tokens (token_hash, username, name, created_us) VALUES (?, ?, ?, ?)",
            (digest(OLD_TOKEN), "iot-team", "prometheus", NOW_US),
        ),
    ]


def version_4_sqlite(tmp_path):
    path = tmp_path / "hub-v4.db"
    conn = sqlite3.connect(path)
    try:
        for statement in version_4_statements(SQLITE_SCHEMA):
            conn.execute(statement)
        for sql, params in old_rows(hash_password(PASSWORD)):
            conn.execute(sql, params)
        conn.execute("PRAGMA user_version = 4")
        conn.commit()
    finally:
        conn.close()
    return lambda: SqliteHubStore(path)


def version_4_postgres(cluster):
    url = cluster.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in version_4_statements(POSTGRES_SCHEMA):
            conn.execute(statement)
        conn.execute("INSERT INTO hallsense_schema VALUES (4)")
        for sql, params in old_rows(hash_password(PASSWORD)):
            conn.execute(sql.replace("?", "%s"), params)
    return lambda: PostgresHubStore(url)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_version_4_stores_tokens_keep_reading_and_become_read_only(
    request, tmp_path, backend, sent
):
    if backend == "sqlite":
        open_store = version_4_sqlite(tmp_path)
    else:
        open_store = version_4_postgres(request.getfixturevalue("pg_cluster"))
    store = open_store()  # the upgrade to version 5
    try:
        fill(store)
        (old,) = store.tokens()
        assert (old.username, old.name, old.scope, old.revoked) == (
            "iot-team",
            "prometheus",
            "read",
            False,
        )
        found = Logins(lambda: store).token_account(OLD_TOKEN)
        assert (found.username, found.role, found.read_only) == ("iot-team", "team", True)
        client = app_over(tmp_path, store, sent).test_client()
        reads_everything_a_script_needs(client, bearer(OLD_TOKEN))
        refused = client.post("/fleet/askrigg/settings", headers=bearer(OLD_TOKEN), data={})
        assert refused.status_code == 403
        assert "this API token is read-only" in refused.text
        assert sent == []
        assert store.revoke_token("iot-team", "prometheus") == 1  # still revocable
        assert client.get("/metrics", headers=bearer(OLD_TOKEN)).status_code == 401
    finally:
        store.close()
    reopened = open_store()  # opening again migrates nothing twice
    try:
        assert [t.scope for t in reopened.tokens()] == ["read"]
    finally:
        reopened.close()


def test_a_token_scope_is_read_or_full_and_nothing_else(store):
    team = account(store, "iot-team")
    with pytest.raises(ValueError, match="a token's scope is one of read, full, not 'admin'"):
        Logins(lambda: store).issue_token(team, "script", "admin")
    Logins(lambda: store).issue_token(team, "script", "full")
    with pytest.raises(HubStoreError, match=r"(?i)check"):  # the schema itself refuses it
        store._run("UPDATE api_tokens SET scope = 'admin'")
    assert [t.scope for t in store.tokens()] == ["full"]
