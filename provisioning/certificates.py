"""The council's certificate authority and the broker's server certificate.

Devices authenticate with passwords, not client certificates: a password is taken away
with a broker reload (SIGHUP) the moment a device is revoked, where a certificate would
need a revocation list that Mosquitto reads only when it restarts.

Keys are ECDSA on NIST P-256: a 256-bit key gives the strength of RSA 3072 (NIST SP 800-57)
with keys and signatures a tenth the size, and a TLS handshake that a Pi Zero finishes in a
few milliseconds where RSA 3072 signing takes tens; OpenSSL (Mosquitto), Python's ``ssl``
(paho) and every current phone and browser support it.

Certificates are valid from :data:`VALID_FROM`, years before they are issued. A Pi has no
battery-backed clock: at boot it restores the time it saved at shutdown (fake-hwclock) or
the date its image was built, which can be months or years old, and it must reach the hub
over TLS before NTP has corrected it. A fixed date rather than "now minus N years" keeps
every certificate's start the same and easy to explain; it is older than any Raspberry Pi
OS release hallsense supports. (A node whose clock says 1970 still fails: nothing can be
valid then without being valid for ever.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub_sync.fingerprints import certificate_fingerprint
from provisioning.passwords import Owner, write_private_file

VALID_FROM = datetime(2020, 1, 1, tzinfo=UTC)
"""The start of every certificate's validity (see the module's docstring for why)."""
CA_LIFETIME = timedelta(days=25 * 365)
"""The council CA outlives the hardware: re-issuing it means touching every node."""
SERVER_LIFETIME = timedelta(days=5 * 365)
"""The broker's certificate: renewed by re-running provisioning on the hub, nodes untouched."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CertificateError(ValueError):
    """A certificate that cannot be made or does not check out."""


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:  # the key never appears in a repr
        return f"Issued(subject={self.certificate.subject.rfc4514_string()!r})"

    def certificate_pem(self) -> bytes:
        """The certificate in PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def private_key_pem(self) -> bytes:
        """The private key in unencrypted PKCS#8 PEM (Mosquitto cannot ask for a passphrase)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise CertificateError("the issue time must be timezone-aware")
    return now


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
    lifetime: timedelta,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(VALID_FROM, now))
        .not_valid_after(now + lifetime)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def new_ca(
    name: str = "hallsense council CA", *, organisation: str = "", now: datetime | None = None
) -> Issued:
    """A new certificate authority: a self-signed certificate that may sign end entities only.

    Args:
        name: its common name, as people see it in certificate viewers.
        organisation: the council's name, if wanted in the subject.
        now: the issue time (tests); the current time by default.
    """
    issued_at = _now(now)
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, name)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    subject = x509.Name(attributes)
    certificate = (
        _builder(subject, subject, key.public_key(), issued_at, CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def _end_entity(
    ca: Issued,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    lifetime: timedelta,
    now: datetime | None,
    alternative_names: Sequence[x509.GeneralName] = (),
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, ca.certificate.subject, key.public_key(), _now(now), lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
    )
    if alternative_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(list(alternative_names)), critical=False
        )
    return Issued(builder.sign(ca.private_key, hashes.SHA256()), key)


def issue_server_certificate(
    ca: Issued,
    *,
    hostnames: Sequence[str] = (),
    ips: Sequence[str | IPAddress] = (),
    now: datetime | None = None,
) -> Issued:
    """A TLS server certificate for the broker (and the hub's enrolment page).

    Clients check the name they connect to against the certificate's subject alternative
    names, so list every DNS name and address nodes and the hub will use.

    Raises:
        CertificateError: no name or address given, or an address that is not one.
    """
    try:
        addresses = [ipaddress.ip_address(ip) if isinstance(ip, str) else ip for ip in ips]
    except ValueError as error:
        raise CertificateError(f"not an IP address: {error}") from error
    names = [name.strip().lower() for name in hostnames if name.strip()]
    if not names and not addresses:
        raise CertificateError("a server certificate needs at least one host name or address")
    alternative: list[x509.GeneralName] = [x509.DNSName(name) for name in dict.fromkeys(names)]
    alternative += [x509.IPAddress(address) for address in dict.fromkeys(addresses)]
    common_name = names[0] if names else str(addresses[0])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return _end_entity(
        ca, subject, ExtendedKeyUsageOID.SERVER_AUTH, SERVER_LIFETIME, now, alternative
    )


def ca_fingerprint(certificate: x509.Certificate) -> str:
    """``sha256:`` and 64 lowercase hex digits: SHA-256 of the certificate's DER bytes.

    The same digest ``openssl x509 -noout -fingerprint -sha256`` shows (there in upper
    case with colons); short enough for the enrolment label's QR code, which the node
    compares against the CA the hub presents.
    """
    return certificate_fingerprint(certificate.public_bytes(serialization.Encoding.DER))


def check_issued_by(certificate: x509.Certificate, ca: x509.Certificate) -> None:
    """Check that ``ca`` signed ``certificate`` and that the CA may sign.

    Raises:
        CertificateError: the signature or the issuer does not match, or ``ca`` is no CA.
    """
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as error:
        raise CertificateError("the issuer has no basic constraints: not a CA") from error
    if not constraints.ca:
        raise CertificateError("the issuer is not a CA")
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError) as error:
        raise CertificateError(f"not issued by {ca.subject.rfc4514_string()}: {error}") from error
    except InvalidSignature as error:
        raise CertificateError(f"bad signature from {ca.subject.rfc4514_string()}") from error


def load_certificate(path: Path) -> x509.Certificate:
    """A PEM certificate from ``path``."""
    return x509.load_pem_x509_certificate(path.read_bytes())


def load_issued(certificate_path: Path, key_path: Path) -> Issued:
    """A certificate and its key from PEM files (e.g. the CA, to issue more).

    Raises:
        CertificateError: the key is not an EC key, or not the certificate's.
    """
    certificate = load_certificate(certificate_path)
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{key_path} is not an EC private key")
    if key.public_key() != certificate.public_key():
        raise CertificateError(f"{key_path} is not the key of {certificate_path}")
    return Issued(certificate, key)


def write_certificate(
    path: Path, issued: Issued | x509.Certificate, *, owner: Owner | None = None
) -> Path:
    """Write a certificate as PEM, readable by all (0644); it holds nothing secret.

    Raises:
        FileExistsError: ``path`` exists already.
    """
    certificate = issued.certificate if isinstance(issued, Issued) else issued
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    return write_private_file(path, pem, owner=owner, mode=0o644)


def write_private_key(path: Path, issued: Issued, *, owner: Owner | None = None) -> Path:
    """Write a private key as PEM into a new file that is 0600 from its creation.

    Args:
        path: the key file; it must not exist yet.
        issued: the certificate whose key it is.
        owner: (uid, gid) to own it, e.g. the broker's user (needs root).

    Raises:
        FileExistsError: ``path`` exists already.
    """
    return write_private_file(path, issued.private_key_pem(), owner=owner)
