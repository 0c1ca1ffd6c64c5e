"""The council CA's fingerprint: on the enrolment label, checked by the node."""

from __future__ import annotations

import hashlib


def certificate_fingerprint(der: bytes) -> str:
    """``sha256:`` and 64 lowercase hex digits: SHA-256 of a certificate's DER bytes.

    The digest ``openssl x509 -noout -fingerprint -sha256`` shows (there in upper case
    with colons); the enrolment label's QR code carries it, the node compares it.
    """
    return "sha256:" + hashlib.sha256(der).hexdigest()


def normalise_fingerprint(fingerprint: str) -> str:
    """A SHA-256 certificate fingerprint as 64 lowercase hex digits.

    Accepts ``sha256:`` in front, colons between bytes, and either case.

    Raises:
        ValueError: it is not a SHA-256 fingerprint.
    """
    text = fingerprint.strip()
    if text.lower().startswith("sha256:"):
        text = text[len("sha256:") :]
    text = text.replace(":", "").lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"{fingerprint!r} is not a SHA-256 fingerprint (64 hex digits)")
    return text
