"""The hub's web (``hallsense hub web``): for now the routes enrolment and rotation need.

:func:`create_hub_web` builds the Flask app that ``hallsense hub web`` serves over TLS
(or, behind an HTTPS reverse proxy, over plain HTTP on 127.0.0.1). It mounts
provisioning's ``POST /enroll`` and ``POST /rotate`` blueprints and nothing else yet; the
fleet pages and the
data API come later and inherit what is set here:

- every response carries the security headers of :data:`SECURITY_HEADERS`: a
  Content-Security-Policy of ``default-src 'none'`` (the app serves JSON only, so nothing
  may load from it, frame it or be framed by it), ``nosniff``, ``no-referrer`` and
  Strict-Transport-Security (the hub is reached over HTTPS only, whether it terminates
  TLS itself or a proxy does), and ``Cache-Control: no-store`` unless a route says
  otherwise (credentials must never sit in a cache);
- every error is JSON, ``{"error": name, "message": text}``, with the status's own
  headers (``Allow`` on a 405), never an HTML page, a traceback or a version banner;
- debug mode stays off, and nothing names the server's software or version (the
  ``Server`` header is dropped here; ``hallsense hub web`` also tells cheroot to call
  itself only "hallsense").

Behind a reverse proxy (``behind_proxy=True``) the client's address is taken from the
proxy's ``X-Forwarded-For`` (one hop, werkzeug's ``ProxyFix``), so that enrolment's
per-address limit of failed attempts counts each node, not the proxy. Only do that when
the app listens where nothing but the proxy can reach it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.middleware.proxy_fix import ProxyFix

from hub.data_api import DataStore, Exporter, data_api_blueprint
from hub.well_known import well_known_blueprint
from provisioning.enrolment import (
    FailureLimiter,
    IssueCredentials,
    TokenStore,
    enrolment_blueprint,
)
from provisioning.rotation import CredentialRotation, rotation_blueprint

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; " + (
    "frame-ancestors 'none'"
)
HSTS_MAX_AGE_S = 365 * 24 * 3600
"""Strict-Transport-Security's max-age: a year."""

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE_S}",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Set on every response (a route's own value of a header wins)."""

MAX_CONTENT_LENGTH = 64 * 1024
"""Larger request bodies are refused (413) before any route reads them; enrolment's own
limit (4 KiB) is smaller and answered by the route itself."""


def create_hub_web(
    token_store: TokenStore,
    issue_credentials: IssueCredentials,
    *,
    limiter: FailureLimiter | None = None,
    rotation: CredentialRotation | None = None,
    security_contact: str = "",
    data_store: Callable[[], DataStore] | None = None,
    exporters: Mapping[str, Exporter] | None = None,
    visible: Callable[[str], bool] = lambda device_id: True,
    timezone: str = "Europe/London",
    behind_proxy: bool = False,
) -> Flask:
    """The hub's web app: ``POST /enroll``, security headers, JSON errors.

    Args:
        token_store: the one-time enrolment tokens (``hallsense provision add-device``
            issues them into the same store).
        issue_credentials: ``issue_credentials(device_id)`` → the node's broker
            credentials (provisioning's ``CREDENTIAL_FIELDS``), called once a token has
            been claimed; raises ``EnrolmentRefused`` to refuse the device.
        limiter: the limit of failed enrolment and rotation attempts per client address
            (default: five a minute).
        rotation: serve ``POST /rotate`` and ``/rotate/confirm`` for replacing a device's
            broker password.
        security_contact: the ``Contact`` of ``/.well-known/security.txt`` (a mailto: or
            https: URI); without one that route answers 404.
        data_store: the request's hub store, for the data API (``/api/v1/…``); without
            one the API is not served.
        exporters: the CSV and SenML writers of the data API's downloads.
        visible: whether the caller may see a device's data.
        timezone: the hub's local time zone, for dates and daily rollups.
        behind_proxy: take the client's address from one reverse proxy's
            ``X-Forwarded-For`` (and the scheme from ``X-Forwarded-Proto``).
    """
    app = Flask(__name__, static_folder=None)
    app.debug = False
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    limiter = limiter or FailureLimiter()
    app.register_blueprint(enrolment_blueprint(token_store, issue_credentials, limiter=limiter))
    if rotation is not None:
        app.register_blueprint(rotation_blueprint(rotation, limiter=limiter))
    app.register_blueprint(well_known_blueprint(security_contact))
    if data_store is not None:
        app.register_blueprint(
            data_api_blueprint(data_store, exporters or {}, visible=visible, timezone=timezone)
        )
    app.after_request(_secure)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    if behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    return app


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.pop("Server", None)
    return response


def _http_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    # The exception's own headers (Allow on a 405, which RFC 9110 requires), not its type.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    body = {"error": error.name, "message": error.description or error.name}
    return body, code, headers


def _unexpected(error: Exception) -> ResponseReturnValue:
    log.error("unexpected error on %s %s", request.method, request.path, exc_info=error)
    server_error = InternalServerError()
    body = {
        "error": server_error.name,
        "message": "the hub could not answer this request; try again later",
    }
    return body, 500
