"""The Flask application factory of the community page: blueprints, headers, errors.

Every response carries a Content-Security-Policy with no 'unsafe-inline' and no other
origin, and the usual security headers; errors are plain pages that say what was wrong,
never tracebacks or version banners. The page is read-only: every route is GET (or HEAD).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from web_local.api import api
from web_local.context import (
    SITE_EXTENSION,
    StoreUnavailable,
    close_store,
    current_site,
    page_settings,
)
from web_local.pages import pages
from web_local.question_routes import questions
from web_local.report_routes import reports
from web_local.site import Site

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


MAX_CONTENT_LENGTH = 1024
"""Request bodies larger than this are refused (413) before any route runs: nothing is
ever posted to the page, so no request needs one."""


def create_app(site: Site) -> Flask:
    """The community page for the node described by ``site``."""
    app = Flask(__name__, static_folder=str(Path(__file__).with_name("static")))
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.update(
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
    )
    app.extensions[SITE_EXTENSION] = site
    app.register_blueprint(pages)
    app.register_blueprint(api)
    app.register_blueprint(reports)
    app.register_blueprint(questions)
    app.before_request(_refuse_large_bodies)
    app.teardown_appcontext(close_store)
    app.after_request(_secure)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreUnavailable, _store_unavailable)
    app.register_error_handler(Exception, _unexpected)
    app.jinja_env.globals["page"] = page_settings
    app.jinja_env.autoescape = True
    return app


def _refuse_large_bodies() -> None:
    # Flask checks the limit only when a view reads the body, and no view here does: say
    # so at once rather than leave a large body unread.
    length = request.content_length
    if length is not None and length > current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.pop("Server", None)
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _http_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    message = error.description or error.name
    if isinstance(error, RequestEntityTooLarge):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        message = (
            f"The request body is larger than the {limit:,} bytes this page accepts "
            "(nothing is ever sent to the page; it only shows the hall's readings)."
        )
    # The exception's own headers (Allow on a 405, which RFC 9110 requires), not its type.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if _wants_json():
        return {"error": error.name, "message": message}, code, headers
    page = render_template("error.html", title=error.name, message=message, code=code)
    return page, code, headers


def _store_unavailable(error: StoreUnavailable) -> ResponseReturnValue:
    if not current_site().store_path.exists():
        current_app.logger.warning("no store yet: %s", error)
        message = (
            "This hall's page has no readings yet. They show here once the node has "
            "started recording (hallsense edge run)."
        )
    else:
        current_app.logger.error("the node's store cannot be read: %s", error)
        message = (
            "The hall's sensor readings cannot be read just now; please try again later, "
            "or tell the hall committee if this lasts."
        )
    if _wants_json():
        return {"error": "Service Unavailable", "message": message}, 503
    return (
        render_template("error.html", title="Readings unavailable", message=message, code=503),
        503,
    )


def _unexpected(error: Exception) -> ResponseReturnValue:
    current_app.logger.error("unexpected error on %s", request.path, exc_info=error)
    message = "Something went wrong on this page. The sensors keep recording."
    if _wants_json():
        return {"error": "Internal Server Error", "message": message}, 500
    return render_template(
        "error.html", title="Something went wrong", message=message, code=500
    ), 500
