"""Enrolment tokens and the hub's /enroll route, over real HTTPS (cheroot with TLS).

The helpers at the top (a test CA made with cryptography, a TLS server) are shared with
tests/hub_sync/test_enrolment_client.py.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import segno
import zxingcpp
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from PIL import Image, ImageDraw
from requests.adapters import HTTPAdapter

from hub_sync.enrolment_contract import EnrolmentRefused
from provisioning.certificates import Issued, issue_server_certificate, new_ca
from provisioning.enrolment import enrolment_blueprint
from provisioning.enrolment_label import ca_fingerprint, label_svg, qr_payload
from provisioning.enrolment_tokens import DB_NAME, DEFAULT_TTL, TokenStore, token_hash
from provisioning.failure_limit import FailureLimiter, client_key

# --- shared helpers: a CA, a server certificate, a TLS server ---


@dataclass
class Ca:
    """A certificate authority for tests."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    pem_path: Path

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make_ca(directory: Path, name: str) -> Ca:
    """A CA made as ``provision init`` makes the council's, its certificate in a PEM file."""
    issued = new_ca(name)
    directory.mkdir(parents=True, exist_ok=True)
    pem_path = directory / f"{name}.pem"
    pem_path.write_bytes(issued.certificate_pem())
    return Ca(issued.private_key, issued.certificate, pem_path)


def make_server_cert(ca: Ca, directory: Path, name: str) -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1, 127.0.0.2 and localhost, signed by ``ca``."""
    issued = issue_server_certificate(
        Issued(ca.cert, ca.key), hostnames=["localhost"], ips=["127.0.0.1", "127.0.0.2"]
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(issued.certificate_pem())
    key_path.write_bytes(issued.private_key_pem())
    key_path.chmod(0o600)
    return cert_path, key_path


class TlsServer:
    """A WSGI app served over TLS by cheroot on a free port, in a thread."""

    def __init__(self, app: Any, cert: Path, key: Path, host: str = "127.0.0.1") -> None:
        self.server = wsgi.Server((host, 0), app, numthreads=12)
        self.server.ssl_adapter = BuiltinSSLAdapter(str(cert), str(key))
        self.server.expiration_interval = 0.05  # stops in 50 ms rather than 500
        self.server.prepare()
        self.port = int(self.server.bind_addr[1])
        self.url = f"https://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=10)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Hub:
    """An enrolment hub for tests: token store, clocks, limiter, HTTPS server, what it issued."""

    store: TokenStore
    clock: FakeClock
    limiter_clock: FakeClock
    limiter: FailureLimiter
    server: TlsServer
    ca: Ca
    issued: dict[str, str] = field(default_factory=dict)
    failing: list[BaseException] = field(default_factory=list)
    ca_to_send: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def issue_credentials(self, device_id: str) -> Mapping[str, Any]:
        if self.failing:
            raise self.failing.pop(0)
        password = secrets.token_urlsafe(32)
        self.issued[device_id] = password
        return {
            "broker_host": "hub.example.org",
            "broker_port": 8883,
            "username": device_id,
            "client_id": device_id,
            "password": password,
            "ca_pem": self.ca_to_send[0] if self.ca_to_send else self.ca.pem,
        }


def make_hub(tmp_path: Path, ca: Ca, *, host: str = "127.0.0.1") -> Iterator[Hub]:
    clock = FakeClock(1_750_000_000.0)
    limiter_clock = FakeClock(1000.0)
    store = TokenStore(tmp_path / "state" / "enrolment", clock=clock)
    limiter = FailureLimiter(5, 60.0, clock=limiter_clock)
    hub_holder: list[Hub] = []
    app = Flask("hub-test")
    app.register_blueprint(
        enrolment_blueprint(
            store, lambda device_id: hub_holder[0].issue_credentials(device_id), limiter=limiter
        )
    )
    cert, key = make_server_cert(ca, tmp_path / "tls", "hub")
    server = TlsServer(app, cert, key, host=host)
    hub = Hub(store, clock, limiter_clock, limiter, server, ca)
    hub_holder.append(hub)
    try:
        yield hub
    finally:
        server.stop()


class SourceAddressAdapter(HTTPAdapter):
    """requests from a given local address (127.0.0.2: another client of the same hub)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def post(
    hub: Hub, body: Any, *, source: str | None = None, raw: bytes | None = None, **kw: Any
) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        if source:
            session.mount("https://", SourceAddressAdapter(source))
        if raw is not None:
            return session.post(
                hub.url + "/enroll", data=raw, verify=hub.ca.pem_path, timeout=10, **kw
            )
        return session.post(hub.url + "/enroll", json=body, verify=hub.ca.pem_path, timeout=10)


# --- fixtures ---


@pytest.fixture
def council_ca(tmp_path: Path) -> Ca:
    return make_ca(tmp_path / "ca", "council-ca")


@pytest.fixture
def hub(tmp_path: Path, council_ca: Ca) -> Iterator[Hub]:
    yield from make_hub(tmp_path, council_ca)


# --- the route over HTTPS ---


def test_a_token_works_once_and_a_second_use_fails_clearly(hub: Hub) -> None:
    issued = hub.store.issue("askrigg")
    first = post(hub, {"token": issued.token, "device_id": "askrigg"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body == {
        "version": 1,
        "device_id": "askrigg",
        "broker_host": "hub.example.org",
        "broker_port": 8883,
        "username": "askrigg",
        "client_id": "askrigg",
        "password": hub.issued["askrigg"],
        "ca_pem": hub.ca.pem,
    }
    assert first.headers["Cache-Control"] == "no-store"

    second = post(hub, {"token": issued.token, "device_id": "askrigg"})
    assert second.status_code == 410
    assert second.json()["error"] == "token_used"
    assert "used" in second.json()["message"]
    assert "new one" in second.json()["message"]
    (record,) = hub.store.tokens("askrigg")
    assert record.used_by == "127.0.0.1"
    assert record.state(dt.datetime.now(dt.UTC)) == "used"


def test_an_expired_token_fails_clearly(hub: Hub) -> None:
    issued = hub.store.issue("askrigg")
    assert issued.expires_at == dt.datetime.fromtimestamp(hub.clock.now, dt.UTC) + DEFAULT_TTL
    hub.clock.advance(DEFAULT_TTL.total_seconds())
    response = post(hub, {"token": issued.token, "device_id": "askrigg"})
    assert response.status_code == 410
    assert response.json()["error"] == "token_expired"
    assert "expired" in response.json()["message"]
    assert "askrigg" not in hub.issued


def test_the_lifetime_is_configurable(hub: Hub) -> None:
    issued = hub.store.issue("askrigg", ttl=dt.timedelta(hours=1))
    hub.clock.advance(3599)
    assert post(hub, {"token": issued.token, "device_id": "askrigg"}).status_code == 200
    with pytest.raises(ValueError, match="positive"):
        hub.store.issue("askrigg", ttl=dt.timedelta(0))


def test_a_forged_token_fails_clearly(hub: Hub) -> None:
    hub.store.issue("askrigg")
    response = post(hub, {"token": secrets.token_urlsafe(32), "device_id": "askrigg"})
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "message": "this enrolment token is not known to the hub",
    }


def test_a_token_for_another_device_fails(hub: Hub) -> None:
    issued = hub.store.issue("askrigg")
    response = post(hub, {"token": issued.token, "device_id": "bainbridge"})
    assert response.status_code == 401
    assert response.json()["error"] == "wrong_device"
    # …and the token still works for its own device.
    assert post(hub, {"token": issued.token, "device_id": "askrigg"}).status_code == 200


def test_a_new_token_revokes_the_unused_old_one(hub: Hub) -> None:
    old = hub.store.issue("askrigg")
    new = hub.store.issue("askrigg")
    response = post(hub, {"token": old.token, "device_id": "askrigg"})
    assert response.status_code == 410
    assert response.json()["error"] == "token_revoked"
    assert post(hub, {"token": new.token, "device_id": "askrigg"}).status_code == 200
    assert hub.store.revoke("askrigg") == 0
    third = hub.store.issue("askrigg")
    assert hub.store.revoke("askrigg") == 1
    assert post(hub, {"token": third.token, "device_id": "askrigg"}).status_code == 410


def test_brute_force_is_slowed_and_a_valid_token_still_works(hub: Hub) -> None:
    victim = hub.store.issue("askrigg")
    neighbour = hub.store.issue("bainbridge")
    for _ in range(5):
        guess = post(hub, {"token": secrets.token_urlsafe(32), "device_id": "askrigg"})
        assert guess.status_code == 401
    blocked = post(hub, {"token": secrets.token_urlsafe(32), "device_id": "askrigg"})
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "rate_limited"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    # Blocked means blocked: even the right token is not looked at from this address.
    assert post(hub, {"token": victim.token, "device_id": "askrigg"}).status_code == 429

    # Another client address is not blocked: the neighbour enrols meanwhile.
    other = post(hub, {"token": neighbour.token, "device_id": "bainbridge"}, source="127.0.0.2")
    assert other.status_code == 200, other.text

    # After the window, the blocked address may try again, and its valid token works.
    hub.limiter_clock.advance(59)
    assert post(hub, {"token": victim.token, "device_id": "askrigg"}).status_code == 429
    hub.limiter_clock.advance(1)
    assert post(hub, {"token": victim.token, "device_id": "askrigg"}).status_code == 200


def test_the_limit_is_a_sliding_window() -> None:
    clock = FakeClock(0.0)
    limiter = FailureLimiter(3, 60.0, clock=clock)
    for t in (0, 10, 20):
        clock.now = t
        assert limiter.retry_after("10.0.0.1") is None
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == pytest.approx(40.0)
    assert limiter.retry_after("10.0.0.2") is None
    clock.now = 60.0
    assert limiter.retry_after("10.0.0.1") is None  # the first failure has aged out
    limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == pytest.approx(10.0)


def test_the_limiter_forgets_the_oldest_clients_first() -> None:
    limiter = FailureLimiter(1, 60.0, clock=FakeClock(0.0), max_clients=2)
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        limiter.failed(client)
    assert limiter.retry_after("10.0.0.1") is None
    assert limiter.retry_after("10.0.0.3") is not None


def test_ipv6_clients_are_limited_by_their_64_network() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") == "192.0.2.7"


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ([1, 2], "JSON object"),
        ({"device_id": "askrigg"}, '"token"'),
        ({"token": "", "device_id": "askrigg"}, '"token"'),
        ({"token": "x" * 200, "device_id": "askrigg"}, '"token"'),
        ({"token": "abc"}, '"device_id"'),
        ({"token": "abc", "device_id": "Askrigg/../b"}, '"device_id"'),
        ({"token": "abc", "device_id": "askrigg\n"}, "control character U+000A"),
    ],
)
def test_malformed_requests_are_400(hub: Hub, body: Any, what: str) -> None:
    response = post(hub, body)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert what in response.json()["message"]


def test_non_json_and_oversized_bodies_are_refused(hub: Hub) -> None:
    issued = hub.store.issue("askrigg")
    form = post(hub, None, raw=f"token={issued.token}&device_id=askrigg".encode())
    assert form.status_code == 400
    assert "JSON" in form.json()["message"]
    big = json.dumps({"token": issued.token, "device_id": "askrigg", "pad": "x" * 5000})
    response = post(hub, None, raw=big.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "larger" in response.json()["message"]
    broken = post(hub, None, raw=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    # None of that used the token.
    assert post(hub, {"token": issued.token, "device_id": "askrigg"}).status_code == 200


DEEP_AT_THE_LIMIT = "[" * 2048 + "]" * 2048
MALFORMED: list[tuple[str, bytes, str, int, str]] = [
    # (what, body, content type, status, what the answer says)
    ("deep JSON at the size limit", DEEP_AT_THE_LIMIT.encode(), "application/json", 400,
     "nests deeper than 8 levels"),
    ("one byte over the size limit", DEEP_AT_THE_LIMIT.encode() + b" ", "application/json", 400,
     "larger than 4096 bytes"),
    ("wrong content type", b'{"token": "abc", "device_id": "askrigg"}', "text/plain", 400,
     "as JSON"),
    ("truncated JSON", b'{"token": "abc", "device_id": "ask', "application/json", 400,
     "is not JSON"),
    ("NUL in a string", b'{"token": "a\\u0000", "device_id": "askrigg"}', "application/json",
     400, "control character U+0000"),
    ("a huge number", b'{"token": 1' + b"0" * 3000 + b"}", "application/json", 400,
     "number of 3001 characters"),
    ("invalid UTF-8", b'{"token": "\xff"}', "application/json", 400, "not UTF-8"),
    ("a bad token", b'{"token": "not-a-token", "device_id": "askrigg"}', "application/json", 401,
     "not known"),
]  # fmt: skip


def test_every_failed_attempt_counts_and_is_logged_once_a_minute_at_most(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="provisioning.enrolment")
    store = TokenStore(tmp_path / "enrolment")
    clock = FakeClock(1000.0)
    limiter = FailureLimiter(len(MALFORMED), 60.0, clock=clock)
    app = Flask("hub-test")
    app.register_blueprint(
        enrolment_blueprint(
            store,
            lambda device_id: {
                "broker_host": "hub.example.org",
                "broker_port": 8883,
                "username": device_id,
                "password": "not-a-real-password",
                "ca_pem": "-----BEGIN CERTIFICATE-----",
            },
            limiter=limiter,
        )
    )
    client = app.test_client()
    issued = store.issue("askrigg")
    good = {"token": issued.token, "device_id": "askrigg"}

    for what, body, content_type, status, said in MALFORMED:
        answer = client.post("/enroll", data=body, content_type=content_type)
        assert answer.status_code == status, what
        assert said in answer.json["message"], what
    for _ in range(50):  # the limit is reached: even a good token waits
        blocked = client.post("/enroll", json=good)
        assert blocked.status_code == 429
        assert blocked.json["error"] == "rate_limited"
        assert int(blocked.headers["Retry-After"]) == 60
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in lines] == ["enrolment of ? from 127.0.0.1 refused: bad_request"]
    assert all(r.exc_info is None for r in caplog.records)

    clock.now = 1059.5  # just short of a minute: still refused, still not logged
    assert client.post("/enroll", json=good).status_code == 429
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    clock.now = 1060.0  # a minute on: the failures have expired, and a line may be logged
    assert client.post("/enroll", data=b"[", content_type="application/json").status_code == 400
    said = caplog.records[-1].getMessage()
    assert said == (
        "enrolment of ? from 127.0.0.1 refused: bad_request "
        f"(and {len(MALFORMED) - 1 + 51} more since the last line)"
    )
    assert client.post("/enroll", json=good).status_code == 200


def test_a_failing_credential_source_leaves_the_token_usable(hub: Hub) -> None:
    issued = hub.store.issue("askrigg")
    hub.failing.append(OSError("password file is locked"))
    failed = post(hub, {"token": issued.token, "device_id": "askrigg"})
    assert failed.status_code == 500
    assert failed.json()["error"] == "issue_failed"
    hub.failing.append(EnrolmentRefused("askrigg has been revoked"))
    refused = post(hub, {"token": issued.token, "device_id": "askrigg"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "refused", "message": "askrigg has been revoked"}
    assert post(hub, {"token": issued.token, "device_id": "askrigg"}).status_code == 200


def test_racing_requests_with_one_token_enrol_once(hub: Hub) -> None:
    issued = hub.store.issue("askrigg")
    with ThreadPoolExecutor(10) as pool:
        codes = list(
            pool.map(
                lambda _: post(hub, {"token": issued.token, "device_id": "askrigg"}).status_code,
                range(10),
            )
        )
    # One wins; the others see the token used (or, after five such failures, are
    # rate-limited: failed attempts from one address count whatever their reason).
    assert codes.count(200) == 1
    assert codes.count(410) >= 5
    assert set(codes) <= {200, 410, 429}


def test_the_store_keeps_only_hashes_in_a_private_file(hub: Hub, tmp_path: Path) -> None:
    issued = hub.store.issue("askrigg")
    assert "token" not in repr(issued)
    path = tmp_path / "state" / "enrolment" / DB_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = path.read_bytes()
    assert issued.token.encode() not in data
    assert token_hash(issued.token) in data
    assert post(hub, {"token": issued.token, "device_id": "askrigg"}).status_code == 200
    for name in path.parent.iterdir():
        assert stat.S_IMODE(name.stat().st_mode) == 0o600
        assert issued.token.encode() not in name.read_bytes()


def test_a_store_reopened_keeps_its_tokens(tmp_path: Path) -> None:
    clock = FakeClock(1_750_000_000.0)
    issued = TokenStore(tmp_path, clock=clock).issue("askrigg")
    again = TokenStore(tmp_path, clock=clock)
    assert again.redeem(issued.token, "askrigg", lambda d: d.upper()) == "ASKRIGG"
    (record,) = again.tokens()
    assert record.state(dt.datetime.fromtimestamp(clock.now, dt.UTC)) == "used"


def test_nothing_secret_is_logged(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    issued = hub.store.issue("askrigg")
    forged = secrets.token_urlsafe(32)
    post(hub, {"token": forged, "device_id": "askrigg"})
    post(hub, {"token": issued.token, "device_id": "askrigg"})
    hub.limiter_clock.now += 61  # refusals are logged once a minute per address
    post(hub, {"token": issued.token, "device_id": "askrigg"})
    hub.failing.append(RuntimeError("boom"))
    other = hub.store.issue("bainbridge")
    post(hub, {"token": other.token, "device_id": "bainbridge"})
    assert "enrolled askrigg from 127.0.0.1" in caplog.text
    assert "token_used" in caplog.text
    for secret in (issued.token, forged, other.token, hub.issued["askrigg"]):
        assert secret not in caplog.text
        assert token_hash(secret).hex() not in caplog.text


# --- the QR code and the label ---

FINGERPRINT = "sha256:" + "ab" * 32


def test_the_qr_payload_is_a_compact_uri() -> None:
    token = "tok_" + "A" * 39
    text = qr_payload("https://hub.example.org:8443", token, FINGERPRINT.upper())
    assert text == (
        f"hallsense-enrol:v1?hub=https://hub.example.org:8443&token={token}&ca={FINGERPRINT}"
    )
    with_device = qr_payload("https://hub.example.org/", token, "AB:" * 31 + "AB", device_id="a-1")
    assert with_device.endswith(f"&device=a-1&ca={FINGERPRINT}")
    assert "hub=https://hub.example.org&" in with_device


@pytest.mark.parametrize(
    ("hub_url", "fingerprint"),
    [("http://hub.example.org", FINGERPRINT), ("https://hub", "sha1:" + "ab" * 20)],
)
def test_the_qr_payload_refuses_plain_http_and_other_fingerprints(
    hub_url: str, fingerprint: str
) -> None:
    with pytest.raises(ValueError, match=r"https|SHA-256"):
        qr_payload(hub_url, "t" * 43, fingerprint)


def test_the_ca_fingerprint_is_of_the_der_certificate(council_ca: Ca) -> None:
    expected = council_ca.cert.fingerprint(hashes.SHA256()).hex()
    assert ca_fingerprint(council_ca.pem) == f"sha256:{expected}"


def _raster(svg: str, pixels_per_module: int = 8) -> Image.Image:
    """Draw the label's QR path (runs ``M x,y h w v1 h-w z``) as a phone camera would see it."""
    path = re.search(r'class="qr"[^>]* d="([^"]+)"', svg)
    assert path is not None
    runs = [tuple(map(int, m)) for m in re.findall(r"M(\d+),(\d+)h(\d+)v1h-\d+z", path.group(1))]
    size = max(x + w for x, _, w in runs) + 4
    image = Image.new("L", (size * pixels_per_module, size * pixels_per_module), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w in runs:
        draw.rectangle(
            (
                x * pixels_per_module,
                y * pixels_per_module,
                (x + w) * pixels_per_module - 1,
                (y + 1) * pixels_per_module - 1,
            ),
            fill=0,
        )
    return image


def test_the_label_carries_a_scannable_code_the_device_and_the_site(council_ca: Ca) -> None:
    token = secrets.token_urlsafe(32)
    svg = label_svg(
        hub_url="https://hub.example.org",
        token=token,
        ca_fingerprint=ca_fingerprint(council_ca.pem),
        device_id="askrigg-village-hall",
        site="Askrigg Village Hall & Institute",
        expires_at=dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC),
    )
    assert svg.startswith("<?xml")
    assert 'width="62.00mm"' in svg
    assert "Askrigg Village Hall &amp; Institute" in svg
    assert "Device: askrigg-village-hall" in svg
    assert "01 May 2026 12:00 UTC" in svg
    assert token not in svg.replace('class="qr"', "")  # only inside the QR code
    (decoded,) = zxingcpp.read_barcodes(_raster(svg))
    assert decoded.text == qr_payload(
        "https://hub.example.org",
        token,
        ca_fingerprint(council_ca.pem),
        device_id="askrigg-village-hall",
    )
    # The drawn modules are segno's own.
    modules = segno.make(decoded.text, error="m", micro=False).symbol_size(border=4)[0]
    assert _raster(svg, 1).size[0] == modules


def test_the_label_wraps_a_long_site_name() -> None:
    svg = label_svg(
        hub_url="https://hub.example.org",
        token=secrets.token_urlsafe(32),
        ca_fingerprint=FINGERPRINT,
        device_id="a",
        site="The Very Long Named Memorial Village Hall of Upper Wensleydale",
    )
    site_lines = re.findall(r'font-weight="bold"[^>]*>([^<]+)<', svg)
    assert len(site_lines) >= 2
    assert all(len(line) <= 30 for line in site_lines)
    assert " ".join(site_lines) == "The Very Long Named Memorial Village Hall of Upper Wensleydale"


def test_credential_sources_must_give_every_field(tmp_path: Path) -> None:
    """A callback that forgets the password is a bug: 500, and the token stays usable."""
    store = TokenStore(tmp_path)
    app = Flask("t")
    bad: Callable[[str], Mapping[str, Any]] = lambda d: {  # noqa: E731
        "broker_host": "h",
        "broker_port": 8883,
        "username": d,
        "ca_pem": "x",
    }
    app.register_blueprint(enrolment_blueprint(store, bad))
    issued = store.issue("askrigg")
    client = app.test_client()
    response = client.post("/enroll", json={"token": issued.token, "device_id": "askrigg"})
    assert response.status_code == 500
    assert store.tokens()[0].used_at is None
