"""The monthly hall report on the hub's hall page: ``/fleet/<device>/report.pdf`` and ``.html``.

The same report as the hall's own page and ``hallsense hub report``
(:mod:`hub.report_source`), behind the same rules as the hall's page at the hub: the
council IoT team sees every hall, a clerk only their own (any other answers 404, as if
it did not exist), and anyone not logged in is sent to the log-in page first.

``?month=YYYY-MM`` asks for any month that has ended; without it, the last complete
month in the hub's time zone. A malformed month is a 400 naming ``month``; a month not
over yet or without readings is a 404 saying which. The HTML version is a standalone
page whose Content-Security-Policy allows its one ``<style>`` element by hash and
nothing else. Templates get ``hall_report_month()``: the last complete month, for links.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest, NotFound

from hub.login_web import require_account
from hub.report_source import (
    NoReport,
    ReportStore,
    hall_view,
    monthly_report,
    report_file_name,
)
from presentation.report_html import STYLE_HASH, report_html
from presentation.report_month import (
    BadMonth,
    ReportMonth,
    last_complete_month,
    parse_month,
)
from presentation.report_pdf import report_pdf

REPORT_CSP = "; ".join(
    [
        "default-src 'none'",
        f"style-src '{STYLE_HASH}'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
"""The HTML report's policy: its own inline stylesheet (by hash), no script, nothing else."""


def report_blueprint(
    store: Callable[[], ReportStore],
    *,
    timezone: str = "Europe/London",
    clock: Callable[[], float],
) -> Blueprint:
    """The report's routes over the request's hub store; ``clock`` is the hub's time (s)."""
    zone = ZoneInfo(timezone)
    blueprint = Blueprint("hall_report", __name__)

    def now() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)

    @blueprint.app_context_processor
    def _months() -> dict[str, object]:
        return {"hall_report_month": lambda: last_complete_month(now(), zone)}

    def chosen_month() -> ReportMonth:
        unknown = sorted(set(request.args) - {"month"})
        if unknown:
            raise BadRequest(description=f"{unknown[0][:40]}: not a parameter of this page")
        given = request.args.getlist("month")
        if len(given) > 1:
            raise BadRequest(description="month: give one month, not several")
        if not given:
            return last_complete_month(now(), zone)
        try:
            return parse_month(given[0][:40])
        except BadMonth as error:
            raise BadRequest(description=f"month: {error}") from error

    def answer(device_id: str, fmt: str) -> Response:
        account = require_account()
        device = next(
            (
                d
                for d in store().registered()
                if d.device_id == device_id and account.may_see(device_id)
            ),
            None,
        )
        if device is None:
            raise NotFound(description=f"no node {device_id[:40]!r} here")
        month = chosen_month()
        made_at = now()
        try:
            made = monthly_report(
                store(), hall_view(store(), device), month, zone=zone, now=made_at
            )
        except NoReport as error:
            message = str(error)
            raise NotFound(
                description=f"There is no report: {message[0].lower()}{message[1:]}."
            ) from error
        if fmt == "pdf":
            response = Response(report_pdf(made, created=made_at), mimetype="application/pdf")
            name = report_file_name(device_id, month, fmt)
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        response = Response(report_html(made), mimetype="text/html")
        response.headers["Content-Security-Policy"] = REPORT_CSP
        return response

    @blueprint.get("/fleet/<device_id>/report.pdf")
    def pdf(device_id: str) -> Response:
        """The hall's report for ``?month=`` (default: the last complete month) as an A4 PDF."""
        return answer(device_id, "pdf")

    @blueprint.get("/fleet/<device_id>/report.html")
    def html(device_id: str) -> Response:
        """The hall's report for ``?month=`` as a standalone, printable web page."""
        return answer(device_id, "html")

    return blueprint
