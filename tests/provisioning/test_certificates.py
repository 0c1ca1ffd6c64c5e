"""The council CA and the server certificate: chain, names, validity, key files."""

import ipaddress
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from provisioning.certificates import (
    VALID_FROM,
    CertificateError,
    ca_fingerprint,
    check_issued_by,
    issue_server_certificate,
    load_certificate,
    load_issued,
    new_ca,
    write_certificate,
    write_private_key,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ca():
    return new_ca(organisation="North Yorkshire Council", now=NOW)


@pytest.fixture(scope="module")
def server(ca):
    return issue_server_certificate(
        ca, hostnames=["hub.example.org", "localhost"], ips=["192.0.2.10", "::1"], now=NOW
    )


def test_the_server_certificate_chains_to_the_ca(ca, server):
    check_issued_by(server.certificate, ca.certificate)
    check_issued_by(ca.certificate, ca.certificate)
    other = new_ca(now=NOW)
    with pytest.raises(CertificateError):
        check_issued_by(server.certificate, other.certificate)
    with pytest.raises(CertificateError, match="not a CA"):
        check_issued_by(ca.certificate, server.certificate)


def test_the_ca_may_sign_only_end_entities(ca):
    constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0


def test_the_server_certificate_names_every_host_and_address(server):
    san = server.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["hub.example.org", "localhost"]
    assert san.value.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("192.0.2.10"),
        ipaddress.ip_address("::1"),
    ]
    usage = server.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(usage.value) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_certificates_are_valid_long_before_they_are_issued(ca, server):
    # A Pi restoring a stale clock at boot (an image built in 2021) must still connect.
    for issued in (ca, server):
        start = issued.certificate.not_valid_before_utc
        assert start == VALID_FROM
        assert start < NOW - timedelta(days=3 * 365)
        assert issued.certificate.not_valid_after_utc > NOW + timedelta(days=4 * 365)
    assert ca.certificate.not_valid_after_utc > server.certificate.not_valid_after_utc


def test_a_server_certificate_needs_a_name():
    ca = new_ca(now=NOW)
    with pytest.raises(CertificateError, match="at least one"):
        issue_server_certificate(ca, hostnames=[" "], ips=[])
    with pytest.raises(CertificateError, match="not an IP address"):
        issue_server_certificate(ca, hostnames=["hub"], ips=["hub.example.org"])


def test_the_fingerprint_is_openssl_s(ca, tmp_path):
    path = write_certificate(tmp_path / "ca.crt", ca)
    fingerprint = ca_fingerprint(ca.certificate)
    assert fingerprint.startswith("sha256:")
    assert len(fingerprint) == len("sha256:") + 64
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert out.strip().split("=", 1)[1].replace(":", "").lower() == fingerprint[7:]


def test_keys_are_written_0600_and_certificates_0644(ca, server, tmp_path):
    key = write_private_key(tmp_path / "server.key", server)
    cert = write_certificate(tmp_path / "server.crt", server)
    assert key.stat().st_mode & 0o777 == 0o600
    assert cert.stat().st_mode & 0o777 == 0o644
    assert load_issued(cert, key).certificate == server.certificate
    assert load_certificate(cert) == server.certificate
    with pytest.raises(FileExistsError):
        write_private_key(key, server)
    write_private_key(tmp_path / "ca.key", ca)
    with pytest.raises(CertificateError, match="not the key"):
        load_issued(cert, tmp_path / "ca.key")


def test_the_key_never_shows_in_a_repr(server):
    assert "PRIVATE" not in repr(server)
    assert repr(server) == "Issued(subject='CN=hub.example.org')"
