"""The node's enrolment call against a real hub route over HTTPS, pinning the council CA."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub_sync.enrolment import enrol, enrol_with_token_file
from hub_sync.enrolment_code import CaMismatch, parse_enrolment_uri
from hub_sync.enrolment_contract import (
    CREDENTIAL_FIELDS,
    EnrolmentError,
    RateLimited,
    TokenExpired,
    TokenInvalid,
    TokenUsed,
    WrongDevice,
)
from hub_sync.enrolment_files import (
    Credentials,
    TokenFileError,
    read_credentials,
    read_token_file,
    remove_token_file,
    write_credentials,
)
from hub_sync.hub_https import HubError, HubUnreachable, TlsFailure
from hub_sync.rotation import confirm_new_password
from provisioning.enrolment_label import ca_fingerprint, qr_payload
from provisioning.enrolment_tokens import DEFAULT_TTL
from tests.provisioning.test_enrolment import Ca, Hub, TlsServer, make_ca, make_hub
from tests.provisioning.test_enrolment import make_server_cert as make_cert
from tests.support.broker import free_port


@pytest.fixture
def council_ca(tmp_path: Path) -> Ca:
    return make_ca(tmp_path / "ca", "council-ca")


@pytest.fixture
def rogue_ca(tmp_path: Path) -> Ca:
    return make_ca(tmp_path / "rogue", "council-ca")  # same name, different key


@pytest.fixture
def hub(tmp_path: Path, council_ca: Ca) -> Iterator[Hub]:
    yield from make_hub(tmp_path, council_ca)


def test_a_node_enrols_once(hub: Hub) -> None:
    issued = hub.store.issue("askrigg")
    credentials = enrol(hub.url, issued.token, "askrigg", ca_file=hub.ca.pem_path)
    assert credentials == Credentials(
        device_id="askrigg",
        broker_host="hub.example.org",
        broker_port=8883,
        username="askrigg",
        password=hub.issued["askrigg"],
        ca_pem=hub.ca.pem,
        client_id="askrigg",
    )
    assert hub.issued["askrigg"] not in repr(credentials)
    with pytest.raises(TokenUsed, match=r"token_used.*used at .*new one") as used:
        enrol(hub.url, issued.token, "askrigg", ca_file=hub.ca.pem_path)
    assert used.value.status == 410
    assert not used.value.retryable


def test_an_expired_token_is_a_clear_error(hub: Hub) -> None:
    issued = hub.store.issue("askrigg")
    hub.clock.advance(DEFAULT_TTL.total_seconds() + 1)
    with pytest.raises(TokenExpired, match="expired at"):
        enrol(hub.url, issued.token, "askrigg", ca_file=hub.ca.pem_path)


def test_a_forged_token_and_another_devices_token_are_clear_errors(hub: Hub) -> None:
    issued = hub.store.issue("askrigg")
    with pytest.raises(TokenInvalid, match="not known to the hub"):
        enrol(hub.url, secrets.token_urlsafe(32), "askrigg", ca_file=hub.ca.pem_path)
    with pytest.raises(WrongDevice, match="another device"):
        enrol(hub.url, issued.token, "bainbridge", ca_file=hub.ca.pem_path)


def test_brute_force_is_answered_with_rate_limited(hub: Hub) -> None:
    for _ in range(5):
        with pytest.raises(TokenInvalid):
            enrol(hub.url, secrets.token_urlsafe(32), "askrigg", ca_file=hub.ca.pem_path)
    with pytest.raises(RateLimited) as limited:
        enrol(hub.url, secrets.token_urlsafe(32), "askrigg", ca_file=hub.ca.pem_path)
    assert 1 <= limited.value.retry_after <= 60
    assert limited.value.retryable


def test_the_node_refuses_a_server_not_signed_by_the_pinned_ca(
    tmp_path: Path, hub: Hub, rogue_ca: Ca
) -> None:
    """A rogue hub with a certificate from another CA (same name) never sees the token."""
    seen: list[bytes] = []

    def rogue_app(environ: dict[str, object], start_response: object) -> list[bytes]:
        seen.append(b"request")
        start_response("200 OK", [("Content-Type", "application/json")])  # type: ignore[operator]
        return [b"{}"]

    cert, key = make_cert(rogue_ca, tmp_path / "rogue-tls", "rogue")
    rogue = TlsServer(rogue_app, cert, key)
    try:
        issued = hub.store.issue("askrigg")
        with pytest.raises(TlsFailure, match="not signed by the council CA") as failure:
            enrol(rogue.url, issued.token, "askrigg", ca_file=hub.ca.pem_path)
        assert not failure.value.retryable
        assert seen == []
        # Pinning the rogue CA against the real hub fails just the same.
        with pytest.raises(TlsFailure):
            enrol(hub.url, issued.token, "askrigg", ca_file=rogue_ca.pem_path)
    finally:
        rogue.stop()
    # The token never reached anyone: it still works at the real hub.
    assert enrol(hub.url, issued.token, "askrigg", ca_file=hub.ca.pem_path).username == "askrigg"


def test_the_system_trust_store_does_not_count(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """REQUESTS_CA_BUNDLE naming the hub's CA does not help when another CA is pinned."""
    other = make_ca(hub.ca.pem_path.parent.parent / "other", "other-ca")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(hub.ca.pem_path))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(hub.ca.pem_path))
    issued = hub.store.issue("askrigg")
    with pytest.raises(TlsFailure):
        enrol(hub.url, issued.token, "askrigg", ca_file=other.pem_path)


def test_a_wrong_host_name_is_a_tls_failure(tmp_path: Path, council_ca: Ca) -> None:
    """The certificate is for 127.0.0.1/127.0.0.2/localhost; 127.0.0.3 is another name."""
    cert, key = make_cert(council_ca, tmp_path / "tls3", "hub3")
    server = TlsServer(lambda e, s: [], cert, key, host="127.0.0.3")
    try:
        with pytest.raises(TlsFailure):
            enrol(server.url, "t" * 43, "askrigg", ca_file=council_ca.pem_path)
    finally:
        server.stop()


def test_an_unreachable_hub_is_a_clear_retryable_error(council_ca: Ca) -> None:
    port = free_port()
    with pytest.raises(HubUnreachable, match="cannot reach the hub") as unreachable:
        enrol(f"https://127.0.0.1:{port}", "t" * 43, "askrigg", ca_file=council_ca.pem_path)
    assert unreachable.value.retryable


def test_a_silent_hub_times_out(council_ca: Ca) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    try:
        with pytest.raises(HubUnreachable):
            enrol(
                f"https://127.0.0.1:{listener.getsockname()[1]}",
                "t" * 43,
                "askrigg",
                ca_file=council_ca.pem_path,
                timeout=0.3,
            )
    finally:
        for conn in accepted:
            conn.close()
        listener.close()


def test_only_https_and_well_formed_input_are_sent(council_ca: Ca) -> None:
    with pytest.raises(ValueError, match="https"):
        enrol("http://hub.example.org", "t" * 43, "askrigg", ca_file=council_ca.pem_path)
    with pytest.raises(ValueError, match="token is malformed"):
        enrol("https://hub.example.org", "not a token!", "askrigg", ca_file=council_ca.pem_path)
    with pytest.raises(ValueError, match="device id"):
        enrol("https://hub.example.org", "t" * 43, "Askrigg", ca_file=council_ca.pem_path)
    with pytest.raises(TlsFailure, match="no CA file"):
        enrol("https://hub.example.org", "t" * 43, "askrigg", ca_file="/nonexistent/ca.pem")


# --- the QR code's fingerprint ---


def test_the_fingerprint_from_the_qr_code_is_checked(hub: Hub, rogue_ca: Ca) -> None:
    issued = hub.store.issue("askrigg")
    uri = parse_enrolment_uri(
        qr_payload(hub.url, issued.token, ca_fingerprint(hub.ca.pem), device_id="askrigg")
    )
    assert (uri.hub_url, uri.token, uri.device_id) == (hub.url, issued.token, "askrigg")
    assert issued.token not in repr(uri)

    # A swapped CA file on the card is caught before anything is sent.
    with pytest.raises(CaMismatch, match="CA file"):
        enrol(
            uri.hub_url,
            uri.token,
            "askrigg",
            ca_file=rogue_ca.pem_path,
            ca_fingerprint=uri.ca_fingerprint,
        )
    # So is a CA file that holds the council CA *and* another.
    both = rogue_ca.pem_path.with_name("both.pem")
    both.write_text(hub.ca.pem + rogue_ca.pem)
    with pytest.raises(CaMismatch, match=r"found sha256:.*, sha256:"):
        enrol(uri.hub_url, uri.token, "askrigg", ca_file=both, ca_fingerprint=uri.ca_fingerprint)

    credentials = enrol(
        uri.hub_url,
        uri.token,
        "askrigg",
        ca_file=hub.ca.pem_path,
        ca_fingerprint=uri.ca_fingerprint,
    )
    assert credentials.ca_pem == hub.ca.pem


def test_a_hub_handing_out_another_ca_is_refused(hub: Hub, rogue_ca: Ca) -> None:
    hub.ca_to_send.append(rogue_ca.pem)
    issued = hub.store.issue("askrigg")
    with pytest.raises(CaMismatch, match="the CA the hub sent"):
        enrol(
            hub.url,
            issued.token,
            "askrigg",
            ca_file=hub.ca.pem_path,
            ca_fingerprint=ca_fingerprint(hub.ca.pem),
        )


@pytest.mark.parametrize(
    "text",
    [
        "hallsense-enrol:v2?hub=https://h&token=" + "t" * 43 + "&ca=sha256:" + "ab" * 32,
        "hallsense-enrol:v1?hub=http://h&token=" + "t" * 43 + "&ca=sha256:" + "ab" * 32,
        "hallsense-enrol:v1?hub=https://h&token=" + "t" * 43,
        "hallsense-enrol:v1?hub=https://h&token=bad token&ca=sha256:" + "ab" * 32,
        "hallsense-enrol:v1?hub=https://h&token=" + "t" * 43 + "&ca=md5:" + "ab" * 16,
    ],
)
def test_malformed_enrolment_codes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (each says what is wrong)
        parse_enrolment_uri(text)


def test_both_ends_agree_on_the_credential_fields() -> None:
    sample = {name: (8883 if kind is int else "x") for name, kind in CREDENTIAL_FIELDS.items()}
    credentials = Credentials.from_mapping({"device_id": "a", **sample})
    assert credentials.broker_port == 8883


# --- files on the boot partition and in the data directory ---


def test_a_first_boot_enrols_writes_0600_credentials_and_removes_the_token(
    tmp_path: Path, hub: Hub
) -> None:
    issued = hub.store.issue("askrigg")
    boot = tmp_path / "boot"
    boot.mkdir()
    token_file = boot / "hallsense-token.txt"
    token_file.write_bytes(b"\xef\xbb\xbf" + issued.token.encode() + b"\r\n")  # Notepad
    data = tmp_path / "data"
    data.mkdir()
    credentials_file = data / "credentials.json"
    old_umask = os.umask(0)  # whatever the umask, the file is 0600
    try:
        credentials = enrol_with_token_file(
            hub.url,
            "askrigg",
            token_file=token_file,
            credentials_file=credentials_file,
            ca_file=hub.ca.pem_path,
        )
    finally:
        os.umask(old_umask)
    assert not token_file.exists()
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    assert read_credentials(credentials_file) == credentials
    assert list(data.iterdir()) == [credentials_file]  # no temporary left behind


def test_the_token_file_stays_when_enrolment_fails(tmp_path: Path, hub: Hub) -> None:
    token_file = tmp_path / "hallsense-token.txt"
    token_file.write_text(secrets.token_urlsafe(32))
    with pytest.raises(TokenInvalid):
        enrol_with_token_file(
            hub.url,
            "askrigg",
            token_file=token_file,
            credentials_file=tmp_path / "credentials.json",
            ca_file=hub.ca.pem_path,
        )
    assert token_file.exists()
    assert not (tmp_path / "credentials.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"two words", "does not hold"),
        (b"\xff\xfe", "not text"),
    ],
)
def test_bad_token_files_are_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "token"
    path.write_bytes(content)
    with pytest.raises(TokenFileError, match=message):
        read_token_file(path)


def test_a_missing_or_huge_token_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="no enrolment token file"):
        read_token_file(tmp_path / "missing")
    huge = tmp_path / "huge"
    huge.write_bytes(b"a" * 10_000)
    with pytest.raises(TokenFileError, match="too large"):
        read_token_file(huge)
    assert isinstance(TokenFileError("x"), EnrolmentError)


def test_removing_the_token_file_overwrites_it_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "token"
    path.write_text("secret-token-value")
    unlinked: list[bytes] = []
    real_unlink = Path.unlink

    def spy(self: Path, missing_ok: bool = False) -> None:
        unlinked.append(self.read_bytes())
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", spy)
    assert remove_token_file(path) is True
    assert unlinked == [b"\0" * len("secret-token-value")]
    assert remove_token_file(path) is False


def test_credentials_replace_an_old_file_and_stay_0600(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("old")
    path.chmod(0o644)
    credentials = Credentials("a", "h", 8883, "a", "pw", "-----BEGIN CERTIFICATE-----")
    write_credentials(path, credentials)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_credentials(path) == credentials


def test_nothing_secret_is_logged(
    tmp_path: Path, hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = hub.store.issue("askrigg")
    token_file = tmp_path / "token"
    token_file.write_text(issued.token)
    forged = secrets.token_urlsafe(32)
    with pytest.raises(TokenInvalid) as invalid:
        enrol(hub.url, forged, "askrigg", ca_file=hub.ca.pem_path)
    enrol_with_token_file(
        hub.url,
        "askrigg",
        token_file=token_file,
        credentials_file=tmp_path / "c.json",
        ca_file=hub.ca.pem_path,
    )
    with pytest.raises(TokenUsed) as used:
        enrol(hub.url, issued.token, "askrigg", ca_file=hub.ca.pem_path)
    assert "enrolled askrigg" in caplog.text
    for secret in (issued.token, forged, hub.issued["askrigg"]):
        assert secret not in caplog.text
        assert secret not in str(invalid.value)
        assert secret not in str(used.value)


def answering(status: str, body: bytes):
    def app(environ, start_response):
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    return app


@pytest.mark.parametrize(
    ("status", "body"),
    [
        ("200 OK", b"[" * 100_000 + b"]" * 100_000),
        ("200 OK", b"[1, 2]"),
        ("200 OK", b'{"device_id": "askrigg"}'),
        ("400 Bad Request", b"[" * 100_000 + b"]" * 100_000),
        ("500 Internal Server Error", b"not json"),
    ],
)
def test_an_answer_that_is_not_credentials_is_a_hub_error(
    tmp_path: Path, council_ca: Ca, status: str, body: bytes
) -> None:
    cert, key = make_cert(council_ca, tmp_path / "tls", "hub")
    server = TlsServer(answering(status, body), cert, key)
    try:
        with pytest.raises(HubError):
            enrol(server.url, "t" * 43, "askrigg", ca_file=council_ca.pem_path)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("body", "rotated"),
    [
        (b'{"version": 1, "device_id": "askrigg", "rotated": true, "in_force": true}', True),
        (b'{"version": 1, "device_id": "askrigg", "rotated": true}', True),  # an older hub
        (
            b'{"version": 1, "device_id": "askrigg", "rotated": false, "in_force": true, '
            b'"reason": "this password is the one in force already"}',
            False,
        ),
    ],
)
def test_a_confirmation_is_taken_at_its_word(
    tmp_path: Path, council_ca: Ca, body: bytes, rotated: bool
) -> None:
    cert, key = make_cert(council_ca, tmp_path / "tls", "hub")
    server = TlsServer(answering("200 OK", body), cert, key)
    try:
        assert (
            confirm_new_password(server.url, "askrigg", "p" * 40, ca_file=council_ca.pem_path)
            is rotated
        )
    finally:
        server.stop()


@pytest.mark.parametrize(
    "body",
    [
        b'{"version": 1, "device_id": "askrigg", "rotated": false}',
        b'{"version": 1, "device_id": "reeth", "rotated": true, "in_force": true}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_a_confirmation_that_does_not_say_in_force_is_a_hub_error(
    tmp_path: Path, council_ca: Ca, body: bytes
) -> None:
    cert, key = make_cert(council_ca, tmp_path / "tls", "hub")
    server = TlsServer(answering("200 OK", body), cert, key)
    try:
        with pytest.raises(HubError):
            confirm_new_password(server.url, "askrigg", "p" * 40, ca_file=council_ca.pem_path)
    finally:
        server.stop()
