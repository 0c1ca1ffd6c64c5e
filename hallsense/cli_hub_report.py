"""``hallsense hub report``: every hall's monthly report (or the named halls'), one file each."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from hallsense.cli_hub import _settings, opened_store
from hallsense.cli_options import env_option, report_options
from presentation.report_month import ReportMonth, month_of


@click.command()
@env_option
@report_options
@click.option(
    "--hall",
    "hall_ids",
    multiple=True,
    metavar="DEVICE_ID",
    help="Only this hall's node (repeat for more) [default: every registered hall].",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    help="The directory to write into, made if it is not there [default: the current one].",
)
def report(
    env_file: Path | None,
    month: ReportMonth,
    hall_ids: tuple[str, ...],
    out_dir: Path,
    fmt: str,
) -> None:
    """Make every hall's monthly report (or the named halls'), one file each.

    The month must have ended. The same report as each hall's page: the hall's name
    and opening hours as its clerk last set them at the hub, its days in the hub's time
    zone, from the hub's hourly summaries. Each hall's file is
    hall-report-YYYY-MM-DEVICE_ID.pdf (or .html); a line a hall on standard output says
    what was written, or why a hall has no report (no readings in the month). The exit
    status is 1 when a hall named with --hall could not be reported, or no hall could.

    \b
    Example:
        hallsense hub report --env /etc/hallsense/hub.env --month 2026-11 --out reports/
        hallsense hub report --env hub.env --month 2026-11 --hall askrigg --format html
    """
    # Imported here: fpdf2 and Pillow are for this command, not for every `hub` command.
    from hub.report_source import NoReport, halls, monthly_report, report_file_name
    from presentation.report_html import report_html
    from presentation.report_pdf import report_pdf

    settings = _settings(env_file)
    zone = ZoneInfo(settings.timezone)
    now = datetime.now(UTC)
    current = month_of(now, zone)
    if month >= current:
        state = "is not over yet" if month == current else "is in the future"
        raise click.ClickException(
            f"{month.key} {state}: the last complete month is {current.previous().key}"
        )
    written, refused = 0, []
    with opened_store(settings) as store:
        known = {hall.device_id: hall for hall in halls(store)}
        for device_id in hall_ids:
            if device_id not in known:
                raise click.BadParameter(
                    f"{device_id!r} is not a registered hall", param_hint="'--hall'"
                )
        chosen = [known[d] for d in dict.fromkeys(hall_ids)] or [
            hall for hall in sorted(known.values(), key=lambda h: h.device_id) if not hall.revoked
        ]
        if not chosen:
            raise click.ClickException("the hub has no registered halls")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise click.ClickException(
                f"cannot make {out_dir}: {error.strerror or error}"
            ) from error
        for hall in chosen:
            try:
                made = monthly_report(store, hall, month, zone=zone, now=now)
            except NoReport as error:
                click.echo(f"{hall.device_id}: no report: {error}")
                refused.append(hall.device_id)
                continue
            document = report_pdf(made, created=now) if fmt == "pdf" else report_html(made)
            path = out_dir / report_file_name(hall.device_id, month, fmt)
            try:
                if isinstance(document, bytes):
                    path.write_bytes(document)
                else:
                    path.write_text(document, encoding="utf-8")
            except OSError as error:
                raise click.ClickException(
                    f"cannot write {path}: {error.strerror or error}"
                ) from error
            click.echo(f"{hall.device_id}: wrote {path}")
            written += 1
    if not written:
        raise click.ClickException(f"no hall has readings for {month.key}")
    if hall_ids and refused:
        raise click.ClickException(
            f"no report for {', '.join(refused)} ({written} of {len(chosen)} written)"
        )
    click.echo(f"wrote {written} report{'s' if written != 1 else ''} for {month.label}")
