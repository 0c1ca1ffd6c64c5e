"""The monthly hall report on the page: ``/report/2026-11.pdf`` and ``/report/2026-11.html``.

The same report as ``hallsense edge report`` (web_local.report_source). Templates get
``report_link()``: the last complete month, and the addresses of its PDF and HTML.
A month that is malformed, not over yet or without readings is a 404 with a sentence
saying which. The HTML version is a standalone document: its Content-Security-Policy
allows its one ``<style>`` element by hash and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, url_for

from presentation.report_html import STYLE_HASH, report_html
from presentation.report_month import BadMonth, last_complete_month, parse_month
from presentation.report_pdf import report_pdf
from web_local.context import current_site, open_store, page_settings
from web_local.report_source import NoReport, monthly_report

reports = Blueprint("reports", __name__)

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


@dataclass(frozen=True, slots=True)
class ReportLink:
    """The last complete month's report, for a template's download links."""

    label: str
    pdf_url: str
    html_url: str


@reports.app_context_processor
def _report_links() -> dict[str, object]:
    return {"report_link": report_link}


def report_link() -> ReportLink:
    """The last complete month in the hall's time zone and its report's addresses."""
    month = last_complete_month(current_site().now(), page_settings().zone)
    return ReportLink(
        month.label,
        url_for("reports.report_pdf_file", month=month.key),
        url_for("reports.report_html_page", month=month.key),
    )


@reports.get("/report/<month>.pdf")
def report_pdf_file(month: str) -> Response:
    """The report for ``month`` (YYYY-MM) as an A4 PDF download."""
    return _report(month, "pdf")


@reports.get("/report/<month>.html")
def report_html_page(month: str) -> Response:
    """The report for ``month`` (YYYY-MM) as a standalone, printable web page."""
    return _report(month, "html")


def _report(month: str, fmt: str) -> Response:
    try:
        chosen = parse_month(month)
    except BadMonth as error:
        abort(404, description=f"There is no report for {error}.")
    settings = page_settings()
    now = current_site().now()
    try:
        made = monthly_report(
            open_store(),
            chosen,
            zone=settings.zone,
            hall_name=settings.hall_name,
            now=now,
            opening_hours=settings.opening_hours,
        )
    except NoReport as error:
        message = str(error)
        abort(404, description=f"There is no report: {message[0].lower()}{message[1:]}.")
    name = f"hall-report-{chosen.key}.{fmt}"
    if fmt == "pdf":
        response = Response(report_pdf(made, created=now), mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    response = Response(report_html(made), mimetype="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response
