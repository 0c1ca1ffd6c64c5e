"""/.well-known/security.txt: public, RFC 9116's required fields, never stale."""

from datetime import UTC, datetime

import pytest

from hub.web import create_hub_web
from hub.well_known import check_contact, security_txt
from provisioning.enrolment_tokens import TokenStore


def app(tmp_path, contact):
    return create_hub_web(
        TokenStore(tmp_path / "enrolment"), lambda device_id: {}, security_contact=contact
    )


def test_security_txt_names_the_contact_and_expires_within_a_year(tmp_path):
    answer = (
        app(tmp_path, "mailto:iot@council.example")
        .test_client()
        .get("/.well-known/security.txt", base_url="https://hub.example")
    )
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    fields = dict(line.split(": ", 1) for line in answer.text.splitlines())
    assert fields["Contact"] == "mailto:iot@council.example"
    assert fields["Canonical"] == "https://hub.example/.well-known/security.txt"
    expires = datetime.fromisoformat(fields["Expires"])
    days = (expires - datetime.now(UTC)).days
    assert 150 < days < 366  # RFC 9116 advises less than a year ahead


def test_without_a_contact_there_is_no_file_rather_than_a_made_up_one(tmp_path):
    answer = app(tmp_path, "").test_client().get("/.well-known/security.txt")
    assert answer.status_code == 404


@pytest.mark.parametrize("bad", ["iot@council.example", "http://council.example/security", "x"])
def test_a_contact_that_is_no_uri_is_refused_at_start_up(tmp_path, bad):
    with pytest.raises(ValueError, match="not a security contact"):
        app(tmp_path, bad)
    with pytest.raises(ValueError, match="mailto:"):
        check_contact(bad)


def test_the_expiry_is_written_in_utc_with_a_z():
    text = security_txt(
        "https://council.example/report", "https://h/x", datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert "Expires: 2026-07-02T00:00:00Z\n" in text


@pytest.mark.parametrize("contact", ["", "mailto:iot@council.example"])
def test_pages_link_the_security_file_only_when_it_exists(tmp_path, contact):
    """Every page once linked "Reporting a security problem" to a 404 when no contact was set."""
    from hub.store_sqlite import SqliteHubStore
    from tests.hub.web_support import make_app

    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        client = make_app(tmp_path, store, security_contact=contact).test_client()
        page = client.get("/open-data").text
        linked = "Reporting a security problem" in page
        assert linked == bool(contact)
        if linked:
            assert client.get("/.well-known/security.txt").status_code == 200
    finally:
        store.close()
