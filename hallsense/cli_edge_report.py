"""``hallsense edge report``: the monthly hall report, as a PDF to print or an HTML page."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from hallsense.cli_edge import _status_settings, cannot_write, user_errors
from hallsense.cli_options import env_option, report_options
from hallsense.wiring import open_edge_store
from hallsense.wiring_web import downlink_page_settings_path, page_settings_from
from presentation.report_month import ReportMonth
from web_local.site import resolve_page_settings


@click.command()
@env_option
@report_options
@click.option(
    "--out",
    "output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Write to this file ('-' for standard output) "
    "[default: hall-report-YYYY-MM.pdf or .html].",
)
@user_errors
def report(env_file: Path | None, month: ReportMonth, fmt: str, output: Path | None) -> None:
    """Make the monthly hall report for a parish or committee meeting.

    How busy the hall was, comfort, fresh air, air pollution, noise, how complete the
    data is and what the report could not know: plain English first, numbers second,
    from the same hourly summaries as the hall's page. The month must have ended.

    \b
    Example:
        hallsense edge report --env /etc/hallsense/edge.env --month 2026-11
        hallsense edge report --env edge.env --month 2026-11 --format html --out nov.html
    """
    # Imported here: fpdf2 and Pillow are for this command, not for `edge run` on a Pi.
    from presentation.report_html import report_html
    from presentation.report_pdf import report_pdf
    from web_local.report_source import NoReport, monthly_report

    settings = _status_settings(env_file)
    page = resolve_page_settings(
        page_settings_from(settings), downlink_page_settings_path(settings)
    )
    now = datetime.now(UTC)
    with open_edge_store(settings, readonly=True) as store:
        try:
            made = monthly_report(
                store,
                month,
                zone=page.zone,
                hall_name=page.hall_name,
                now=now,
                opening_hours=page.opening_hours,
            )
        except NoReport as error:
            raise click.ClickException(str(error)) from error
    document = report_pdf(made, created=now) if fmt == "pdf" else report_html(made).encode()
    if output == Path("-"):
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
        return
    destination = output if output is not None else Path(f"hall-report-{month.key}.{fmt}")
    try:
        destination.write_bytes(document)
    except OSError as error:
        raise cannot_write(destination, error) from error
    click.echo(f"wrote the report for {month.label} to {destination}", err=True)
