"""The hub's web (``hallsense hub web``): devices' routes, and the pages people use.

:func:`create_hub_web` builds the Flask app that ``hallsense hub web`` serves over TLS
(or, behind an HTTPS reverse proxy, over plain HTTP on 127.0.0.1):

- for devices, always: ``POST /enroll`` and ``POST /rotate`` (provisioning's blueprints),
  and ``/time`` (the hub's clock, for nodes whose network blocks NTP; docs/time.md);
- for everyone: ``/open-data`` (:mod:`hub.open_data`) with each hall's question box
  (``/open-data/<hall>/ask``, :mod:`hub.question_routes`), its DCAT catalogue
  (:mod:`hub.open_data_catalog`) and SQLite downloads (:mod:`hub.open_data_sqlite`),
  ``/.well-known/security.txt``,
  ``/accessibility`` and the log-in and set-up pages;
- behind a login (:mod:`hub.login_web`; every route not in :data:`PUBLIC_ENDPOINTS`):
  the fleet pages and hall settings (:mod:`hub.fleet_pages`), the hall's monthly report
  (:mod:`hub.report_routes`) and the account's report e-mails (:mod:`hub.report_mail_web`),
  the data API
  (:mod:`hub.data_api`) and ``/metrics``.

Every response carries :data:`SECURITY_HEADERS`: a Content-Security-Policy that loads
nothing but the hub's own stylesheet (no script at all, no inline style), ``nosniff``,
``no-referrer``, Strict-Transport-Security (the hub is reached over HTTPS only, whether
it terminates TLS itself or a proxy does), and ``Cache-Control: no-store`` unless a route
says otherwise. Errors are JSON (``{"error": name, "message": text}``) for devices and
the API, and a page saying what was wrong for people; never a traceback or a version
banner, and debug mode stays off.

Behind a reverse proxy (``behind_proxy=True``) the client's address is taken from the
proxy's ``X-Forwarded-For`` (one hop, werkzeug's ``ProxyFix``), so that the limits on
failed attempts count each client, not the proxy. Only do that when the app listens
where nothing but the proxy can reach it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from hub.attention import DEFAULT_RULES, AttentionRules
from hub.data_api import Exporter, data_api_blueprint
from hub.fleet_pages import fleet_blueprint
from hub.login_web import install_login, visible, wants_json
from hub.logins import Logins
from hub.open_data import Presenter, open_data_blueprint
from hub.open_data_catalog import (
    DEFAULT_CATALOGUE,
    CatalogueSettings,
    open_data_catalog_blueprint,
)
from hub.open_data_sqlite import open_data_sqlite_blueprint
from hub.question_routes import hall_questions_blueprint
from hub.releases_web import releases_blueprint
from hub.report_mail_web import report_mail_blueprint
from hub.report_routes import report_blueprint
from hub.well_known import well_known_blueprint
from hub_sync.hub_time import TIME_PATH, UNIX_MS
from presentation.vocabulary import metric_words
from provisioning.enrolment import IssueCredentials, enrolment_blueprint
from provisioning.enrolment_tokens import TokenStore
from provisioning.failure_limit import FailureLimiter, SharedFailureLimiter
from provisioning.rotation import CredentialRotation, rotation_blueprint

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
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
"""Larger request bodies are refused (413, saying the limit) before any route reads them;
the devices' routes have smaller limits of their own (enrolment 4 KiB, rotation 1 KiB),
answered by the routes themselves (400, saying the limit)."""


@dataclass(frozen=True)
class HubPages:
    """What the hub's pages, data API and open data need (the composition root gives it)."""

    open_store: Callable[[], Any]
    """A new connection to the hub store; the app opens one per request and closes it."""
    exporters: Mapping[str, Exporter]
    """The CSV and SenML writers of the downloads (:func:`hub.exports.hub_exporters`)."""
    presenter: Presenter
    """The words and charts of the open data (:class:`hub.presenter.NodePresenter`)."""
    send_config: Callable[[str, bytes, str], None]
    """``send_config(device_id, payload, actor)``: publish a node's config and record it;
    raises ConnectionError when the broker cannot be reached."""
    secure_cookies: bool = True
    """The hub is reached over HTTPS (itself, or through a proxy)."""
    timezone: str = "Europe/London"
    clock: Callable[[], float] = time.time
    attention: AttentionRules = DEFAULT_RULES
    """The thresholds of the fleet's "needs attention" rules."""
    catalogue: CatalogueSettings = DEFAULT_CATALOGUE
    """The open data's licence and publisher, for its DCAT catalogue and downloads."""
    report_mail: bool = False
    """The hub has a mail server to send monthly report e-mails (:mod:`hub.report_sender`)."""


PUBLIC_ENDPOINTS = frozenset(
    {
        "enrolment.enroll",
        "rotation.rotate",
        "rotation.confirm",
        "well_known.security",
        "open_data.index",
        "open_data.hall",
        "open_data.download",
        "hall_questions.ask",
        "open_data_catalog.catalog",
        "open_data_catalog.jsonld",
        "open_data_catalog.turtle",
        "open_data_sqlite.county",
        "open_data_sqlite.county_metadata",
        "open_data_sqlite.hall",
        "open_data_sqlite.hall_metadata",
        "hub_pages.home",
        "hub_pages.accessibility",
        "releases.file",
        "hub_time.now",
    }
)
"""The routes anyone may use without an account; every other one needs a login."""


def create_hub_web(
    token_store: TokenStore,
    issue_credentials: IssueCredentials,
    *,
    limiter: FailureLimiter | None = None,
    rotation: CredentialRotation | None = None,
    security_contact: str = "",
    pages: HubPages | None = None,
    behind_proxy: bool = False,
    releases_dir: Path | None = None,
    time_source: Callable[[], float] = time.time,
) -> Flask:
    """The hub's web app: the devices' routes, and with ``pages`` everything people use.

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
        pages: serve the fleet pages, hall settings, data API, metrics and open data,
            behind logins (:data:`PUBLIC_ENDPOINTS` excepted).
        behind_proxy: take the client's address from one reverse proxy's
            ``X-Forwarded-For`` (and the scheme from ``X-Forwarded-Proto``).
        releases_dir: serve this signed release repository at ``/releases/`` (public).
        time_source: the hub's clock (seconds since 1970 UTC) that ``/time`` tells nodes.
    """
    app = Flask(__name__, static_folder="static" if pages is not None else None)
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
    app.register_blueprint(_hub_time(time_source))
    if releases_dir is not None:
        app.register_blueprint(releases_blueprint(releases_dir))
    app.jinja_env.globals["security_contact"] = security_contact
    app.jinja_env.globals["metric_words"] = metric_words
    if pages is not None:
        _add_pages(app, pages)
    app.after_request(_secure)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    if behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    return app


def _add_pages(app: Flask, pages: HubPages) -> None:
    def request_store() -> Any:
        if "hub_store" not in g:
            g.hub_store = pages.open_store()
        return g.hub_store

    @app.teardown_appcontext
    def close_store(error: BaseException | None) -> None:
        store = g.pop("hub_store", None)
        if store is not None:
            store.close()

    app.config["HUB_PAGES"] = True
    logins = Logins(
        request_store,
        clock=pages.clock,
        per_user=SharedFailureLimiter(request_store, "log-in name", 5, 15 * 60, clock=pages.clock),
        per_address=SharedFailureLimiter(
            request_store, "log-in address", 20, 15 * 60, clock=pages.clock
        ),
    )
    logins.ready()
    app.extensions["hallsense_logins"] = logins
    install_login(app, logins, public=PUBLIC_ENDPOINTS, secure_cookies=pages.secure_cookies)
    app.register_blueprint(
        fleet_blueprint(
            request_store, pages.send_config, timezone=pages.timezone, rules=pages.attention
        )
    )
    app.register_blueprint(
        data_api_blueprint(request_store, pages.exporters, visible=visible, timezone=pages.timezone)
    )
    app.register_blueprint(
        open_data_blueprint(request_store, pages.presenter, timezone=pages.timezone)
    )
    app.register_blueprint(
        hall_questions_blueprint(request_store, timezone=pages.timezone, clock=pages.clock)
    )
    app.register_blueprint(open_data_catalog_blueprint(request_store, pages.catalogue))
    app.register_blueprint(
        open_data_sqlite_blueprint(request_store, pages.catalogue, timezone=pages.timezone)
    )
    app.register_blueprint(
        report_blueprint(request_store, timezone=pages.timezone, clock=pages.clock)
    )
    app.register_blueprint(
        report_mail_blueprint(
            request_store, mail=pages.report_mail, clock=pages.clock, timezone=pages.timezone
        )
    )
    app.register_blueprint(_hub_pages())


def _hub_pages() -> Blueprint:
    blueprint = Blueprint("hub_pages", __name__)

    @blueprint.get("/")
    def home() -> ResponseReturnValue:
        return redirect(url_for("open_data.index"))

    @blueprint.get("/accessibility")
    def accessibility() -> str:
        return render_template("accessibility.html")

    return blueprint


def _hub_time(time_source: Callable[[], float]) -> Blueprint:
    """``/time``: the hub's clock in milliseconds, never cached.

    Public: a node asks before it has any account it could use, and the time is no
    secret. POST is what nodes send (through the one pinned-TLS helper they have), GET
    is for people.
    """
    blueprint = Blueprint("hub_time", __name__)

    @blueprint.route(TIME_PATH, methods=["GET", "POST"])
    def now() -> ResponseReturnValue:
        return {UNIX_MS: int(time_source() * 1000)}

    return blueprint


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.pop("Server", None)
    return response


def _http_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    # The exception's own headers (Allow on a 405, which RFC 9110 requires), not its type.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    message = error.description or error.name
    if isinstance(error, RequestEntityTooLarge):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        message = f"the request body is larger than the {limit:,} bytes this hub accepts"
    if current_app.config.get("HUB_PAGES") and not wants_json():
        page = render_template("error.html", heading=error.name, message=message)
        return page, code, headers
    body = {"error": error.name, "message": message}
    return body, code, headers


def _unexpected(error: Exception) -> ResponseReturnValue:
    log.error("unexpected error on %s %s", request.method, request.path, exc_info=error)
    server_error = InternalServerError()
    body = {
        "error": server_error.name,
        "message": "the hub could not answer this request; try again later",
    }
    return body, 500
