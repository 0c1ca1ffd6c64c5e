"""The enrolment QR code's text, and pinning the council CA whose fingerprint it carries.

A QR code carries only the CA's SHA-256 fingerprint, and a fingerprint alone cannot be
pinned in ``requests`` without fetching the server's chain unauthenticated first, so the
node does not do that: it requires the CA file, and when a fingerprint is known (from the
QR code) it checks that the file holds exactly that one certificate before connecting,
and that the CA the hub hands back is that same one.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from hub_sync.enrolment_contract import (
    CA_FINGERPRINT_PREFIX,
    TOKEN_PATTERN,
    URI_CA,
    URI_DEVICE,
    URI_HUB,
    URI_PREFIX,
    URI_TOKEN,
    EnrolmentError,
)
from hub_sync.fingerprints import certificate_fingerprint, normalise_fingerprint
from hub_sync.topics import DEVICE_ID

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")


class CaMismatch(EnrolmentError):
    """The CA file or the CA the hub sent is not the one whose fingerprint the QR code has."""


def pem_fingerprints(pem: str) -> list[str]:
    """The SHA-256 fingerprint (64 hex digits) of each certificate in a PEM text."""
    return [
        normalise_fingerprint(certificate_fingerprint(ssl.PEM_cert_to_DER_cert(block)))
        for block in _PEM_CERT.findall(pem)
    ]


def check_ca(pem: str, fingerprint: str, *, what: str) -> None:
    """That ``pem`` is exactly one certificate, the one with ``fingerprint``.

    Raises:
        CaMismatch: it is not.
    """
    expected = normalise_fingerprint(fingerprint)
    try:
        found = pem_fingerprints(pem)
    except ValueError:
        found = []
    if found != [expected]:
        raise CaMismatch(
            f"{what} is not the council CA whose fingerprint the enrolment code carries "
            f"(expected sha256:{expected}, found "
            f"{', '.join('sha256:' + f for f in found) or 'no certificate'})"
        )


@dataclass(frozen=True)
class EnrolmentUri:
    """What the label's QR code says: where the hub is, the token, and the CA fingerprint."""

    hub_url: str
    token: str = field(repr=False)
    ca_fingerprint: str
    device_id: str | None = None


def parse_enrolment_uri(text: str) -> EnrolmentUri:
    """The parts of a ``hallsense-enrol:v1?hub=…&token=…&ca=sha256:…[&device=…]`` text.

    Raises:
        ValueError: it is not such a text, or a part is missing or malformed.
    """
    text = text.strip()
    if not text.startswith(URI_PREFIX):
        raise ValueError(f"an enrolment code starts with {URI_PREFIX!r}")
    fields = dict(parse_qsl(text[len(URI_PREFIX) :], keep_blank_values=True, strict_parsing=True))
    for name in (URI_HUB, URI_TOKEN, URI_CA):
        if not fields.get(name):
            raise ValueError(f"the enrolment code has no {name!r}")
    check_hub_url(fields[URI_HUB])
    if not TOKEN_PATTERN.fullmatch(fields[URI_TOKEN]):
        raise ValueError("the enrolment code's token is malformed")
    device = fields.get(URI_DEVICE)
    if device is not None and not DEVICE_ID.fullmatch(device):
        raise ValueError(f"the enrolment code's device id {device!r} is not valid")
    return EnrolmentUri(
        hub_url=fields[URI_HUB],
        token=fields[URI_TOKEN],
        ca_fingerprint=CA_FINGERPRINT_PREFIX + normalise_fingerprint(fields[URI_CA]),
        device_id=device,
    )


def check_hub_url(hub_url: str) -> None:
    """That the hub's URL is ``https://host[:port]…``: the node enrols only over TLS.

    Raises:
        ValueError: it is not.
    """
    parts = urlsplit(hub_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"the hub URL must be https://host[:port], not {hub_url!r}")
