"""The hub web's front door: every route needs an account unless it is named public.

:func:`install_login` makes a Flask app refuse, before any view runs, every request to a
route not in ``public`` that carries neither a live session cookie nor an API token
(``Authorization: Bearer``): pages redirect to ``/login?next=…`` (a local path only),
the API answers 401 JSON. Routes are protected by default: a new route someone forgets
to think about is closed, not open.

CSRF: every state-changing request (POST, PUT, PATCH, DELETE) made with a session
cookie must carry that session's token in the form field ``csrf_token`` (templates put
it in with ``{{ csrf_field() }}``); a missing or wrong one is a 400 that changes nothing.
The log-in and set-up forms, before any session, use a double-submit token: a random
cookie (``__Host-`` prefixed behind HTTPS, so no subdomain can plant one) that the form
must repeat. Requests with an API token carry no cookie, so a
cross-site page cannot make them; devices' JSON routes (``/enroll``, ``/rotate``) read
no cookie at all.

Token scopes (issue #14): a read-only API token (``hallsense hub account token --scope
read``, the default) may make GET, HEAD and OPTIONS requests only; every other method,
and a GET whose view is marked :func:`changes_state`, is refused with 403 before any view
runs, on every route (so a new route is covered without anyone remembering it).

Every failed log-in attempt counts towards its limits (:meth:`hub.logins.Logins.
failed_attempt`): a wrong password, and equally a form without its token, with a wrong
one, with a missing, over-long or NUL-holding field, or a body that is not a form at all.
The log-in and set-up forms check their own token (the guard leaves them to it) so that
each such failure is counted; a throttled address gets 429 whatever it sends.

The session cookie is ``HttpOnly``, ``SameSite=Lax`` and, behind HTTPS, ``Secure`` with
the ``__Host-`` prefix (so no subdomain can set it); its id changes at every log-in.
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Callable, Collection
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict, WWWAuthenticate
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, Unauthorized
from werkzeug.wrappers import Response as BaseResponse

from hub.logins import (
    Account,
    LoginRefused,
    Logins,
    MalformedLogin,
    PasswordRejected,
    Throttled,
    check_new_password,
)

_View = TypeVar("_View", bound=Callable[..., Any])

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""All a read-only token may use (any other method, even one unknown here, is refused)."""
READ_ONLY_REFUSED = (
    "this API token is read-only: it may read data, exports, metrics and pages but change "
    "nothing (make a token with --scope full for a script that changes things)"
)
SELF_CHECKED_FORMS = frozenset({"login.login", "login.setup"})
"""Forms that check their own token, so that a bad one counts as a failed log-in."""
FORM_REFUSED = "this form has expired or did not come from this site: reload the page and try again"
BEARER_CHALLENGE = WWWAuthenticate("bearer", {"realm": "hallsense hub"})
JSON_PREFIXES = ("/api/", "/enroll", "/rotate", "/metrics")


def changes_state(view: _View) -> _View:
    """Mark a GET view that changes something: a read-only API token may not use it."""
    view.changes_state = True  # type: ignore[attr-defined]
    return view


def wants_json() -> bool:
    """Whether this request is the API's or a device's (JSON answers) rather than a page's."""
    return request.path.startswith(JSON_PREFIXES)


def current_account() -> Account | None:
    """Who is logged in for this request (None on a public route without a login)."""
    account: Account | None = g.get("account")
    return account


def require_account() -> Account:
    """The logged-in account; only protected routes call it, so there is always one."""
    account = current_account()
    if account is None:  # pragma: no cover - install_login refuses such requests first
        abort(401)
    return account


def require_team() -> Account:
    """The logged-in account, if it is the IoT team's; a clerk gets 403."""
    account = require_account()
    if not account.is_team:
        abort(403, description="only the council IoT team may do this")
    return account


def visible(device_id: str) -> bool:
    """Whether the logged-in account may see a device (for the data API)."""
    account = current_account()
    return account is not None and account.may_see(device_id)


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/fleet``: no open redirect."""
    if not target:
        return "/fleet"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/fleet"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/fleet"
    return target


def install_login(
    app: Flask,
    logins: Logins,
    *,
    public: Collection[str],
    secure_cookies: bool,
) -> None:
    """Guard every route of ``app`` but the ``public`` endpoints; add the log-in routes.

    Args:
        app: the hub web's app.
        logins: the login rules over the hub store.
        public: endpoint names open to everyone (``static`` and the log-in and set-up
            pages are added here).
        secure_cookies: the hub is reached over HTTPS (itself or through a proxy): cookies
            get ``Secure`` and the ``__Host-`` prefix.
    """
    cookie = "__Host-hallsense" if secure_cookies else "hallsense_session"
    form_cookie = "__Host-hallsense_form" if secure_cookies else "hallsense_form"
    open_endpoints = {*public, "static", "login.login", "login.setup"}

    def csrf_field() -> Markup:
        token = g.get("csrf") or g.get("form_token") or ""
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(token))

    app.jinja_env.globals.update(csrf_field=csrf_field, current_account=current_account)

    def changes(endpoint: str | None) -> bool:
        """Whether this request may change something (what a read-only token may not do)."""
        if request.method not in READ_METHODS:
            return True
        view = app.view_functions.get(endpoint or "")
        return bool(getattr(view, "changes_state", False))

    def client() -> str:
        return request.remote_addr or "unknown"

    @app.before_request
    def guard() -> BaseResponse | None:
        g.account = None
        header = request.headers.get("Authorization", "")
        by_token = header.startswith("Bearer ")
        public = request.endpoint is None or request.endpoint in open_endpoints
        if by_token:
            account = logins.token_account(header[len("Bearer ") :].strip())
            if account is None and not public:
                raise Unauthorized(
                    description="that API token is not valid",
                    www_authenticate=BEARER_CHALLENGE,
                )
            if account is not None and account.read_only and changes(request.endpoint):
                raise Forbidden(description=READ_ONLY_REFUSED)
            g.account = account
        else:
            session_id = request.cookies.get(cookie)
            found = logins.session(session_id) if session_id else None
            if found is not None:
                g.account, g.csrf = found
                g.session_id = session_id
        if (
            request.method in STATE_CHANGING
            and not by_token
            and g.get("session_id")
            and request.endpoint not in SELF_CHECKED_FORMS  # they count their failures
        ):
            sent = request.form.get("csrf_token", "")
            if not hmac.compare_digest(sent.encode(), str(g.csrf).encode()):
                raise BadRequest(
                    description="this form has expired or did not come from this site: "
                    "go back, reload the page and try again"
                )
        if public or g.account is not None:
            return None
        if wants_json():
            raise Unauthorized(
                description="log in, or send an API token (Authorization: Bearer)",
                www_authenticate=BEARER_CHALLENGE,
            )
        return redirect(url_for("login.login", next=request.full_path.rstrip("?")))

    @app.after_request
    def no_store_for_accounts(response: Response) -> Response:
        if g.get("account") is not None:
            response.headers["Cache-Control"] = "no-store"
        if g.get("set_form_token"):
            response.set_cookie(
                form_cookie,
                g.form_token,
                httponly=True,
                samesite="Strict",
                secure=secure_cookies,
                max_age=3600,
                path="/",
            )
        return response

    blueprint = Blueprint("login", __name__)

    def form_token() -> str:
        """The double-submit token of the log-in and set-up forms."""
        token = request.cookies.get(form_cookie)
        if not token or len(token) > 64:
            token = secrets.token_urlsafe(32)
            g.set_form_token = True
        g.form_token = token
        return token

    def posted_form(username_field: str) -> MultiDict[str, str]:
        """The log-in or set-up form, its token checked; every refusal counts as a failure.

        Args:
            username_field: the field whose name counts against the per-name limit ("" for
                the set-up form, whose name is a new account's).
        """
        try:
            form = request.form
        except HTTPException:  # 413 and the like: nothing could be read
            logins.failed_attempt("", client(), "unreadable form")
            raise
        # A logged-in browser sends its session's token; before any session, the cookie's.
        expected = str(g.csrf) if g.get("session_id") else request.cookies.get(form_cookie, "")
        sent = form.get("csrf_token", "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            name = form.get(username_field, "") if username_field else ""
            logins.failed_attempt(name, client(), "form token missing or wrong")
            raise BadRequest(description=FORM_REFUSED)
        return form

    def start_session(response: BaseResponse, session_id: str) -> BaseResponse:
        response.set_cookie(
            cookie,
            session_id,
            httponly=True,
            samesite="Lax",
            secure=secure_cookies,
            path="/",
        )
        response.delete_cookie(form_cookie, path="/", secure=secure_cookies, samesite="Strict")
        return response

    def refused_page(template: str, error: str, status: int, retry_after: float) -> Response:
        response = Response(render_template(template, error=error, **g.page_values), status)
        if status == 429:
            response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response

    @blueprint.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        next_path = safe_next(request.args.get("next"))
        g.page_values = {"next_path": next_path}
        form_token()
        error = ""
        status = 200
        retry_after = 0.0
        if request.method == "POST":
            form = posted_form("username")
            next_path = safe_next(request.args.get("next") or form.get("next"))
            g.page_values = {"next_path": next_path}
            if g.get("session_id"):  # a new id at every log-in: the old session goes
                logins.log_out(g.session_id)
            try:
                session_id, _ = logins.log_in(
                    form.get("username", ""), form.get("password", ""), client()
                )
            except Throttled as refusal:
                error, status, retry_after = str(refusal), 429, refusal.retry_after
            except MalformedLogin as refusal:
                error, status = str(refusal), 400
            except LoginRefused as refusal:
                error, status = str(refusal), 401
            else:
                return start_session(redirect(next_path, 303), session_id)
        return refused_page("login.html", error, status, retry_after)

    @blueprint.post("/logout")
    def logout() -> BaseResponse:
        if g.get("session_id"):
            logins.log_out(g.session_id)
        response = redirect(url_for("login.login"), 303)
        response.delete_cookie(cookie, path="/", secure=secure_cookies, samesite="Lax")
        return response

    @blueprint.route("/setup", methods=["GET", "POST"])
    def setup() -> Any:
        form = posted_form("") if request.method == "POST" else None
        if logins.store().has_accounts():
            return redirect(url_for("login.login"), 303)
        g.page_values = {}
        form_token()
        error = ""
        status = 200
        retry_after = 0.0
        if form is not None:
            try:
                account = logins.create_first_account(
                    form.get("code", ""),
                    form.get("username", ""),
                    form.get("password", ""),
                    client(),
                )
                session_id, _ = logins.log_in(account.username, form.get("password", ""), client())
            except Throttled as refusal:
                error, status, retry_after = str(refusal), 429, refusal.retry_after
            except (LoginRefused, PasswordRejected, ValueError) as refusal:
                error, status = str(refusal), 400
            else:
                return start_session(redirect(url_for("fleet.fleet"), 303), session_id)
        return refused_page("setup.html", error, status, retry_after)

    @blueprint.route("/account/password", methods=["GET", "POST"])
    def password() -> Any:
        account = require_account()
        error = ""
        status = 200
        if request.method == "POST":
            try:
                new = request.form.get("new_password", "")
                check_new_password(new, account.username)
                logins.change_password(account, request.form.get("current_password", ""), new)
            except (LoginRefused, PasswordRejected, Throttled) as refusal:
                error, status = str(refusal), 400
            else:
                response = redirect(url_for("login.login"), 303)
                response.delete_cookie(cookie, path="/", secure=secure_cookies, samesite="Lax")
                return response
        return render_template("password.html", error=error), status

    app.register_blueprint(blueprint)
