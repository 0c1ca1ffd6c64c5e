"""``/.well-known/security.txt`` (RFC 9116): where to report a vulnerability in this hub.

Public, like the open data: a researcher who finds a problem must find whom to tell
without an account. The contact is the council's, from ``HALLSENSE_SECURITY_CONTACT``
(an ``mailto:`` or ``https:`` address); without one the route answers 404 rather than
invent an address nobody reads, and ``hallsense hub web`` warns at start-up. ``Expires``
is always six months ahead: the file is made on each request, so it never goes stale
while the hub runs, and a hub switched off for good stops vouching for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, request

PATH = "/.well-known/security.txt"
EXPIRES_AFTER = timedelta(days=182)
CONTACT = re.compile(r"(mailto:[^\s@]+@[^\s@]+|https://\S+)")


def check_contact(contact: str) -> str:
    """The contact as given, if it is a ``mailto:`` or ``https://`` URI.

    Raises:
        ValueError: naming what a contact must look like.
    """
    if not CONTACT.fullmatch(contact):
        raise ValueError(
            f"{contact!r} is not a security contact: give mailto:someone@example.org "
            "or an https:// address"
        )
    return contact


def security_txt(contact: str, canonical: str, now: datetime) -> str:
    """The file's text (RFC 9116 §2.5: Contact and Expires required)."""
    expires = (now + EXPIRES_AFTER).astimezone(UTC).replace(microsecond=0)
    return (
        f"Contact: {contact}\n"
        f"Expires: {expires.isoformat().replace('+00:00', 'Z')}\n"
        "Preferred-Languages: en\n"
        f"Canonical: {canonical}\n"
    )


def well_known_blueprint(
    contact: str, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Blueprint:
    """``GET /.well-known/security.txt`` with ``contact`` ("" serves 404).

    Raises:
        ValueError: ``contact`` is given but not a mailto: or https: URI.
    """
    if contact:
        check_contact(contact)
    blueprint = Blueprint("well_known", __name__)

    @blueprint.get(PATH)
    def security() -> Response:
        if not contact:
            abort(404)
        canonical = request.url_root.rstrip("/") + PATH
        response = Response(security_txt(contact, canonical, now()), mimetype="text/plain")
        response.headers["Cache-Control"] = "max-age=86400"
        return response

    return blueprint
